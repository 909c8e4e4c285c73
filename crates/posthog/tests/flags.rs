//! Feature flags through the client, against FakePostHog (issue 5's contracts).

use std::time::Duration;

use posthog::test_util::{FakePostHog, Reply};
use posthog::{Client, FlagOptions, FlagValue};
use serde_json::json;

const KEY: &str = "phx_personal_key";

fn remote_checkout(server: &FakePostHog) {
    server.set_flags(json!({
        "flags": {
            "checkout": {"key": "checkout", "enabled": true, "variant": "blue",
                "reason": {"code": "condition_match", "condition_index": 0},
                "metadata": {"id": 3, "version": 2, "payload": "{\"cta\": \"Try now\"}"}},
            "beta-ui": {"key": "beta-ui", "enabled": true},
            "off": {"key": "off", "enabled": false}
        },
        "requestId": "req-1"
    }));
}

fn definitions() -> serde_json::Value {
    json!({
        "flags": [
            {"id": 7, "version": 4, "key": "beta-ui", "active": true,
             "filters": {"groups": [{"properties": [], "rollout_percentage": 100}], "payloads": {"true": "{\"a\": 1}"}}},
            {"id": 8, "key": "needs-email", "active": true,
             "filters": {"groups": [{"properties": [{"key": "email", "operator": "icontains", "value": "@acme.com", "type": "person"}]}]}},
            {"id": 9, "key": "company-beta", "active": true,
             "filters": {"aggregation_group_type_index": 0, "groups": [{"properties": [], "rollout_percentage": 100}]}}
        ],
        "group_type_mapping": {"0": "company"}
    })
}

async fn local_client(server: &FakePostHog) -> Client {
    local_client_with(server, definitions()).await
}

/// A client with a personal key whose definitions (`defs`) are loaded.
async fn local_client_with(server: &FakePostHog, defs: serde_json::Value) -> Client {
    server.set_definitions(defs);
    let client = Client::builder("phc")
        .host(server.url())
        .personal_api_key(KEY)
        .build()
        .unwrap();
    assert!(
        client.wait_for_flags(Duration::from_secs(5)).await,
        "definitions load"
    );
    client
}

fn called_events(server: &FakePostHog) -> Vec<serde_json::Value> {
    server
        .events()
        .into_iter()
        .filter(|e| e["event"] == "$feature_flag_called")
        .collect()
}

/// C-GET-FLAG acceptance (remote): the value, one `/flags` request for that key, and one
/// `$feature_flag_called` per value.
#[tokio::test]
async fn c_get_flag_remote_value_and_called_event() {
    let server = FakePostHog::start().await;
    remote_checkout(&server);
    let client = Client::builder("phc").host(server.url()).build().unwrap();
    let opts = FlagOptions::new();
    assert_eq!(
        client.get_feature_flag("checkout", "user-123", &opts).await,
        Some(FlagValue::Variant("blue".into()))
    );
    assert_eq!(
        client.get_feature_flag("checkout", "user-123", &opts).await,
        Some(FlagValue::Variant("blue".into()))
    );
    let reqs = server.requests_to("/flags/");
    assert_eq!(reqs.len(), 2);
    let body = reqs[0].json();
    assert_eq!(body["flag_keys_to_evaluate"], json!(["checkout"]));
    assert_eq!(body["distinct_id"], "user-123");
    assert_eq!(body["geoip_disable"], true);
    assert_eq!(reqs[0].header("authorization"), None);
    client.flush().await;
    let called = called_events(&server);
    assert_eq!(called.len(), 1, "C-FLAG-CALLED.2: deduplicated");
    let p = &called[0]["properties"];
    assert_eq!(p["$feature_flag"], "checkout");
    assert_eq!(p["$feature_flag_response"], "blue");
    assert_eq!(p["$feature/checkout"], "blue");
    assert_eq!(p["locally_evaluated"], false);
    assert_eq!(p["$feature_flag_id"], 3);
    assert_eq!(p["$feature_flag_version"], 2);
    assert_eq!(p["$feature_flag_reason"], "condition_match");
    assert_eq!(p["$feature_flag_request_id"], "req-1");
    assert_eq!(p["$feature_flag_payload"], json!({"cta": "Try now"}));
}

