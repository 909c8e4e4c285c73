//! PostHog Logs (C-LOGS): log records shipped as OTLP/HTTP JSON to `/i/v1/logs`, on a lane of
//! their own (a route on the shared delivery lane, apart from the events lane), started on
//! the first log. `capture_log` and the [`Logger`] facade admit a log (disabled, opted out,
//! empty body, `before_send`, rate cap, in that order), freeze the context's ids into it and
//! queue it; the lane batches, gzips and retries.

mod config;
#[cfg(feature = "tracing")]
mod layer;
#[cfg(feature = "log")]
mod log_crate;
mod rate;

pub use config::{LogHook, LogsConfig};
#[cfg(feature = "tracing")]
pub use layer::LogsLayer;
#[cfg(feature = "log")]
pub use log_crate::PostHogLogger;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use posthog_core::logs::{LogRecord, envelope};
use posthog_transport::Transport;
use serde_json::{Map, Value};

pub use posthog_core::logs::LogLevel;

use crate::Client;
use crate::lane::{Arena, Lane, LaneConfig, Outgoing, Overflow, Refusal, Route, SendFuture};

/// The logs endpoint.
pub const LOGS_PATH: &str = "/i/v1/logs";

/// The most bytes one logs request carries (the service refuses bodies over 2 MB).
const MAX_REQUEST_BYTES: usize = 1_500_000;

/// One log to capture.
///
/// ```
/// use posthog::logs::{Log, LogLevel};
/// let log = Log::new("checkout failed")
///     .level(LogLevel::Error)
///     .attribute("order_id", 1234)
///     .trace("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7");
/// assert_eq!(log.level, LogLevel::Error);
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Log {
    /// The message.
    pub body: String,
    /// The level (default `Info`).
    pub level: LogLevel,
    /// Attributes.
    pub attributes: Map<String, Value>,
    /// The trace id (32 hex digits).
    pub trace_id: Option<String>,
    /// The span id (16 hex digits).
    pub span_id: Option<String>,
    /// The trace flags (`0` is sent as `0`).
    pub trace_flags: Option<u32>,
}

impl Log {
    /// A log at level `Info`.
    pub fn new(body: impl Into<String>) -> Self {
        Self {
            body: body.into(),
            level: LogLevel::Info,
            attributes: Map::new(),
            trace_id: None,
            span_id: None,
            trace_flags: None,
        }
    }

    /// Sets the level.
    pub fn level(mut self, level: LogLevel) -> Self {
        self.level = level;
        self
    }

    /// Adds an attribute.
    pub fn attribute(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.attributes.insert(key.into(), value.into());
        self
    }

    /// Sets the attributes.
    pub fn attributes(mut self, attributes: Map<String, Value>) -> Self {
        self.attributes = attributes;
        self
    }

    /// Links the log to a trace and span.
    pub fn trace(mut self, trace_id: impl Into<String>, span_id: impl Into<String>) -> Self {
        self.trace_id = Some(trace_id.into());
        self.span_id = Some(span_id.into());
        self
    }

    /// Sets the trace flags.
    pub fn trace_flags(mut self, flags: u32) -> Self {
        self.trace_flags = Some(flags);
        self
    }
}

/// The logs lane and what admission keeps.
pub(crate) struct LogsRuntime {
    lane: Lane<LogRecord>,
    rate: rate::RateCap,
    /// The last `timeUnixNano` given, so times within a millisecond still increase.
    last_nanos: AtomicU64,
}

impl LogsRuntime {
    /// The lane, for flush and shutdown.
    pub(crate) fn lane(&self) -> &Lane<LogRecord> {
        &self.lane
    }

