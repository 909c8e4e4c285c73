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
    /// The runtime's count of live spans: this span leaves it when it ends or is dropped
    /// without ending (its record is then lost, as the contract allows for open spans).
    pub(super) live_count: Option<Arc<std::sync::atomic::AtomicUsize>>,
}

impl Live {
    fn leave(&mut self) {
        if let Some(count) = self.live_count.take() {
            count.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
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

pub(super) fn now_nanos(at: SystemTime) -> u64 {
    at.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
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
