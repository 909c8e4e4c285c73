//! C-SETUP.3 (the global client is set once) and `sync_mode` (no batching; the blocking
//! client waits for each delivery), against FakePostHog.

use std::time::{Duration, Instant};

use posthog::test_util::FakePostHog;
use posthog::{Client, ClientBuilder, Error, Event};

/// C-SETUP.3: a second initialisation is refused and the first client stays the default;
/// separately built clients still work.
#[tokio::test]
async fn c_setup_3_second_global_init_is_refused() {
    let first = FakePostHog::start().await;
    let second = FakePostHog::start().await;
    assert!(posthog::global().is_none());
    assert!(posthog::capture(Event::new("before_init", "u")).is_none());
    let guard =
        posthog::init_global(Client::builder("phc").host(first.url()).build().unwrap()).unwrap();
    let other = Client::builder("phc").host(second.url()).build().unwrap();
    assert!(matches!(
        posthog::init_global(other.clone()),
        Err(Error::AlreadyInitialized)
    ));
    assert!(posthog::capture(Event::new("via_global", "u")).is_some());
    other.capture(Event::new("separate", "u"));
    posthog::global().unwrap().flush().await;
    other.flush().await;
    assert_eq!(first.events()[0]["event"], "via_global");
    assert_eq!(second.events()[0]["event"], "separate");
    // The guard's async shutdown (this is a current-thread runtime, where a drop cannot wait).
    assert!(posthog::capture(Event::new("at_exit", "u")).is_some());
    let report = guard.shutdown().await;
    assert_eq!((report.sent, report.undelivered), (1, 0));
    assert!(posthog::capture(Event::new("after_shutdown", "u")).is_none());
}

/// Each event goes out on its own at once, without waiting for `flush_at` or the interval.
#[tokio::test]
async fn sync_mode_sends_every_event_at_once() {
    let server = FakePostHog::start().await;
    let client = Client::builder("phc")
        .host(server.url())
        .flush_interval(Duration::from_secs(3600))
        .sync_mode(true)
        .build()
        .unwrap();
    for i in 0..3 {
        client.capture(Event::new(format!("e{i}"), "u"));
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while server.events().len() < 3 {
        assert!(Instant::now() < deadline, "events were held back");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        server
            .batches()
            .iter()
            .all(|b| b["batch"].as_array().unwrap().len() == 1)
    );
}

/// The blocking client in sync mode returns from `capture` only after the request was made.
#[test]
fn blocking_sync_mode_waits_for_delivery() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(FakePostHog::start());
    let client = ClientBuilder::new("phc")
        .host(server.url())
        .flush_interval(Duration::from_secs(3600))
        .sync_mode(true)
        .build_blocking()
        .unwrap();
    client.capture(Event::new("inline", "u"));
    assert_eq!(
        server.events().len(),
        1,
        "delivered before capture returned"
    );
    client.identify("u", posthog::PersonProperties::new().set("plan", "pro"));
    assert_eq!(server.events().len(), 2);
}