    /// Now in nanoseconds since the epoch (milliseconds × 1,000,000), made strictly larger
    /// than the last one given (C-LOGS.4).
    fn next_time(&self) -> u64 {
        let millis = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let now = millis.saturating_mul(1_000_000);
        let mut last = self.last_nanos.load(Ordering::Relaxed);
        loop {
            let next = now.max(last.saturating_add(1));
            match self.last_nanos.compare_exchange_weak(
                last,
                next,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return next,
                Err(seen) => last = seen,
            }
        }
    }
}

/// The logs route: records encoded once on the lane's worker; a request is one resource,
/// one scope, its records, gzipped.
struct LogsRoute {
    resource: Map<String, Value>,
    path: String,
    gzip: bool,
}

impl Route for LogsRoute {
    type Item = LogRecord;

    fn name(&self) -> &'static str {
        "logs"
    }

    fn encode(&self, record: LogRecord, _arena: &mut Arena) -> Result<Bytes, Refusal> {
        let mut out = Vec::with_capacity(256 + record.body.len());
        record.write_otlp(&mut out);
        Ok(Bytes::from(out))
    }

    fn send<'a>(&'a self, transport: &'a Transport, batch: &'a Outgoing) -> SendFuture<'a> {
        let scope = (posthog_core::LIB_NAME, posthog_core::LIB_VERSION);
        let body = envelope(&self.resource, scope, batch.bodies());
        crate::routes::post(transport, &self.path, body, Some(self.gzip), false)
    }
}

/// The logger facade (C-LOGS.1): `client.logger().info("ready", attributes)`.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = posthog::test_util::FakePostHog::start().await;
/// # let client = posthog::Client::builder("phc_project_token").host(server.url()).build()?;
/// let log = client.logger();
/// log.warn("retrying payment", serde_json::Map::new());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Logger<'a> {
    client: &'a Client,
}

macro_rules! level_method {
    ($(#[$doc:meta] $name:ident => $level:ident),* $(,)?) => {
        impl Logger<'_> {
            $(
                #[$doc]
                pub fn $name(&self, body: impl Into<String>, attributes: Map<String, Value>) -> bool {
                    self.client
                        .capture_log(Log::new(body).level(LogLevel::$level).attributes(attributes))
                }
            )*
        }
    };
}

level_method! {
    /// A `TRACE` log (severity 1).
    trace => Trace,
    /// A `DEBUG` log (severity 5).
    debug => Debug,
    /// An `INFO` log (severity 9).
    info => Info,
    /// A `WARN` log (severity 13).
    warn => Warn,
    /// An `ERROR` log (severity 17).
    error => Error,
    /// A `FATAL` log (severity 21).
    fatal => Fatal,
}

impl Client {
    /// Captures a log record for PostHog Logs; `true` when it was queued. It is dropped
    /// silently, in this order, when the client is disabled or shut down, opted out, the body
    /// is empty or blank, a `before_send` hook drops it or blanks its body, or the rate cap is
    /// reached (C-LOGS.2). The active context's distinct id and session id are frozen into it
    /// as `posthogDistinctId` and `sessionId` (the log's own attributes win). Never blocks.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = posthog::test_util::FakePostHog::start().await;
    /// # let client = posthog::Client::builder("phc_project_token").host(server.url()).build()?;
    /// use posthog::logs::{Log, LogLevel};
    /// client.capture_log(Log::new("payment failed").level(LogLevel::Error).attribute("order_id", 42));
    /// # client.flush().await;
    /// # assert_eq!(server.log_records().len(), 1);
    /// # Ok(()) }
    /// ```
    pub fn capture_log(&self, log: Log) -> bool {
        if !self.is_enabled() || self.is_opted_out() || log.body.trim().is_empty() {
            return false;
        }
        let config = &self.options().logs;
        let Some(mut log) = run_hooks(&config.before_send, log) else {
            return false;
        };
        let Some(runtime) = self.logs_runtime() else {
            return false;
        };
        if !runtime.rate.admit() {
            return false;
        }
        let (distinct_id, session_id) = crate::context::current_ids();
        for (key, value) in [
            ("posthogDistinctId", distinct_id),
            ("sessionId", session_id),
        ] {
            if let Some(value) = value.filter(|v| !v.is_empty()) {
                log.attributes.entry(key).or_insert(value.into());
            }
        }
        // Inside an active span, the log carries its ids (C-TRACES.6).
        if log.trace_id.is_none() {
            if let Some((trace_id, span_id)) =
                crate::traces::active_span().and_then(|span| span.ids_hex())
            {
                log.trace_id = Some(trace_id);
                log.span_id = Some(span_id);
            }
        }
        let record = LogRecord {
            body: log.body,
            level: log.level,
            attributes: log.attributes,
            time_unix_nano: u128::from(runtime.next_time()),
            trace_id: log.trace_id,
            span_id: log.span_id,
            trace_flags: log.trace_flags,
        };
        runtime.lane.push(record)
    }

