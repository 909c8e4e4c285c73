//! Issue 15 (parity): the blocking client has every flag read of the async client and
//! exception capture, with the same semantics; the async client has flag reads that never
//! await. Against FakePostHog over real HTTP.

use std::time::Duration;

use posthog::test_util::{FAKE_PERSONAL_API_KEY, FakePostHog};
use posthog::{ClientBuilder, Event, ExceptionOptions, FlagOptions, FlagValue};
use serde_json::json;

fn fake() -> (tokio::runtime::Runtime, FakePostHog) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(FakePostHog::start());
    (runtime, server)
}

fn definitions() -> serde_json::Value {
    json!({"flags": [
        {"id": 1, "key": "local-on", "active": true,
         "filters": {"groups": [{"properties": [], "rollout_percentage": 100}],
                     "payloads": {"true": "{\"a\": 1}"}}},
        {"id": 2, "key": "needs-email", "active": true,
         "filters": {"groups": [{"properties": [
            {"key": "email", "type": "person", "operator": "icontains", "value": "@"}],
            "rollout_percentage": 100}]}}
    ]})
}

fn remote_answer() -> serde_json::Value {
    json!({"flags": {
        "needs-email": {"key": "needs-email", "enabled": true, "variant": null},
        "remote-variant": {"key": "remote-variant", "enabled": true, "variant": "blue",
                           "metadata": {"payload": "[1]"}}
    }})
}

fn called_events(server: &FakePostHog) -> Vec<serde_json::Value> {
    server
        .events()
        .into_iter()
        .filter(|e| e["event"] == "$feature_flag_called")
        .collect()
}

/// Every flag read of the blocking client, local and remote, with the async semantics:
/// local values without a request, one request for the rest, `$feature_flag_called` from
/// the getters only, `Result` from the bulk reads.
#[test]
fn blocking_client_reads_flags_like_the_async_client() {
    let (_rt, server) = fake();
    server.set_definitions(definitions());
    server.set_flags(remote_answer());
    let client = ClientBuilder::new("phc")
        .host(server.url())
        .personal_api_key(FAKE_PERSONAL_API_KEY)
        .build_blocking()
        .unwrap();
    assert!(client.wait_for_flags(Duration::from_secs(5)));
    assert!(client.feature_flag_definitions_loaded_at().is_some());
    let opts = FlagOptions::new();

    assert_eq!(
        client.get_feature_flag("local-on", "u", &opts),
        Some(FlagValue::Bool(true))
    );
    assert!(server.requests_to("/flags/").is_empty(), "decided locally");
    assert!(
        client.is_feature_enabled("needs-email", "u", &opts),
        "asked the server"
    );
    assert_eq!(server.requests_to("/flags/").len(), 1);
    assert_eq!(
        client.get_feature_flag_payload("local-on", "u", &opts),
        Some(json!({"a": 1}))
    );
    let result = client
        .get_feature_flag_result("remote-variant", "u", &opts)
        .expect("a result");
    assert_eq!(result.variant.as_deref(), Some("blue"));
    assert_eq!(result.payload, Some(json!([1])));

    let all = client.get_all_flags("u", &opts).expect("complete");
    assert_eq!(all["local-on"], FlagValue::Bool(true));
    assert_eq!(all["remote-variant"], FlagValue::Variant("blue".into()));
    let (_, payloads) = client
        .get_all_flags_and_payloads("u", &opts)
        .expect("complete");
    assert_eq!(payloads["local-on"], json!({"a": 1}));

    let snapshot = client.evaluate_flags("u", &opts);
    assert!(snapshot.is_enabled("local-on"));
    client.capture_with_flags(Event::new("checkout", "u"), &opts);
    client.load_feature_flags();
    assert_eq!(server.requests_to("/flags/definitions").len(), 2);
    client.flush();

    let called: Vec<String> = called_events(&server)
        .iter()
        .map(|e| {
            e["properties"]["$feature_flag"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    // The getters and the snapshot read report; the payload and bulk reads do not.
    assert_eq!(
        called,
        ["local-on", "needs-email", "remote-variant"],
        "{called:?}"
    );
    let checkout = server
        .events()
        .into_iter()
        .find(|e| e["event"] == "checkout")
        .expect("captured with flags");
    assert_eq!(checkout["properties"]["$feature/remote-variant"], "blue");
}

/// Called from inside an async runtime, a blocking read runs on a helper thread and keeps
/// the caller's context: its flag property overrides reach `/flags`.
#[test]
fn blocking_reads_inside_a_runtime_keep_the_callers_context() {
    let (rt, server) = fake();
    server.set_flags(remote_answer());
    let client = ClientBuilder::new("phc")
        .host(server.url())
        .build_blocking()
        .unwrap();
    let value = rt.block_on(async {
        let _entered = posthog::context::Context::new().enter();
        let mut props = posthog::Properties::new();
        props.insert("plan".into(), json!("pro"));
        posthog::context::set_person_properties_for_flags(props);
        client.get_feature_flag("needs-email", "u", &FlagOptions::new())
    });
    assert_eq!(value, Some(FlagValue::Bool(true)));
    let body = server.requests_to("/flags/").last().unwrap().json();
    assert_eq!(body["person_properties"]["plan"], "pro", "{body}");
}

/// Exception capture on the blocking client: an `$exception` event through the pipeline.
#[test]
fn blocking_client_captures_exceptions() {
    let (_rt, server) = fake();
    let client = ClientBuilder::new("phc")
        .host(server.url())
        .build_blocking()
        .unwrap();
    let err = std::fs::read("/no/such/file").unwrap_err();
    let opts = ExceptionOptions::new();
    assert!(client.capture_exception(&err, "u", &opts).is_some());
    assert!(
        client
            .capture_exception_message("Timeout", "job took too long", "u", &opts)
            .is_some()
    );
    client.flush();
    let events = server.events();
    assert_eq!(events.len(), 2);
    assert!(events.iter().all(|e| e["event"] == "$exception"));
    assert_eq!(
        events[1]["properties"]["$exception_list"][0]["type"],
        "Timeout"
    );
}

/// The async client's synchronous local read: the definitions decide without a request or an
/// `.await`; what they cannot decide is `None` (the default for `is_…`), with no request.
#[tokio::test]
async fn async_client_reads_local_flags_without_awaiting() {
    let server = FakePostHog::start().await;
    server.set_definitions(definitions());
    server.set_flags(remote_answer());
    let client = posthog::Client::builder("phc")
        .host(server.url())
        .personal_api_key(FAKE_PERSONAL_API_KEY)
        .build()
        .unwrap();
    assert!(client.wait_for_flags(Duration::from_secs(5)).await);
    let opts = FlagOptions::new();
    let sync_read = |key: &str| client.get_feature_flag_local(key, "u", &opts);
    assert_eq!(sync_read("local-on"), Some(FlagValue::Bool(true)));
    assert_eq!(sync_read("needs-email"), None);
    assert!(client.is_feature_enabled_local("needs-email", "u", &opts.clone().default_value(true)));
    assert!(
        server.requests_to("/flags/").is_empty(),
        "never asks the server"
    );
    client.flush().await;
    let called = called_events(&server);
    assert_eq!(called.len(), 2, "{called:?}");
    assert_eq!(called[0]["properties"]["$feature_flag_response"], true);
    assert_eq!(called[1]["properties"]["$feature_flag"], "needs-email");
}
