//! The events route on the delivery lane: admitted events serialised once (on the lane's
//! worker, or by a capturing thread that is busy, see `capture/mod.rs`), with the SDK-owned
//! properties and an `$exception`'s stack frames added as they are written, sent to `/batch/`
//! (a fresh `sent_at` per attempt, protocol.md §1.5) or to capture v1, whose per-event
//! verdicts the lane applies.

use bytes::Bytes;
use chrono::Utc;
use posthog_core::Event;
use posthog_core::capture_v1::Verdict;
use posthog_transport::retry::RetryOn;
use posthog_transport::{ContentEncoding, RetryPolicy, Transport, TransportError, V1Attempt};

use super::Defaults;
use crate::lane::{Answer, Arena, NotTaken, Outgoing, Refusal, Route, SendFuture};

/// An admitted event on its way to the lane.
pub(crate) enum EventItem {
    /// `add_defaults`: merge the SDK-owned properties in as it is written (`false` once hooks
    /// saw them).
    Event {
        event: Box<Event>,
        add_defaults: bool,
    },
    /// An `$exception` event and the stack its outermost entry still needs: resolved on the
    /// worker, off the calling thread.
    Exception {
        event: Box<Event>,
        trace: Box<std::backtrace::Backtrace>,
        add_defaults: bool,
    },
}

impl EventItem {
    /// The event's uuid.
    pub(crate) fn uuid(&self) -> uuid::Uuid {
        match self {
            EventItem::Event { event, .. } | EventItem::Exception { event, .. } => {
                event.get_uuid().unwrap_or_default()
            }
        }
    }

    /// The event as the JSON its endpoint takes, written into `arena` (an `$exception`'s
    /// stack resolved and attached first, in-app frames by `in_app`).
    pub(crate) fn encode(
        self,
        arena: &mut Arena,
        defaults: &Defaults,
        in_app: &crate::exceptions::InApp,
        v1: bool,
    ) -> Result<Bytes, String> {
        let uuid = self.uuid();
        let (mut event, add_defaults) = match self {
            EventItem::Event {
                event,
                add_defaults,
            } => (*event, add_defaults),
            EventItem::Exception {
                event,
                trace,
                add_defaults,
            } => {
                let mut event = *event;
                crate::exceptions::attach_frames(&mut event, &trace, in_app);
                (event, add_defaults)
            }
        };
        write_event(arena, &mut event, add_defaults, defaults, v1)
            .map_err(|err| format!("event {uuid} did not serialise: {err}"))
    }
}

/// An event's JSON for the configured endpoint, written into `arena`: capture v1's event
/// shape (defaults set first when `add_defaults`), or `/batch/`'s with the defaults merged in
/// as it is written.
pub(crate) fn write_event(
    arena: &mut Arena,
    event: &mut Event,
    add_defaults: bool,
    defaults: &Defaults,
    v1: bool,
) -> Result<Bytes, String> {
    if v1 {
        if add_defaults {
            defaults.apply(event);
        }
        arena
            .write(|out| posthog_core::capture_v1::write_event_json(event, out))
            .map_err(|e| e.to_string())
    } else {
        arena
            .json(&defaults.merged(event, add_defaults))
            .map_err(|e| e.to_string())
    }
}

/// The `/batch/` envelope fields that do not change between batches.
#[derive(Debug, Clone)]
pub(crate) struct Envelope {
    /// `{"api_key":"…","historical_migration":false,"sent_at":"`
    prefix: Vec<u8>,
}

impl Envelope {
    pub(crate) fn new(api_key: &str, historical_migration: bool) -> Self {
        let key = serde_json::to_string(api_key).unwrap_or_else(|_| "\"\"".to_owned());
        let prefix = format!(
            "{{\"api_key\":{key},\"historical_migration\":{historical_migration},\"sent_at\":\""
        );
        Self {
            prefix: prefix.into_bytes(),
        }
    }