    /// The logger facade: `trace`, `debug`, `info`, `warn`, `error`, `fatal`, each
    /// `capture_log` at that level.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = posthog::test_util::FakePostHog::start().await;
    /// # let client = posthog::Client::builder("phc_project_token").host(server.url()).build()?;
    /// let mut attributes = serde_json::Map::new();
    /// attributes.insert("port".into(), 8080.into());
    /// client.logger().info("server ready", attributes);
    /// # client.flush().await;
    /// # assert_eq!(server.log_records().len(), 1);
    /// # Ok(()) }
    /// ```
    pub fn logger(&self) -> Logger<'_> {
        Logger { client: self }
    }

    /// The logs lane, started on the first log; `None` when the client sends nothing.
    fn logs_runtime(&self) -> Option<&LogsRuntime> {
        let (transport, runtime) = (self.transport()?, self.worker_runtime()?);
        Some(self.logs_cell().get_or_init(|| {
            let options = self.options();
            let config = &options.logs;
            let token = posthog_transport::query_escape(transport.project_token().as_str());
            let route = LogsRoute {
                resource: crate::routes::resource(
                    &config.service_name,
                    config.service_version.as_deref(),
                    config.environment.as_deref(),
                    &config.resource_attributes,
                ),
                path: format!("{LOGS_PATH}?token={token}"),
                gzip: config.gzip,
            };
            let lane_config = LaneConfig {
                queue_size: config.max_buffered.max(1),
                overflow: Overflow::DropOldest,
                flush_at: config.flush_at.max(1),
                flush_interval: config.flush_interval,
                max_item_bytes: MAX_REQUEST_BYTES,
                max_batch_bytes: MAX_REQUEST_BYTES,
                max_in_flight: 1,
                max_held_bytes: 32 * 1024 * 1024,
                retry_for: options.retry_for,
                max_retries: Some(config.max_retries),
                backoff_base: std::time::Duration::from_millis(200),
                backoff_cap: std::time::Duration::from_secs(30),
                ..LaneConfig::default()
            };
            let on_loss = crate::routes::report_losses(options.on_error.clone(), Some("logs"));
            LogsRuntime {
                lane: Lane::start(route, transport.clone(), lane_config, on_loss, runtime),
                rate: rate::RateCap::new(config.rate_limit, config.rate_window),
                last_nanos: AtomicU64::new(0),
            }
        }))
    }
}

/// Runs the logs hooks in order, fail-open: a hook that panics is skipped (C-LOGS.16). `None`
/// when one drops the log or blanks its body.
fn run_hooks(hooks: &[LogHook], mut log: Log) -> Option<Log> {
    for hook in hooks {
        let before = log.clone();
        match crate::hooks::contain(|| hook(log)) {
            Some(Some(next)) => log = next,
            Some(None) => return None,
            None => {
                tracing::warn!(target: "posthog", "a logs before_send hook panicked; the log goes on unchanged");
                log = before;
            }
        }
        if log.body.trim().is_empty() {
            return None;
        }
    }
    Some(log)
}
