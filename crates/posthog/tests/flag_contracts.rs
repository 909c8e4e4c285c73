//! MUST rows of the flag contracts (C-EVALUATE-FLAGS through C-RESET-GROUP-PROPS) that no
//! other test names, each against FakePostHog over real HTTP.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use posthog::context::{self, Context};
use posthog::test_util::{FAKE_PERSONAL_API_KEY, FakePostHog, Reply};
use posthog::{Client, FlagOptions, FlagValue, Properties};
use serde_json::json;

fn props(value: serde_json::Value) -> Properties {
    serde_json::from_value(value).unwrap()
}

fn remote_client(server: &FakePostHog) -> Client {
    Client::builder("phc")
        .host(server.url())
        .feature_flags_request_timeout(Duration::from_millis(800))
        .build()
        .unwrap()
}

fn answer() -> serde_json::Value {
    json!({"requestId": "req-9", "flags": {
        "checkout": {"key": "checkout", "enabled": true, "variant": "blue",
            "reason": {"code": "condition_match", "condition_index": 0},
            "metadata": {"id": 3, "version": 2, "payload": "{\"cta\": \"go\"}"}}}})
}

fn flag_bodies(server: &FakePostHog) -> Vec<serde_json::Value> {
    server
        .requests_to("/flags/")
        .iter()
        .map(|r| r.json())
        .collect()
}

/// C-SET-PERSON-PROPS.1/.3/.4: overrides add up across calls (a key set again is
/// overwritten) and reach the snapshot, the getters and local evaluation; no event is sent.
#[tokio::test]
async fn c_set_person_props_1_overrides_add_up_and_reach_every_read() {
    let server = FakePostHog::start().await;
    server.set_flags(answer());
    server.set_definitions(json!({"flags": [{"key": "pro-only", "active": true,
        "filters": {"groups": [{"properties": [
            {"key": "plan", "type": "person", "operator": "exact", "value": "pro"}],
            "rollout_percentage": 100}]}}]}));
    let client = Client::builder("phc")
        .host(server.url())
        .personal_api_key(FAKE_PERSONAL_API_KEY)
        .build()
        .unwrap();
    assert!(client.wait_for_flags(Duration::from_secs(5)).await);
    let quiet = FlagOptions::new().send_feature_flag_events(false);
    let local = Context::new().distinct_id("u").scope(async {
        context::set_person_properties_for_flags(props(json!({"a": 1, "plan": "free"})));
        context::set_person_properties_for_flags(props(json!({"plan": "pro", "c": 3})));
        let local = client.get_feature_flag("pro-only", "", &quiet).await;
        client.get_feature_flag("checkout", "", &quiet).await;
        let _ = client
            .evaluate_flags("", &quiet.clone().flag_keys(["checkout"]))
            .await;
        local
    });
    assert_eq!(
        local.await,
        Some(FlagValue::Bool(true)),
        "decided locally with the override"
    );
    let bodies = flag_bodies(&server);
    assert_eq!(
        bodies.len(),
        2,
        "the getter and the snapshot asked for `checkout`"
    );
    for body in &bodies {
        assert_eq!(
            body["person_properties"],
            json!({"a": 1, "plan": "pro", "c": 3})
        );
    }
    client.flush().await;
    assert!(server.events().is_empty(), "C-SET-PERSON-PROPS.4: no event");
}

/// C-RESET-PERSON-PROPS.3 / C-RESET-GROUP-PROPS: resetting an empty store, or outside any
/// scope, is a no-op: no panic, no event.
#[tokio::test]
async fn c_reset_person_props_3_resetting_nothing_is_a_no_op() {
    let server = FakePostHog::start().await;
    let client = remote_client(&server);
    context::reset_person_properties_for_flags();
    context::reset_group_properties_for_flags(None);
    Context::new()
        .scope(async {
            context::reset_person_properties_for_flags();
            context::reset_group_properties_for_flags(Some("company"));
            context::reset_group_properties_for_flags(None);
        })
        .await;
    client.flush().await;
    assert!(server.requests().is_empty(), "nothing sent");
}

