//! [`LogsLayer`]: a `tracing_subscriber::Layer` that ships `tracing` events as PostHog log
//! records (feature `tracing`): the message as the body, the event's fields and those of the
//! spans it happens in as attributes (the event's win, then the innermost span's), its target
//! as `target`. Events at or above a level (default `INFO`). The SDK's own diagnostics (target
//! `posthog…`) are never shipped, so there is no feedback loop.

use serde_json::{Map, Value};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use super::{Log, LogLevel};
use crate::Client;
use crate::tracing_fields::Fields;

/// Ships `tracing` events as PostHog log records.
///
/// ```
/// use tracing_subscriber::layer::SubscriberExt;
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), posthog::Error> {
/// # let server = posthog::test_util::FakePostHog::start().await;
/// let client = posthog::Client::builder("phc_project_token")
/// #   .host(server.url())
///     .build()?;
/// let layer = posthog::logs::LogsLayer::new(client.clone());
/// tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
///     tracing::info!(region = "eu", "service ready");
/// });
/// # client.flush().await;
/// # assert_eq!(server.log_records()[0]["body"]["stringValue"], "service ready");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct LogsLayer {
    client: Client,
    min_level: tracing::Level,
}

impl LogsLayer {
    /// A layer shipping events at `INFO` and above.
    pub fn new(client: Client) -> Self {
        Self {
            client,
            min_level: tracing::Level::INFO,
        }
    }

    /// Ships events at `level` and above.
    pub fn min_level(mut self, level: tracing::Level) -> Self {
        self.min_level = level;
        self
    }
}

/// A span's fields, kept in its extensions.
struct SpanFields(Map<String, Value>);

fn level_of(level: &tracing::Level) -> LogLevel {
    match *level {
        tracing::Level::TRACE => LogLevel::Trace,
        tracing::Level::DEBUG => LogLevel::Debug,
        tracing::Level::INFO => LogLevel::Info,
        tracing::Level::WARN => LogLevel::Warn,
        tracing::Level::ERROR => LogLevel::Error,
    }
}

impl<S> Layer<S> for LogsLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else {
            return;
        };
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        span.extensions_mut().insert(SpanFields(fields.map));
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else {
            return;
        };
        let mut fields = Fields::default();
        values.record(&mut fields);
        if let Some(SpanFields(map)) = span.extensions_mut().get_mut::<SpanFields>() {
            map.extend(fields.map);
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let meta = event.metadata();
        if meta.target().starts_with("posthog") || *meta.level() > self.min_level {
            return;
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        let mut attributes = Map::new();
        if let Some(scope) = ctx.event_scope(event) {
            // Outermost first, so inner spans' fields win.
            for span in scope.from_root() {
                if let Some(SpanFields(map)) = span.extensions().get::<SpanFields>() {
                    attributes.extend(map.clone());
                }
            }
        }
        attributes.extend(fields.map);
        attributes.insert("target".into(), meta.target().into());
        let body = fields.message.unwrap_or_else(|| meta.name().to_owned());
        let mut log = Log::new(body)
            .level(level_of(meta.level()))
            .attributes(attributes);
        // Inside a `tracing` span that `traces::SpansLayer` recorded, the record carries that
        // PostHog span's ids (else `capture_log` takes the active span's, if any).
        let recorded = ctx.event_scope(event).and_then(|mut scope| {
            scope.find_map(|span| {
                span.extensions()
                    .get::<crate::traces::Span>()
                    .and_then(crate::traces::Span::ids_hex)
            })
        });
        if let Some((trace_id, span_id)) = recorded {
            log = log.trace(trace_id, span_id);
        }
        self.client.capture_log(log);
    }
}
