//! Issue 15 (flags, exact): the parts done so far, against FakePostHog over real HTTP.

mod support;

use std::time::{Duration, Instant};

use posthog::test_util::{FakePostHog, Reply};
use posthog::{Client, FlagOptions};
use serde_json::json;

/// The `/flags` body of the last request.
fn last_flags_body(server: &FakePostHog) -> serde_json::Value {
    server.requests_to("/flags/").last().unwrap().json()
}

/// C-EVALUATE-FLAGS.1 / C-GET-FLAG.1: a per-call GeoIP option overrides the client's
/// `disable_geoip` in both directions, on single reads, all-flags reads and `evaluate_flags`.
/// Without it the client's setting is sent (default: disabled, protocol.md §7 item 11).
#[tokio::test]
async fn c_evaluate_flags_1_per_call_geoip_overrides_the_client_both_ways() {
    let server = FakePostHog::start().await;
    let client = Client::builder("phc").host(server.url()).build().unwrap();
    let lets = FlagOptions::new().disable_geoip(false);
    client.get_feature_flag("f", "u", &FlagOptions::new()).await;
    assert_eq!(last_flags_body(&server)["geoip_disable"], true);
    client.get_feature_flag("f", "u", &lets).await;
    assert_eq!(last_flags_body(&server)["geoip_disable"], false);
    let _ = client.get_all_flags("u", &lets).await;
    assert_eq!(last_flags_body(&server)["geoip_disable"], false);
    client.evaluate_flags("u", &lets).await;
    assert_eq!(last_flags_body(&server)["geoip_disable"], false);

    let geo = Client::builder("phc")
        .host(server.url())
        .disable_geoip(false)
        .build()
        .unwrap();
    geo.get_feature_flag("f", "u", &FlagOptions::new()).await;
    assert_eq!(last_flags_body(&server)["geoip_disable"], false);
    geo.get_feature_flag("f", "u", &FlagOptions::new().disable_geoip(true))
        .await;
    assert_eq!(last_flags_body(&server)["geoip_disable"], true);
}

/// C-HTTP.4 / issue 15 item 6: the flag timeout is a total deadline for a read, retries
/// included: a `/flags` that never answers costs `get_feature_flag` about 1 s with a 1 s
/// timeout and 3 retries (it took (1 + retries) × timeout, plus backoff).
#[tokio::test]
async fn c_http_4_the_flag_timeout_bounds_the_whole_read() {
    let server = FakePostHog::start().await;
    support::answer_always(&server, Reply::ok().delay(Duration::from_secs(3600)));
    let client = Client::builder("phc")
        .host(server.url())
        .feature_flags_request_timeout(Duration::from_secs(1))
        .flag_retries(3)
        .build()
        .unwrap();
    let started = Instant::now();
    let value = client.get_feature_flag("f", "u", &FlagOptions::new()).await;
    let took = started.elapsed();
    assert_eq!(value, None);
    assert!(took < Duration::from_millis(1_300), "took {took:?}");
    let started = Instant::now();
    let all = client.get_all_flags("u", &FlagOptions::new()).await;
    let incomplete = all.expect_err("a timed-out read is incomplete");
    assert_eq!(incomplete.error, posthog::FlagsError::Timeout);
    assert!(incomplete.partial.is_empty());
    assert!(started.elapsed() < Duration::from_millis(1_300));
}

/// C-EVALUATE-FLAGS.4: with `flag_keys`, the snapshot and the all-flags reads hold only the
/// requested keys, even when the server answers more.
#[tokio::test]
async fn c_evaluate_flags_4_flag_keys_keep_only_the_requested_flags() {
    let server = FakePostHog::start().await;
    server.set_flags(json!({"flags": {
        "wanted": {"key": "wanted", "enabled": true, "variant": null},
        "extra": {"key": "extra", "enabled": true, "variant": null}
    }}));
    let client = Client::builder("phc").host(server.url()).build().unwrap();
    let opts = FlagOptions::new().flag_keys(["wanted"]);
    let all = client.get_all_flags("u", &opts).await.expect("complete");
    assert_eq!(all.keys().collect::<Vec<_>>(), ["wanted"], "{all:?}");
    let snapshot = client.evaluate_flags("u", &opts).await;
    assert_eq!(snapshot.keys().collect::<Vec<_>>(), ["wanted"]);
    assert_eq!(
        last_flags_body(&server)["flag_keys_to_evaluate"],
        json!(["wanted"])
    );
    let everything = client.get_all_flags("u", &FlagOptions::new()).await;
    assert_eq!(everything.expect("complete").len(), 2);
}

/// The `$feature_flag_error` of the one `$feature_flag_called` event `read` causes.
async fn error_reported(server: &FakePostHog, client: &Client) -> Option<String> {
    client.flush().await;
    let events = server.events();
    let called: Vec<_> = events
        .iter()
        .filter(|e| e["event"] == "$feature_flag_called")
        .collect();
    assert_eq!(called.len(), 1, "{events:#?}");
    called[0]["properties"]["$feature_flag_error"]
        .as_str()
        .map(str::to_owned)
}

