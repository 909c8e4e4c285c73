//! [`ExceptionLayer`]: a `tracing_subscriber::Layer` that sends `tracing` events at or above a
//! level (default `ERROR`) as `$exception` events (feature `tracing`).
//!
//! The event's message becomes the exception's value and its target the type; the other
//! fields become properties; `$exception_source` is `tracing.layer`, `$exception_level` the
//! event's level. The SDK's own diagnostics (target `posthog`) are never sent, so a failing
//! delivery cannot feed itself.

use std::fmt::Write as _;

use posthog_core::Properties;
use posthog_core::exception::{Exception, ExceptionList, Level, Mechanism};
use serde_json::Value;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;

use crate::Client;

/// Sends `tracing` events as `$exception` events.
///
/// ```
/// use tracing_subscriber::layer::SubscriberExt;
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), posthog::Error> {
/// # let server = posthog::test_util::FakePostHog::start().await;
/// let client = posthog::Client::builder("phc_project_token")
/// #   .host(server.url())
///     .build()?;
/// let subscriber = tracing_subscriber::registry().with(posthog::tracing_layer::ExceptionLayer::new(client.clone()));
/// tracing::subscriber::with_default(subscriber, || {
///     tracing::error!(order_id = 42, "payment failed");
/// });
/// # client.flush().await;
/// # assert_eq!(server.events()[0]["event"], "$exception");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct ExceptionLayer {
    client: Client,
    min_level: tracing::Level,
}

impl ExceptionLayer {
    /// Sends `ERROR` events through `client`.
    pub fn new(client: Client) -> Self {
        Self {
            client,
            min_level: tracing::Level::ERROR,
        }
    }

    /// Sends events at `level` and above (e.g. `WARN` for warnings too).
    pub fn min_level(mut self, level: tracing::Level) -> Self {
        self.min_level = level;
        self
    }
}

/// Collects an event's fields: `message` apart, the rest as JSON properties.
#[derive(Default)]
struct Fields {
    message: String,
    distinct_id: Option<String>,
    properties: Properties,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "message" => self.message = value.to_owned(),
            "distinct_id" => self.distinct_id = Some(value.to_owned()),
            name => {
                self.properties
                    .insert(name.to_owned(), Value::String(value.to_owned()));
            }
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.properties
            .insert(field.name().to_owned(), value.into());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.properties
            .insert(field.name().to_owned(), value.into());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.properties
            .insert(field.name().to_owned(), value.into());
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.properties
            .insert(field.name().to_owned(), value.into());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let mut text = String::new();
        let _ = write!(text, "{value:?}");
        self.record_str(field, &text);
    }
}

fn level_of(level: &tracing::Level) -> Level {
    match *level {
        tracing::Level::ERROR => Level::Error,
        tracing::Level::WARN => Level::Warning,
        tracing::Level::INFO => Level::Info,
        _ => Level::Debug,
    }
}

impl<S: Subscriber> Layer<S> for ExceptionLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let meta = event.metadata();
        // More severe levels compare smaller (ERROR < WARN < …).
        if *meta.level() > self.min_level || meta.target().starts_with("posthog") {
            return;
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        let list = ExceptionList {
            exceptions: vec![Exception {
                kind: meta.target().to_owned(),
                value: fields.message,
                module: meta.module_path().map(str::to_owned),
                mechanism: Mechanism {
                    kind: Some("logger".into()),
                    handled: Some(true),
                    exception_id: 0,
                    ..Mechanism::default()
                },
                stacktrace: None,
            }],
            level: level_of(meta.level()),
            fingerprint: None,
        };
        let id = fields.distinct_id.unwrap_or_default();
        if let Some(mut event) = self
            .client
            .exception_event_for(&id, &list, fields.properties)
        {
            event.set_default("$exception_source", "tracing.layer");
            if let (Some(file), Some(line)) = (meta.file(), meta.line()) {
                event.set_default("$exception_log_location", format!("{file}:{line}"));
            }
            self.client.capture(event);
        }
    }
}
