//! [`Span`]: a handle on a span being recorded, or an inert one that records nothing
//! (C-TRACES.2/.3).

use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use posthog_core::traces::{SpanEvent, SpanKind, SpanRecord, SpanStatus, traceparent};
use serde_json::{Map, Value};

/// What a live span holds until it ends.
pub(super) struct Live {
    pub(super) record: SpanRecord,
    pub(super) ended: bool,
    pub(super) max_attributes: usize,
    pub(super) max_events: usize,
    /// Where the finished record goes.
    pub(super) sink: Arc<dyn Fn(SpanRecord) + Send + Sync>,
    /// The runtime's open spans and this span's slot there: it leaves when it ends, is
    /// evicted, or is dropped without ending (its record is then lost, as the contract allows
    /// for open spans).
    pub(super) place: Option<(Arc<super::live::LiveSpans>, Option<usize>)>,
}

impl Live {
    /// Open past the maximum span age: ended without a record, its slot freed; the handles
    /// do nothing from now on (C-TRACES.17).
    /// `false` when it had ended already.
    pub(super) fn evict(&mut self) -> bool {
        if self.ended {
            return false;
        }
        self.ended = true;
        self.leave();
        self.record = SpanRecord::default();
        true
    }

    fn leave(&mut self) {
        match self.place.take() {
            Some((spans, Some(slot))) => spans.leave(slot),
            Some((spans, None)) => spans.leave_unslotted(),
            None => {}
        }
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        self.leave();
    }
}

/// A span. Clone it freely: clones are the same span. An inert span (tracing off, disabled,
/// opted out) has the same API and does nothing.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = posthog::test_util::FakePostHog::start().await;
/// # let client = posthog::Client::builder("phc_project_token").host(server.url()).traces(posthog::traces::TracesConfig::new()).build()?;
/// let span = client.start_span("charge card", posthog::traces::SpanOptions::new());
/// span.set_attribute("amount", 42);
/// span.add_event("retry", serde_json::Map::new());
/// span.end(); // exported with the next batch
/// # Ok(()) }
/// ```
#[derive(Clone, Default)]
pub struct Span {
    pub(super) live: Option<Arc<Mutex<Live>>>,
    /// Trace id, span id and trace state, for children and `traceparent()`.
    pub(super) ids: Option<([u8; 16], [u8; 8], Option<String>)>,
}

impl std::fmt::Debug for Span {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Span")
            .field("traceparent", &self.traceparent())
            .finish_non_exhaustive()
    }
}

/// `at` in nanoseconds since the Unix epoch; a time the wire cannot carry (before the epoch,
/// or past `i64::MAX` ns, which would make PostHog refuse the whole export) is replaced by now
/// (C-TRACES.9).
pub(super) fn now_nanos(at: SystemTime) -> u64 {
    let nanos = |t: SystemTime| {
        t.duration_since(std::time::UNIX_EPOCH)
            .ok()
            .and_then(|d| u64::try_from(d.as_nanos()).ok())
            .filter(|n| i64::try_from(*n).is_ok())
    };
    nanos(at).unwrap_or_else(|| {
        tracing::debug!(target: "posthog", "a span time out of range was replaced by now");
        nanos(SystemTime::now()).unwrap_or(0)
    })
}

impl Span {
    /// A span that records nothing.
    pub fn noop() -> Self {
        Self::default()
    }

    /// Whether this span records (not inert, not ended).
    pub fn is_recording(&self) -> bool {
        self.with(|_| ()).is_some()
    }

    fn with<R>(&self, f: impl FnOnce(&mut Live) -> R) -> Option<R> {
        let live = self.live.as_ref()?;
        let mut live = live.lock().ok()?;
        if live.ended {
            tracing::debug!(target: "posthog", "a call on a span that already ended is ignored");
            return None;
        }
        Some(f(&mut live))
    }

    /// Sets one attribute (past the cap it is counted as dropped; earlier ones win).
    pub fn set_attribute(&self, key: impl Into<String>, value: impl Into<Value>) -> &Self {
        let (key, value) = (key.into(), value.into());
        self.with(|live| {
            let attributes = &mut live.record.attributes;
            if attributes.contains_key(&key) || attributes.len() < live.max_attributes {
                attributes.insert(key, value);
            } else {
                live.record.dropped_attributes += 1;
            }
        });
        self
    }

    /// Sets several attributes.
    pub fn set_attributes(&self, attributes: Map<String, Value>) -> &Self {
        for (key, value) in attributes {
            self.set_attribute(key, value);
        }
        self
    }

    /// Adds an event now (past the cap it is counted as dropped).
    pub fn add_event(&self, name: impl Into<String>, attributes: Map<String, Value>) -> &Self {
        let name = name.into();
        self.with(|live| {
            if live.record.events.len() < live.max_events {
                live.record.events.push(SpanEvent {
                    name,
                    time_unix_nano: now_nanos(SystemTime::now()),
                    attributes,
                });
            } else {
                live.record.dropped_events += 1;
            }
        });
        self
    }

    /// Sets the status: `Ok`, or `Error` with a message (the last call wins).
    pub fn set_status(&self, status: SpanStatus) -> &Self {
        self.with(|live| live.record.status = status);
        self
    }

    /// Records an error: status error with its message, and an `exception` event with
    /// `exception.type` and `exception.message`. The span stays open.
    pub fn record_exception(&self, kind: &str, message: &str) -> &Self {
        let mut attributes = Map::new();
        attributes.insert("exception.type".into(), kind.into());
        attributes.insert("exception.message".into(), message.into());
        self.add_event("exception", attributes);
        self.set_status(SpanStatus::Error(message.to_owned()))
    }

    /// Renames the span.
    pub fn update_name(&self, name: impl Into<String>) -> &Self {
        let name = name.into();
        self.with(|live| live.record.name = name);
        self
    }

    /// The span's W3C `traceparent`, `None` for an inert span.
    pub fn traceparent(&self) -> Option<String> {
        self.ids.as_ref().map(|(t, s, _)| traceparent(t, s))
    }

    /// The span's trace id and span id as lower-case hex (32 and 16 characters), `None` for an
    /// inert span: what logs and events inside it carry.
    pub(crate) fn ids_hex(&self) -> Option<(String, String)> {
        self.ids
            .as_ref()
            .map(|(t, s, _)| (posthog_core::traces::hex(t), posthog_core::traces::hex(s)))
    }

    /// The span's `tracestate`, if it has one.
    pub fn tracestate(&self) -> Option<String> {
        self.ids.as_ref().and_then(|(_, _, state)| state.clone())
    }

    /// The span's kind.
    pub fn kind(&self) -> Option<SpanKind> {
        self.live.as_ref()?.lock().ok().map(|l| l.record.kind)
    }

    /// Ends the span now; later calls do nothing (at most one record per span).
    pub fn end(&self) {
        self.end_at(SystemTime::now());
    }

    /// Ends the span at `time` (not before its start).
    pub fn end_at(&self, time: SystemTime) {
        let finished = self.with(|live| {
            live.ended = true;
            live.leave();
            let end = now_nanos(time).max(live.record.start_unix_nano);
            live.record.end_unix_nano = end;
            // The record leaves with the end: nothing reads it afterwards but its kind.
            let kind = live.record.kind;
            let record = std::mem::take(&mut live.record);
            live.record.kind = kind;
            (live.sink.clone(), record)
        });
        if let Some((sink, record)) = finished {
            sink(record);
        }
    }
}