/// A client with a personal key: it loads `server`'s definitions and evaluates locally.
fn local_client(server: &FakePostHog) -> Client {
    Client::builder("phc")
        .host(server.url())
        .personal_api_key(posthog::test_util::FAKE_PERSONAL_API_KEY)
        .build()
        .unwrap()
}

fn remote_client(server: &FakePostHog) -> Client {
    Client::builder("phc")
        .host(server.url())
        .feature_flags_request_timeout(Duration::from_millis(500))
        .build()
        .unwrap()
}

/// C-FLAG-CALLED.1 / C-FLAG-CACHE.4 / C-GET-FLAG.5: a failed read is `None`, never a panic,
/// and `$feature_flag_error` carries PostHog's codes on the
/// getter path: `api_error_<status>`, `timeout`, `connection_error`, `quota_limited`,
/// `errors_while_computing_flags`, and `flag_missing` after the answer's own errors.
#[tokio::test]
async fn c_flag_called_1_errors_use_posthogs_codes() {
    let cases: Vec<(Vec<Reply>, Option<&str>)> = vec![
        (vec![Reply::status(500)], Some("api_error_500,flag_missing")),
        (
            vec![Reply::ok().delay(Duration::from_secs(5))],
            Some("timeout,flag_missing"),
        ),
        (
            vec![Reply::Close, Reply::Close],
            Some("connection_error,flag_missing"),
        ),
        (
            vec![Reply::json(
                200,
                &json!({"flags": {}, "quotaLimited": ["feature_flags"]}),
            )],
            Some("quota_limited,flag_missing"),
        ),
        (
            vec![Reply::json(
                200,
                &json!({"flags": {}, "errorsWhileComputingFlags": true}),
            )],
            Some("errors_while_computing_flags,flag_missing"),
        ),
        (
            vec![Reply::json(
                200,
                &json!({"errorsWhileComputingFlags": true, "flags": {
                    "f": {"key": "f", "enabled": true, "variant": null}}}),
            )],
            Some("errors_while_computing_flags"),
        ),
        (
            vec![Reply::json(200, &json!({"flags": {}}))],
            Some("flag_missing"),
        ),
    ];
    for (replies, expected) in cases {
        let server = FakePostHog::start().await;
        server.script(replies.clone());
        let client = remote_client(&server);
        client.get_feature_flag("f", "u", &FlagOptions::new()).await;
        assert_eq!(
            error_reported(&server, &client).await.as_deref(),
            expected,
            "{replies:?}"
        );
    }
}

/// C-FLAG-CALLED.1: `$feature_flag_evaluated_at` is sent when the answer carries
/// `evaluatedAt`; the snapshot path reports the same codes as the getter (a failed request
/// then `flag_missing`).
#[tokio::test]
async fn c_flag_called_1_evaluated_at_and_snapshot_codes() {
    let server = FakePostHog::start().await;
    server.set_flags(
        json!({"evaluatedAt": 1_764_800_000_000_i64, "requestId": "r-1", "flags": {
        "f": {"key": "f", "enabled": true, "variant": null}}}),
    );
    let client = remote_client(&server);
    assert!(
        client
            .is_feature_enabled("f", "u", &FlagOptions::new())
            .await
    );
    client.flush().await;
    let called = server.events();
    assert_eq!(
        called[0]["properties"]["$feature_flag_evaluated_at"],
        1_764_800_000_000_i64
    );

    let server = FakePostHog::start().await;
    server.script([Reply::status(503)]);
    let client = remote_client(&server);
    let snapshot = client.evaluate_flags("u", &FlagOptions::new()).await;
    assert_eq!(snapshot.get_flag("f"), None);
    assert_eq!(
        error_reported(&server, &client).await.as_deref(),
        Some("api_error_503,flag_missing")
    );
}

/// Issue 15 item 8: definitions compile off the async threads. On a current-thread runtime a
/// ticker keeps ticking while a large document loads: its longest gap stays well under the
/// time the document takes to compile (measured here first, so the bound follows the machine).
#[tokio::test(flavor = "current_thread")]
async fn definitions_compile_without_stalling_the_runtime() {
    let flags: Vec<serde_json::Value> = (0..20_000)
        .map(|i| {
            json!({"id": i, "key": format!("flag-{i}"), "active": true, "filters": {"groups": [
                {"properties": [{"key": "plan", "operator": "exact", "value": ["pro", format!("p{i}")], "type": "person"}],
                 "rollout_percentage": 50}]}})
        })
        .collect();
    let document = json!({"flags": flags});
    let started = Instant::now();
    posthog::flags::FlagSet::compile(&document).unwrap();
    let compile = started.elapsed();
    assert!(
        compile >= Duration::from_millis(50),
        "a document worth measuring: {compile:?}"
    );

    let server = FakePostHog::start().await;
    server.set_definitions(document);
    let client = local_client(&server);
    let mut longest = Duration::ZERO;
    let mut last = Instant::now();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !client.wait_for_flags(Duration::from_millis(1)).await {
        assert!(Instant::now() < deadline, "definitions never loaded");
        tokio::time::sleep(Duration::from_millis(1)).await;
        longest = longest.max(last.elapsed());
        last = Instant::now();
    }
    assert!(
        longest < compile / 2,
        "the runtime stalled {longest:?} (compiling takes {compile:?})"
    );
}

