//! [`SpansLayer`]: a `tracing_subscriber::Layer` that turns `tracing` spans into PostHog spans
//! (feature `tracing`): the span's name, its fields as attributes, its parent from the
//! `tracing` span tree, `tracing` events inside it as span events (an `ERROR` event also sets
//! status error), ended when the `tracing` span closes. A service instrumented with
//! `#[instrument]` sends traces with no other code. The SDK's own spans (target `posthog…`)
//! are skipped.

use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use super::{Parent, Span, SpanOptions, SpanStatus};
use crate::Client;
use crate::tracing_fields::Fields;

/// Turns `tracing` spans into PostHog spans.
///
/// ```
/// use tracing_subscriber::layer::SubscriberExt;
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), posthog::Error> {
/// # let server = posthog::test_util::FakePostHog::start().await;
/// let client = posthog::Client::builder("phc_project_token")
/// #   .host(server.url())
///     .traces(posthog::traces::TracesConfig::new())
///     .build()?;
/// let layer = posthog::traces::SpansLayer::new(client.clone());
/// tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
///     let _span = tracing::info_span!("checkout", order_id = 42).entered();
/// });
/// # client.flush().await;
/// # assert_eq!(server.spans()[0]["name"], "checkout");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct SpansLayer {
    client: Client,
}

impl SpansLayer {
    /// A layer recording every `tracing` span.
    pub fn new(client: Client) -> Self {
        Self { client }
    }
}

impl<S> Layer<S> for SpansLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else {
            return;
        };
        if span.metadata().target().starts_with("posthog") {
            return;
        }
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        // The parent is the nearest enclosing `tracing` span we recorded.
        let parent = span
            .scope()
            .skip(1)
            .find_map(|ancestor| ancestor.extensions().get::<Span>().cloned());
        let mut opts = SpanOptions::new();
        opts.attributes = fields.map;
        if let Some(parent) = parent {
            opts = opts.parent(Parent::Span(parent));
        }
        let posthog_span = self.client.start_span(span.metadata().name(), opts);
        span.extensions_mut().insert(posthog_span);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else {
            return;
        };
        let mut fields = Fields::default();
        values.record(&mut fields);
        if let Some(posthog_span) = span.extensions().get::<Span>() {
            posthog_span.set_attributes(fields.map);
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.event_span(event) else {
            return;
        };
        let extensions = span.extensions();
        let Some(posthog_span) = extensions.get::<Span>() else {
            return;
        };
        let mut fields = Fields::default();
        event.record(&mut fields);
        let name = fields
            .message
            .unwrap_or_else(|| event.metadata().name().to_owned());
        if *event.metadata().level() == tracing::Level::ERROR {
            posthog_span.set_status(SpanStatus::Error(name.clone()));
        }
        posthog_span.add_event(name, fields.map);
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(&id) {
            if let Some(posthog_span) = span.extensions().get::<Span>() {
                posthog_span.end();
            }
        }
    }
}
