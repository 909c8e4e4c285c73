//! The [`Client`] handle: what it holds, its state (enabled, opted out, counters), and the
//! calls that walk its pipelines (`flush`, `shutdown`). Capture calls live in `capture/`, the
//! builder and the validated configuration in [`builder`] and [`config`], starting in `start`.

mod builder;
pub(crate) mod config;
mod start;

pub use builder::ClientBuilder;
pub use config::{CaptureMode, DEFAULT_HOST};

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use posthog_core::Event;
use posthog_transport::Transport;
use tokio::sync::Mutex as AsyncMutex;

use crate::capture::Defaults;
use crate::client::config::Options;
use crate::error::Error;
use crate::lane::{Lane, LaneReport, LaneStats};
use crate::report::{Counters, FlushReport, ShutdownReport, Stats};

/// How long past its deadline [`Client::shutdown`] may take: the worker's report of what it
/// could not deliver (logging it and calling `on_error`) happens at the deadline.
pub const SHUTDOWN_SLACK: Duration = Duration::from_millis(250);

/// A PostHog client: a cheap handle (clone it freely) over one queue and one worker.
///
/// `capture` and the identity calls are plain functions: they assemble the event, run the
/// `before_send` hooks and hand it to a bounded queue without blocking or doing I/O. Call
/// [`Client::shutdown`] before the process exits to deliver what is queued.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), posthog::Error> {
/// # let server = posthog::test_util::FakePostHog::start().await;
/// let client = posthog::Client::builder("phc_project_token")
/// #   .host(server.url())
///     .build()?;
/// client.capture(posthog::Event::new("order_placed", "user-123").property("amount", 42));
/// client.flush().await;
/// # assert_eq!(server.events().len(), 1);
/// client.shutdown(std::time::Duration::from_secs(5)).await;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) options: Options,
    pub(crate) exceptions: crate::exceptions::RecentErrors,
    /// Token buckets for autocaptured exceptions, when a rate limit is set.
    pub(crate) autocapture_limiter: Option<crate::exceptions::rate_limit::Limiter>,
    pub(crate) flags: Arc<crate::feature_flags::FlagsRuntime>,
    pub(crate) defaults: Arc<Defaults>,
    pub(crate) transport: Option<Transport>,
    /// The events lane (`None`: the client sends nothing).
    pub(crate) events: Option<Lane<crate::capture::EventItem>>,
    pub(crate) counters: Arc<Counters>,
    pub(crate) opted_out: AtomicBool,
    pub(crate) shut_down: AtomicBool,
    /// The runtime the worker runs on (for [`Client::shutdown_blocking`] and the lanes).
    pub(crate) runtime: Option<tokio::runtime::Handle>,
    /// The AI lane, started on the first `capture_ai`.
    pub(crate) ai_lane: std::sync::OnceLock<crate::lane::Lane<Event>>,
    /// The logs lane, started on the first log.
    pub(crate) logs: std::sync::OnceLock<crate::logs::LogsRuntime>,
    /// The traces lane, started on the first span.
    pub(crate) traces: std::sync::OnceLock<crate::traces::TracesRuntime>,
    pub(crate) shutdown_report: AsyncMutex<Option<ShutdownReport>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("host", &self.inner.options.host)
            .field("enabled", &self.inner.events.is_some())
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Options for a client of the project whose token is `api_key`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = posthog::test_util::FakePostHog::start().await;
    /// # let client = posthog::Client::builder("phc_project_token").host(server.url()).build()?;
    /// let client = posthog::Client::builder("phc_project_token")
    /// #   .host(server.url())
    ///     .flush_at(50)
    ///     .super_property("service", "checkout")
    ///     .build()?; // inside a tokio runtime
    /// assert!(client.is_enabled());
    /// # Ok(()) }
    /// ```
    pub fn builder(api_key: impl Into<String>) -> crate::ClientBuilder {
        crate::ClientBuilder::new(api_key)
    }

    pub(crate) fn exceptions(&self) -> &crate::exceptions::RecentErrors {
        &self.inner.exceptions
    }

    pub(crate) fn autocapture_limiter(&self) -> Option<&crate::exceptions::rate_limit::Limiter> {
        self.inner.autocapture_limiter.as_ref()
    }

    pub(crate) fn options(&self) -> &Options {
        &self.inner.options
    }

    pub(crate) fn transport(&self) -> Option<&Transport> {
        self.inner.transport.as_ref()
    }

    #[inline]
    pub(crate) fn flags_runtime(&self) -> Option<&crate::feature_flags::FlagsRuntime> {
        self.inner.transport.as_ref().map(|_| &*self.inner.flags)
    }

    /// Whether events are being sent (not disabled, not shut down).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = posthog::test_util::FakePostHog::start().await;
    /// # let client = posthog::Client::builder("phc_project_token").host(server.url()).build()?;
    /// assert!(client.is_enabled());
    /// let off = posthog::Client::builder("phc_project_token").disabled(true).build()?;
    /// assert!(!off.is_enabled());
    /// # Ok(()) }
    /// ```
    #[inline]
    pub fn is_enabled(&self) -> bool {
        self.inner.events.is_some() && !self.inner.shut_down.load(Ordering::Acquire)
    }

    /// Stops capturing until [`Client::opt_in`]: every capture-type call is a no-op (C-CAPTURE.3).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = posthog::test_util::FakePostHog::start().await;
    /// # let client = posthog::Client::builder("phc_project_token").host(server.url()).build()?;
    /// client.opt_out();
    /// assert!(client.capture(posthog::Event::new("ignored", "user-123")).is_none());
    /// client.opt_in();
    /// assert!(client.capture(posthog::Event::new("counted", "user-123")).is_some());
    /// # Ok(()) }
    /// ```
    pub fn opt_out(&self) {
        self.inner.opted_out.store(true, Ordering::Release);
    }

    /// Resumes capturing after [`Client::opt_out`].
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = posthog::test_util::FakePostHog::start().await;
    /// # let client = posthog::Client::builder("phc_project_token").host(server.url()).build()?;
    /// client.opt_out();
    /// client.opt_in();
    /// assert!(!client.is_opted_out());
    /// # Ok(()) }
    /// ```
    pub fn opt_in(&self) {
        self.inner.opted_out.store(false, Ordering::Release);
    }

    /// Whether capturing is opted out.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = posthog::test_util::FakePostHog::start().await;
    /// # let client = posthog::Client::builder("phc_project_token").host(server.url()).build()?;
    /// assert!(!client.is_opted_out());
    /// client.opt_out();
    /// assert!(client.is_opted_out());
    /// # Ok(()) }
    /// ```
    pub fn is_opted_out(&self) -> bool {
        self.inner.opted_out.load(Ordering::Acquire)
    }

    /// The counters: captured, sent, retried, dropped, failed, filtered, pending.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = posthog::test_util::FakePostHog::start().await;
    /// # let client = posthog::Client::builder("phc_project_token").host(server.url()).build()?;
    /// client.capture(posthog::Event::new("order_placed", "user-123"));
    /// client.flush().await;
    /// let stats = client.stats();
    /// assert_eq!((stats.captured, stats.sent, stats.dropped), (1, 1, 0));
    /// # Ok(()) }
    /// ```
    pub fn stats(&self) -> Stats {
        let mut stats = self.inner.counters.snapshot();
        let lanes = [
            self.inner.events.as_ref().map(Lane::stats),
            self.inner.ai_lane.get().map(Lane::stats),
        ];
        for lane in lanes.into_iter().flatten() {
            let LaneStats {
                queued,
                sent,
                failed,
                dropped,
                retried,
                batches,
            } = lane;
            stats.captured += queued;
            stats.sent += sent;
            stats.failed += failed;
            stats.dropped += dropped;
            stats.retried += retried;
            stats.batches += batches;
        }
        stats.pending = stats.captured.saturating_sub(stats.sent + stats.failed);
        stats
    }

    /// The runtime the worker runs on.
    pub(crate) fn worker_runtime(&self) -> Option<&tokio::runtime::Handle> {
        self.inner.runtime.as_ref()
    }

    /// Where the traces lane lives once started.
    pub(crate) fn traces_cell(&self) -> &std::sync::OnceLock<crate::traces::TracesRuntime> {
        &self.inner.traces
    }

    /// Where the logs lane lives once started.
    pub(crate) fn logs_cell(&self) -> &std::sync::OnceLock<crate::logs::LogsRuntime> {
        &self.inner.logs
    }

    /// Where the AI lane lives once started.
    pub(crate) fn ai_lane_cell(&self) -> &std::sync::OnceLock<crate::lane::Lane<Event>> {
        &self.inner.ai_lane
    }

    /// The counters, for the pipelines that count into them.
    pub(crate) fn counters(&self) -> &Counters {
        &self.inner.counters
    }

    /// Adds the SDK-owned properties an admitted event still lacks.
    pub(crate) fn apply_defaults(&self, event: &mut Event) {
        self.inner.defaults.apply(event);
    }

    /// Delivers everything captured before the call (C-FLUSH): each buffered event gets an
    /// attempt; retryable failures stay queued for a later retry. Returns at once when empty.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = posthog::test_util::FakePostHog::start().await;
    /// # let client = posthog::Client::builder("phc_project_token").host(server.url()).build()?;
    /// client.capture(posthog::Event::new("order_placed", "user-123"));
    /// let report = client.flush().await;
    /// assert_eq!(report.sent, 1);
    /// # Ok(()) }
    /// ```
    pub async fn flush(&self) -> FlushReport {
        let Some(lane) = &self.inner.events else {
            return FlushReport::default();
        };
        let events = async {
            let LaneReport {
                sent,
                failed,
                pending,
                ..
            } = lane.flush().await;
            FlushReport {
                sent,
                failed,
                pending,
            }
        };
        let ai = async {
            match self.inner.ai_lane.get() {
                Some(lane) => Some(lane.flush().await),
                None => None,
            }
        };
        // Logs are flushed too (C-LOGS.13); the report counts events only.
        let logs = async {
            if let Some(logs) = self.inner.logs.get() {
                logs.lane().flush().await;
            }
            if let Some(traces) = self.inner.traces.get() {
                traces.lane().flush().await;
            }
        };
        let (mut report, ai, ()) = tokio::join!(events, ai, logs);
        if let Some(ai) = ai {
            report.sent += ai.sent;
            report.failed += ai.failed;
            report.pending += ai.pending;
        }
        report
    }

    /// [`Client::flush`] with a deadline.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = posthog::test_util::FakePostHog::start().await;
    /// # let client = posthog::Client::builder("phc_project_token").host(server.url()).build()?;
    /// client.capture(posthog::Event::new("order_placed", "user-123"));
    /// let report = client.flush_timeout(std::time::Duration::from_secs(5)).await?;
    /// assert_eq!(report.sent, 1);
    /// # Ok(()) }
    /// ```
    pub async fn flush_timeout(&self, timeout: Duration) -> Result<FlushReport, Error> {
        tokio::time::timeout(timeout, self.flush())
            .await
            .map_err(|_| Error::FlushTimeout(timeout))
    }

    /// Delivers what is queued (retrying as configured) until `timeout`, then stops the worker
    /// (C-SHUTDOWN). Idempotent: later and concurrent calls get the first call's report.
    /// Afterwards every capture call is a no-op.
    ///
    /// It returns by `timeout` plus [`SHUTDOWN_SLACK`], however full the queue and however
    /// unresponsive the server: at the deadline, sends still out are abandoned, and every
    /// event not delivered is counted in the report's `undelivered`, in [`Stats::failed`] and
    /// reported through `on_error` (kind `ShutdownTimeout`) before this returns.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = posthog::test_util::FakePostHog::start().await;
    /// # let client = posthog::Client::builder("phc_project_token").host(server.url()).build()?;
    /// client.capture(posthog::Event::new("order_placed", "user-123"));
    /// let report = client.shutdown(std::time::Duration::from_secs(5)).await;
    /// assert_eq!((report.sent, report.undelivered, report.timed_out), (1, 0, false));
    /// assert!(!client.is_enabled());
    /// # Ok(()) }
    /// ```
    pub async fn shutdown(&self, timeout: Duration) -> ShutdownReport {
        let deadline = Instant::now() + timeout;
        let mut report = self.inner.shutdown_report.lock().await;
        if let Some(done) = *report {
            return done;
        }
        self.inner.shut_down.store(true, Ordering::Release);
        let drained = async {
            let Some(done) = self
                .inner
                .events
                .as_ref()
                .and_then(|lane| lane.stop(deadline))
            else {
                return ShutdownReport::default();
            };
            match tokio::time::timeout_at((deadline + SHUTDOWN_SLACK).into(), done).await {
                Ok(Ok(report)) => ShutdownReport {
                    sent: report.sent,
                    undelivered: report.failed,
                    timed_out: report.timed_out,
                },
                // The worker could not answer in time (its runtime is starved or gone).
                _ => ShutdownReport {
                    timed_out: true,
                    undelivered: self.stats().pending,
                    ..Default::default()
                },
            }
        };
        let flags = tokio::time::timeout_at(deadline.into(), self.inner.flags.shutdown());
        let ai = async {
            match self.inner.ai_lane.get() {
                Some(lane) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    Some(lane.shutdown(left).await)
                }
                None => None,
            }
        };
        let logs = async {
            if let Some(logs) = self.inner.logs.get() {
                let left = deadline.saturating_duration_since(Instant::now());
                logs.lane().shutdown(left).await;
            }
            if let Some(traces) = self.inner.traces.get() {
                let left = deadline.saturating_duration_since(Instant::now());
                traces.lane().shutdown(left).await;
            }
        };
        let (mut outcome, _, ai, ()) = tokio::join!(drained, flags, ai, logs);
        if let Some(ai) = ai {
            outcome.sent += ai.sent;
            outcome.undelivered += ai.failed;
        }
        *report = Some(outcome);
        outcome
    }

    /// [`Client::shutdown`] from synchronous code, blocking this thread: what the global
    /// client's guard does on drop. `None` when it cannot wait here: on a current-thread
    /// runtime (blocking its only thread would stop the worker it waits for; await
    /// [`Client::shutdown`] there instead), when the client was shut down already, or when
    /// its worker is gone.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let runtime = tokio::runtime::Runtime::new()?;
    /// # let server = runtime.block_on(posthog::test_util::FakePostHog::start());
    /// let client = runtime.block_on(async {
    ///     posthog::Client::builder("phc_project_token")
    /// #       .host(server.url())
    ///         .build()
    /// })?;
    /// client.capture(posthog::Event::new("order_placed", "user-123"));
    /// // From synchronous code (not a runtime thread):
    /// let report = client.shutdown_blocking(std::time::Duration::from_secs(5));
    /// assert_eq!(report.map(|r| r.sent), Some(1));
    /// # Ok(()) }
    /// ```
    pub fn shutdown_blocking(&self, timeout: Duration) -> Option<ShutdownReport> {
        if self.inner.shut_down.load(Ordering::Acquire)
            || self.inner.events.as_ref().is_none_or(Lane::worker_gone)
        {
            return None;
        }
        match tokio::runtime::Handle::try_current() {
            Ok(current) => {
                if matches!(
                    current.runtime_flavor(),
                    tokio::runtime::RuntimeFlavor::CurrentThread
                ) {
                    tracing::warn!(target: "posthog", "shutdown_blocking cannot wait on a current-thread runtime: events not yet sent may be lost; await Client::shutdown before exit");
                    return None;
                }
                Some(tokio::task::block_in_place(|| {
                    current.block_on(self.shutdown(timeout))
                }))
            }
            // Outside any runtime: drive the shutdown on the worker's.
            Err(_) => {
                let runtime = self.inner.runtime.as_ref()?;
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    runtime.block_on(self.shutdown(timeout))
                }))
                .ok()
            }
        }
    }

    /// [`Client::shutdown`] with the configured `shutdown_timeout` (30 s by default).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = posthog::test_util::FakePostHog::start().await;
    /// # let client = posthog::Client::builder("phc_project_token").host(server.url()).build()?;
    /// client.capture(posthog::Event::new("order_placed", "user-123"));
    /// let report = client.shutdown_default().await; // within `shutdown_timeout` (30 s by default)
    /// assert_eq!(report.sent, 1);
    /// # Ok(()) }
    /// ```
    pub async fn shutdown_default(&self) -> ShutdownReport {
        self.shutdown(self.inner.options.shutdown_timeout).await
    }
}
