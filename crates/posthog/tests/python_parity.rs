//! Issue 15 (parity with PostHog's Python SDK): the methods and options Python has that we
//! lacked, against FakePostHog over real HTTP. docs/feature-flags.md maps each Python name to
//! ours.

use std::time::Duration;

use posthog::context::Context;
use posthog::test_util::{FAKE_PERSONAL_API_KEY, FakePostHog, Reply};
use posthog::{Client, ExceptionOptions, FlagOptions, FlagValue, FlagsError};
use serde_json::json;

fn answer() -> serde_json::Value {
    json!({"requestId": "req-1", "flags": {
        "on": {"key": "on", "enabled": true, "variant": null,
               "reason": {"code": "condition_match", "description": "matched"},
               "metadata": {"id": 7, "version": 3, "payload": "{\"a\": 1}"}},
        "blue": {"key": "blue", "enabled": true, "variant": "blue"},
        "broken": {"key": "broken", "enabled": false, "failed": true}
    }})
}

/// `get_flags_decision`, `get_feature_variants`, `get_feature_payloads` and
/// `get_feature_flags_and_payloads`: PostHog's answer, never local definitions, no
/// `$feature_flag_called`.
#[tokio::test]
async fn remote_decision_reads_answer_from_posthog_alone() {
    let server = FakePostHog::start().await;
    server.set_definitions(json!({"flags": [{"key": "on", "active": true,
        "filters": {"groups": [{"rollout_percentage": 0}]}}]}));
    server.set_flags(answer());
    let client = Client::builder("phc")
        .host(server.url())
        .personal_api_key(FAKE_PERSONAL_API_KEY)
        .build()
        .unwrap();
    assert!(client.wait_for_flags(Duration::from_secs(5)).await);
    let opts = FlagOptions::new().flag_keys(["on", "blue"]);

    let decision = client
        .get_flags_decision("u", &opts)
        .await
        .expect("answered");
    assert_eq!(decision.request_id.as_deref(), Some("req-1"));
    let on = &decision.flags["on"];
    assert_eq!((on.metadata.id, on.metadata.version), (Some(7), Some(3)));
    assert_eq!(
        server.requests_to("/flags/").last().unwrap().json()["flag_keys_to_evaluate"],
        json!(["on", "blue"])
    );

    let variants = client
        .get_feature_variants("u", &opts)
        .await
        .expect("complete");
    assert_eq!(
        variants["on"],
        FlagValue::Bool(true),
        "the server's, not the 0% local rollout"
    );
    assert_eq!(variants["blue"], FlagValue::Variant("blue".into()));
    assert!(
        !variants.contains_key("broken"),
        "failed flags are left out"
    );
    let payloads = client
        .get_feature_payloads("u", &opts)
        .await
        .expect("complete");
    assert_eq!(
        payloads.into_iter().collect::<Vec<_>>(),
        [("on".into(), json!({"a": 1}))]
    );
    let (values, _) = client
        .get_feature_flags_and_payloads("u", &opts)
        .await
        .expect("complete");
    assert_eq!(values.len(), 2);

    server.script([Reply::json(
        200,
        &json!({"flags": {}, "quotaLimited": ["feature_flags"]}),
    )]);
    let quota = client.get_feature_variants("u", &opts).await;
    assert_eq!(
        quota.expect_err("over quota").error,
        FlagsError::QuotaLimited
    );
    server.script([Reply::status(500)]);
    let failed = client.get_flags_decision("u", &opts).await;
    assert_eq!(failed.expect_err("no answer"), FlagsError::Status(500));

    client.flush().await;
    assert!(server.events().is_empty(), "no $feature_flag_called");
}

/// `feature_flag_definitions`: the loaded set as a handle to evaluate with directly.
#[tokio::test]
async fn feature_flag_definitions_is_the_loaded_set() {
    let server = FakePostHog::start().await;
    server.set_definitions(json!({"flags": [{"key": "beta", "active": true,
        "filters": {"groups": [{"rollout_percentage": 100}]}}]}));
    let client = Client::builder("phc")
        .host(server.url())
        .personal_api_key(FAKE_PERSONAL_API_KEY)
        .build()
        .unwrap();
    assert!(
        client.feature_flag_definitions().is_none(),
        "not loaded yet"
    );
    assert!(client.wait_for_flags(Duration::from_secs(5)).await);
    let definitions = client.feature_flag_definitions().expect("loaded");
    assert_eq!(definitions.keys().collect::<Vec<_>>(), ["beta"]);
    assert_eq!(
        Some(definitions.loaded_at()),
        client.feature_flag_definitions_loaded_at()
    );
    let ctx = posthog::flags::EvalContext::new("u");
    assert!(
        definitions
            .evaluate("beta", &ctx)
            .is_some_and(|e| e.value().is_some())
    );
}

