//! The `tracing` integration: error events become `$exception` events (issue 6).

use insta::assert_json_snapshot;
use posthog::Client;
use posthog::test_util::FakePostHog;
use posthog::tracing_layer::ExceptionLayer;
use tracing_subscriber::layer::SubscriberExt;

#[tokio::test]
async fn error_events_become_exceptions() {
    let server = FakePostHog::start().await;
    let client = Client::builder("phc").host(server.url()).build().unwrap();
    let subscriber = tracing_subscriber::registry().with(ExceptionLayer::new(client.clone()));
    tracing::subscriber::with_default(subscriber, || {
        tracing::error!(target: "checkout", order_id = 42, retry = false, distinct_id = "user-123", "payment failed");
        tracing::warn!("only a warning"); // below the default level
        tracing::error!(target: "posthog", "the SDK's own diagnostics are never sent");
    });
    client.flush().await;
    let events = server.events();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_json_snapshot!("tracing_error_event", events[0], {
        ".uuid" => "[uuid]", ".timestamp" => "[timestamp]",
        ".properties[\"$lib_version\"]" => "[version]",
        ".properties[\"$exception_log_location\"]" => "[location]",
    });
}

#[tokio::test]
async fn the_level_is_configurable() {
    let server = FakePostHog::start().await;
    let client = Client::builder("phc").host(server.url()).build().unwrap();
    let layer = ExceptionLayer::new(client.clone()).min_level(tracing::Level::WARN);
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        tracing::warn!(distinct_id = "u", "disk almost full");
        tracing::info!(distinct_id = "u", "fine");
    });
    client.flush().await;
    let events = server.events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["properties"]["$exception_level"], "warning");
}
