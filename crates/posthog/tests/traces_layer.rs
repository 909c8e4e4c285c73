//! Issue 17: `SpansLayer` turns `tracing` spans (`#[instrument]` included) into PostHog spans:
//! names, fields, the parent from the span tree, events, error status.

use posthog::test_util::FakePostHog;
use posthog::traces::TracesConfig;
use serde_json::{Value, json};
use tracing_subscriber::layer::SubscriberExt;

fn attribute<'a>(span: &'a Value, key: &str) -> Option<&'a Value> {
    span["attributes"]
        .as_array()?
        .iter()
        .find(|kv| kv["key"] == key)
        .map(|kv| &kv["value"])
}

/// A client with tracing on, sending to `server`.
fn traced_client(server: &FakePostHog) -> posthog::Client {
    posthog::Client::builder("phc_test_token")
        .host(server.url())
        .traces(TracesConfig::new())
        .build()
        .unwrap()
}

#[tracing::instrument]
fn price(order_id: u64) -> u64 {
    tracing::info!(items = 3, "priced");
    order_id * 2
}

#[tokio::test(flavor = "current_thread")]
async fn instrumented_code_sends_a_trace() {
    let server = FakePostHog::start().await;
    let client = traced_client(&server);
    let subscriber =
        tracing_subscriber::registry().with(posthog::traces::SpansLayer::new(client.clone()));
    tracing::subscriber::with_default(subscriber, || {
        let outer = tracing::info_span!("checkout", user = "u-1").entered();
        assert_eq!(price(21), 42);
        tracing::error!("payment declined");
        drop(outer);
    });
    client.flush().await;
    let spans = server.spans();
    let by = |name: &str| spans.iter().find(|s| s["name"] == name).cloned().unwrap();
    let (checkout, price) = (by("checkout"), by("price"));
    assert_eq!(price["traceId"], checkout["traceId"]);
    assert_eq!(price["parentSpanId"], checkout["spanId"]);
    assert_eq!(
        attribute(&price, "order_id"),
        Some(&json!({"intValue": "21"}))
    );
    assert_eq!(price["events"][0]["name"], "priced");
    assert_eq!(
        attribute(&checkout, "user"),
        Some(&json!({"stringValue": "u-1"}))
    );
    assert_eq!(
        checkout["status"],
        json!({"code": 2, "message": "payment declined"})
    );
}

/// C-LOGS (tracing integration) with C-TRACES.6: with both layers installed, a `tracing` event
/// inside an instrumented span ships as a log record carrying that span's trace and span ids.
#[tokio::test(flavor = "current_thread")]
async fn logs_inside_a_recorded_span_carry_its_ids() {
    let server = FakePostHog::start().await;
    let client = traced_client(&server);
    let subscriber = tracing_subscriber::registry()
        .with(posthog::traces::SpansLayer::new(client.clone()))
        .with(posthog::logs::LogsLayer::new(client.clone()));
    tracing::subscriber::with_default(subscriber, || {
        let _checkout = tracing::info_span!("checkout").entered();
        price(1);
        tracing::info!("checked out");
    });
    tracing::subscriber::with_default(
        tracing_subscriber::registry().with(posthog::logs::LogsLayer::new(client.clone())),
        || tracing::info!("outside any span"),
    );
    client.flush().await;
    let spans = server.spans();
    let by = |name: &str| spans.iter().find(|s| s["name"] == name).cloned().unwrap();
    let (checkout, price) = (by("checkout"), by("price"));
    let records = server.log_records();
    let log = |body: &str| {
        records
            .iter()
            .find(|r| r["body"]["stringValue"] == body)
            .cloned()
            .unwrap()
    };
    assert_eq!(log("priced")["traceId"], price["traceId"]);
    assert_eq!(log("priced")["spanId"], price["spanId"]);
    assert_eq!(log("checked out")["spanId"], checkout["spanId"]);
    assert!(log("outside any span").get("traceId").is_none());
}