/// `set_context_device_id`: flag reads in the scope use it when the call passes none, both
/// for local device bucketing and on `/flags`; the call's own wins.
#[tokio::test]
async fn the_context_device_id_reaches_flag_reads() {
    let server = FakePostHog::start().await;
    server.set_definitions(json!({"flags": [{"key": "by-device", "active": true,
        "bucketing_identifier": "device_id",
        "filters": {"groups": [{"rollout_percentage": 100}]}}]}));
    let client = Client::builder("phc")
        .host(server.url())
        .personal_api_key(FAKE_PERSONAL_API_KEY)
        .build()
        .unwrap();
    assert!(client.wait_for_flags(Duration::from_secs(5)).await);
    let local = FlagOptions::new().only_evaluate_locally(true);
    assert_eq!(
        client.get_feature_flag("by-device", "u", &local).await,
        None
    );
    let in_scope = Context::new().scope(async {
        posthog::context::set_context_device_id("device-1");
        assert_eq!(
            posthog::context::current_device_id().as_deref(),
            Some("device-1")
        );
        let value = client.get_feature_flag("by-device", "u", &local).await;
        let _ = client.get_flags_decision("u", &FlagOptions::new()).await;
        let _ = client
            .get_flags_decision("u", &FlagOptions::new().device_id("own"))
            .await;
        value
    });
    assert_eq!(in_scope.await, Some(FlagValue::Bool(true)));
    let bodies: Vec<_> = server
        .requests_to("/flags/")
        .iter()
        .map(|r| r.json())
        .collect();
    assert_eq!(bodies[0]["device_id"], "device-1");
    assert_eq!(bodies[1]["device_id"], "own");
    let built = Context::new().device_id("device-2");
    assert_eq!(built.get_device_id().as_deref(), Some("device-2"));
}

/// Exception autocapture rate limiting (Python's three settings): error scopes capture at
/// most `bucket_size - 1` errors of one type per burst; manual captures are not limited.
#[tokio::test]
async fn autocaptured_exceptions_are_rate_limited_by_type() {
    let server = FakePostHog::start().await;
    let client = Client::builder("phc")
        .host(server.url())
        .exception_autocapture_rate_limit(3, 1, Duration::from_secs(3600))
        .build()
        .unwrap();
    for i in 0..6 {
        let failing = async move { Err::<(), _>(std::io::Error::other(format!("boom {i}"))) };
        let _ = client
            .error_scope(Context::new().distinct_id("u"), failing)
            .await;
    }
    for i in 0..3 {
        let err = std::io::Error::other(format!("manual {i}"));
        client.capture_exception(&err, "u", &ExceptionOptions::new());
    }
    client.flush().await;
    let scoped = server
        .events()
        .iter()
        .filter(|e| e["properties"]["$exception_source"].is_string())
        .count();
    assert_eq!(scoped, 2, "a bucket of 3 lets 2 through");
    assert_eq!(
        server.events().len(),
        2 + 3,
        "manual captures are not limited"
    );
}

/// `in_app_modules`: frames of the listed module paths are in-app wherever their files are.
#[tokio::test]
async fn in_app_modules_mark_frames_in_app() {
    let server = FakePostHog::start().await;
    let client = Client::builder("phc")
        .host(server.url())
        .project_root("/nowhere")
        .in_app_modules(["python_parity"])
        .build()
        .unwrap();
    let err = std::io::Error::other("x");
    client.capture_exception(&err, "u", &ExceptionOptions::new());
    client.flush().await;
    let event = &server.events()[0];
    let frames = event["properties"]["$exception_list"][0]["stacktrace"]["frames"]
        .as_array()
        .expect("frames")
        .clone();
    let ours: Vec<_> = frames
        .iter()
        .filter(|f| {
            f["function"]
                .as_str()
                .is_some_and(|n| n.starts_with("python_parity::"))
        })
        .collect();
    assert!(!ours.is_empty(), "{frames:?}");
    assert!(ours.iter().all(|f| f["in_app"] == true), "{ours:?}");
    assert!(
        frames
            .iter()
            .filter(|f| f["function"]
                .as_str()
                .is_some_and(|n| n.starts_with("tokio::")))
            .all(|f| f["in_app"] == false)
    );
}