/// C-GET-FLAG.4 / C-IS-ENABLED.4: tracking can be turned off per call.
#[tokio::test]
async fn c_get_flag_4_tracking_disabled() {
    let server = FakePostHog::start().await;
    remote_checkout(&server);
    let client = Client::builder("phc").host(server.url()).build().unwrap();
    let opts = FlagOptions::new().send_feature_flag_events(false);
    assert_eq!(
        client.get_feature_flag("beta-ui", "u", &opts).await,
        Some(FlagValue::Bool(true))
    );
    assert!(client.is_feature_enabled("beta-ui", "u", &opts).await);
    client.flush().await;
    assert!(called_events(&server).is_empty());
}

/// C-IS-ENABLED.1–.3: values map to booleans; the caller's default covers missing flags.
#[tokio::test]
async fn c_is_enabled_values_and_defaults() {
    let server = FakePostHog::start().await;
    remote_checkout(&server);
    let client = Client::builder("phc").host(server.url()).build().unwrap();
    let opts = FlagOptions::new();
    assert!(client.is_feature_enabled("beta-ui", "u", &opts).await);
    assert!(client.is_feature_enabled("checkout", "u", &opts).await);
    assert!(
        !client
            .is_feature_enabled("off", "u", &opts.clone().default_value(true))
            .await,
        "a value beats the default"
    );
    assert!(!client.is_feature_enabled("missing", "u", &opts).await);
    assert!(
        client
            .is_feature_enabled("missing", "u", &opts.clone().default_value(true))
            .await
    );
}

/// C-GET-FLAG-PAYLOAD.1/.3: the decoded payload, no `$feature_flag_called` by default;
/// C-GET-FLAG-RESULT.1: the structured result.
#[tokio::test]
async fn c_get_flag_payload_and_result() {
    let server = FakePostHog::start().await;
    remote_checkout(&server);
    let client = Client::builder("phc").host(server.url()).build().unwrap();
    let opts = FlagOptions::new();
    assert_eq!(
        client
            .get_feature_flag_payload("checkout", "u", &opts)
            .await,
        Some(json!({"cta": "Try now"}))
    );
    assert_eq!(
        client
            .get_feature_flag_payload("missing-flag", "u", &opts)
            .await,
        None
    );
    client.flush().await;
    assert!(called_events(&server).is_empty());
    let result = client
        .get_feature_flag_result("checkout", "u", &opts)
        .await
        .unwrap();
    assert_eq!(
        (
            result.key.as_str(),
            result.enabled,
            result.variant.as_deref()
        ),
        ("checkout", true, Some("blue"))
    );
    assert_eq!(result.payload, Some(json!({"cta": "Try now"})));
    let off = client
        .get_feature_flag_result("off", "u", &opts)
        .await
        .unwrap();
    assert_eq!((off.enabled, off.variant), (false, None));
    assert!(
        client
            .get_feature_flag_result("missing-flag", "u", &opts)
            .await
            .is_none()
    );
}

