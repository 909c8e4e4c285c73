//! C-TRACES: spans through the client, against FakePostHog over real HTTP. Each test names
//! the rows it proves.

mod support;

use posthog::context::Context;
use posthog::logs::Log;
use posthog::test_util::FakePostHog;
use posthog::traces::{Parent, SpanKind, SpanOptions, SpanStatus, TracesConfig, active_span};
use posthog::{Client, ClientBuilder};
use serde_json::{Map, Value, json};

fn client(server: &FakePostHog) -> Client {
    ClientBuilder::new("phc_test_token")
        .host(server.url())
        .traces(TracesConfig::new().service("orders", Some("2.0.0")))
        .build()
        .unwrap()
}

/// The names of the spans the server received, in order.
fn span_names(server: &FakePostHog) -> Vec<String> {
    server
        .spans()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_owned())
        .collect()
}

fn attribute<'a>(span: &'a Value, key: &str) -> Option<&'a Value> {
    span["attributes"]
        .as_array()?
        .iter()
        .find(|kv| kv["key"] == key)
        .map(|kv| &kv["value"])
}

/// C-TRACES.1/.5/.8: `start_span` is not made active; `with_span` is; a child shares the trace
/// id and records its parent; ids are lower-case hex of 32 and 16 characters.
#[tokio::test]
async fn c_traces_1_spans_and_their_tree() {
    let server = FakePostHog::start().await;
    let client = client(&server);
    let manual = client.start_span("manual", SpanOptions::new().kind(SpanKind::Client));
    assert!(active_span().is_none(), "start_span does not activate");
    let result: Result<u32, std::io::Error> =
        client.with_span("outer", SpanOptions::new(), |outer| {
            assert!(active_span().is_some());
            let child = client.start_span("child", SpanOptions::new());
            child.end();
            outer.set_attribute("answer", 42);
            Ok(7)
        });
    assert_eq!(result.unwrap(), 7);
    manual.end();
    client.flush().await;
    let spans = server.spans();
    let by = |name: &str| spans.iter().find(|s| s["name"] == name).cloned().unwrap();
    let (outer, child, manual) = (by("outer"), by("child"), by("manual"));
    assert_eq!(child["traceId"], outer["traceId"]);
    assert_eq!(child["parentSpanId"], outer["spanId"]);
    assert!(outer.get("parentSpanId").is_none(), "a root");
    assert_ne!(
        manual["traceId"], outer["traceId"],
        "another root, another trace"
    );
    assert_eq!(manual["kind"], 3);
    assert_eq!(outer["kind"], 1);
    for span in [&outer, &child] {
        let (t, s) = (
            span["traceId"].as_str().unwrap(),
            span["spanId"].as_str().unwrap(),
        );
        assert_eq!((t.len(), s.len()), (32, 16));
        assert!(
            t.chars()
                .chain(s.chars())
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
        );
    }
    assert_eq!(
        attribute(&outer, "answer"),
        Some(&json!({"intValue": "42"}))
    );
    let start: u64 = outer["startTimeUnixNano"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let end: u64 = outer["endTimeUnixNano"].as_str().unwrap().parse().unwrap();
    assert!(end >= start);
}

/// C-TRACES.3: without a traces config every span is inert: the same API, nothing recorded,
/// no traceparent; the scoped helper still runs the closure.
#[tokio::test]
async fn c_traces_3_inert_spans_without_a_config() {
    let server = FakePostHog::start().await;
    let client = ClientBuilder::new("phc_test_token")
        .host(server.url())
        .build()
        .unwrap();
    let span = client.start_span("nothing", SpanOptions::new());
    span.set_attribute("a", 1)
        .add_event("e", Map::new())
        .set_status(SpanStatus::Ok);
    assert_eq!((span.traceparent(), span.tracestate()), (None, None));
    assert!(!span.is_recording());
    span.end();
    let value: Result<u8, std::io::Error> = client.with_span("runs", SpanOptions::new(), |_| Ok(3));
    assert_eq!(value.unwrap(), 3);
    client.flush().await;
    assert!(server.requests_to(posthog::traces::TRACES_PATH).is_empty());
}

/// C-TRACES.4: an `Err` or a panic marks the span failed with an `exception` event and is
/// handed back unchanged; a status the closure set to `Ok` is kept.
#[tokio::test]
async fn c_traces_4_failures_mark_the_span() {
    let server = FakePostHog::start().await;
    let client = client(&server);
    let failed: Result<(), String> =
        client.with_span("fails", SpanOptions::new(), |_| Err("no stock".into()));
    assert_eq!(failed.unwrap_err(), "no stock");
    let kept: Result<(), String> = client.with_span("ok anyway", SpanOptions::new(), |span| {
        span.set_status(SpanStatus::Ok);
        Err("ignored".into())
    });
    assert!(kept.is_err());
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _: Result<(), String> =
            client.with_span("panics", SpanOptions::new(), |_| panic!("kaboom"));
    }));
    assert!(panicked.is_err(), "the panic goes on");
    client.flush().await;
    let spans = server.spans();
    let by = |name: &str| spans.iter().find(|s| s["name"] == name).cloned().unwrap();
    let fails = by("fails");
    assert_eq!(fails["status"], json!({"code": 2, "message": "no stock"}));
    assert_eq!(fails["events"][0]["name"], "exception");
    assert_eq!(
        attribute(&fails["events"][0], "exception.message"),
        Some(&json!({"stringValue": "no stock"}))
    );
    assert_eq!(by("ok anyway")["status"], json!({"code": 1}));
    assert_eq!(by("panics")["status"]["message"], "kaboom");
}