/// C-SET-GROUP-PROPS.1 / C-RESET-GROUP-PROPS.1: group overrides add up per type (keys
/// overwritten, types kept apart); `Some(t)` clears one type, `None` all of them.
#[tokio::test]
async fn c_set_group_props_1_overrides_add_up_per_type_and_reset_by_type() {
    let server = FakePostHog::start().await;
    server.set_flags(answer());
    let client = remote_client(&server);
    let opts = FlagOptions::new()
        .send_feature_flag_events(false)
        .group("company", "acme")
        .group("team", "core");
    Context::new()
        .scope(async {
            context::set_group_properties_for_flags(
                "company",
                props(json!({"tier": "silver", "size": 5})),
            );
            context::set_group_properties_for_flags("company", props(json!({"tier": "gold"})));
            context::set_group_properties_for_flags("team", props(json!({"lead": "ada"})));
            client.get_feature_flag("checkout", "u", &opts).await;
            context::reset_group_properties_for_flags(Some("team"));
            client.get_feature_flag("checkout", "u", &opts).await;
            context::set_group_properties_for_flags("team", props(json!({"lead": "bob"})));
            context::reset_group_properties_for_flags(None);
            client.get_feature_flag("checkout", "u", &opts).await;
        })
        .await;
    let sent: Vec<_> = flag_bodies(&server)
        .into_iter()
        .map(|b| b["group_properties"].clone())
        .collect();
    assert_eq!(
        sent,
        [
            json!({"company": {"tier": "gold", "size": 5}, "team": {"lead": "ada"}}),
            json!({"company": {"tier": "gold", "size": 5}}),
            json!({}),
        ]
    );
}

/// C-GET-FLAG-PAYLOAD.5: the payload read's remote path has the flag read's retry policy
/// (a 502 is retried) and its total deadline (a hanging `/flags` costs the flag timeout).
#[tokio::test]
async fn c_get_flag_payload_5_remote_path_retries_and_times_out() {
    let server = FakePostHog::start().await;
    server.set_flags(answer());
    let client = remote_client(&server);
    server.script([Reply::status(502)]);
    let payload = client
        .get_feature_flag_payload("checkout", "u", &FlagOptions::new())
        .await;
    assert_eq!(payload, Some(json!({"cta": "go"})), "retried after the 502");
    assert_eq!(server.requests_to("/flags/").len(), 2);
    server.script([Reply::ok().delay(Duration::from_secs(3600))]);
    let started = Instant::now();
    let hung = client
        .get_feature_flag_payload("checkout", "u", &FlagOptions::new())
        .await;
    assert_eq!(hung, None);
    let took = started.elapsed();
    assert!(
        took < Duration::from_millis(1_500),
        "the flag timeout bounds it: {took:?}"
    );
}

/// C-EVALUATE-FLAGS.6: nothing is remembered from a failed, quota-limited or erroring
/// answer: the next read asks again and gets the value.
#[tokio::test]
async fn c_evaluate_flags_6_no_memory_of_failed_answers() {
    let server = FakePostHog::start().await;
    server.set_flags(answer());
    let client = remote_client(&server);
    let opts = FlagOptions::new().send_feature_flag_events(false);
    for reply in [
        Reply::status(500),
        Reply::json(
            200,
            &json!({"flags": {}, "quotaLimited": ["feature_flags"]}),
        ),
        Reply::json(
            200,
            &json!({"flags": {}, "errorsWhileComputingFlags": true}),
        ),
    ] {
        server.script([reply.clone()]);
        assert_eq!(
            client.get_feature_flag("checkout", "u", &opts).await,
            None,
            "{reply:?}"
        );
        assert_eq!(
            client.get_feature_flag("checkout", "u", &opts).await,
            Some(FlagValue::Variant("blue".into())),
            "asked again after {reply:?}"
        );
    }
}

