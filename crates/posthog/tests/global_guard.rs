//! The global client's guard (issue 14, defect 7) and `Client::shutdown_blocking`, which it
//! uses: what is queued is delivered when the guard is dropped, from async or sync code.

mod support;

use std::time::Duration;

use posthog::test_util::FakePostHog;
use posthog::{Client, Event};
use support::builder;

/// C-SHUTDOWN.1 for the global client: dropping the guard at the end of an async `main` on a
/// multi-thread runtime (`#[tokio::main]`) delivers what is queued and stops the client.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_global_guard_delivers_what_is_queued() {
    let server = FakePostHog::start().await;
    let (b, errors) = builder(&server);
    let guard =
        posthog::init_global(b.flush_interval(Duration::from_secs(3600)).build().unwrap()).unwrap();
    for i in 0..3 {
        posthog::capture(Event::new("at_exit", "u").property("i", i));
    }
    drop(guard);
    assert_eq!(server.events().len(), 3);
    assert!(posthog::capture(Event::new("after", "u")).is_none());
    assert!(errors.all().is_empty());
}

/// `shutdown_blocking` from a thread outside any runtime drives the shutdown on the
/// worker's runtime.
#[test]
fn shutdown_blocking_outside_a_runtime_delivers() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(FakePostHog::start());
    let client = {
        let _entered = runtime.enter();
        Client::builder("phc")
            .host(server.url())
            .flush_interval(Duration::from_secs(3600))
            .build()
            .unwrap()
    };
    client.capture(Event::new("sync_exit", "u"));
    let report = client.shutdown_blocking(Duration::from_secs(5)).unwrap();
    assert_eq!((report.sent, report.undelivered), (1, 0));
    assert_eq!(server.events().len(), 1);
    assert!(
        client.shutdown_blocking(Duration::from_secs(5)).is_none(),
        "once"
    );
}

/// On a current-thread runtime `shutdown_blocking` cannot wait (it would block the worker it
/// waits for): it says so and returns `None` at once.
#[tokio::test(flavor = "current_thread")]
async fn shutdown_blocking_on_a_current_thread_runtime_does_not_hang() {
    let server = FakePostHog::start().await;
    let client = Client::builder("phc").host(server.url()).build().unwrap();
    client.capture(Event::new("e", "u"));
    let log = support::log::Log::default();
    let guard = log.on_this_thread();
    assert!(client.shutdown_blocking(Duration::from_secs(5)).is_none());
    drop(guard);
    assert!(
        log.text().contains("await Client::shutdown"),
        "{}",
        log.text()
    );
    client.shutdown(Duration::from_secs(5)).await;
    assert_eq!(server.events().len(), 1);
}
