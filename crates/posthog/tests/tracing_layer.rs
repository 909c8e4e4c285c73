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

/// Recent events ride along: per outermost span (a request's own history), else layer-wide;
/// bounded, oldest first, and taken by the exception that reports them.
#[tokio::test]
async fn recent_events_are_attached_per_span() {
    let server = FakePostHog::start().await;
    let client = Client::builder("phc").host(server.url()).build().unwrap();
    let layer = ExceptionLayer::new(client.clone()).recent_events(2, tracing::Level::INFO);
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        let request_a = tracing::info_span!("request", id = "a");
        let request_b = tracing::info_span!("request", id = "b");
        request_a.in_scope(|| tracing::info!(step = 1, "a: loaded cart"));
        request_b.in_scope(|| tracing::info!("b: loaded profile"));
        request_a.in_scope(|| {
            let nested = tracing::info_span!("db");
            nested.in_scope(|| tracing::warn!("a: slow query"));
            tracing::debug!("a: below the recent-events level");
            tracing::info!("a: charging card");
            tracing::error!(distinct_id = "user-a", "a: payment failed");
        });
        tracing::info!("outside: one");
        tracing::info!("outside: two");
        tracing::error!(distinct_id = "user-x", "outside: failed");
        request_b.in_scope(|| tracing::error!(distinct_id = "user-b", "b: failed"));
        request_b.in_scope(|| tracing::error!(distinct_id = "user-b", "b: failed again"));
    });
    client.flush().await;
    let events = server.events();
    let history = |id: &str, message: &str| -> Vec<String> {
        let event = events
            .iter()
            .find(|e| e["distinct_id"] == id && e["properties"]["$exception_message"] == message)
            .unwrap_or_else(|| panic!("no exception {message:?}: {events:?}"));
        event["properties"]["$recent_events"]
            .as_array()
            .map(|list| {
                list.iter()
                    .map(|e| e["message"].as_str().unwrap().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    };
    // Request a: its own last two (capacity 2), oldest first; the debug line is below the level.
    assert_eq!(
        history("user-a", "a: payment failed"),
        ["a: slow query", "a: charging card"]
    );
    assert_eq!(
        history("user-x", "outside: failed"),
        ["outside: one", "outside: two"]
    );
    assert_eq!(history("user-b", "b: failed"), ["b: loaded profile"]);
    assert!(
        history("user-b", "b: failed again").is_empty(),
        "the first exception took the history"
    );
    let first = events
        .iter()
        .find(|e| e["distinct_id"] == "user-a")
        .unwrap();
    let entry = &first["properties"]["$recent_events"][0];
    assert_eq!(entry["level"], "WARN");
    assert!(entry["timestamp"].as_str().unwrap().ends_with('Z'));
}
