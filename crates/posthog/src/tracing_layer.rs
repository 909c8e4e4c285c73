//! [`ExceptionLayer`]: a `tracing_subscriber::Layer` that sends `tracing` events at or above a
//! level (default `ERROR`) as `$exception` events (feature `tracing`).
//!
//! The event's message becomes the exception's value and its target the type; the other
//! fields become properties; `$exception_source` is `tracing.layer`, `$exception_level` the
//! event's level. The SDK's own diagnostics (target `posthog`) are never sent, so a failing
//! delivery cannot feed itself.
//!
//! With [`ExceptionLayer::recent_events`] the layer also remembers the last few events below
//! the capture level and attaches them to the next `$exception` as `$recent_events` (oldest
//! first): per outermost span when the events happen inside one (one request's history), else
//! in one buffer for the whole layer. Off by default; when off it costs nothing.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use posthog_core::Properties;
use posthog_core::exception::{Exception, ExceptionList, Level, Mechanism};
use serde_json::Value;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

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
    recent: Option<Recent>,
}

/// The recent-events settings and the buffer for events outside any span.
#[derive(Debug, Clone)]
struct Recent {
    capacity: usize,
    min_level: tracing::Level,
    outside_spans: Arc<Mutex<RecentEvents>>,
}

/// The last events, oldest first, at most `capacity`.
#[derive(Debug, Default)]
struct RecentEvents(VecDeque<Value>);

impl RecentEvents {
    fn push(&mut self, capacity: usize, entry: Value) {
        if self.0.len() >= capacity {
            self.0.pop_front();
        }
        self.0.push_back(entry);
    }

    fn take(&mut self) -> Vec<Value> {
        self.0.drain(..).collect()
    }
}

impl ExceptionLayer {
    /// Sends `ERROR` events through `client`.
    pub fn new(client: Client) -> Self {
        Self {
            client,
            min_level: tracing::Level::ERROR,
            recent: None,
        }
    }

    /// Attaches up to `capacity` of the most recent events at `level` and above (but below the
    /// capture level) to each `$exception` as `$recent_events`: a list of `{timestamp, level,
    /// target, message, fields}`, oldest first. Events inside a span are kept with their
    /// outermost span, so a request's exception carries that request's history; an exception
    /// takes the history it reports, which then starts afresh. `capacity` 0 turns it off.
    pub fn recent_events(mut self, capacity: usize, level: tracing::Level) -> Self {
        self.recent = (capacity > 0).then(|| Recent {
            capacity,
            min_level: level,
            outside_spans: Arc::default(),
        });
        self
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

impl ExceptionLayer {
    /// Runs `f` on the buffer an event belongs to: its outermost span's, else the layer's.
    fn with_buffer<S, R>(
        &self,
        recent: &Recent,
        event: &Event<'_>,
        ctx: &Context<'_, S>,
        f: impl FnOnce(&mut RecentEvents) -> R,
    ) -> R
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        if let Some(root) = ctx
            .event_scope(event)
            .and_then(|scope| scope.from_root().next())
        {
            let mut extensions = root.extensions_mut();
            if extensions.get_mut::<RecentEvents>().is_none() {
                extensions.insert(RecentEvents::default());
            }
            if let Some(buffer) = extensions.get_mut::<RecentEvents>() {
                return f(buffer);
            }
        }
        let mut buffer = recent
            .outside_spans
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&mut buffer)
    }
}

/// One remembered event.
fn recent_entry(meta: &tracing::Metadata<'_>, fields: Fields) -> Value {
    serde_json::json!({
        "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        "level": meta.level().as_str(),
        "target": meta.target(),
        "message": fields.message,
        "fields": fields.properties,
    })
}

impl<S> Layer<S> for ExceptionLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let meta = event.metadata();
        if meta.target().starts_with("posthog") {
            return;
        }
        // More severe levels compare smaller (ERROR < WARN < …).
        if *meta.level() > self.min_level {
            if let Some(recent) = &self.recent {
                if *meta.level() <= recent.min_level {
                    let mut fields = Fields::default();
                    event.record(&mut fields);
                    let entry = recent_entry(meta, fields);
                    self.with_buffer(recent, event, &ctx, |b| b.push(recent.capacity, entry));
                }
            }
            return;
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        if let Some(recent) = &self.recent {
            let history = self.with_buffer(recent, event, &ctx, RecentEvents::take);
            if !history.is_empty() {
                fields
                    .properties
                    .insert("$recent_events".into(), Value::Array(history));
            }
        }
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
