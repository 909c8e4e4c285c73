//! `ClientBuilder::debug`: every captured event and delivered batch is logged through
//! `tracing` (info, target `posthog`), and no key ever appears in the log.

mod support;

use posthog::test_util::FakePostHog;
use posthog::{Client, Event};
use support::log::Log;

// Single-threaded runtime: the worker logs on this thread, under this test's subscriber.
#[tokio::test(flavor = "current_thread")]
async fn debug_logs_captures_and_deliveries() {
    let log = Log::default();
    let _default = log.on_this_thread();
    let server = FakePostHog::start().await;
    let client = Client::builder("phc_project_token")
        .host(server.url())
        .personal_api_key("phx_very_secret_key")
        .local_evaluation(false)
        .debug(true)
        .build()
        .unwrap();
    client.capture(Event::new("order_placed", "user-123"));
    client.flush().await;
    let text = log.text();
    assert!(
        text.contains("captured") && text.contains("order_placed"),
        "{text}"
    );
    assert!(text.contains("batch delivered"), "{text}");
    assert!(!text.contains("phx_very_secret_key"), "{text}");

    let quiet = Client::builder("phc").host(server.url()).build().unwrap();
    log.0.lock().unwrap().clear();
    quiet.capture(Event::new("not_logged", "u"));
    quiet.flush().await;
    let text = log.text();
    assert!(!text.contains("not_logged"), "{text}");
}