/// C-GET-FLAG.2 / C-LOCAL-EVAL acceptance: loaded definitions decide without any request;
/// C-FLAG-DEFS.2: they come from the definitions endpoint with `Authorization: Bearer`.
#[tokio::test]
async fn c_get_flag_2_local_evaluation_makes_no_request() {
    let server = FakePostHog::start().await;
    let client = local_client(&server).await;
    let opts = FlagOptions::new();
    assert_eq!(
        client.get_feature_flag("beta-ui", "user-123", &opts).await,
        Some(FlagValue::Bool(true))
    );
    assert_eq!(
        client
            .get_feature_flag_payload("beta-ui", "user-123", &opts)
            .await,
        Some(json!({"a": 1}))
    );
    assert!(server.requests_to("/flags/").is_empty());
    let defs = server.requests_to("/flags/definitions");
    assert_eq!(
        defs[0].header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    client.flush().await;
    let p = &called_events(&server)[0]["properties"];
    assert_eq!(
        (
            p["locally_evaluated"].clone(),
            p["$feature_flag_id"].clone(),
            p["$feature_flag_version"].clone()
        ),
        (json!(true), json!(7), json!(4))
    );
}

/// Inconclusive locally → one `/flags` request for that key; local-only → no value, no request.
#[tokio::test]
async fn inconclusive_flags_fall_back_to_the_server() {
    let server = FakePostHog::start().await;
    server.set_flags(json!({"flags": {"needs-email": {"key": "needs-email", "enabled": true}}}));
    let client = local_client(&server).await;
    let local_only = FlagOptions::new().only_evaluate_locally(true);
    assert_eq!(
        client
            .get_feature_flag("needs-email", "u", &local_only)
            .await,
        None
    );
    assert!(server.requests_to("/flags/").is_empty());
    assert_eq!(
        client
            .get_feature_flag("needs-email", "u", &FlagOptions::new())
            .await,
        Some(FlagValue::Bool(true))
    );
    assert_eq!(server.requests_to("/flags/").len(), 1);
    // With the property the flag is decided locally (false for another domain).
    let with_email = FlagOptions::new().person_property("email", "ada@else.com");
    assert_eq!(
        client
            .get_feature_flag("needs-email", "u", &with_email)
            .await,
        Some(FlagValue::Bool(false))
    );
    assert_eq!(server.requests_to("/flags/").len(), 1);
}

/// C-LOCAL-EVAL.3 acceptance: a group flag without its group asks the server; local-only is false.
#[tokio::test]
async fn c_local_eval_3_group_flag_without_group() {
    let server = FakePostHog::start().await;
    server.set_flags(json!({"flags": {"company-beta": {"key": "company-beta", "enabled": true}}}));
    let client = local_client(&server).await;
    assert_eq!(
        client
            .get_feature_flag("company-beta", "user-123", &FlagOptions::new())
            .await,
        Some(FlagValue::Bool(true))
    );
    assert_eq!(
        server.requests_to("/flags/")[0].json()["flag_keys_to_evaluate"],
        json!(["company-beta"])
    );
    let local = FlagOptions::new().only_evaluate_locally(true);
    assert_eq!(
        client
            .get_feature_flag("company-beta", "user-123", &local)
            .await,
        Some(FlagValue::Bool(false))
    );
    let with_group = FlagOptions::new()
        .group("company", "acme")
        .only_evaluate_locally(true);
    assert_eq!(
        client
            .get_feature_flag("company-beta", "user-123", &with_group)
            .await,
        Some(FlagValue::Bool(true))
    );
}

/// C-GET-FLAGS.1/.2/.5 / C-GET-FLAGS-PAYLOADS.1/.2/.3: local values, one request for the
/// undecided, merged; no `$feature_flag_called`.
#[tokio::test]
async fn c_get_flags_merges_local_and_remote() {
    let server = FakePostHog::start().await;
    server.set_flags(json!({"flags": {
        "needs-email": {"key": "needs-email", "enabled": true},
        "company-beta": {"key": "company-beta", "enabled": false},
        "server-only": {"key": "server-only", "enabled": true, "variant": "x", "metadata": {"payload": "[1]"}}
    }}));
    let client = local_client(&server).await;
    let (values, payloads) = client
        .get_all_flags_and_payloads("u", &FlagOptions::new())
        .await
        .expect("complete");
    assert_eq!(server.requests_to("/flags/").len(), 1);
    assert_eq!(values["beta-ui"], FlagValue::Bool(true));
    assert_eq!(values["needs-email"], FlagValue::Bool(true));
    assert_eq!(values["server-only"], FlagValue::Variant("x".into()));
    assert_eq!(payloads["beta-ui"], json!({"a": 1}));
    assert_eq!(payloads["server-only"], json!([1]));
    let local = client
        .get_all_flags("u", &FlagOptions::new().only_evaluate_locally(true))
        .await
        .expect("local-only is complete");
    assert_eq!(
        server.requests_to("/flags/").len(),
        1,
        "local-only makes no request"
    );
    assert_eq!(local.get("beta-ui"), Some(&FlagValue::Bool(true)));
    assert_eq!(local.get("company-beta"), Some(&FlagValue::Bool(false)));
    assert!(!local.contains_key("needs-email"));
    client.flush().await;
    assert!(
        called_events(&server).is_empty(),
        "C-GET-FLAGS.5: bulk reads are data-only"
    );
}

/// C-FLAG-DEFS.3: the ETag is sent back; a 304 keeps the definitions.
#[tokio::test]
async fn c_flag_defs_3_etag_reuse() {
    let server = FakePostHog::start().await;
    let client = local_client(&server).await;
    client.load_feature_flags().await;
    let defs = server.requests_to("/flags/definitions");
    assert_eq!(defs.len(), 2);
    assert_eq!(defs[0].status, Some(200));
    assert_eq!(
        defs[0].header("if-none-match"),
        None,
        "nothing to revalidate on the first load"
    );
    assert!(
        defs[1]
            .header("if-none-match")
            .is_some_and(|v| v.starts_with("W/\""))
    );
    assert_eq!(defs[1].status, Some(304));
    assert_eq!(
        client
            .get_feature_flag("beta-ui", "u", &FlagOptions::new())
            .await,
        Some(FlagValue::Bool(true))
    );
    assert!(server.requests_to("/flags/").is_empty());
}

/// C-FLAG-DEFS.6/.7: a 503 keeps the last good set; a 401 clears it (remote fallback then).
#[tokio::test]
async fn c_flag_defs_errors_keep_or_clear() {
    let server = FakePostHog::start().await;
    server.set_flags(json!({"flags": {"beta-ui": {"key": "beta-ui", "enabled": false}}}));
    let client = local_client(&server).await;
    server.script([Reply::status(503)]);
    client.load_feature_flags().await;
    assert_eq!(
        client
            .get_feature_flag("beta-ui", "u", &FlagOptions::new())
            .await,
        Some(FlagValue::Bool(true))
    );
    assert!(client.feature_flag_definitions_loaded_at().is_some());
    server.script([Reply::status(401)]);
    client.load_feature_flags().await;
    assert!(client.feature_flag_definitions_loaded_at().is_none());
    assert_eq!(
        client
            .get_feature_flag("beta-ui", "u", &FlagOptions::new())
            .await,
        Some(FlagValue::Bool(false)),
        "from /flags now"
    );
}

/// C-TRACING-HEADERS.6: no distinct id and no context → nothing evaluated, no request, no event.
#[tokio::test]
async fn c_tracing_headers_6_no_identity_no_flags() {
    let server = FakePostHog::start().await;
    remote_checkout(&server);
    let client = Client::builder("phc").host(server.url()).build().unwrap();
    let inside = posthog::context::Context::new()
        .session_id("s")
        .scope(client.get_feature_flag("checkout", "", &FlagOptions::new()))
        .await;
    assert_eq!(inside, None);
    assert!(
        client
            .get_all_flags("", &FlagOptions::new())
            .await
            .expect("no subject: empty, not an error")
            .is_empty()
    );
    let from_context = posthog::context::Context::new()
        .distinct_id("ctx-user")
        .scope(client.get_feature_flag("checkout", "", &FlagOptions::new()))
        .await;
    assert_eq!(from_context, Some(FlagValue::Variant("blue".into())));
    assert_eq!(server.requests_to("/flags/").len(), 1);
    assert_eq!(
        server.requests_to("/flags/")[0].json()["distinct_id"],
        "ctx-user"
    );
}

/// C-FLAG-CALLED.3: a new value, distinct id or group context is a new event.
#[tokio::test]
async fn c_flag_called_3_new_context_new_event() {
    let server = FakePostHog::start().await;
    remote_checkout(&server);
    let client = Client::builder("phc").host(server.url()).build().unwrap();
    let opts = FlagOptions::new();
    client.get_feature_flag("beta-ui", "a", &opts).await;
    client.get_feature_flag("beta-ui", "a", &opts).await;
    client.get_feature_flag("beta-ui", "b", &opts).await;
    client
        .get_feature_flag("beta-ui", "a", &FlagOptions::new().group("company", "acme"))
        .await;
    client.flush().await;
    let called = called_events(&server);
    assert_eq!(called.len(), 3);
    assert_eq!(called[2]["properties"]["$groups"]["company"], "acme");
}

/// C-SET-PERSON-PROPS / C-FLAG-CALLED.2 with local definitions: repeated reads (answered by
/// the read-only fast path once reported) still see scope overrides set between them, and
/// each new value is reported once. Without the override the first condition is undecided
/// and the second matches, so a read that ignored the scope would answer `other`.
#[tokio::test]
async fn c_set_person_props_reach_repeated_local_reads() {
    use posthog::context::{self, Context};
    let server = FakePostHog::start().await;
    let defs = json!({"flags": [{"id": 1, "key": "team", "active": true, "filters": {
        "groups": [
            {"properties": [{"key": "email", "operator": "icontains", "value": "@acme.com", "type": "person"}],
             "rollout_percentage": 100, "variant": "acme"},
            {"properties": [], "rollout_percentage": 100, "variant": "other"}],
        "multivariate": {"variants": [
            {"key": "acme", "rollout_percentage": 50}, {"key": "other", "rollout_percentage": 50}]}}}]});
    let client = local_client_with(&server, defs).await;
    let opts = FlagOptions::new();
    let values = Context::new()
        .scope(async {
            let mut seen = Vec::new();
            let read = async || client.get_feature_flag("team", "u1", &opts).await;
            seen.extend([read().await, read().await]);
            context::set_person_properties_for_flags(
                serde_json::from_value(json!({"email": "ada@acme.com"})).unwrap(),
            );
            seen.extend([read().await, read().await]);
            context::reset_person_properties_for_flags();
            seen.extend([read().await, read().await]);
            seen
        })
        .await;
    let (acme, other) = (
        Some(FlagValue::Variant("acme".into())),
        Some(FlagValue::Variant("other".into())),
    );
    assert_eq!(
        values,
        [
            other.clone(),
            other.clone(),
            acme.clone(),
            acme,
            other.clone(),
            other
        ]
    );
    client.flush().await;
    let responses: Vec<_> = called_events(&server)
        .iter()
        .map(|e| e["properties"]["$feature_flag_response"].clone())
        .collect();
    assert_eq!(responses, [json!("other"), json!("acme")]);
    assert!(server.requests_to("/flags/").is_empty(), "decided locally");
}

/// C-GET-FLAGS with a device-bucketed flag: the options' device id reaches local evaluation
/// for all-flags reads as for single reads, so neither asks the server.
#[tokio::test]
async fn c_get_flags_device_bucketing_decides_locally() {
    let server = FakePostHog::start().await;
    let defs = json!({"flags": [{"id": 1, "key": "by-device", "active": true,
        "bucketing_identifier": "device_id",
        "filters": {"groups": [{"properties": [], "rollout_percentage": 100}]}}]});
    let client = local_client_with(&server, defs).await;
    let opts = FlagOptions::new()
        .device_id("device-1")
        .only_evaluate_locally(true);
    let all = client.get_all_flags("u1", &opts).await.expect("complete");
    assert_eq!(all.get("by-device"), Some(&FlagValue::Bool(true)));
    assert_eq!(
        client.get_feature_flag("by-device", "u1", &opts).await,
        Some(FlagValue::Bool(true))
    );
    let without = FlagOptions::new().only_evaluate_locally(true);
    assert!(
        !client
            .get_all_flags("u1", &without)
            .await
            .expect("complete")
            .contains_key("by-device"),
        "no device id: undecided locally"
    );
    assert!(server.requests_to("/flags/").is_empty());
}

/// C-SHUTDOWN.2/.6 and C-FLAG-DEFS.14: shutdown stops the poller and flag reads.
#[tokio::test]
async fn c_shutdown_2_6_stops_the_poller() {
    let server = FakePostHog::start().await;
    server.set_definitions(definitions());
    let client = Client::builder("phc")
        .host(server.url())
        .personal_api_key(KEY)
        .poll_interval(Duration::from_millis(100))
        .build()
        .unwrap();
    assert!(client.wait_for_flags(Duration::from_secs(5)).await);
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert!(
        server.requests_to("/flags/definitions").len() >= 3,
        "C-FLAG-DEFS.5: polls every interval"
    );
    client.shutdown(Duration::from_secs(5)).await;
    let after = server.requests_to("/flags/definitions").len();
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(server.requests_to("/flags/definitions").len(), after);
    assert_eq!(
        client
            .get_feature_flag("beta-ui", "u", &FlagOptions::new())
            .await,
        None
    );
}

/// C-SET-PERSON-PROPS.2/.3/.4 / C-RESET-PERSON-PROPS.1/.2: overrides of the active scope
/// reach the flags request, not other scopes, and are cleared by reset; no event is sent.
#[tokio::test]
async fn c_set_and_reset_person_properties_for_flags() {
    use posthog::context::{self, Context};
    let server = FakePostHog::start().await;
    remote_checkout(&server);
    let client = Client::builder("phc").host(server.url()).build().unwrap();
    let quiet = FlagOptions::new()
        .send_feature_flag_events(false)
        .person_property("country", "DE");
    let scoped = Context::new().distinct_id("user-1").scope(async {
        context::set_person_properties_for_flags(
            serde_json::from_value(json!({"plan": "pro", "country": "US"})).unwrap(),
        );
        client.get_feature_flag("beta-ui", "", &quiet).await;
        context::reset_person_properties_for_flags();
        client.get_feature_flag("beta-ui", "", &quiet).await;
    });
    let other = Context::new().distinct_id("user-2").scope(async {
        tokio::task::yield_now().await;
        client.get_feature_flag("beta-ui", "", &quiet).await;
    });
    tokio::join!(scoped, other);
    context::set_person_properties_for_flags(
        serde_json::from_value(json!({"leak": true})).unwrap(),
    ); // no scope: ignored
    client.get_feature_flag("beta-ui", "user-3", &quiet).await;

    let bodies: Vec<serde_json::Value> = server
        .requests_to("/flags/")
        .iter()
        .map(|r| r.json())
        .collect();
    let of = |id: &str| {
        bodies
            .iter()
            .filter(|b| b["distinct_id"] == id)
            .map(|b| b["person_properties"].clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        of("user-1"),
        vec![
            json!({"plan": "pro", "country": "DE"}),
            json!({"country": "DE"})
        ],
        "per-call values win; reset clears"
    );
    assert_eq!(
        of("user-2"),
        vec![json!({"country": "DE"})],
        "another scope sees nothing"
    );
    assert_eq!(of("user-3"), vec![json!({"country": "DE"})]);
    client.flush().await;
    assert!(server.events().is_empty(), "overrides send no event");
}

/// C-SET-GROUP-PROPS.3 / C-RESET-GROUP-PROPS.2: group overrides reach `/flags`, explicit
/// per-call group properties win, and a reset type is gone.
#[tokio::test]
async fn c_set_and_reset_group_properties_for_flags() {
    use posthog::context::{self, Context};
    let server = FakePostHog::start().await;
    remote_checkout(&server);
    let client = Client::builder("phc").host(server.url()).build().unwrap();
    let opts = FlagOptions::new()
        .send_feature_flag_events(false)
        .group("company", "acme");
    Context::new()
        .scope(async {
            context::set_group_properties_for_flags(
                "company",
                serde_json::from_value(json!({"plan": "pro"})).unwrap(),
            );
            client.get_feature_flag("beta-ui", "u", &opts).await;
            client
                .get_feature_flag(
                    "beta-ui",
                    "u",
                    &opts.clone().group_property("company", "plan", "free"),
                )
                .await;
            context::reset_group_properties_for_flags(Some("company"));
            client.get_feature_flag("beta-ui", "u", &opts).await;
        })
        .await;
    let groups: Vec<serde_json::Value> = server
        .requests_to("/flags/")
        .iter()
        .map(|r| r.json()["group_properties"].clone())
        .collect();
    assert_eq!(
        groups,
        vec![
            json!({"company": {"plan": "pro"}}),
            json!({"company": {"plan": "free"}}),
            json!({})
        ]
    );
}

/// Remote-config payloads through the client (decoded once more when JSON text).
#[tokio::test]
async fn remote_config_payloads() {
    let server = FakePostHog::start().await;
    server.set_remote_config("banner", json!("{\"text\": \"hello\"}"));
    let with_key = Client::builder("phc")
        .host(server.url())
        .personal_api_key(KEY)
        .local_evaluation(false)
        .build()
        .unwrap();
    assert_eq!(
        with_key.get_remote_config_payload("banner").await,
        Some(json!({"text": "hello"}))
    );
    assert_eq!(with_key.get_remote_config_payload("missing").await, None);
    let without_key = Client::builder("phc").host(server.url()).build().unwrap();
    assert_eq!(without_key.get_remote_config_payload("banner").await, None);
}

/// C-EVALUATE-FLAGS.16/.9/.10: local definitions decide every flag → no request; creating the
/// snapshot sends nothing; each read sends `$feature_flag_called` once.
#[tokio::test]
async fn c_evaluate_flags_local_snapshot_and_lazy_exposure() {
    let server = FakePostHog::start().await;
    let client = local_client(&server).await;
    let opts = FlagOptions::new()
        .person_property("email", "ada@acme.com")
        .group("company", "acme");
    let flags = client.evaluate_flags("user-123", &opts).await;
    assert!(server.requests_to("/flags/").is_empty());
    assert_eq!(flags.len(), 3);
    assert!(flags.error().is_none());
    client.flush().await;
    assert!(
        called_events(&server).is_empty(),
        "creating a snapshot emits nothing"
    );
    assert!(flags.is_enabled("beta-ui"));
    assert!(flags.is_enabled("beta-ui"));
    assert_eq!(flags.get_flag("needs-email"), Some(FlagValue::Bool(true)));
    assert_eq!(flags.get_flag_payload("beta-ui"), Some(&json!({"a": 1})));
    client.flush().await;
    let called = called_events(&server);
    assert_eq!(called.len(), 2, "one per flag read, deduplicated");
    assert_eq!(called[0]["properties"]["locally_evaluated"], true);
    assert_eq!(called[0]["properties"]["$groups"]["company"], "acme");
}

/// C-EVALUATE-FLAGS.4/.5: requested keys the definitions cannot decide go to `/flags` in one
/// request; local-only leaves them out.
#[tokio::test]
async fn c_evaluate_flags_requested_keys_and_fallback() {
    let server = FakePostHog::start().await;
    server.set_flags(json!({"flags": {"needs-email": {"key": "needs-email", "enabled": true}, "other": {"key": "other", "enabled": true}}, "requestId": "r-9"}));
    let client = local_client(&server).await;
    let keys = FlagOptions::new().flag_keys(["beta-ui", "needs-email"]);
    let flags = client.evaluate_flags("u", &keys).await;
    let reqs = server.requests_to("/flags/");
    assert_eq!(reqs.len(), 1);
    assert_eq!(
        reqs[0].json()["flag_keys_to_evaluate"],
        json!(["beta-ui", "needs-email"])
    );
    assert_eq!(
        flags.get_flag("beta-ui"),
        Some(FlagValue::Bool(true)),
        "local answers are kept"
    );
    assert_eq!(flags.get_flag("needs-email"), Some(FlagValue::Bool(true)));
    assert_eq!(flags.request_id(), Some("r-9"));
    let local = client
        .evaluate_flags("u", &keys.clone().only_evaluate_locally(true))
        .await;
    assert_eq!(server.requests_to("/flags/").len(), 1);
    assert_eq!(local.keys().collect::<Vec<_>>(), vec!["beta-ui"]);
}

/// C-EVALUATE-FLAGS.13: `only` and `only_accessed` copies.
#[tokio::test]
async fn c_evaluate_flags_13_filters() {
    let server = FakePostHog::start().await;
    let client = local_client(&server).await;
    let flags = client
        .evaluate_flags(
            "u",
            &FlagOptions::new()
                .group("company", "acme")
                .send_feature_flag_events(false),
        )
        .await;
    assert!(
        flags.only_accessed().is_empty(),
        "nothing read yet: empty, never all"
    );
    flags.is_enabled("beta-ui");
    let _ = flags.get_flag_payload("company-beta"); // payload reads do not count
    assert_eq!(
        flags.only_accessed().keys().collect::<Vec<_>>(),
        vec!["beta-ui"]
    );
    let some = flags.only(["company-beta", "not-a-flag"]);
    assert_eq!(some.keys().collect::<Vec<_>>(), vec!["company-beta"]);
    assert!(!some.is_enabled("beta-ui"), "filtered out");
    assert!(flags.is_enabled("beta-ui"), "the parent is unchanged");
}

/// C-EVALUATE-FLAGS.12: capture with a snapshot adds `$feature/<key>` and `$active_feature_flags`.
#[tokio::test]
async fn c_evaluate_flags_12_attach_to_capture() {
    let server = FakePostHog::start().await;
    server.set_flags(json!({"flags": {
        "beta-ui": {"key": "beta-ui", "enabled": true},
        "checkout": {"key": "checkout", "enabled": true, "variant": "blue"},
        "off": {"key": "off", "enabled": false}
    }}));
    let client = Client::builder("phc").host(server.url()).build().unwrap();
    let flags = client.evaluate_flags("u", &FlagOptions::new()).await;
    client.capture(
        flags.attach(posthog::Event::new("page_viewed", "u").property("$feature/off", "kept")),
    );
    client.flush().await;
    let event = server
        .events()
        .into_iter()
        .find(|e| e["event"] == "page_viewed")
        .unwrap();
    let p = &event["properties"];
    assert_eq!(p["$feature/beta-ui"], true);
    assert_eq!(p["$feature/checkout"], "blue");
    assert_eq!(p["$feature/off"], "kept", "the event's own values win");
    assert_eq!(p["$active_feature_flags"], json!(["beta-ui", "checkout"]));
    assert!(called_events(&server).is_empty(), "attaching is not a read");
}

/// C-EVALUATE-FLAGS.10/.14/.2: a missing key reports `flag_missing`; a failing server keeps
/// the local answers and says why; no identity → empty and no request.
#[tokio::test]
async fn c_evaluate_flags_missing_partial_and_anonymous() {
    let server = FakePostHog::start().await;
    let client = local_client(&server).await;
    server.script([Reply::status(500)]);
    let flags = client.evaluate_flags("u", &FlagOptions::new()).await;
    assert_eq!(
        server.requests_to("/flags/").len(),
        1,
        "needs-email and company-beta are undecided"
    );
    assert!(flags.error().is_some());
    assert!(flags.is_enabled("beta-ui"));
    assert_eq!(flags.get_flag("nope"), None);
    client.flush().await;
    let missing = called_events(&server)
        .into_iter()
        .find(|e| e["properties"]["$feature_flag"] == "nope")
        .unwrap();
    assert!(
        missing["properties"]["$feature_flag_error"]
            .as_str()
            .unwrap()
            .contains("flag_missing")
    );
    assert_eq!(
        missing["properties"]["$feature_flag_response"],
        serde_json::Value::Null
    );

    let anonymous = client.evaluate_flags("", &FlagOptions::new()).await;
    assert!(anonymous.is_empty());
    assert_eq!(server.requests_to("/flags/").len(), 1);
}

/// C-GET-FLAG-PAYLOAD.2: with a `match_value` the payload of that value comes from the loaded
/// definitions without evaluating (no request, no event); `false` has no payload; without
/// local definitions the server is asked and only a matching value's payload is returned.
#[tokio::test]
async fn c_get_flag_payload_2_match_value() {
    let server = FakePostHog::start().await;
    let client = local_client(&server).await;
    let payload = client
        .get_feature_flag_payload("beta-ui", "user-1", &FlagOptions::new().match_value(true))
        .await;
    assert_eq!(payload, Some(json!({"a": 1})));
    assert_eq!(
        client
            .get_feature_flag_payload("beta-ui", "user-1", &FlagOptions::new().match_value(false))
            .await,
        None
    );
    // `needs-email` cannot be decided without an email; with a match value it is not evaluated.
    assert_eq!(
        client
            .get_feature_flag_payload(
                "needs-email",
                "user-1",
                &FlagOptions::new().match_value(true)
            )
            .await,
        None
    );
    assert!(
        server.requests_to("/flags/").is_empty(),
        "nothing evaluated remotely"
    );
    client.flush().await;
    assert!(called_events(&server).is_empty());

    let remote = FakePostHog::start().await;
    remote_checkout(&remote);
    let client = Client::builder("phc").host(remote.url()).build().unwrap();
    let blue = FlagOptions::new().match_value("blue");
    assert_eq!(
        client
            .get_feature_flag_payload("checkout", "user-1", &blue)
            .await,
        Some(json!({"cta": "Try now"}))
    );
    let red = FlagOptions::new().match_value("red");
    assert_eq!(
        client
            .get_feature_flag_payload("checkout", "user-1", &red)
            .await,
        None
    );
}
