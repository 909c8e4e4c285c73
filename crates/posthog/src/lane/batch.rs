//! Encoded items and the batches cut from them.

use std::collections::VecDeque;
use std::time::Instant;

use bytes::Bytes;
use uuid::Uuid;

/// One item as the bytes it adds to a body, with its id for reports.
#[derive(Debug, Clone)]
pub(crate) struct Encoded {
    pub(crate) id: Option<u128>,
    pub(crate) bytes: Bytes,
}

/// A batch waiting for (another) attempt. Its `id` identifies it to flush waiters
/// (C-RETRY-QUEUE.4: sent items are removed by identity, never by position).
#[derive(Debug)]
pub(super) struct Batch {
    pub(super) id: u64,
    pub(super) items: Vec<Encoded>,
    /// Attempts made so far.
    pub(super) attempts: u32,
    /// No attempt before this (its backoff after a failure; cleared when the server
    /// recovers, see [`super::health`]).
    pub(super) not_before: Option<Instant>,
    /// When its first attempt failed (retrying is bounded by time from here, `retry_for`).
    pub(super) failing_since: Option<Instant>,
    /// The batch's key and the time of its first attempt, set then and kept for every retry
    /// ([`super::Outgoing`]).
    pub(super) first: Option<(Uuid, chrono::DateTime<chrono::Utc>)>,
    /// The items' bytes while the batch waits compressed ([`super::packed`]); their own
    /// bytes are empty meanwhile.
    pub(super) packed: Option<super::packed::Packed>,
}

impl Batch {
    pub(super) fn new(id: u64, items: Vec<Encoded>) -> Self {
        Self {
            id,
            items,
            attempts: 0,
            not_before: None,
            failing_since: None,
            first: None,
            packed: None,
        }
    }

    /// The items' bytes (nothing while packed).
    pub(super) fn bytes(&self) -> usize {
        self.items.iter().map(|e| e.bytes.len()).sum()
    }

    /// The ids of the items that have one.
    pub(super) fn ids(&self) -> Vec<u128> {
        ids(&self.items)
    }
}

/// The ids of `items` that have one.
pub(super) fn ids<'a>(items: impl IntoIterator<Item = &'a Encoded>) -> Vec<u128> {
    items.into_iter().filter_map(|item| item.id).collect()
}

/// Takes up to `max_items` items from the front of `buffer`, stopping before the batch's
/// bytes (with a separator each) would pass `max_bytes` (a batch always takes at least one).
pub(super) fn cut(
    buffer: &mut VecDeque<Encoded>,
    max_items: usize,
    max_bytes: usize,
) -> Vec<Encoded> {
    let mut batch = Vec::with_capacity(max_items.min(buffer.len()));
    let mut bytes = 0;
    while let Some(front) = buffer.front() {
        if batch.len() >= max_items
            || (!batch.is_empty() && bytes + front.bytes.len() + 1 > max_bytes)
        {
            break;
        }
        bytes += front.bytes.len() + 1;
        if let Some(item) = buffer.pop_front() {
            batch.push(item);
        }
    }
    batch
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(n: usize) -> Encoded {
        Encoded {
            id: None,
            bytes: Bytes::from(format!("{{\"n\":{}}}", "1".repeat(n))),
        }
    }

    #[test]
    fn cuts_by_count_and_bytes() {
        let mut buffer: VecDeque<_> = (0..10).map(|_| item(10)).collect();
        assert_eq!(cut(&mut buffer, 4, 10_000).len(), 4);
        assert_eq!(
            cut(&mut buffer, 100, 40).len(),
            2,
            "each item is 18 bytes + a comma"
        );
        assert_eq!(cut(&mut buffer, 100, 1).len(), 1, "one item always fits");
        assert_eq!(buffer.len(), 3);
    }
}
