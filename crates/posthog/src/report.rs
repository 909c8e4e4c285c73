//! Reports of lost events ([`DeliveryError`], through `on_error`) and the client's counters
//! ([`Stats`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use uuid::Uuid;

/// Why events were not delivered.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = posthog::test_util::FakePostHog::start().await;
/// # let client = posthog::Client::builder("phc_project_token").host(server.url()).build()?;
/// use posthog::DeliveryErrorKind;
/// let client = posthog::Client::builder("phc_project_token")
/// #   .host(server.url())
///     .on_error(|e| {
///         if e.kind == DeliveryErrorKind::QueueFull {
///             eprintln!("shedding load: {} events dropped", e.count);
///         }
///     })
///     .build()?;
/// # let _ = client;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeliveryErrorKind {
    /// The queue was full when the event was captured.
    QueueFull,
    /// The event was invalid (empty name or distinct id, unserialisable properties).
    Invalid,
    /// A `before_send` hook failed (panicked or returned an error).
    HookFailed,
    /// One event was larger than the per-event limit.
    EventTooLarge,
    /// The server rejected the batch for good (the status is in `status`).
    Rejected,
    /// Retries were exhausted (the last error is in `message`).
    RetriesExhausted,
    /// Shutdown's deadline passed before the events could be sent.
    ShutdownTimeout,
    /// The worker was stopped before the events were sent: its tokio runtime shut down (or
    /// its task was cancelled) without a completed [`Client::shutdown`](crate::Client::shutdown).
    Abandoned,
    /// Not about events (`count` is 0): local-evaluation flag definitions could not be
    /// loaded: PostHog refused the key (`status` 401, 402 or 403), the request failed, or
    /// the document did not parse. The last good definitions stay in use, except after
    /// 401/402, when flags are evaluated remotely until a load succeeds (C-FLAG-DEFS.6/.7).
    FlagDefinitions,
}

/// A report of events that will not be delivered, handed to `on_error` and logged.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = posthog::test_util::FakePostHog::start().await;
/// # let client = posthog::Client::builder("phc_project_token").host(server.url()).build()?;
/// let client = posthog::Client::builder("phc_project_token")
/// #   .host(server.url())
///     .on_error(|e: &posthog::DeliveryError| {
///         eprintln!("lost {} event(s) ({:?}, status {:?}): {}", e.count, e.kind, e.status, e.message);
///     })
///     .build()?;
/// # let _ = client;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct DeliveryError {
    /// What happened.
    pub kind: DeliveryErrorKind,
    /// How many events.
    pub count: usize,
    /// Their ids, when known.
    pub uuids: Vec<Uuid>,
    /// The HTTP status, for rejections.
    pub status: Option<u16>,
    /// A description (never contains keys).
    pub message: String,
}

/// The `on_error` callback.
pub type OnError = Arc<dyn Fn(&DeliveryError) + Send + Sync>;

/// The client's counters, shared with the worker.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) captured: AtomicU64,
    pub(crate) sent: AtomicU64,
    pub(crate) retried: AtomicU64,
    pub(crate) dropped: AtomicU64,
    pub(crate) failed: AtomicU64,
    pub(crate) filtered: AtomicU64,
    pub(crate) batches: AtomicU64,
}

impl Counters {
    pub(crate) fn add(counter: &AtomicU64, n: usize) {
        counter.fetch_add(n as u64, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> Stats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let (captured, sent, dropped, failed) = (
            get(&self.captured),
            get(&self.sent),
            get(&self.dropped),
            get(&self.failed),
        );
        Stats {
            captured,
            sent,
            retried: get(&self.retried),
            dropped,
            failed,
            filtered: get(&self.filtered),
            batches: get(&self.batches),
            pending: captured.saturating_sub(sent + failed),
        }
    }
}

/// A snapshot of the client's counters.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = posthog::test_util::FakePostHog::start().await;
/// # let client = posthog::Client::builder("phc_project_token").host(server.url()).build()?;
/// client.capture(posthog::Event::new("order_placed", "user-123"));
/// client.flush().await;
/// let stats: posthog::Stats = client.stats();
/// assert_eq!((stats.captured, stats.sent, stats.failed), (1, 1, 0));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Stats {
    /// Events accepted into the queue.
    pub captured: u64,
    /// Events the server acknowledged.
    pub sent: u64,
    /// Events sent again after a retryable failure (once per retry).
    pub retried: u64,
    /// Events never queued: queue full, invalid, or a failing hook.
    pub dropped: u64,
    /// Queued events given up on: rejected by the server, too large, retries exhausted, or
    /// still unsent when shutdown's deadline passed.
    pub failed: u64,
    /// Events a `before_send` hook chose to drop, or captured while opted out.
    pub filtered: u64,
    /// Requests that delivered a batch.
    pub batches: u64,
    /// Events accepted but neither sent nor failed yet.
    pub pending: u64,
}

/// Reports lost events: counts them, logs, and calls `on_error` (whose panics are contained).
pub(crate) fn report(
    counters: &Counters,
    on_error: Option<&OnError>,
    error: DeliveryError,
    failed: bool,
) {
    let counter = if failed {
        &counters.failed
    } else {
        &counters.dropped
    };
    Counters::add(counter, error.count);
    tracing::warn!(target: "posthog", kind = ?error.kind, count = error.count, status = ?error.status, "{}", error.message);
    if let Some(on_error) = on_error {
        if crate::hooks::contain(|| on_error(&error)).is_none() {
            tracing::warn!(target: "posthog", "the on_error callback panicked");
        }
    }
}

/// The outcome of a flush.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = posthog::test_util::FakePostHog::start().await;
/// # let client = posthog::Client::builder("phc_project_token").host(server.url()).build()?;
/// client.capture(posthog::Event::new("order_placed", "user-123"));
/// let report: posthog::FlushReport = client.flush().await;
/// assert_eq!((report.sent, report.failed, report.pending), (1, 0, 0));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct FlushReport {
    /// Events delivered by this flush.
    pub sent: u64,
    /// Events given up on during this flush.
    pub failed: u64,
    /// Events still queued for a later retry.
    pub pending: u64,
}

/// The outcome of a shutdown.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = posthog::test_util::FakePostHog::start().await;
/// # let client = posthog::Client::builder("phc_project_token").host(server.url()).build()?;
/// client.capture(posthog::Event::new("order_placed", "user-123"));
/// let report: posthog::ShutdownReport = client.shutdown(std::time::Duration::from_secs(5)).await;
/// assert!(!report.timed_out && report.undelivered == 0);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ShutdownReport {
    /// Events delivered during the final drain.
    pub sent: u64,
    /// Events that could not be delivered (failed, or still unsent at the deadline).
    pub undelivered: u64,
    /// Whether the deadline passed before the queue was drained.
    pub timed_out: bool,
}