/// C-TRACES.2: the handle's API; `end` is idempotent and later calls do nothing.
#[tokio::test]
async fn c_traces_2_the_handle_and_an_idempotent_end() {
    let server = FakePostHog::start().await;
    let client = client(&server);
    let span = client.start_span("draft", SpanOptions::new());
    span.update_name("final")
        .add_event("cache miss", Map::new())
        .record_exception("Timeout", "upstream slow");
    span.end();
    span.end();
    span.set_attribute("late", true);
    client.flush().await;
    let spans = server.spans();
    assert_eq!(spans.len(), 1, "one record per span");
    assert_eq!(spans[0]["name"], "final");
    assert_eq!(spans[0]["events"].as_array().unwrap().len(), 2);
    assert!(attribute(&spans[0], "late").is_none());
}

/// C-TRACES.7: a `traceparent` parent continues its trace and keeps a valid `tracestate`;
/// an invalid one starts a new root; `traceparent()` is `00-<trace>-<span>-01`.
#[tokio::test]
async fn c_traces_7_w3c_continuation() {
    let server = FakePostHog::start().await;
    let client = client(&server);
    let incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00";
    let span = client.start_span(
        "GET /orders/{id}",
        SpanOptions::new()
            .kind(SpanKind::Server)
            .continue_from(incoming, Some("vendor=1")),
    );
    let parent = span.traceparent().unwrap();
    assert!(parent.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"));
    assert!(parent.ends_with("-01"));
    assert_eq!(span.tracestate().as_deref(), Some("vendor=1"));
    let child = client.start_span("db", SpanOptions::new().parent(Parent::Span(span.clone())));
    assert_eq!(child.tracestate().as_deref(), Some("vendor=1"), "inherited");
    child.end();
    span.end();
    let fresh = client.start_span(
        "fresh",
        SpanOptions::new().continue_from("not-a-traceparent", Some("x=1")),
    );
    fresh.end();
    client.flush().await;
    let spans = server.spans();
    let by = |name: &str| spans.iter().find(|s| s["name"] == name).cloned().unwrap();
    let server_span = by("GET /orders/{id}");
    assert_eq!(server_span["traceId"], "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(server_span["parentSpanId"], "00f067aa0ba902b7");
    assert_eq!(server_span["traceState"], "vendor=1");
    assert_eq!(server_span["kind"], 2);
    let fresh = by("fresh");
    assert_ne!(fresh["traceId"], "4bf92f3577b34da6a3ce929d0e0e4736");
    assert!(fresh.get("parentSpanId").is_none() && fresh.get("traceState").is_none());
}

/// C-TRACES.6/.12: inside an active span, logs carry its ids; the context's distinct id and
/// session id are frozen into spans at start; an async scope keeps the span active across
/// awaits.
#[tokio::test]
async fn c_traces_6_active_span_context_and_logs() {
    let server = FakePostHog::start().await;
    let client = client(&server);
    Context::new()
        .distinct_id("user-9")
        .session_id("s-9")
        .scope(async {
            let _: Result<(), String> = client
                .with_span_async("request", SpanOptions::new(), |_span| async {
                    tokio::task::yield_now().await;
                    client.capture_log(Log::new("inside"));
                    let child = client.start_span("after await", SpanOptions::new());
                    child.end();
                    Ok(())
                })
                .await;
        })
        .await;
    client.flush().await;
    let spans = server.spans();
    let by = |name: &str| spans.iter().find(|s| s["name"] == name).cloned().unwrap();
    let (request, child) = (by("request"), by("after await"));
    assert_eq!(child["parentSpanId"], request["spanId"]);
    assert_eq!(
        attribute(&request, "posthogDistinctId"),
        Some(&json!({"stringValue": "user-9"}))
    );
    assert_eq!(
        attribute(&request, "sessionId"),
        Some(&json!({"stringValue": "s-9"}))
    );
    let log = &server.log_records()[0];
    assert_eq!(log["traceId"], request["traceId"]);
    assert_eq!(log["spanId"], request["spanId"]);
}

/// C-TRACES.10: per-span caps: the earliest attributes and events win, the rest are counted.
#[tokio::test]
async fn c_traces_10_caps_count_what_they_drop() {
    let server = FakePostHog::start().await;
    let client = ClientBuilder::new("phc_test_token")
        .host(server.url())
        .traces(TracesConfig::new().caps(2, 1))
        .build()
        .unwrap();
    let span = client.start_span("capped", SpanOptions::new());
    span.set_attribute("a", 1)
        .set_attribute("b", 2)
        .set_attribute("c", 3);
    span.add_event("one", Map::new())
        .add_event("two", Map::new());
    span.end();
    client.flush().await;
    let s = &server.spans()[0];
    assert!(attribute(s, "a").is_some() && attribute(s, "c").is_none());
    assert_eq!(
        (
            s["droppedAttributesCount"].clone(),
            s["droppedEventsCount"].clone()
        ),
        (json!(1), json!(1))
    );
    assert_eq!(s["events"][0]["name"], "one");
}

/// C-TRACES.13/.14/.15/.18: one export is one resource and one scope, gzipped, to
/// `/i/v1/traces`; the resource names the service and the SDK; `flush()` includes spans.
#[tokio::test]
async fn c_traces_14_the_export() {
    let server = FakePostHog::start().await;
    let client = client(&server);
    for i in 0..3 {
        client
            .start_span(format!("span {i}"), SpanOptions::new())
            .end();
    }
    client.flush().await;
    let requests = server.requests_to(posthog::traces::TRACES_PATH);
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].header("content-encoding"), Some("gzip"));
    assert_eq!(
        requests[0].header("authorization"),
        Some("Bearer phc_test_token")
    );
    assert!(
        !requests[0]
            .query
            .clone()
            .unwrap_or_default()
            .contains("token=")
    );
    let body = requests[0].json();
    assert_eq!(body["resourceSpans"].as_array().unwrap().len(), 1);
    assert_eq!(
        body["resourceSpans"][0]["scopeSpans"][0]["spans"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    let resource = &body["resourceSpans"][0]["resource"];
    assert_eq!(
        attribute(resource, "service.name"),
        Some(&json!({"stringValue": "orders"}))
    );
    assert_eq!(
        attribute(resource, "telemetry.sdk.name"),
        Some(&json!({"stringValue": "posthog-rust"}))
    );
    assert_eq!(
        body["resourceSpans"][0]["scopeSpans"][0]["scope"]["name"],
        "posthog-rust"
    );
}

/// C-TRACES.17: past the live-span limit `start_span` is inert; an ended span frees its slot.
#[tokio::test]
async fn c_traces_17_the_live_span_limit() {
    let server = FakePostHog::start().await;
    let client = ClientBuilder::new("phc_test_token")
        .host(server.url())
        .traces(TracesConfig::new().live_spans(2, std::time::Duration::from_secs(3600)))
        .build()
        .unwrap();
    let (a, b) = (
        client.start_span("a", SpanOptions::new()),
        client.start_span("b", SpanOptions::new()),
    );
    let c = client.start_span("c", SpanOptions::new());
    assert!(a.is_recording() && b.is_recording());
    assert!(!c.is_recording(), "over the limit: inert");
    a.end();
    let d = client.start_span("d", SpanOptions::new());
    assert!(d.is_recording(), "a's slot is free again");
    drop(b);
    let e = client.start_span("e", SpanOptions::new());
    assert!(
        e.is_recording(),
        "a span dropped unended frees its slot too"
    );
    d.end();
    e.end();
    client.flush().await;
    let names = span_names(&server);
    assert_eq!(names, ["a", "d", "e"]);
}

/// C-TRACES.17: a span left open past the maximum age is evicted when a span starts: its
/// handle does nothing from then on, its slot is free, nothing is exported for it, and the
/// drop is counted; drops are summarised in at most one warning per flush interval.
#[tokio::test]
async fn c_traces_17_over_age_spans_are_evicted() {
    let server = FakePostHog::start().await;
    let log = support::log::Log::default();
    let _guard = log.on_this_thread();
    let client = ClientBuilder::new("phc_test_token")
        .host(server.url())
        .traces(TracesConfig::new().live_spans(1, std::time::Duration::from_millis(50)))
        .build()
        .unwrap();
    let leaked = client.start_span("leaked", SpanOptions::new());
    assert!(
        !client
            .start_span("refused", SpanOptions::new())
            .is_recording()
    );
    std::thread::sleep(std::time::Duration::from_millis(80));
    let fresh = client.start_span("fresh", SpanOptions::new());
    assert!(fresh.is_recording(), "the over-age span's slot is free");
    assert!(!leaked.is_recording(), "its handle does nothing now");
    leaked.set_attribute("late", 1);
    leaked.end();
    fresh.end();
    client.flush().await;
    let names = span_names(&server);
    assert_eq!(names, ["fresh"]);
    assert_eq!(client.traces_stats().dropped, 2);
    assert_eq!(client.traces_stats().exported, 1);
    let warnings = log.text().matches("spans dropped").count();
    assert_eq!(
        warnings,
        1,
        "one warning per flush interval: {}",
        log.text()
    );
}

/// C-TRACES.9/.24: before export an empty name becomes `unknown`, a time the wire cannot
/// carry (before 1970, past i64::MAX ns: PostHog would refuse the whole request) becomes now,
/// an end before the start becomes the start, and a start over 24 h ago is warned about.
#[tokio::test]
async fn c_traces_9_validity_before_export() {
    use std::time::{Duration, SystemTime, UNIX_EPOCH};
    let server = FakePostHog::start().await;
    let log = support::log::Log::default();
    let _guard = log.on_this_thread();
    let client = client(&server);
    let before = SystemTime::now();
    client
        .start_span(
            "",
            SpanOptions::new().start_time(UNIX_EPOCH - Duration::from_secs(1)),
        )
        .end_at(UNIX_EPOCH + Duration::from_secs(10_000_000_000));
    let day_old = before - Duration::from_secs(25 * 3600);
    client
        .start_span("backdated", SpanOptions::new().start_time(day_old))
        .end_at(day_old - Duration::from_secs(5));
    client.flush().await;
    let spans = server.spans();
    let nanos = |v: &Value| v.as_str().unwrap().parse::<u64>().unwrap();
    let since_epoch = |t: SystemTime| t.duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64;
    let unknown = spans.iter().find(|s| s["name"] == "unknown").unwrap();
    assert!(nanos(&unknown["startTimeUnixNano"]) >= since_epoch(before));
    assert!(nanos(&unknown["endTimeUnixNano"]) >= nanos(&unknown["startTimeUnixNano"]));
    assert!(nanos(&unknown["endTimeUnixNano"]) <= i64::MAX as u64);
    let backdated = spans.iter().find(|s| s["name"] == "backdated").unwrap();
    assert_eq!(backdated["startTimeUnixNano"], backdated["endTimeUnixNano"]);
    assert_eq!(nanos(&backdated["startTimeUnixNano"]), since_epoch(day_old));
    assert!(
        log.text().contains("more than 24 hours ago"),
        "{}",
        log.text()
    );
}

/// A span hook sees each finished span: it may change or drop it; one that panics drops the
/// span (fail-closed).
#[tokio::test]
async fn c_traces_span_hooks_change_drop_and_fail_closed() {
    let server = FakePostHog::start().await;
    let config = TracesConfig::new()
        .before_send(|mut span| {
            if span.name == "explode" {
                panic!("a broken hook");
            }
            span.name = span.name.replace("secret", "[redacted]");
            Some(span)
        })
        .before_send(|span| (span.name != "health check").then_some(span));
    let client = ClientBuilder::new("phc_test_token")
        .host(server.url())
        .traces(config)
        .build()
        .unwrap();
    for name in ["GET secret", "health check", "explode"] {
        client.start_span(name, SpanOptions::new()).end();
    }
    client.flush().await;
    let names = span_names(&server);
    assert_eq!(names, ["GET [redacted]"]);
}

/// C-TRACES.14: one export body, as sent.
#[tokio::test]
async fn c_traces_14_an_export_snapshot() {
    let server = FakePostHog::start().await;
    let client = client(&server);
    let _: Result<(), String> = client.with_span(
        "GET /orders/{id}",
        SpanOptions::new()
            .kind(SpanKind::Server)
            .attribute("http.request.method", "GET"),
        |span| {
            span.add_event("cache miss", Map::new());
            Ok(())
        },
    );
    client.flush().await;
    let body = server.requests_to(posthog::traces::TRACES_PATH)[0].json();
    insta::assert_json_snapshot!("traces_export_body", body, {
        ".resourceSpans[].scopeSpans[].scope.version" => "[version]",
        ".resourceSpans[].resource.attributes" => "[resource]",
        ".resourceSpans[].scopeSpans[].spans[].traceId" => "[trace id]",
        ".resourceSpans[].scopeSpans[].spans[].spanId" => "[span id]",
        ".resourceSpans[].scopeSpans[].spans[].startTimeUnixNano" => "[time]",
        ".resourceSpans[].scopeSpans[].spans[].endTimeUnixNano" => "[time]",
        ".resourceSpans[].scopeSpans[].spans[].events[].timeUnixNano" => "[time]",
    });
}

/// C-TRACES.16/.20/.22: a full queue refuses the incoming span (queued ones stay); shutdown
/// exports what is queued within its deadline; no tracing call surfaces a delivery failure.
#[tokio::test(flavor = "current_thread")]
async fn c_traces_16_a_full_queue_refuses_the_incoming_span_and_shutdown_exports() {
    let server = FakePostHog::start().await;
    let mut config = TracesConfig::new();
    config.max_queue_size = 2;
    let client = ClientBuilder::new("phc_test_token")
        .host(server.url())
        .traces(config)
        .build()
        .unwrap();
    // The lane's worker has not run yet on this single thread: the queue fills.
    for name in ["first", "second", "third"] {
        client.start_span(name, SpanOptions::new()).end();
    }
    let report = client.shutdown(std::time::Duration::from_secs(5)).await;
    assert_eq!(report.undelivered, 0);
    let names = span_names(&server);
    assert_eq!(names, ["first", "second"], "queued spans are never evicted");
}

/// C-TRACES.21: a 413 halves the export and resends the same spans; a 503 is retried; none of
/// it reaches the caller.
#[tokio::test]
async fn c_traces_21_answers_halve_retry_or_drop() {
    let server = FakePostHog::start().await;
    let client = ClientBuilder::new("phc_test_token")
        .host(server.url())
        .traces(TracesConfig::new())
        .build()
        .unwrap();
    server.script([
        posthog::test_util::Reply::status(413),
        posthog::test_util::Reply::status(503),
    ]);
    for i in 0..4 {
        client.start_span(format!("s{i}"), SpanOptions::new()).end();
    }
    let _ = client.shutdown(std::time::Duration::from_secs(10)).await;
    let sizes: Vec<usize> = server
        .requests_to(posthog::traces::TRACES_PATH)
        .iter()
        .map(|r| {
            r.json()["resourceSpans"][0]["scopeSpans"][0]["spans"]
                .as_array()
                .map_or(0, Vec::len)
        })
        .collect();
    assert_eq!(
        sizes,
        [4, 2, 2, 2],
        "413 → halves; the 503'd half is sent again"
    );
    assert_eq!(server.spans().len(), 4);
}

/// C-TRACES.6 for events: inside an active span, `$exception` events always carry its ids as
/// `$trace_id`/`$span_id`; `capture` and `capture_ai` do with `capture_trace_context`; ids set
/// by the caller win; outside a span nothing is added.
#[tokio::test]
async fn c_traces_6_events_inside_a_span_carry_its_ids() {
    for trace_context in [false, true] {
        let server = FakePostHog::start().await;
        let client = ClientBuilder::new("phc_test_token")
            .host(server.url())
            .traces(TracesConfig::new())
            .capture_trace_context(trace_context)
            .build()
            .unwrap();
        let _: Result<(), String> = client.with_span("request", SpanOptions::new(), |_| {
            client.capture(posthog::Event::new("inside", "u"));
            client.capture(
                posthog::Event::new("own ids", "u")
                    .property("$trace_id", "mine")
                    .property("$span_id", "mine too"),
            );
            client.capture_ai(posthog::Event::new("$ai_span", "u"));
            client.capture_exception(
                &std::io::Error::other("boom"),
                "u",
                &posthog::ExceptionOptions::default(),
            );
            Ok(())
        });
        client.capture(posthog::Event::new("outside", "u"));
        client.flush().await;
        let request = server.spans()[0].clone();
        let mut events = server.events();
        events.extend(server.ai_events());
        let by = |name: &str| events.iter().find(|e| e["event"] == name).cloned().unwrap();
        let ids = |e: &Value| {
            (
                e["properties"]["$trace_id"].clone(),
                e["properties"]["$span_id"].clone(),
            )
        };
        let span_ids = (request["traceId"].clone(), request["spanId"].clone());
        assert_eq!(ids(&by("$exception")), span_ids);
        let expected = if trace_context {
            span_ids.clone()
        } else {
            (Value::Null, Value::Null)
        };
        assert_eq!(
            ids(&by("inside")),
            expected,
            "capture_trace_context {trace_context}"
        );
        assert_eq!(ids(&by("$ai_span")), expected);
        assert_eq!(ids(&by("own ids")), (json!("mine"), json!("mine too")));
        assert_eq!(ids(&by("outside")), (Value::Null, Value::Null));
    }
}

fn span_counts(server: &FakePostHog) -> Vec<usize> {
    server
        .requests_to(posthog::traces::TRACES_PATH)
        .iter()
        .map(|r| {
            r.json()["resourceSpans"][0]["scopeSpans"][0]["spans"]
                .as_array()
                .map_or(0, Vec::len)
        })
        .collect()
}

/// C-TRACES.18/.19/.23: a batch's worth of spans starts an export at once, the interval sends
/// the rest, `flush()` includes spans; each request carries at most `max_export_batch_size`
/// spans, and one export is in flight at a time.
#[tokio::test]
async fn c_traces_18_19_exports_by_batch_interval_and_flush_one_at_a_time() {
    use posthog::test_util::Reply;
    use std::time::Duration;
    let server = FakePostHog::start().await;
    let config = TracesConfig::new()
        .service("orders", None)
        .environment("test")
        .batching(Duration::from_millis(200), 3);
    let client = ClientBuilder::new("phc_test_token")
        .host(server.url())
        .traces(config)
        .build()
        .unwrap();
    // A batch's worth: exported without a flush, well before the interval.
    for i in 0..3 {
        client.start_span(format!("s{i}"), SpanOptions::new()).end();
    }
    let waited = std::time::Instant::now();
    while span_counts(&server).is_empty() && waited.elapsed() < Duration::from_secs(2) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(span_counts(&server), [3]);
    // One span: the interval sends it.
    client.start_span("lonely", SpanOptions::new()).end();
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(span_counts(&server), [3, 1]);
    // Seven more, slow answers, then flush: batches of at most 3, never two at once.
    server.script((0..3).map(|_| Reply::ok().delay(Duration::from_millis(60))));
    for i in 0..7 {
        client.start_span(format!("t{i}"), SpanOptions::new()).end();
    }
    client.flush().await;
    let counts = span_counts(&server);
    assert_eq!(counts[2..].iter().sum::<usize>(), 7);
    assert!(counts.iter().all(|&n| n <= 3), "{counts:?}");
    let requests = server.requests_to(posthog::traces::TRACES_PATH);
    for pair in requests[2..].windows(2) {
        let gap = pair[1].at.duration_since(pair[0].at);
        assert!(
            gap >= Duration::from_millis(55),
            "one export in flight: {gap:?}"
        );
    }
}

/// C-TRACES.24/.21: PostHog answers a missing or refused token with 401: the batch is dropped,
/// not retried, counted, and the span API never sees it.
#[tokio::test]
async fn c_traces_24_a_401_drops_the_batch_without_retrying() {
    let server = FakePostHog::start().await;
    let client = client(&server);
    server.script([posthog::test_util::Reply::status(401)]);
    client.start_span("refused", SpanOptions::new()).end();
    client.flush().await;
    client.start_span("accepted", SpanOptions::new()).end();
    client.flush().await;
    assert_eq!(
        span_counts(&server),
        [1, 1],
        "no retry of the refused batch"
    );
    let names: Vec<_> = server.spans().iter().map(|s| s["name"].clone()).collect();
    assert_eq!(
        names,
        [json!("accepted")],
        "FakePostHog keeps accepted spans"
    );
    let stats = client.traces_stats();
    assert_eq!((stats.failed, stats.exported), (1, 1));
}