/// C-GET-FLAG-RESULT.5 / C-EVALUATE-FLAGS.7: the snapshot offers the structured read (value,
/// variant, payload, reason), counted as a read of the value (one `$feature_flag_called`),
/// and keeps when it was evaluated, which filtered copies share.
#[tokio::test]
async fn c_get_flag_result_5_the_snapshot_reads_a_structured_result() {
    let server = FakePostHog::start().await;
    server.set_flags(json!({"flags": {
        "checkout": {"key": "checkout", "enabled": true, "variant": "blue",
                     "reason": {"code": "condition_match", "condition_index": 0},
                     "metadata": {"id": 7, "version": 2, "payload": "{\"copy\":\"new\"}"}}}}));
    let client = Client::builder("phc").host(server.url()).build().unwrap();
    let before = std::time::SystemTime::now();
    let snapshot = client.evaluate_flags("u", &FlagOptions::new()).await;
    let after = std::time::SystemTime::now();
    assert!(snapshot.evaluated_at() >= before && snapshot.evaluated_at() <= after);
    assert_eq!(
        snapshot.only(["checkout"]).evaluated_at(),
        snapshot.evaluated_at()
    );
    let result = snapshot.get_flag_result("checkout").unwrap();
    assert_eq!(
        (
            result.key.as_str(),
            result.enabled,
            result.variant.as_deref()
        ),
        ("checkout", true, Some("blue"))
    );
    assert_eq!(result.payload, Some(json!({"copy": "new"})));
    assert_eq!(result.reason.as_deref(), Some("condition_match"));
    assert!(!result.locally_evaluated);
    assert!(snapshot.get_flag_result("missing").is_none());
    client.flush().await;
    let called: Vec<_> = server
        .events()
        .into_iter()
        .filter(|e| e["event"] == "$feature_flag_called")
        .map(|e| e["properties"]["$feature_flag"].clone())
        .collect();
    assert_eq!(called, [json!("checkout"), json!("missing")]);
}

/// C-FLAG-DEFS (single flight): `load_feature_flags()` while the poller's load is under way
/// joins it: one definitions request, and the caller returns once that load is done.
#[tokio::test]
async fn c_flag_defs_a_load_during_a_load_sends_no_second_request() {
    let server = FakePostHog::start().await;
    let document = json!({"flags": [{"id": 1, "key": "on", "active": true,
        "filters": {"groups": [{"properties": [], "rollout_percentage": 100}]}}]});
    server.set_definitions(document.clone());
    // The poller's first load waits 400 ms for its answer.
    server.script([Reply::json(200, &document).delay(Duration::from_millis(400))]);
    let client = local_client(&server);
    tokio::time::sleep(Duration::from_millis(50)).await; // the poller's load is out
    client.load_feature_flags().await;
    assert!(
        client.wait_for_flags(Duration::ZERO).await,
        "loaded when the join returns"
    );
    assert_eq!(server.requests_to("/flags/definitions").len(), 1);
}

/// Issue 15 item 10 / C-LOCAL-EVAL.3: a group flag read without its group. The evaluator's
/// plain answer is inconclusive (a client asks the server); `Evaluation::local_only_value()`
/// is the one call that answers as the client does with `only_evaluate_locally` (and as
/// PostHog's Python SDK does locally): `false`.
#[tokio::test]
async fn a_group_flag_without_its_group_answers_alike_in_the_evaluator_and_the_client() {
    let document = json!({
        "flags": [{"id": 1, "key": "big-companies", "active": true, "filters": {
            "aggregation_group_type_index": 0,
            "groups": [{"properties": [], "rollout_percentage": 100}]}}],
        "group_type_mapping": {"0": "company"}
    });
    let set = posthog::flags::FlagSet::compile(&document).unwrap();
    let ctx = posthog::flags::EvalContext::new("user-1");
    let evaluation = set.evaluate("big-companies", &ctx).unwrap();
    assert!(evaluation.is_inconclusive());
    let local_only = evaluation.local_only_value().map(|value| value.to_owned());

    let server = FakePostHog::start().await;
    server.set_definitions(document);
    let client = local_client(&server);
    assert!(client.wait_for_flags(Duration::from_secs(5)).await);
    let from_client = client
        .get_feature_flag(
            "big-companies",
            "user-1",
            &FlagOptions::new().only_evaluate_locally(true),
        )
        .await;
    assert_eq!(local_only, Some(posthog::FlagValue::Bool(false)));
    assert_eq!(from_client, local_only);
    assert!(server.requests_to("/flags/").is_empty());
}
