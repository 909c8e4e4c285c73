//! Flush and shutdown (C-FLUSH, C-SHUTDOWN): what is pending, the flushes waiting for their
//! batches, the bounded drain at shutdown, and the report of what a worker stopped with.

use std::time::Instant;

use tokio::sync::oneshot;

use super::batch::ids;
use super::queue::Queued;
use super::worker::{FlushWaiter, Worker, until};
use super::{LaneReport, LossKind, Route};

impl<R: Route> Worker<R> {
    /// Items not yet delivered or lost: buffered, in batches waiting, and in flight.
    fn pending_items(&self) -> u64 {
        let in_flight: usize = self.in_flight_ids.values().map(|s| s.count).sum();
        let waiting: usize = self
            .ready
            .iter()
            .chain(self.retries.iter())
            .map(|b| b.items.len())
            .sum();
        (self.buffer.len() + waiting + in_flight) as u64
    }

    /// C-FLUSH: every item buffered now and every batch waiting (retries included) gets an
    /// attempt; the flush answers when those attempts are over, or when sending pauses for a
    /// failing server (what then waits stays queued for its retry, C-FLUSH.3).
    pub(super) fn begin_flush(&mut self, reply: oneshot::Sender<LaneReport>) {
        while let Some(batch) = self.cut_batch() {
            self.ready.push_back(batch);
        }
        let outstanding = self
            .ready
            .iter()
            .chain(self.retries.iter())
            .map(|b| b.id)
            .chain(self.in_flight_ids.keys().copied())
            .collect();
        self.flushes.push(FlushWaiter {
            reply,
            outstanding,
            report: LaneReport::default(),
        });
    }

    pub(super) fn answer_flushes(&mut self) {
        if self.flushes.is_empty() {
            return;
        }
        if self.health.resumes_at(Instant::now()).is_some() {
            // Paused for a failing server: a flush does not wait out the backoff; batches
            // not being sent now stay queued and count as pending.
            let sending = &self.in_flight_ids;
            for waiter in &mut self.flushes {
                waiter.outstanding.retain(|id| sending.contains_key(id));
            }
        }
        if self.flushes.iter().all(|w| !w.outstanding.is_empty()) {
            return;
        }
        let pending = self.pending_items() + self.shared.waiting() as u64;
        let (done, waiting): (Vec<_>, Vec<_>) = self
            .flushes
            .drain(..)
            .partition(|w| w.outstanding.is_empty());
        self.flushes = waiting;
        for waiter in done {
            let _ = waiter.reply.send(LaneReport {
                pending,
                ..waiter.report
            });
        }
    }

    /// C-SHUTDOWN: take what was queued before the call, then send and retry until drained
    /// or the deadline; whatever is left is reported lost.
    pub(super) async fn shutdown(&mut self, deadline: Instant) -> LaneReport {
        // Everything queued before the call, whatever `max_held_bytes` says (the queue holds
        // at most `queue_size` items, and encoded ones within the byte budget); later
        // pushes are refused.
        let (mut items, mut encoded_bytes) = (0, 0);
        while let Some(queued) = self.next_queued(true) {
            let (n, bytes) = queued.weight();
            (items, encoded_bytes) = (items + n, encoded_bytes + bytes);
            self.take(queued);
        }
        self.shared.processed(items, encoded_bytes);
        while let Some(batch) = self.cut_batch() {
            self.ready.push_back(batch);
        }
        let counters = &self.shared.counters;
        let (sent_before, failed_before) = (
            counters.sent.load(std::sync::atomic::Ordering::Relaxed),
            counters.failed.load(std::sync::atomic::Ordering::Relaxed),
        );
        let deadline_sleep = tokio::time::sleep_until(deadline.into());
        tokio::pin!(deadline_sleep);
        let mut timed_out = false;
        loop {
            self.dispatch();
            self.answer_flushes();
            if self.ready.is_empty() && self.retries.is_empty() && self.in_flight.is_empty() {
                break;
            }
            let retry_wait = until(self.next_wake());
            tokio::select! {
                biased;
                () = &mut deadline_sleep => {
                    timed_out = true;
                    break;
                }
                Some(done) = self.in_flight.join_next_with_id(), if !self.in_flight.is_empty() => {
                    self.joined(done);
                }
                () = retry_wait => {}
            }
        }
        self.in_flight.abort_all();
        let (mut count, mut left) = (0, Vec::new());
        self.let_go(&mut count, &mut left);
        for waiter in self.flushes.drain(..) {
            let _ = waiter.reply.send(waiter.report);
        }
        self.shared.lost(
            LossKind::ShutdownTimeout,
            count,
            left,
            None,
            format!("the shutdown deadline passed with {count} item(s) undelivered"),
        );
        let counters = &self.shared.counters;
        LaneReport {
            sent: counters.sent.load(std::sync::atomic::Ordering::Relaxed) - sent_before,
            failed: counters.failed.load(std::sync::atomic::Ordering::Relaxed) - failed_before,
            pending: 0,
            timed_out,
        }
    }
}

impl<R: Route> Worker<R> {
    /// Lets go of every item held (in flight, buffered, cut, waiting for a retry), adding
    /// their count and ids to `count` and `left`.
    fn let_go(&mut self, count: &mut usize, left: &mut Vec<u128>) {
        for (_, sending) in self.in_flight_ids.drain() {
            *count += sending.count;
            left.extend(sending.ids);
        }
        *count += self.buffer.len();
        left.extend(ids(&self.buffer));
        self.buffer.clear();
        for batch in self.ready.drain(..).chain(self.retries.drain(..)) {
            *count += batch.items.len();
            left.extend(batch.ids());
        }
    }
}

impl<R: Route> Drop for Worker<R> {
    /// A worker dropped with items still held had its task cancelled: its runtime shut down
    /// (say, `main` returned) before the shutdown ran or finished. Those items are lost; say
    /// so, with their ids, rather than losing them silently.
    fn drop(&mut self) {
        if !self.finished {
            let mut intake = std::mem::take(&mut self.intake);
            let mut queued = std::collections::VecDeque::new();
            self.shared.take(&mut queued, true);
            intake.extend(queued);
            let mut count = 0;
            let mut left: Vec<u128> = Vec::new();
            for queued in intake {
                let id = match &queued {
                    Queued::Item(item) => self.route.id(item),
                    Queued::Encoded(encoded) => encoded.id,
                    Queued::Flush(_) => continue,
                };
                count += 1;
                left.extend(id);
            }
            self.let_go(&mut count, &mut left);
            let message = format!(
                "{count} item(s) lost: the {} worker was stopped (its runtime shut down) \
                 before they were sent; shut the client down before exit",
                self.shared.route
            );
            self.shared
                .lost(LossKind::Abandoned, count, left, None, message);
        }
        self.shared.set_worker_gone();
    }
}
