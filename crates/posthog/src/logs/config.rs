//! [`LogsConfig`]: the settings of PostHog Logs (C-LOGS.11).

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};

use super::Log;

/// A `before_send` hook for logs: returns the log (changed or not) or `None` to drop it. A
/// hook that panics is skipped and the chain goes on with the log as it was (fail-open,
/// C-LOGS.16: unlike events).
pub type LogHook = Arc<dyn Fn(Log) -> Option<Log> + Send + Sync>;

/// How logs are batched, bounded and described.
///
/// Defaults, chosen for servers: a request every 3 s or every 500 records, at most 10,000
/// records held (the oldest dropped first, with a warning), at most 10,000 logs accepted per
/// second (the rest dropped, one warning per second), 3 retries of a failing request, gzip,
/// service name `unknown_service`.
///
/// ```
/// use std::time::Duration;
/// let logs = posthog::logs::LogsConfig::new()
///     .service("checkout", Some("1.4.2"))
///     .environment("production")
///     .batching(Duration::from_secs(2), 200)
///     .rate_limit(1_000, Duration::from_secs(1));
/// let builder = posthog::Client::builder("phc_project_token").logs(logs);
/// # let _ = builder;
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct LogsConfig {
    /// The longest a record waits before a request (default 3 s).
    pub flush_interval: Duration,
    /// Records per request; a request is sent as soon as this many wait (default 500).
    pub flush_at: usize,
    /// Records held at most; past it the oldest is dropped (default 10,000).
    pub max_buffered: usize,
    /// Logs accepted per `rate_window` (default 10,000); `0` turns the cap off.
    pub rate_limit: u32,
    /// The tumbling window of `rate_limit` (default 1 s).
    pub rate_window: Duration,
    /// Retries of a failing request before its records are given up (default 3).
    pub max_retries: u32,
    /// Gzip request bodies (default on).
    pub gzip: bool,
    /// `service.name` (default `unknown_service`).
    pub service_name: String,
    /// `service.version`.
    pub service_version: Option<String>,
    /// `deployment.environment`.
    pub environment: Option<String>,
    /// More resource attributes (the SDK's `service.*` and `telemetry.sdk.*` win).
    pub resource_attributes: Map<String, Value>,
    pub(crate) before_send: Vec<LogHook>,
}

impl Default for LogsConfig {
    fn default() -> Self {
        Self {
            flush_interval: Duration::from_secs(3),
            flush_at: 500,
            max_buffered: 10_000,
            rate_limit: 10_000,
            rate_window: Duration::from_secs(1),
            max_retries: 3,
            gzip: true,
            service_name: "unknown_service".into(),
            service_version: None,
            environment: None,
            resource_attributes: Map::new(),
            before_send: Vec::new(),
        }
    }
}

impl std::fmt::Debug for LogsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogsConfig")
            .field("flush_interval", &self.flush_interval)
            .field("flush_at", &self.flush_at)
            .field("max_buffered", &self.max_buffered)
            .field("rate_limit", &self.rate_limit)
            .field("service_name", &self.service_name)
            .field("before_send", &self.before_send.len())
            .finish_non_exhaustive()
    }
}

impl LogsConfig {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `service.name`, and `service.version` when given.
    pub fn service(mut self, name: impl Into<String>, version: Option<&str>) -> Self {
        self.service_name = name.into();
        self.service_version = version.map(str::to_owned);
        self
    }

    /// Sets `deployment.environment`.
    pub fn environment(mut self, environment: impl Into<String>) -> Self {
        self.environment = Some(environment.into());
        self
    }

    /// Sets the flush interval and the records per request.
    pub fn batching(mut self, flush_interval: Duration, flush_at: usize) -> Self {
        self.flush_interval = flush_interval;
        self.flush_at = flush_at.max(1);
        self
    }

    /// Sets the records held at most.
    pub fn max_buffered(mut self, records: usize) -> Self {
        self.max_buffered = records.max(1);
        self
    }

    /// Sets the rate cap: at most `logs` per `window` (`0` turns it off).
    pub fn rate_limit(mut self, logs: u32, window: Duration) -> Self {
        self.rate_limit = logs;
        self.rate_window = window;
        self
    }

    /// Adds a resource attribute.
    pub fn resource_attribute(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.resource_attributes.insert(key.into(), value.into());
        self
    }

    /// Adds a `before_send` hook (run in the order added).
    pub fn before_send(
        mut self,
        hook: impl Fn(Log) -> Option<Log> + Send + Sync + 'static,
    ) -> Self {
        self.before_send.push(Arc::new(hook));
        self
    }

    /// Turns gzip on or off.
    pub fn gzip(mut self, on: bool) -> Self {
        self.gzip = on;
        self
    }
}
