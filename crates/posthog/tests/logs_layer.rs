//! C-LOGS (Rust): `LogsLayer` ships `tracing` events as log records, with span fields and the
//! target; the SDK's own diagnostics never, so there is no feedback loop.

use posthog::test_util::FakePostHog;
use serde_json::{Value, json};
use tracing_subscriber::layer::SubscriberExt;

fn attribute<'a>(record: &'a Value, key: &str) -> Option<&'a Value> {
    record["attributes"]
        .as_array()?
        .iter()
        .find(|kv| kv["key"] == key)
        .map(|kv| &kv["value"])
}

#[tokio::test(flavor = "current_thread")]
async fn tracing_events_become_log_records_and_the_sdks_own_do_not() {
    let server = FakePostHog::start().await;
    let client = posthog::Client::builder("phc_test_token")
        .host(server.url())
        .build()
        .unwrap();
    let layer = posthog::logs::LogsLayer::new(client.clone());
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(subscriber, || {
        let span = tracing::info_span!("request", request_id = "r-1", user = "outer");
        let _entered = span.enter();
        tracing::warn!(user = "inner", attempts = 3, ratio = f64::NAN, "retrying");
        tracing::debug!("below the level");
        tracing::error!(target: "posthog", "the SDK's own");
    });
    client.flush().await;
    let records = server.log_records();
    assert_eq!(records.len(), 1, "{records:?}");
    let r = &records[0];
    assert_eq!(r["body"]["stringValue"], "retrying");
    assert_eq!(r["severityNumber"], 13);
    assert_eq!(
        attribute(r, "request_id"),
        Some(&json!({"stringValue": "r-1"}))
    );
    assert_eq!(
        attribute(r, "user"),
        Some(&json!({"stringValue": "inner"})),
        "the event's field wins"
    );
    assert_eq!(attribute(r, "attempts"), Some(&json!({"intValue": "3"})));
    assert_eq!(attribute(r, "ratio"), Some(&json!({"stringValue": "NaN"})));
    assert_eq!(
        attribute(r, "target"),
        Some(&json!({"stringValue": "logs_layer"}))
    );
}
