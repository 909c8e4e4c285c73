//! Shared helpers for the client's integration tests.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use posthog::test_util::FakePostHog;
use posthog::{ClientBuilder, DeliveryError};

pub(crate) mod log;

/// Collects what `on_error` reports.
#[derive(Clone, Default, Debug)]
pub(crate) struct Errors(pub(crate) Arc<Mutex<Vec<DeliveryError>>>);

impl Errors {
    /// Every report so far.
    pub(crate) fn all(&self) -> Vec<DeliveryError> {
        self.0.lock().unwrap().clone()
    }
}

/// A client builder pointed at `server`, reporting errors into the returned collector.
pub(crate) fn builder(server: &FakePostHog) -> (ClientBuilder, Errors) {
    let errors = Errors::default();
    let sink = errors.clone();
    let builder = ClientBuilder::new("phc_test_token")
        .host(server.url())
        .on_error(move |e| sink.0.lock().unwrap().push(e.clone()));
    (builder, errors)
}

/// Answers every request to `server` with `reply` from now on (FakePostHog's own answers
/// included).
pub(crate) fn answer_always(server: &FakePostHog, reply: posthog::test_util::Reply) {
    server
        .server()
        .set_handler(Arc::new(move |_| Some(reply.clone())));
}

/// One second.
pub(crate) const SECOND: Duration = Duration::from_secs(1);

/// Event names of the accepted events, in order.
pub(crate) fn names(server: &FakePostHog) -> Vec<String> {
    server
        .events()
        .iter()
        .map(|e| e["event"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// The `$exception` events the server accepted, in order.
pub(crate) fn exception_events(server: &FakePostHog) -> Vec<serde_json::Value> {
    server
        .events()
        .into_iter()
        .filter(|e| e["event"] == "$exception")
        .collect()
}
