//! C-LOGS: PostHog Logs through the client, against FakePostHog over real HTTP. Each test
//! names the rows it proves.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use posthog::context::Context;
use posthog::logs::{Log, LogLevel, LogsConfig};
use posthog::test_util::{FakePostHog, Reply};
use posthog::{Client, ClientBuilder};
use serde_json::{Map, Value, json};

fn client_with(server: &FakePostHog, config: LogsConfig) -> Client {
    ClientBuilder::new("phc_test_token")
        .host(server.url())
        .logs(config)
        .build()
        .unwrap()
}

fn attrs(value: Value) -> Map<String, Value> {
    serde_json::from_value(value).unwrap()
}

/// An attribute's value in an OTLP key/value list.
fn attribute<'a>(list: &'a Value, key: &str) -> Option<&'a Value> {
    list.as_array()?
        .iter()
        .find(|kv| kv["key"] == key)
        .map(|kv| &kv["value"])
}

/// C-LOGS.1/.3: `capture_log` and the facade on the same path; severities by level.
#[tokio::test]
async fn c_logs_1_capture_log_and_the_logger_facade() {
    let server = FakePostHog::start().await;
    let client = client_with(&server, LogsConfig::new());
    assert!(client.capture_log(Log::new("checkout failed").level(LogLevel::Error)));
    assert!(
        client
            .logger()
            .info("ready", attrs(json!({"region": "us"})))
    );
    assert!(client.capture_log(Log::new("no level")));
    assert!(client.logger().warn("careful", Map::new()));
    client.flush().await;
    let records = server.log_records();
    let severities: Vec<(i64, &str)> = records
        .iter()
        .map(|r| {
            (
                r["severityNumber"].as_i64().unwrap(),
                r["severityText"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        severities,
        [(17, "ERROR"), (9, "INFO"), (9, "INFO"), (13, "WARN")]
    );
    assert_eq!(
        records[0]["body"],
        json!({"stringValue": "checkout failed"})
    );
    assert_eq!(
        attribute(&records[1]["attributes"], "region"),
        Some(&json!({"stringValue": "us"}))
    );
}

/// C-LOGS.2: dropped silently, in order: disabled (no hook even runs), opted out, blank
/// body; nothing is sent.
#[tokio::test]
async fn c_logs_2_drops_silently_in_order() {
    let server = FakePostHog::start().await;
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    let counting = LogsConfig::new().before_send(move |log| {
        seen.fetch_add(1, Ordering::SeqCst);
        Some(log)
    });
    let disabled = ClientBuilder::new("phc_test_token")
        .host(server.url())
        .disabled(true)
        .logs(counting.clone())
        .build()
        .unwrap();
    assert!(!disabled.capture_log(Log::new("x")));
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "no hook runs when disabled"
    );
    let client = client_with(&server, counting);
    client.opt_out();
    assert!(!client.capture_log(Log::new("x")));
    client.opt_in();
    assert!(!client.capture_log(Log::new("   ")));
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    client.flush().await;
    assert!(server.log_records().is_empty());
}

/// C-LOGS.4/.5: times at capture, strictly increasing; `flags: 0` kept, absent when not
/// given; no trace id → no `traceId`; attributes as AnyValues.
#[tokio::test]
async fn c_logs_4_record_fields() {
    let server = FakePostHog::start().await;
    let client = client_with(&server, LogsConfig::new());
    client.capture_log(
        Log::new("one")
            .trace_flags(0)
            .attribute("n", 4999)
            .attribute("nested", json!({"inner": 1}))
            .attribute("gone", Value::Null),
    );
    client
        .capture_log(Log::new("two").trace("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"));
    client.flush().await;
    let records = server.log_records();
    let time = |i: usize| {
        records[i]["timeUnixNano"]
            .as_str()
            .unwrap()
            .parse::<u128>()
            .unwrap()
    };
    assert!(time(1) > time(0), "strictly increasing");
    assert_eq!(
        records[0]["observedTimeUnixNano"],
        records[0]["timeUnixNano"]
    );
    assert_eq!(records[0]["flags"], 0);
    assert!(records[1].get("flags").is_none());
    assert!(records[0].get("traceId").is_none());
    assert_eq!(records[1]["traceId"], "4bf92f3577b34da6a3ce929d0e0e4736");
    let a = &records[0]["attributes"];
    assert_eq!(attribute(a, "n"), Some(&json!({"intValue": "4999"})));
    assert_eq!(
        attribute(a, "nested"),
        Some(&json!({"kvlistValue": {"values": [{"key": "inner", "value": {"intValue": "1"}}]}}))
    );
    assert!(attribute(a, "gone").is_none());
}

/// C-LOGS.6/.7: the context's ids are frozen at capture (the log's own attributes win);
/// resource attributes carry the service and the SDK, which a user's cannot override.
#[tokio::test]
async fn c_logs_6_context_and_resource_attributes() {
    let server = FakePostHog::start().await;
    let config = LogsConfig::new()
        .service("checkout", Some("1.2.3"))
        .environment("production")
        .resource_attribute("service.name", "impostor")
        .resource_attribute("region", "eu");
    let client = client_with(&server, config);
    Context::new()
        .distinct_id("a")
        .session_id("s-1")
        .scope(async {
            client.capture_log(Log::new("in scope"));
            client.capture_log(Log::new("mine").attribute("sessionId", "user-session"));
        })
        .await;
    client.capture_log(Log::new("outside"));
    client.flush().await;
    let records = server.log_records();
    assert_eq!(
        attribute(&records[0]["attributes"], "posthogDistinctId"),
        Some(&json!({"stringValue": "a"}))
    );
    assert_eq!(
        attribute(&records[0]["attributes"], "sessionId"),
        Some(&json!({"stringValue": "s-1"}))
    );
    assert_eq!(
        attribute(&records[1]["attributes"], "sessionId"),
        Some(&json!({"stringValue": "user-session"}))
    );
    assert!(attribute(&records[2]["attributes"], "sessionId").is_none());
    let body = server.requests_to(posthog::logs::LOGS_PATH)[0].json();
    let resource = &body["resourceLogs"][0]["resource"]["attributes"];
    assert_eq!(
        attribute(resource, "service.name"),
        Some(&json!({"stringValue": "checkout"}))
    );
    assert_eq!(
        attribute(resource, "service.version"),
        Some(&json!({"stringValue": "1.2.3"}))
    );
    assert_eq!(
        attribute(resource, "deployment.environment"),
        Some(&json!({"stringValue": "production"}))
    );
    assert_eq!(
        attribute(resource, "telemetry.sdk.name"),
        Some(&json!({"stringValue": "posthog-rust"}))
    );
    assert_eq!(
        attribute(resource, "region"),
        Some(&json!({"stringValue": "eu"}))
    );
}

/// C-LOGS.8/.9/.10/.13/.18: `POST /i/v1/logs?token=…`, gzipped, one envelope of all the
/// records a flush found; the service's `200 {}` is success (nothing else is relied on).
#[tokio::test]
async fn c_logs_8_transport_envelope_and_gzip() {
    let server = FakePostHog::start().await;
    let client = client_with(&server, LogsConfig::new());
    for i in 0..20 {
        client.capture_log(Log::new(format!("line {i}")));
    }
    client.flush().await;
    let requests = server.requests_to(posthog::logs::LOGS_PATH);
    assert_eq!(requests.len(), 1);
    let query = requests[0].query.clone().unwrap_or_default();
    assert!(query.starts_with("token=phc_test_token"), "{query}");
    assert_eq!(requests[0].header("content-encoding"), Some("gzip"));
    assert_eq!(requests[0].header("content-type"), Some("application/json"));
    let body = requests[0].json();
    assert_eq!(body["resourceLogs"].as_array().unwrap().len(), 1);
    assert_eq!(
        body["resourceLogs"][0]["scopeLogs"][0]["logRecords"]
            .as_array()
            .unwrap()
            .len(),
        20
    );
    assert!(server.events().is_empty(), "apart from events");
}

/// C-LOGS.16: hooks run in order, fail-open: a panicking hook is skipped, `None` or a blank
/// body drops.
#[tokio::test]
async fn c_logs_16_before_send_is_fail_open() {
    let server = FakePostHog::start().await;
    let config = LogsConfig::new()
        .before_send(|log| {
            if log.body == "boom" {
                panic!("a broken hook");
            }
            Some(log)
        })
        .before_send(|log| Some(log.attribute("hooked", true)))
        .before_send(|log| (log.body != "drop me").then_some(log))
        .before_send(|mut log| {
            if log.body == "blank me" {
                log.body = " ".into();
            }
            Some(log)
        });
    let client = client_with(&server, config);
    assert!(client.capture_log(Log::new("boom")));
    assert!(!client.capture_log(Log::new("drop me")));
    assert!(!client.capture_log(Log::new("blank me")));
    client.flush().await;
    let records = server.log_records();
    assert_eq!(records.len(), 1);
    assert_eq!(
        attribute(&records[0]["attributes"], "hooked"),
        Some(&json!({"boolValue": true}))
    );
}

/// C-LOGS.15: past the cap a log is dropped; a hook's drop does not use the budget.
#[tokio::test]
async fn c_logs_15_the_rate_cap() {
    let server = FakePostHog::start().await;
    let config = LogsConfig::new()
        .rate_limit(3, Duration::from_secs(3600))
        .before_send(|log| (log.body != "dropped by hook").then_some(log));
    let client = client_with(&server, config);
    assert!(!client.capture_log(Log::new("dropped by hook")));
    let accepted: Vec<bool> = (0..5)
        .map(|i| client.capture_log(Log::new(format!("{i}"))))
        .collect();
    assert_eq!(accepted, [true, true, true, false, false]);
}

/// C-LOGS.17: a 413 halves the batch and resends the same records; a 400 drops the batch.
#[tokio::test]
async fn c_logs_17_413_halves_and_400_drops() {
    let server = FakePostHog::start().await;
    let (builder, errors) = support::builder(&server);
    let client = builder.logs(LogsConfig::new()).build().unwrap();
    server.script([Reply::status(413)]);
    for i in 0..4 {
        client.capture_log(Log::new(format!("r{i}")));
    }
    client.flush().await;
    let sizes: Vec<usize> = server
        .requests_to(posthog::logs::LOGS_PATH)
        .iter()
        .map(|r| {
            r.json()["resourceLogs"][0]["scopeLogs"][0]["logRecords"]
                .as_array()
                .map_or(0, Vec::len)
        })
        .collect();
    assert_eq!(sizes, [4, 2, 2]);
    assert_eq!(server.log_records().len(), 4);
    server.script([Reply::status(400)]);
    client.capture_log(Log::new("refused"));
    client.flush().await;
    assert_eq!(server.log_records().len(), 4);
    assert!(errors.all().iter().any(|e| e.message.starts_with("logs:")));
}

/// C-LOGS.12: past `max_buffered` the oldest records are dropped.
#[tokio::test(flavor = "current_thread")]
async fn c_logs_12_a_full_buffer_drops_the_oldest() {
    let server = FakePostHog::start().await;
    let client = client_with(&server, LogsConfig::new().max_buffered(2));
    for i in 0..4 {
        client.capture_log(Log::new(format!("r{i}")));
    }
    client.flush().await;
    let bodies: Vec<String> = server
        .log_records()
        .iter()
        .map(|r| r["body"]["stringValue"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(bodies, ["r2", "r3"]);
}

/// C-LOGS.11/.14: the per-request cap (`flush_at`) bounds every request; one request is in
/// flight at a time, so the requests never overlap.
#[tokio::test]
async fn c_logs_14_requests_carry_at_most_the_cap_one_at_a_time() {
    let server = FakePostHog::start().await;
    let config = LogsConfig::new().batching(Duration::from_secs(60), 5);
    let client = client_with(&server, config);
    server.script([
        Reply::json(200, &json!({})).delay(Duration::from_millis(50)),
        Reply::json(200, &json!({})).delay(Duration::from_millis(50)),
    ]);
    for i in 0..12 {
        client.capture_log(Log::new(format!("r{i}")));
    }
    client.flush().await;
    let requests = server.requests_to(posthog::logs::LOGS_PATH);
    let sizes: Vec<usize> = requests
        .iter()
        .map(|r| {
            r.json()["resourceLogs"][0]["scopeLogs"][0]["logRecords"]
                .as_array()
                .map_or(0, Vec::len)
        })
        .collect();
    assert!(sizes.iter().all(|&n| n <= 5), "{sizes:?}");
    assert_eq!(sizes.iter().sum::<usize>(), 12);
    // The second request starts only after the first was answered (50 ms).
    let gap = requests[1].at.duration_since(requests[0].at);
    assert!(gap >= Duration::from_millis(45), "one in flight: {gap:?}");
}

/// C-LOGS.4/.5/.9: one logs body, as sent (times, the SDK's version and the resource attributes,
/// which name the machine, redacted; c_logs_6 checks those).
#[tokio::test]
async fn c_logs_9_a_body_snapshot() {
    let server = FakePostHog::start().await;
    let client = client_with(
        &server,
        LogsConfig::new()
            .service("checkout", Some("1.4.0"))
            .environment("staging"),
    );
    let _guard = Context::new().distinct_id("user-123").enter();
    client.capture_log(
        Log::new("payment declined")
            .level(LogLevel::Error)
            .attributes(attrs(json!({
                "order_id": 4999,
                "amount": 12.5,
                "retry": false,
                "tags": ["card", "eu"],
                "card": {"brand": "visa"},
            })))
            .trace("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7")
            .trace_flags(1),
    );
    client.logger().info("ready", Map::new());
    client.flush().await;
    let body = server.requests_to(posthog::logs::LOGS_PATH)[0].json();
    insta::assert_json_snapshot!("logs_body", body, {
        ".resourceLogs[].scopeLogs[].scope.version" => "[version]",
        ".resourceLogs[].scopeLogs[].logRecords[].timeUnixNano" => "[time]",
        ".resourceLogs[].scopeLogs[].logRecords[].observedTimeUnixNano" => "[time]",
        ".resourceLogs[].resource.attributes" => "[resource]",
    });
}

/// C-LOGS.13: reaching the threshold sends at once, and a timer sends what waits without a
/// `flush()` call, also after the worker slept holding nothing (before the lane fix a lone
/// record then waited for the next flush).
#[tokio::test]
async fn c_logs_13_the_timer_and_the_threshold_send_without_a_flush() {
    let server = FakePostHog::start().await;
    let config = LogsConfig::new().batching(Duration::from_millis(150), 4);
    let client = client_with(&server, config);
    let sent = |server: &FakePostHog| server.log_records().len();
    let wait_for = |n: usize| {
        let server = &server;
        async move {
            let started = std::time::Instant::now();
            while sent(server) < n && started.elapsed() < Duration::from_secs(3) {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            started.elapsed()
        }
    };
    // The threshold: four records go at once, long before the interval.
    for i in 0..4 {
        client.capture_log(Log::new(format!("burst {i}")));
    }
    assert!(wait_for(4).await < Duration::from_millis(140));
    // The worker is idle now; one record goes out after about one interval.
    tokio::time::sleep(Duration::from_millis(300)).await;
    client.capture_log(Log::new("lone"));
    let waited = wait_for(5).await;
    assert_eq!(sent(&server), 5);
    assert!(waited < Duration::from_millis(1_000), "{waited:?}");
}
