//! Packing the backlog: while the server is stalled or failing, batches that wait for a
//! sending slot are kept deflated ([`super::packed`]) and inflated just before their attempt:
//! an outage costs about a tenth of the memory, and `max_held_bytes` holds that many more
//! items before the queue overflows.

use std::time::Duration;

use super::batch::Batch;
use super::worker::Worker;
use super::{LossKind, Route, packed};

/// How long a send must have been waiting for the server to count as slow (see
/// [`Worker::pack_backlog`]).
const SLOW_SEND: Duration = Duration::from_millis(100);

/// Batches packed per turn of the worker's loop.
const PACK_STEP: usize = 32;

impl<R: Route> Worker<R> {
    /// Bytes in the buffer above which, with every sending slot taken, batches wait
    /// compressed: a sixteenth of `max_held_bytes` (8 MiB for events by default).
    pub(super) fn pack_above(&self) -> usize {
        self.shared.config.max_held_bytes / 16
    }

    /// Whether the server is stalled or failing: batches wait for a retry, or a send has
    /// been waiting [`SLOW_SEND`] or more and none has finished for as long. (A server that
    /// is busy under a burst still finishes sends; packing then would only take CPU from the
    /// worker when it most needs to keep up.)
    fn server_struggling(&self) -> bool {
        !self.retries.is_empty()
            || (self.last_answer.elapsed() >= SLOW_SEND
                && self
                    .in_flight_ids
                    .values()
                    .map(|sending| sending.since)
                    .min()
                    .is_some_and(|oldest| oldest.elapsed() >= SLOW_SEND))
    }

    /// While the server is slow or failing (or a quarter of `max_held_bytes` is taken), every
    /// sending slot is taken and more than [`Worker::pack_above`] bytes wait in the buffer,
    /// full batches are cut from its front and kept compressed, in order, until a slot frees.
    pub(super) fn pack_backlog(&mut self) {
        if !self.shared.config.pack_backlog {
            return;
        }
        let slots_taken = self.sending_blocked();
        let pressed = self.held_bytes > self.shared.config.max_held_bytes / 4;
        let backlog = self.buffer_bytes > self.pack_above();
        if !slots_taken || !backlog || !(pressed || self.server_struggling()) {
            return;
        }
        // A few batches per turn of the loop, so the queue is drained in between (packing a
        // large backlog at once would leave it to fill); the worker comes straight back for
        // more.
        for _ in 0..PACK_STEP {
            if self.buffer_bytes <= self.pack_above() || self.buffer.len() < self.batch_limit {
                return;
            }
            let Some(mut batch) = self.cut_batch() else {
                return;
            };
            self.pack(&mut batch);
            self.ready.push_back(batch);
        }
        self.shared.wake.notify_one();
    }

    /// Compresses a waiting batch's bytes (left as they are if that fails).
    pub(super) fn pack(&mut self, batch: &mut Batch) {
        if batch.packed.is_some() || !self.shared.config.pack_backlog {
            return;
        }
        if let Some(packed) = packed::pack(&mut batch.items) {
            self.held_bytes = self.held_bytes.saturating_sub(packed.plain()) + packed.held();
            batch.packed = Some(packed);
        }
    }

    /// Gives a packed batch its bytes back before an attempt; `false` (the items reported as
    /// lost) if it cannot be inflated, which does not happen short of a bug.
    pub(super) fn unpack(&mut self, batch: &mut Batch) -> bool {
        let Some(packed) = batch.packed.take() else {
            return true;
        };
        let (held, plain) = (packed.held(), packed.plain());
        match packed::unpack(packed, &mut batch.items) {
            Ok(()) => {
                self.held_bytes = self.held_bytes.saturating_sub(held) + plain;
                true
            }
            Err(err) => {
                self.held_bytes = self.held_bytes.saturating_sub(held);
                let n = batch.items.len();
                self.shared.lost(
                    LossKind::Invalid,
                    n,
                    batch.ids(),
                    None,
                    format!("a compressed batch could not be restored: {err}"),
                );
                self.resolve(batch.id, 0, n as u64);
                false
            }
        }
    }
}
