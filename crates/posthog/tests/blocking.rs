//! The blocking client: same pipeline, no runtime in the caller, flush on drop.

use std::time::Duration;

use posthog::test_util::FakePostHog;
use posthog::{ClientBuilder, Event};

fn fake() -> (tokio::runtime::Runtime, FakePostHog) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(FakePostHog::start());
    (runtime, server)
}

#[test]
fn blocking_client_flushes_and_shuts_down() {
    let (_rt, server) = fake();
    let client = ClientBuilder::new("phc")
        .host(server.url())
        .build_blocking()
        .unwrap();
    client.capture(Event::new("a", "u"));
    let report = client.flush();
    assert_eq!(report.sent, 1);
    client.capture(Event::new("b", "u"));
    let report = client.shutdown(Duration::from_secs(5));
    assert_eq!((report.sent, report.undelivered), (1, 0));
    assert_eq!(server.events().len(), 2);
    assert_eq!(client.capture(Event::new("after", "u")), None);
}

#[test]
fn dropping_the_blocking_client_delivers_within_a_bound() {
    let (_rt, server) = fake();
    let client = ClientBuilder::new("phc")
        .host(server.url())
        .build_blocking()
        .unwrap();
    let clone = client.clone();
    clone.capture(Event::new("queued", "u"));
    drop(client);
    assert!(server.events().is_empty(), "a clone is still alive");
    let started = std::time::Instant::now();
    drop(clone);
    assert!(started.elapsed() < Duration::from_secs(6));
    assert_eq!(server.events().len(), 1);
}

/// (On a current-thread runtime that also serves the fake, the drop would wait its full bound:
/// the server cannot run while the thread blocks.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocking_client_can_be_dropped_inside_an_async_runtime() {
    let server = FakePostHog::start().await;
    let client = tokio::task::spawn_blocking({
        let url = server.url();
        move || {
            ClientBuilder::new("phc")
                .host(url)
                .build_blocking()
                .unwrap()
        }
    })
    .await
    .unwrap();
    client.capture(Event::new("e", "u"));
    drop(client); // must neither panic nor deadlock on this runtime thread
    assert_eq!(server.events().len(), 1);
}
