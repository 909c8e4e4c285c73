//! Flush and shutdown (C-FLUSH, C-SHUTDOWN): what is pending, the flushes waiting for their
//! batches, and the bounded drain at shutdown.

use std::time::Instant;

use tokio::sync::oneshot;
use uuid::Uuid;

use super::{FlushReport, FlushWaiter, Msg, ShutdownReport, Worker, until};
use crate::report::DeliveryErrorKind;

impl Worker {
    /// Events not yet delivered or failed: buffered, in batches waiting, and in flight.
    pub(super) fn pending_events(&self) -> u64 {
        let in_flight: usize = self.in_flight_ids.values().map(|s| s.uuids.len()).sum();
        let queued: usize = self
            .ready
            .iter()
            .chain(self.retries.iter())
            .map(|b| b.events.len())
            .sum();
        (self.buffer.len() + queued + in_flight) as u64
    }

    /// C-FLUSH: every event buffered now and every batch waiting (retries included) gets an
    /// attempt; the flush answers when those attempts are over, or when sending pauses for a
    /// failing server (what then waits stays queued for its retry, C-FLUSH.3).
    pub(super) fn begin_flush(&mut self, reply: oneshot::Sender<FlushReport>) {
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
            report: FlushReport::default(),
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
        let pending = self.pending_events();
        let (done, waiting): (Vec<_>, Vec<_>) = self
            .flushes
            .drain(..)
            .partition(|w| w.outstanding.is_empty());
        self.flushes = waiting;
        for waiter in done {
            let _ = waiter.reply.send(FlushReport {
                pending,
                ..waiter.report
            });
        }
    }

    /// C-SHUTDOWN: take what was captured before the call, then send and retry until drained
    /// or the deadline; whatever is left is reported as undelivered.
    pub(super) async fn shutdown(&mut self, deadline: Instant) -> ShutdownReport {
        self.rx.close();
        // Everything captured before the call, whatever `max_pending_bytes` says: the
        // channel holds at most `max_queue_size` events.
        while let Ok(msg) = self.rx.try_recv() {
            self.take(msg);
        }
        for event in self.shared.overflow.close() {
            self.hold(event.uuid, event.json);
        }
        while let Some(batch) = self.cut_batch() {
            self.ready.push_back(batch);
        }
        let (sent_before, failed_before) = (
            self.counters.snapshot().sent,
            self.counters.snapshot().failed,
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
                Some(done) = self.in_flight.join_next(), if !self.in_flight.is_empty() => {
                    if let Ok(sent) = done {
                        self.complete(sent);
                    }
                }
                () = retry_wait => {}
            }
        }
        self.in_flight.abort_all();
        let left: Vec<Uuid> = self
            .in_flight_ids
            .drain()
            .flat_map(|(_, sending)| sending.uuids)
            .chain(self.buffer.drain(..).map(|e| e.uuid))
            .chain(
                self.ready
                    .drain(..)
                    .chain(self.retries.drain(..))
                    .flat_map(|b| b.events.into_iter().map(|e| e.uuid)),
            )
            .collect();
        for waiter in self.flushes.drain(..) {
            let _ = waiter.reply.send(waiter.report);
        }
        if !left.is_empty() {
            let message = format!(
                "shutdown deadline passed with {} events undelivered",
                left.len()
            );
            tracing::error!(target: "posthog", "{message}");
            self.fail(DeliveryErrorKind::ShutdownTimeout, left, None, message);
        }
        let after = self.counters.snapshot();
        ShutdownReport {
            sent: after.sent - sent_before,
            undelivered: after.failed - failed_before,
            timed_out,
        }
    }
}

impl Msg {
    /// The event this message carries, if any.
    fn event_uuid(&self) -> Option<Uuid> {
        match self {
            Msg::Json { uuid, .. } => Some(*uuid),
            Msg::Event(event) | Msg::Complete(event) | Msg::Exception { event, .. } => {
                Some(event.get_uuid().unwrap_or_default())
            }
            Msg::Flush(_) => None,
        }
    }
}

impl Drop for Worker {
    /// A worker dropped with events still held had its task cancelled: its runtime shut down
    /// (say, `main` returned) before `Client::shutdown` ran or finished. Those events are lost;
    /// say so, with their ids, rather than losing them silently.
    fn drop(&mut self) {
        self.rx.close();
        let mut left: Vec<Uuid> = Vec::new();
        while let Ok(msg) = self.rx.try_recv() {
            left.extend(msg.event_uuid());
        }
        left.extend(self.shared.overflow.close().into_iter().map(|e| e.uuid));
        left.extend(self.in_flight_ids.drain().flat_map(|(_, s)| s.uuids));
        left.extend(self.buffer.drain(..).map(|e| e.uuid));
        left.extend(
            self.ready
                .drain(..)
                .chain(self.retries.drain(..))
                .flat_map(|b| b.events.into_iter().map(|e| e.uuid)),
        );
        if !left.is_empty() {
            let message = format!(
                "{} events lost: the PostHog worker was stopped (its runtime shut down) before \
                 they were sent; call Client::shutdown before exit",
                left.len()
            );
            tracing::error!(target: "posthog", "{message}");
            self.fail(DeliveryErrorKind::Abandoned, left, None, message);
        }
    }
}
