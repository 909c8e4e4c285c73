//! `ClientBuilder::debug`: every captured event and delivered batch is logged through
//! `tracing` (info, target `posthog`), and no key ever appears in the log.

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use posthog::test_util::FakePostHog;
use posthog::{Client, Event};
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, SubscriberExt};

/// Records every event as one line of `name=value` fields.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<String>>>);

struct Line(String);

impl Visit for Line {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, "{}={:?} ", field.name(), value);
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Log {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        let mut line = Line(format!("{} ", event.metadata().level()));
        event.record(&mut line);
        self.0.lock().unwrap().push(line.0);
    }
}

impl Log {
    fn text(&self) -> String {
        self.0.lock().unwrap().join("\n")
    }
}

// Single-threaded runtime: the worker logs on this thread, under this test's subscriber.
#[tokio::test(flavor = "current_thread")]
async fn debug_logs_captures_and_deliveries() {
    let log = Log::default();
    let subscriber = tracing_subscriber::registry().with(log.clone());
    let _default = tracing::subscriber::set_default(subscriber);
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
