//! [`PostHogLogger`]: a `log::Log` that ships `log` records as PostHog log records (feature
//! `log`): the message as the body, the target and the source location as attributes, at or
//! above a level (default `Info`). Records from the SDK's own targets (`posthog…`) are never
//! shipped.

use serde_json::Map;

use super::{Log, LogLevel};
use crate::Client;

/// Ships `log` records as PostHog log records.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), posthog::Error> {
/// # let server = posthog::test_util::FakePostHog::start().await;
/// let client = posthog::Client::builder("phc_project_token")
/// #   .host(server.url())
///     .build()?;
/// let logger = posthog::logs::PostHogLogger::new(client.clone());
/// // In a program: `logger.install()` once, then `log::info!(…)` anywhere.
/// use log::Log;
/// logger.log(&log::Record::builder().args(format_args!("service ready")).level(log::Level::Info).target("app").build());
/// # client.flush().await;
/// # assert_eq!(server.log_records()[0]["body"]["stringValue"], "service ready");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct PostHogLogger {
    client: Client,
    level: log::LevelFilter,
}

impl PostHogLogger {
    /// A logger shipping `Info` and above.
    pub fn new(client: Client) -> Self {
        Self {
            client,
            level: log::LevelFilter::Info,
        }
    }

    /// Ships records at `level` and above.
    pub fn level(mut self, level: log::LevelFilter) -> Self {
        self.level = level;
        self
    }

    /// Makes this the process's `log` logger (and sets `log`'s maximum level to this one's).
    ///
    /// # Errors
    ///
    /// When a logger is installed already.
    pub fn install(self) -> Result<(), log::SetLoggerError> {
        let level = self.level;
        log::set_boxed_logger(Box::new(self))?;
        log::set_max_level(level);
        Ok(())
    }
}

fn level_of(level: log::Level) -> LogLevel {
    match level {
        log::Level::Trace => LogLevel::Trace,
        log::Level::Debug => LogLevel::Debug,
        log::Level::Info => LogLevel::Info,
        log::Level::Warn => LogLevel::Warn,
        log::Level::Error => LogLevel::Error,
    }
}

impl log::Log for PostHogLogger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= self.level && !metadata.target().starts_with("posthog")
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let mut attributes = Map::new();
        attributes.insert("target".into(), record.target().into());
        if let Some(module) = record.module_path() {
            attributes.insert("code.namespace".into(), module.into());
        }
        if let Some(file) = record.file() {
            attributes.insert("code.filepath".into(), file.into());
        }
        if let Some(line) = record.line() {
            attributes.insert("code.lineno".into(), line.into());
        }
        self.client.capture_log(
            Log::new(record.args().to_string())
                .level(level_of(record.level()))
                .attributes(attributes),
        );
    }

    fn flush(&self) {}
}
