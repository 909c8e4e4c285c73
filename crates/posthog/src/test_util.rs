//! [`FakePostHog`]: an in-process PostHog on 127.0.0.1 for tests and the quickstart (feature
//! `test-util`). It accepts the ingestion endpoints, records every batch, and can be told to
//! fail (statuses, delays, closed connections) through [`FakePostHog::script`].

use std::sync::Arc;

use posthog_transport::test_util::{RecordedRequest, TestServer};
use serde_json::Value;

pub use posthog_transport::test_util::Reply;

/// Paths PostHog ingests events on.
const INGESTION: &[&str] = &[
    "/batch/",
    "/batch",
    "/i/v0/e/",
    "/i/v0/e",
    "/e/",
    "/capture/",
    "/track/",
];

/// An in-process PostHog: real HTTP on 127.0.0.1.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use posthog::test_util::{FakePostHog, Reply};
/// let server = FakePostHog::start().await;
/// server.script([Reply::status(503)]); // the next request fails, then 200 again
/// let client = posthog::Client::builder("phc_test").host(server.url()).build().unwrap();
/// client.capture(posthog::Event::new("signed_up", "user-1"));
/// client.flush().await; // 503: stays queued for a retry
/// client.shutdown(std::time::Duration::from_secs(5)).await; // retried and delivered
/// assert_eq!(server.events()[0]["event"], "signed_up");
/// # }
/// ```
pub struct FakePostHog {
    server: TestServer,
}

impl std::fmt::Debug for FakePostHog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakePostHog")
            .field("url", &self.url())
            .finish()
    }
}

impl FakePostHog {
    /// Starts on a free port; answers ingestion with `200 {"status": 1}`.
    ///
    /// # Panics
    /// When no port on 127.0.0.1 can be bound (a test environment problem).
    #[allow(clippy::expect_used)]
    pub async fn start() -> FakePostHog {
        let server = TestServer::start().await.expect("bind 127.0.0.1");
        server.set_handler(Arc::new(|req: &RecordedRequest| {
            INGESTION.contains(&req.path.as_str()).then(Reply::ok)
        }));
        server.set_default(Reply::status(404));
        FakePostHog { server }
    }

    /// `http://127.0.0.1:<port>`, to pass as the client's host.
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// Replies for the next requests, in order (then back to normal).
    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.server.script(replies);
    }

    /// Every request received.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.server.requests()
    }

    /// Bodies of the ingestion requests it accepted (answered 2xx), in arrival order.
    /// Requests a scripted failure answered are only in [`FakePostHog::requests`].
    pub fn batches(&self) -> Vec<Value> {
        self.ingestion_requests()
            .into_iter()
            .filter(|r| r.status.is_some_and(|s| (200..300).contains(&s)))
            .map(|r| r.json())
            .collect()
    }

    /// Every ingestion request received, accepted or not.
    pub fn ingestion_requests(&self) -> Vec<RecordedRequest> {
        self.server
            .requests()
            .into_iter()
            .filter(|r| INGESTION.contains(&r.path.as_str()))
            .collect()
    }

    /// Events of the accepted ingestion requests, in order.
    pub fn events(&self) -> Vec<Value> {
        let mut out = Vec::new();
        for body in self.batches() {
            match body.get("batch") {
                Some(Value::Array(events)) => out.extend(events.iter().cloned()),
                _ if body.get("event").is_some() => out.push(body),
                _ => {}
            }
        }
        out
    }

    /// TCP connections accepted.
    pub fn connection_count(&self) -> usize {
        self.server.connection_count()
    }

    /// Forgets what was received.
    pub fn clear(&self) {
        self.server.clear();
    }

    /// The underlying scripted server.
    pub fn server(&self) -> &TestServer {
        &self.server
    }
}