/// C-FLAG-CACHE.1/.2: a snapshot keeps the values, payloads and metadata of one evaluation
/// together, and reading it is local: the server changing its answer afterwards changes
/// nothing, and no request is made.
#[tokio::test]
async fn c_flag_cache_1_a_snapshot_is_one_evaluation_read_locally() {
    let server = FakePostHog::start().await;
    server.set_flags(answer());
    let client = remote_client(&server);
    let snapshot = client.evaluate_flags("u", &FlagOptions::new()).await;
    server.set_flags(json!({"flags": {}}));
    let requests = server.requests_to("/flags/").len();
    let result = snapshot
        .get_flag_result("checkout")
        .expect("in the snapshot");
    assert_eq!(result.variant.as_deref(), Some("blue"));
    assert_eq!(result.payload, Some(json!({"cta": "go"})));
    assert_eq!(snapshot.request_id(), Some("req-9"));
    assert_eq!(
        snapshot.get_flag_payload("checkout"),
        Some(&json!({"cta": "go"}))
    );
    assert_eq!(server.requests_to("/flags/").len(), requests, "no request");
    client.flush().await;
    let called = server
        .events()
        .into_iter()
        .find(|e| e["event"] == "$feature_flag_called")
        .expect("the read was reported");
    let p = &called["properties"];
    assert_eq!(
        (
            p["$feature_flag_id"].clone(),
            p["$feature_flag_version"].clone()
        ),
        (json!(3), json!(2))
    );
    assert_eq!(p["$feature_flag_request_id"], "req-9");
}

/// C-FLAG-CACHE.6 / C-FLAG-DEFS.4: definitions are replaced atomically: while loads swap two
/// documents in which `a` and `b` always agree, every all-flags read sees them agree.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_flag_cache_6_readers_see_a_whole_set() {
    let doc = |on: bool| {
        let pct = if on { 100 } else { 0 };
        json!({"flags": [
            {"key": "a", "active": true, "filters": {"groups": [{"rollout_percentage": pct}]}},
            {"key": "b", "active": true, "filters": {"groups": [{"rollout_percentage": pct}]}}]})
    };
    let server = FakePostHog::start().await;
    server.set_definitions(doc(true));
    let client = Client::builder("phc")
        .host(server.url())
        .personal_api_key(FAKE_PERSONAL_API_KEY)
        .build()
        .unwrap();
    assert!(client.wait_for_flags(Duration::from_secs(5)).await);
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (client, stop) = (client.clone(), stop.clone());
        tokio::spawn(async move {
            let opts = FlagOptions::new().only_evaluate_locally(true);
            let mut reads = 0u32;
            while !stop.load(Ordering::Relaxed) {
                let all = client.get_all_flags("u", &opts).await.expect("local");
                assert_eq!(all.get("a"), all.get("b"), "a torn read: {all:?}");
                reads += 1;
                tokio::task::yield_now().await;
            }
            reads
        })
    };
    for i in 0..40 {
        server.set_definitions(doc(i % 2 == 0));
        client.load_feature_flags().await;
    }
    stop.store(true, Ordering::Relaxed);
    assert!(reader.await.expect("no torn read") > 0);
}

/// C-EVALUATE-FLAGS.15: the flags guide presents `evaluate_flags` as the preferred server
/// path, before the single-flag getters.
#[test]
fn c_evaluate_flags_15_docs_present_evaluate_flags_first() {
    let guide = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/feature-flags.md"),
    )
    .expect("docs/feature-flags.md");
    let preferred = guide.find("evaluate_flags").expect("mentioned");
    let getter = guide.find("get_feature_flag(").expect("mentioned");
    assert!(preferred < getter);
    assert!(
        guide.lines().take(5).any(|l| l.contains("preferred")),
        "said so up front"
    );
}
