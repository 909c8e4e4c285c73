//! The AI lane (C-CAPTURE-AI): LLM analytics events admitted as `capture` admits them, then
//! sent on a lane of their own to `POST /i/v0/ai/batch/` in the `/batch/` body shape, never in
//! the same request as analytics events. A route on the shared delivery lane (`lane/`),
//! started on first use.

use std::time::Duration;

use bytes::Bytes;
use chrono::Utc;
use posthog_core::Event;
use posthog_transport::Transport;
use uuid::Uuid;

use crate::Client;
use crate::capture::Envelope;
use crate::lane::{
    Arena, Lane, LaneConfig, LossKind, Outgoing, Overflow, Refusal, Route, SendFuture,
};
use crate::report::{DeliveryError, DeliveryErrorKind};

/// The AI endpoint.
pub const AI_PATH: &str = "/i/v0/ai/batch/";

/// The largest AI event sent (its serialised JSON); a larger one is dropped, logged with its
/// name and size only.
pub const MAX_AI_EVENT_BYTES: usize = 8 * 1024 * 1024;

/// About how much one AI request carries (an event larger than this goes alone).
pub const AI_BATCH_BYTES: usize = 5 * 1024 * 1024;

/// The AI lane's route: events already admitted and stamped, serialised once on the lane's
/// worker (so a retry resends exactly what was stamped, C-CAPTURE-AI.6).
struct AiRoute {
    envelope: Envelope,
}

impl Route for AiRoute {
    type Item = Event;

    fn name(&self) -> &'static str {
        "ai"
    }

    fn id(&self, event: &Event) -> Option<u128> {
        event.get_uuid().map(|uuid| uuid.as_u128())
    }

    fn encode(&self, event: Event, arena: &mut Arena) -> Result<Bytes, Refusal> {
        let json = arena.json(&event).map_err(|e| {
            Refusal::invalid(format!(
                "AI event {:?} did not serialise: {e}",
                event.name()
            ))
        })?;
        if json.len() > MAX_AI_EVENT_BYTES {
            // Only the name and the size: never the content (C-CAPTURE-AI.5).
            tracing::warn!(target: "posthog", event = event.name(), bytes = json.len(), "AI event over the 8 MiB cap dropped");
            return Err(Refusal::too_large(format!(
                "AI event {:?} of {} bytes is over the {MAX_AI_EVENT_BYTES}-byte cap; dropped",
                event.name(),
                json.len()
            )));
        }
        Ok(json)
    }

    fn send<'a>(&'a self, transport: &'a Transport, batch: &'a Outgoing) -> SendFuture<'a> {
        let body = self.envelope.body_of(batch.bodies());
        crate::routes::post(transport, AI_PATH, body.to_vec(), None, false)
    }
}

/// The lane's settings from the client's: its own queue of the client's size, the client's
/// batch count and interval, AI-sized byte caps.
pub(crate) fn config(options: &crate::client::config::Options) -> LaneConfig {
    LaneConfig {
        queue_size: options.max_queue_size.max(1),
        overflow: Overflow::DropIncoming,
        flush_at: options.flush_at.max(1),
        flush_interval: options.flush_interval,
        max_item_bytes: MAX_AI_EVENT_BYTES,
        max_batch_bytes: AI_BATCH_BYTES,
        max_in_flight: 2,
        max_held_bytes: options.max_pending_bytes,
        retry_for: options.retry_for,
        max_retries: options.max_retries,
        backoff_base: Duration::from_millis(200),
        backoff_cap: Duration::from_secs(30),
        ..LaneConfig::default()
    }
}

impl Client {
    /// Captures an LLM analytics event (`$ai_generation`, `$ai_span`, `$ai_trace`,
    /// `$ai_embedding`, …) on the AI lane: admitted exactly as [`Client::capture`] admits
    /// events (validation, envelope, `$lib`, context, `before_send`), then sent to
    /// `/i/v0/ai/batch/` on a lane of its own (its own queue, batches of about 5 MiB, retries
    /// and counters; started on first use), never with analytics events. Returns the event's
    /// uuid (the caller's, else a generated one), or `None` when it was not admitted. Events
    /// over 8 MiB are dropped, logged with their name and size only, and reported through
    /// `on_error`. Nothing is redacted or truncated. [`Client::capture`] never reroutes
    /// `$ai_*` events (C-CAPTURE-AI).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = posthog::test_util::FakePostHog::start().await;
    /// # let client = posthog::Client::builder("phc_project_token").host(server.url()).build()?;
    /// use posthog::AiEvent;
    /// let generation = AiEvent::generation("user-123", "trace-1", "gpt-4o-mini", "openai")
    ///     .tokens(120, 48)
    ///     .latency(std::time::Duration::from_millis(850));
    /// client.capture_ai(generation.into());
    /// # client.flush().await;
    /// # assert_eq!(server.ai_events()[0]["event"], "$ai_generation");
    /// # Ok(()) }
    /// ```
    pub fn capture_ai(&self, event: Event) -> Option<Uuid> {
        let mut event = self.admit(event, Utc::now())?;
        if !self.defaults_set_at_admission() {
            self.apply_defaults(&mut event);
        }
        let uuid = event.get_uuid();
        if !self.options().send {
            return uuid;
        }
        let lane = self.ai_lane()?;
        lane.push(event).then_some(uuid).flatten()
    }

