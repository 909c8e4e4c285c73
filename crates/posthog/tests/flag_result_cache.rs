//! C-FLAG-CACHE.5: the opt-in cross-call cache of evaluated flags, against FakePostHog:
//! first read path while fresh, stale fallback when `/flags` fails, keyed by the subject and
//! its properties, clearable, cleared on shutdown.

use std::time::Duration;

use posthog::test_util::{FakePostHog, Reply};
use posthog::{Client, FlagOptions, FlagValue};
use serde_json::json;

fn answer(variant: &str) -> serde_json::Value {
    json!({"flags": {"checkout": {"key": "checkout", "enabled": true, "variant": variant}}})
}

fn client(server: &FakePostHog, ttl: Duration) -> Client {
    Client::builder("phc")
        .host(server.url())
        .flag_retries(0)
        .flag_result_cache(100, ttl)
        .build()
        .unwrap()
}

#[tokio::test]
async fn fresh_answers_come_from_the_cache() {
    let server = FakePostHog::start().await;
    server.set_flags(answer("blue"));
    let client = client(&server, Duration::from_secs(60));
    let opts = FlagOptions::new().send_feature_flag_events(false);
    let blue = Some(FlagValue::Variant("blue".into()));
    assert_eq!(client.get_feature_flag("checkout", "u1", &opts).await, blue);
    server.set_flags(answer("red"));
    assert_eq!(
        client.get_feature_flag("checkout", "u1", &opts).await,
        blue,
        "cached"
    );
    assert_eq!(server.requests_to("/flags/").len(), 1);
    // Another subject, or other properties: another entry.
    let red = Some(FlagValue::Variant("red".into()));
    assert_eq!(client.get_feature_flag("checkout", "u2", &opts).await, red);
    let pro = opts.clone().person_property("plan", "pro");
    assert_eq!(client.get_feature_flag("checkout", "u1", &pro).await, red);
    // All-flags reads are cached too.
    let all = client.get_all_flags("u3", &opts).await;
    server.set_flags(answer("green"));
    assert_eq!(client.get_all_flags("u3", &opts).await, all);
    assert_eq!(server.requests_to("/flags/").len(), 4);
    client.clear_flag_result_cache();
    assert_eq!(
        client.get_feature_flag("checkout", "u1", &opts).await,
        Some(FlagValue::Variant("green".into()))
    );
}

#[tokio::test]
async fn expired_answers_are_a_fallback_when_the_server_fails() {
    let server = FakePostHog::start().await;
    server.set_flags(answer("blue"));
    let client = client(&server, Duration::from_millis(50));
    let opts = FlagOptions::new().send_feature_flag_events(false);
    let blue = Some(FlagValue::Variant("blue".into()));
    assert_eq!(client.get_feature_flag("checkout", "u1", &opts).await, blue);
    let all = client.get_all_flags("u1", &opts).await;
    tokio::time::sleep(Duration::from_millis(80)).await;
    // Expired: the server is asked again; it fails, so the expired answer is used.
    server.script([Reply::status(500), Reply::status(500)]);
    assert_eq!(client.get_feature_flag("checkout", "u1", &opts).await, blue);
    assert_eq!(client.get_all_flags("u1", &opts).await, all);
    assert_eq!(server.requests_to("/flags/").len(), 4);
    // Without an earlier answer there is nothing to fall back on.
    server.script([Reply::status(500)]);
    assert_eq!(client.get_feature_flag("checkout", "u9", &opts).await, None);
    // Expired and the server answers: the new answer wins.
    server.set_flags(answer("red"));
    assert_eq!(
        client.get_feature_flag("checkout", "u1", &opts).await,
        Some(FlagValue::Variant("red".into()))
    );
}

#[tokio::test]
async fn nothing_answers_after_shutdown_and_off_means_off() {
    let server = FakePostHog::start().await;
    server.set_flags(answer("blue"));
    let client = client(&server, Duration::from_secs(60));
    let opts = FlagOptions::new().send_feature_flag_events(false);
    client.get_feature_flag("checkout", "u1", &opts).await;
    client.shutdown(Duration::from_secs(5)).await;
    assert_eq!(client.get_feature_flag("checkout", "u1", &opts).await, None);

    let plain = Client::builder("phc").host(server.url()).build().unwrap();
    plain.get_feature_flag("checkout", "u1", &opts).await;
    plain.get_feature_flag("checkout", "u1", &opts).await;
    assert_eq!(
        server.requests_to("/flags/").len(),
        3,
        "no cache unless asked for"
    );
}