    /// The body for events serialised already, stamped with the current time.
    pub(crate) fn body_of<'a>(&self, events: impl Iterator<Item = &'a [u8]> + Clone) -> Bytes {
        let sent_at = posthog_core::time::format_timestamp(&Utc::now());
        let size: usize = events.clone().map(|e| e.len() + 1).sum();
        let mut out = Vec::with_capacity(self.prefix.len() + sent_at.len() + size + 16);
        out.extend_from_slice(&self.prefix);
        out.extend_from_slice(sent_at.as_bytes());
        out.extend_from_slice(b"\",\"batch\":[");
        for (i, event) in events.enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(event);
        }
        out.extend_from_slice(b"]}");
        Bytes::from(out)
    }
}

/// The events route: `/batch/`, or capture v1 with this body encoding.
pub(crate) struct EventsRoute {
    pub(crate) envelope: std::sync::Arc<Envelope>,
    pub(crate) defaults: std::sync::Arc<Defaults>,
    pub(crate) in_app: crate::exceptions::InApp,
    /// `Some` for capture v1 (`/i/v1/analytics/events`) with this body encoding; `None` for
    /// `/batch/`.
    pub(crate) v1: Option<ContentEncoding>,
    pub(crate) historical_migration: bool,
}

impl Route for EventsRoute {
    type Item = EventItem;

    fn name(&self) -> &'static str {
        "event"
    }

    fn id(&self, item: &EventItem) -> Option<u128> {
        Some(item.uuid().as_u128())
    }

    fn encode(&self, item: EventItem, arena: &mut Arena) -> Result<Bytes, Refusal> {
        item.encode(arena, &self.defaults, &self.in_app, self.v1.is_some())
            .map_err(Refusal::invalid)
    }

    fn send<'a>(&'a self, transport: &'a Transport, batch: &'a Outgoing) -> SendFuture<'a> {
        if let Some(encoding) = self.v1 {
            return Box::pin(async move {
                // One request id and `created_at` per logical batch, kept on every retry.
                let created_at = posthog_core::capture_v1::timestamp(batch.first_attempt);
                let events: Vec<&[u8]> = batch.bodies().collect();
                let body = posthog_core::capture_v1::batch_body(
                    &created_at,
                    self.historical_migration,
                    &events,
                );
                let attempt = V1Attempt {
                    request_id: batch.key,
                    attempt: batch.attempt,
                };
                match transport.send_v1(body.into(), attempt, encoding).await {
                    Ok(delivery) => Ok(Answer {
                        status: delivery.status,
                        retry_after: delivery.retry_after,
                        not_taken: verdicts(batch, &delivery.results),
                    }),
                    Err(err) => status_answer(err),
                }
            });
        }
        Box::pin(async move {
            // The body (and its `sent_at`) is built for this attempt, then compressed by the
            // transport on this task's thread.
            let body = self.envelope.body_of(batch.bodies());
            match transport.send_batch_with(body, RetryPolicy::none()).await {
                Ok(delivery) => Ok(Answer::status(delivery.status, None)),
                Err(err) => status_answer(err),
            }
        })
    }

    fn retryable(&self, status: u16) -> bool {
        match self.v1 {
            // Capture v1: 429 is final, 408 is retried (protocol.md §1.4).
            Some(_) => matches!(status, 408 | 500 | 502 | 503 | 504),
            None => http::StatusCode::from_u16(status)
                .is_ok_and(|s| RetryOn::Ingestion.retries_status(s)),
        }
    }
}

/// The events of a capture-v1 batch the server did not store, by position.
fn verdicts(
    batch: &Outgoing,
    results: &posthog_core::capture_v1::V1Response,
) -> Vec<(usize, NotTaken)> {
    batch
        .items
        .iter()
        .enumerate()
        .filter_map(|(at, item)| {
            let uuid = uuid::Uuid::from_u128(item.id?);
            match results.verdict(&uuid) {
                Verdict::Accepted => None,
                Verdict::Retry(_) => Some((at, NotTaken::Retry)),
                Verdict::Dropped(why) => {
                    Some((at, NotTaken::Dropped(why.unwrap_or_else(|| "drop".into()))))
                }
            }
        })
        .collect()
}

/// A transport error that carries the server's status, as the answer it is; others stay
/// errors (no response: retried; anything else: lost).
fn status_answer(err: TransportError) -> Result<Answer, TransportError> {
    match err.status_code() {
        Some(status) => Ok(Answer::status(status, err.retry_after())),
        None => Err(err),
    }
}