    /// [`Client::capture_ai`] delivered now, one request, returning the outcome (as
    /// [`Client::capture_immediate`] is to `capture`): `Ok(None)` when the event was not
    /// admitted or is over the 8 MiB cap (dropped and reported), `Ok(Some(uuid))` once PostHog
    /// accepted it, `Err` when the delivery failed (also reported through `on_error`).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = posthog::test_util::FakePostHog::start().await;
    /// # let client = posthog::Client::builder("phc_project_token").host(server.url()).build()?;
    /// let span = posthog::AiEvent::span("user-123", "trace-1").span_name("retrieve documents");
    /// let uuid = client.capture_ai_immediate(span.into()).await?;
    /// assert!(uuid.is_some());
    /// # Ok(()) }
    /// ```
    pub async fn capture_ai_immediate(&self, event: Event) -> Result<Option<Uuid>, crate::Error> {
        let Some(mut event) = self.admit(event, Utc::now()) else {
            return Ok(None);
        };
        let transport = self.transport().ok_or(crate::Error::Shutdown)?;
        if !self.defaults_set_at_admission() {
            self.apply_defaults(&mut event);
        }
        let uuid = event.get_uuid().unwrap_or_default();
        let options = self.options();
        let route = AiRoute {
            envelope: Envelope::new(&options.api_key, options.historical_migration),
        };
        let report = |kind, status, message: String| {
            let error = DeliveryError {
                kind,
                count: 1,
                uuids: vec![uuid],
                status,
                message,
            };
            crate::report::report(self.counters(), options.on_error.as_ref(), error, true);
        };
        let json = match route.encode(event, &mut Arena::default()) {
            Ok(json) => json,
            Err(refusal) => {
                let kind = match refusal.kind {
                    LossKind::TooLarge => DeliveryErrorKind::EventTooLarge,
                    _ => DeliveryErrorKind::Invalid,
                };
                report(kind, None, refusal.message);
                return Ok(None);
            }
        };
        crate::report::Counters::add(&self.counters().captured, 1);
        let batch = Outgoing {
            items: vec![crate::lane::Encoded {
                id: Some(uuid.as_u128()),
                bytes: json,
            }],
            attempt: 1,
            key: posthog_core::ids::new_uuid(),
            first_attempt: Utc::now(),
        };
        let outcome = match route.send(transport, &batch).await {
            Ok(answer) if answer.status.is_success() => {
                crate::report::Counters::add(&self.counters().sent, 1);
                return Ok(Some(uuid));
            }
            Ok(answer) => {
                posthog_transport::TransportError::status(answer.status, b"", answer.retry_after)
            }
            Err(err) => err,
        };
        let kind = if outcome.status_code().is_some() {
            DeliveryErrorKind::Rejected
        } else {
            DeliveryErrorKind::RetriesExhausted
        };
        let status = outcome.status_code().map(|s| s.as_u16());
        report(
            kind,
            status,
            format!("immediate AI capture of {uuid} failed: {outcome}"),
        );
        Err(outcome.into())
    }

    /// The AI lane, started on first use on the worker's runtime; `None` when the client sends
    /// nothing (disabled) or is shut down.
    fn ai_lane(&self) -> Option<&Lane<Event>> {
        if !self.is_enabled() {
            return None;
        }
        let (transport, runtime) = (self.transport()?, self.worker_runtime()?);
        Some(self.ai_lane_cell().get_or_init(|| {
            let options = self.options();
            let route = AiRoute {
                envelope: Envelope::new(&options.api_key, options.historical_migration),
            };
            let on_loss = crate::routes::report_losses(options.on_error.clone(), Some("AI lane"));
            Lane::start(route, transport.clone(), config(options), on_loss, runtime)
        }))
    }
}
