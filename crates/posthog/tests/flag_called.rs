//! C-FLAG-CALLED.1/.7–.9: `$feature_flag_called` reduced to the allowlist when PostHog's gate
//! is on and the flag is known not to back an experiment, against FakePostHog.

use std::time::Duration;

use posthog::context::Context;
use posthog::test_util::FakePostHog;
use posthog::{Client, FlagOptions};
use serde_json::{Value, json};

fn definitions(gate: Option<bool>) -> Value {
    let mut doc = json!({
        "flags": [
            {"id": 1, "key": "plain", "active": true, "has_experiment": false,
             "filters": {"groups": [{"rollout_percentage": 100}], "payloads": {"true": "{\"x\": 1}"}}},
            {"id": 2, "key": "experiment", "active": true, "has_experiment": true,
             "filters": {"groups": [{"rollout_percentage": 100}]}},
            {"id": 3, "key": "unknown", "active": true,
             "filters": {"groups": [{"rollout_percentage": 100}]}}
        ]
    });
    if let Some(gate) = gate {
        doc["minimal_flag_called_events"] = json!(gate);
    }
    doc
}

async fn client(server: &FakePostHog, poll: Duration) -> Client {
    let client = Client::builder("phc")
        .host(server.url())
        .personal_api_key("phx_key")
        .poll_interval(poll)
        .super_property("deployment", "blue")
        .before_send(|e| Some(e.property("added_by_hook", true)))
        .build()
        .unwrap();
    assert!(client.wait_for_flags(Duration::from_secs(5)).await);
    client
}

async fn called(client: &Client, server: &FakePostHog, key: &str, who: &str) -> Value {
    let opts = FlagOptions::new();
    Context::new()
        .tag("request_path", "/checkout")
        .scope(client.get_feature_flag(key, who, &opts))
        .await;
    client.flush().await;
    server
        .events()
        .into_iter()
        .rev()
        .find(|e| e["event"] == "$feature_flag_called" && e["distinct_id"] == who)
        .expect("a $feature_flag_called event")["properties"]
        .clone()
}

fn full(p: &Value) -> bool {
    p.get("deployment").is_some()
        && p.get("added_by_hook").is_some()
        && p.get("request_path").is_some()
}

#[tokio::test]
async fn c_flag_called_7_gate_on_and_no_experiment_is_minimal() {
    let server = FakePostHog::start().await;
    server.set_definitions(definitions(Some(true)));
    let client = client(&server, Duration::from_secs(30)).await;
    let p = called(&client, &server, "plain", "user-1").await;
    assert_eq!(p["$feature_flag"], "plain");
    assert_eq!(p["$feature_flag_response"], true);
    assert_eq!(p["$feature_flag_has_experiment"], false);
    assert_eq!(p["$feature_flag_id"], 1);
    assert_eq!(p["locally_evaluated"], true);
    assert_eq!(p["$lib"], "posthog-rust");
    // Super properties, hook and context additions, `$feature/<key>` and the payload: gone.
    for stripped in [
        "deployment",
        "added_by_hook",
        "request_path",
        "$feature/plain",
        "$feature_flag_payload",
    ] {
        assert!(p.get(stripped).is_none(), "{stripped} in {p}");
    }
    // An experiment, or a flag that does not say: full events.
    let p = called(&client, &server, "experiment", "user-1").await;
    assert!(full(&p), "{p}");
    assert_eq!(p["$feature_flag_has_experiment"], true);
    let p = called(&client, &server, "unknown", "user-1").await;
    assert!(full(&p), "{p}");
    assert!(
        p.get("$feature_flag_has_experiment").is_none(),
        "never guessed"
    );
}

#[tokio::test]
async fn c_flag_called_7_gate_off_or_absent_is_full() {
    for gate in [None, Some(false)] {
        let server = FakePostHog::start().await;
        server.set_definitions(definitions(gate));
        let client = client(&server, Duration::from_secs(30)).await;
        let p = called(&client, &server, "plain", "user-1").await;
        assert!(full(&p), "gate {gate:?}: {p}");
        assert_eq!(p["$feature/plain"], true);
    }
}

/// C-FLAG-CALLED.9: the gate survives a definitions refresh answered 304.
#[tokio::test]
async fn c_flag_called_9_gate_survives_not_modified() {
    let server = FakePostHog::start().await;
    server.set_definitions(definitions(Some(true)));
    let client = client(&server, Duration::from_millis(50)).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !server
        .requests_to("/flags/definitions")
        .iter()
        .any(|r| r.status == Some(304))
    {
        assert!(std::time::Instant::now() < deadline, "no 304 refresh");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let p = called(&client, &server, "plain", "user-after-304").await;
    assert!(p.get("deployment").is_none(), "{p}");
    assert_eq!(p["$feature_flag_has_experiment"], false);
}

/// The gate from `/flags` (remote evaluation) is pinned to that answer.
#[tokio::test]
async fn c_flag_called_7_remote_gate() {
    let server = FakePostHog::start().await;
    server.set_flags(json!({
        "flags": {
            "remote-plain": {"key": "remote-plain", "enabled": true,
                "metadata": {"id": 5, "version": 1, "has_experiment": false}},
            "remote-exp": {"key": "remote-exp", "enabled": true,
                "metadata": {"id": 6, "version": 1, "has_experiment": true}}
        },
        "minimalFlagCalledEvents": true,
        "requestId": "req-9"
    }));
    let client = Client::builder("phc")
        .host(server.url())
        .super_property("deployment", "blue")
        .build()
        .unwrap();
    let p = called(&client, &server, "remote-plain", "user-2").await;
    assert_eq!(p["$feature_flag_request_id"], "req-9");
    assert_eq!(p["locally_evaluated"], false);
    assert!(p.get("deployment").is_none(), "{p}");
    let p = called(&client, &server, "remote-exp", "user-2").await;
    assert_eq!(p["deployment"], "blue");
}

/// C-FLAG-CALLED.9: the gate survives a cache-provider round trip — a client that installs
/// definitions another client fetched still sends minimal events.
#[tokio::test]
async fn c_flag_called_9_gate_survives_the_definitions_cache() {
    use posthog::feature_flags::cache::{DefinitionsCache, MemoryDefinitionsCache};
    use std::sync::Arc;
    let server = FakePostHog::start().await;
    server.set_definitions(definitions(Some(true)));
    let cache: Arc<dyn DefinitionsCache> =
        Arc::new(MemoryDefinitionsCache::new(Duration::from_secs(60)));
    let build = || {
        Client::builder("phc")
            .host(server.url())
            .personal_api_key("phx_key")
            .definitions_cache(cache.clone())
            .super_property("deployment", "blue")
            .build()
            .unwrap()
    };
    let fetcher = build();
    assert!(fetcher.wait_for_flags(Duration::from_secs(5)).await);
    let reader = build();
    assert!(reader.wait_for_flags(Duration::from_secs(5)).await);
    assert_eq!(
        server.requests_to("/flags/definitions").len(),
        1,
        "the reader used the cache"
    );
    let p = called(&reader, &server, "plain", "user-from-cache").await;
    assert!(p.get("deployment").is_none(), "{p}");
    assert_eq!(p["$feature_flag_has_experiment"], false);
}
