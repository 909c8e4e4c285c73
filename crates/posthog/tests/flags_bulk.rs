//! Issue 15 item 4: the bulk reads tell "no flags" from "the request failed"
//! (C-GET-FLAGS.4, C-GET-FLAGS-PAYLOADS.4/.5), against FakePostHog over real HTTP.

use std::time::Duration;

use posthog::test_util::{FAKE_PERSONAL_API_KEY, FakePostHog, Reply};
use posthog::{Client, FlagOptions, FlagValue, FlagsError};
use serde_json::json;

fn remote_client(server: &FakePostHog) -> Client {
    Client::builder("phc")
        .host(server.url())
        .feature_flags_request_timeout(Duration::from_millis(500))
        .build()
        .unwrap()
}

/// C-GET-FLAGS.4: a failed request, a quota-limited answer and an answer with errors are
/// errors the caller sees, each with what was decided: nothing, nothing (the quota answer's
/// flags are not used) and the flags PostHog did compute.
#[tokio::test]
async fn c_get_flags_4_failures_are_typed_and_carry_the_decided_subset() {
    let computed = json!({"key": "ok", "enabled": true, "variant": null});
    let cases = [
        (Reply::status(500), FlagsError::Status(500), vec![]),
        (
            Reply::json(
                200,
                &json!({"flags": {"ok": computed}, "quotaLimited": ["feature_flags"]}),
            ),
            FlagsError::QuotaLimited,
            vec![],
        ),
        (
            Reply::json(
                200,
                &json!({"errorsWhileComputingFlags": true, "flags": {"ok": computed,
                    "broken": {"key": "broken", "enabled": false, "failed": true}}}),
            ),
            FlagsError::ErrorsWhileComputing,
            vec!["ok"],
        ),
    ];
    for (reply, error, decided) in cases {
        let server = FakePostHog::start().await;
        server.script([reply.clone()]);
        let client = remote_client(&server);
        let incomplete = client
            .get_all_flags("u", &FlagOptions::new())
            .await
            .expect_err("incomplete");
        assert_eq!(incomplete.error, error, "{reply:?}");
        assert_eq!(
            incomplete.partial.keys().collect::<Vec<_>>(),
            decided,
            "{reply:?}"
        );
        server.script([reply.clone()]);
        let both = client
            .get_all_flags_and_payloads("u", &FlagOptions::new())
            .await
            .expect_err("incomplete");
        assert_eq!(both.error, error);
        assert_eq!(both.partial.0.keys().collect::<Vec<_>>(), decided);
    }
}

/// C-GET-FLAGS.4 with local evaluation: when `/flags` fails for the flags local evaluation
/// could not decide, the locally decided values are the partial answer.
#[tokio::test]
async fn c_get_flags_4_a_failed_fallback_keeps_the_local_values() {
    let server = FakePostHog::start().await;
    server.set_definitions(json!({"flags": [
        {"id": 1, "key": "local", "active": true,
         "filters": {"groups": [{"properties": [], "rollout_percentage": 100}]}},
        {"id": 2, "key": "needs-email", "active": true,
         "filters": {"groups": [{"properties": [
            {"key": "email", "type": "person", "operator": "icontains", "value": "@"}],
            "rollout_percentage": 100}]}}
    ]}));
    let client = Client::builder("phc")
        .host(server.url())
        .personal_api_key(FAKE_PERSONAL_API_KEY)
        .build()
        .unwrap();
    assert!(client.wait_for_flags(Duration::from_secs(5)).await);
    server.script([Reply::status(503)]);
    let incomplete = client
        .get_all_flags("u", &FlagOptions::new())
        .await
        .expect_err("the fallback failed");
    assert_eq!(incomplete.error, FlagsError::Status(503));
    assert_eq!(incomplete.error.code(), "api_error_503");
    assert_eq!(
        incomplete.into_partial().into_iter().collect::<Vec<_>>(),
        [("local".to_owned(), FlagValue::Bool(true))]
    );
}

/// C-GET-FLAGS-PAYLOADS.4: no known flags is two empty maps, not an error; a disabled client
/// says so.
#[tokio::test]
async fn c_get_flags_payloads_4_no_flags_is_empty_not_an_error() {
    let server = FakePostHog::start().await;
    server.set_flags(json!({"flags": {}}));
    let client = remote_client(&server);
    let (values, payloads) = client
        .get_all_flags_and_payloads("u", &FlagOptions::new())
        .await
        .expect("no flags is not an error");
    assert!(values.is_empty() && payloads.is_empty());
    let disabled = Client::builder("phc").host(server.url()).disabled(true);
    let disabled = disabled.build().unwrap();
    let disabled = disabled.get_all_flags("u", &FlagOptions::new()).await;
    assert_eq!(disabled.expect_err("disabled").error, FlagsError::Disabled);
}
