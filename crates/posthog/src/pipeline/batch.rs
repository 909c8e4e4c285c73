//! Events serialised once on arrival, and `/batch/` bodies spliced from them with a fresh
//! `sent_at` on every attempt (protocol.md §1.5).

use std::collections::VecDeque;
use std::time::Instant;

use bytes::Bytes;
use chrono::Utc;
use uuid::Uuid;

/// One event as JSON, with its id for reports.
#[derive(Debug, Clone)]
pub(crate) struct PendingEvent {
    pub(crate) uuid: Uuid,
    pub(crate) json: Bytes,
}

/// A batch waiting for (another) attempt. Its `id` identifies it to flush waiters
/// (C-RETRY-QUEUE.4: sent events are removed by identity, never by position).
#[derive(Debug)]
pub(crate) struct PendingBatch {
    pub(crate) id: u64,
    pub(crate) events: Vec<PendingEvent>,
    /// Attempts made so far.
    pub(crate) attempts: u32,
    /// No attempt before this (its backoff after a failure; cleared when the server
    /// recovers, see [`super::health`]).
    pub(crate) not_before: Option<Instant>,
    /// When its first attempt failed (retrying is bounded by time from here, `retry_for`).
    pub(crate) failing_since: Option<Instant>,
    /// Capture v1: the request id and `created_at` of this logical batch, set on its first
    /// attempt and kept for every retry.
    pub(crate) v1: Option<(Uuid, String)>,
    /// The events' JSON while the batch waits compressed ([`super::packed`]); their own
    /// bodies are empty meanwhile.
    pub(crate) packed: Option<super::packed::Packed>,
}

impl PendingBatch {
    pub(crate) fn new(id: u64, events: Vec<PendingEvent>) -> Self {
        Self {
            id,
            events,
            attempts: 0,
            not_before: None,
            failing_since: None,
            v1: None,
            packed: None,
        }
    }

    pub(crate) fn bytes(&self) -> usize {
        self.events.iter().map(|e| e.json.len()).sum()
    }

    pub(crate) fn uuids(&self) -> Vec<Uuid> {
        self.events.iter().map(|e| e.uuid).collect()
    }
}

/// The envelope fields that do not change between batches.
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

    /// The body for `events`, stamped with the current time.
    pub(crate) fn body(&self, events: &[PendingEvent]) -> Bytes {
        self.body_of(events.iter().map(|e| &e.json[..]))
    }

    /// The body for events already serialised (`/batch/` items), stamped with the current
    /// time.
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

/// Takes up to `max_events` events from the front of `buffer`, stopping before the batch's
/// JSON would pass `max_bytes` (a batch always takes at least one event).
pub(crate) fn cut(
    buffer: &mut VecDeque<PendingEvent>,
    max_events: usize,
    max_bytes: usize,
) -> Vec<PendingEvent> {
    let mut batch = Vec::with_capacity(max_events.min(buffer.len()));
    let mut bytes = 0;
    while let Some(front) = buffer.front() {
        if batch.len() >= max_events
            || (!batch.is_empty() && bytes + front.json.len() + 1 > max_bytes)
        {
            break;
        }
        bytes += front.json.len() + 1;
        if let Some(event) = buffer.pop_front() {
            batch.push(event);
        }
    }
    batch
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(n: usize) -> PendingEvent {
        PendingEvent {
            uuid: Uuid::nil(),
            json: Bytes::from(format!("{{\"n\":{}}}", "1".repeat(n))),
        }
    }

    #[test]
    fn body_is_valid_json_with_fresh_sent_at() {
        let env = Envelope::new("phc_\"quoted\"", true);
        let body = env.body(&[event(1), event(2)]);
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["api_key"], "phc_\"quoted\"");
        assert_eq!(v["historical_migration"], true);
        assert_eq!(v["batch"].as_array().unwrap().len(), 2);
        assert!(v["sent_at"].as_str().unwrap().ends_with('Z'));
    }

    #[test]
    fn cuts_by_count_and_bytes() {
        let mut buffer: VecDeque<_> = (0..10).map(|_| event(10)).collect();
        assert_eq!(cut(&mut buffer, 4, 10_000).len(), 4);
        assert_eq!(
            cut(&mut buffer, 100, 40).len(),
            2,
            "each event is 18 bytes + a comma"
        );
        assert_eq!(cut(&mut buffer, 100, 1).len(), 1, "one event always fits");
        assert_eq!(buffer.len(), 3);
    }
}
