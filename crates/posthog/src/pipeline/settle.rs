//! What the worker does with a finished send: delivered events are counted, failed batches
//! wait on the retry queue with backoff (C-RETRY-QUEUE) or are reported, a 413 splits the batch,
//! and capture v1 answers are settled per event.

use std::time::{Duration, Instant};

use posthog_core::capture_v1::Verdict;
use posthog_transport::retry::{RetryOn, backoff};
use posthog_transport::{TransportError, V1Delivery};

use super::batch::PendingBatch;
use super::{Delivered, Sent, Worker, jitter};
use crate::report::{Counters, DeliveryErrorKind};

impl Worker {
    /// Handles a finished send.
    pub(super) fn complete(&mut self, (mut batch, result): Sent) {
        let id = batch.id;
        let started = self
            .in_flight_ids
            .remove(&id)
            .map_or_else(Instant::now, |sending| sending.since);
        self.last_answer = Instant::now();
        let n = batch.events.len();
        // The attempt is over: its bytes are held again only by what waits for another one.
        self.held_bytes = self.held_bytes.saturating_sub(batch.bytes());
        let (sent, failed) = match result {
            Ok(Delivered::V1(delivery)) => return self.settle_v1(batch, delivery, started),
            Ok(Delivered::Batch) => {
                self.recovered();
                if self.config.debug {
                    tracing::info!(target: "posthog", events = n, attempts = batch.attempts, "batch delivered");
                }
                Counters::add(&self.counters.sent, n);
                Counters::add(&self.counters.batches, 1);
                self.auth_warned = false;
                (n as u64, 0)
            }
            Err(err) => {
                let status = err.status_code().map(|s| s.as_u16());
                if status == Some(413) && n > 1 {
                    // C-BATCHER.7: halve and resend (not counted as a retry).
                    self.held_bytes += batch.bytes();
                    let second = batch.events.split_off(n / 2);
                    let (a, b) = (self.next_id(), self.next_id());
                    for waiter in &mut self.flushes {
                        if waiter.outstanding.remove(&id) {
                            waiter.outstanding.extend([a, b]);
                        }
                    }
                    self.ready.push_front(PendingBatch::new(b, second));
                    self.ready.push_front(PendingBatch::new(a, batch.events));
                    return;
                }
                if status == Some(413) {
                    let message = "the server rejected an event as too large (413)".to_owned();
                    self.fail(
                        DeliveryErrorKind::EventTooLarge,
                        batch.uuids(),
                        status,
                        message,
                    );
                    (0, 1)
                } else if let Some(mut retry) = self.retry_or_fail(batch, &err, status, started) {
                    self.held_bytes += retry.bytes();
                    if self.held_bytes > self.pack_above() {
                        self.pack(&mut retry);
                    }
                    self.resolve(retry.id, 0, 0);
                    // Oldest first: a retry goes out before batches cut after it.
                    self.retries.push_back(retry);
                    return;
                } else {
                    (0, n as u64)
                }
            }
        };
        self.resolve(id, sent, failed);
    }

    /// Applies a v1 answer's per-event verdicts: accepted events are sent, dropped ones are
    /// reported and never resent, and those to retry go back on the retry queue as the same
    /// logical batch (same request id and `created_at`, next attempt).
    pub(super) fn settle_v1(
        &mut self,
        mut batch: PendingBatch,
        delivery: V1Delivery,
        started: Instant,
    ) {
        let id = batch.id;
        let status = Some(delivery.status.as_u16());
        let mut retry = Vec::new();
        let mut dropped = Vec::new();
        let mut details = Vec::new();
        let mut accepted = 0u64;
        for event in batch.events.drain(..) {
            match delivery.results.verdict(&event.uuid) {
                Verdict::Accepted => accepted += 1,
                Verdict::Dropped(why) => {
                    dropped.push(event.uuid);
                    details.extend(why);
                }
                Verdict::Retry(_) => retry.push(event),
            }
        }
        if self.config.debug {
            tracing::info!(target: "posthog", accepted, dropped = dropped.len(), retry = retry.len(), "v1 batch answered");
        }
        if retry.is_empty() {
            self.recovered();
        } else {
            // Events the server could not take now: back off as for a failure, and never
            // sooner than the answer's `Retry-After` (capped as for 429 and 503).
            batch.not_before = Some(self.backed_off(delivery.retry_after, started));
        }
        Counters::add(&self.counters.sent, accepted as usize);
        Counters::add(&self.counters.batches, 1);
        self.auth_warned = false;
        let mut failed = dropped.len() as u64;
        if !dropped.is_empty() {
            details.sort();
            details.dedup();
            let message = format!(
                "PostHog dropped {} event(s) ({})",
                dropped.len(),
                details.join(", ")
            );
            self.fail(DeliveryErrorKind::Rejected, dropped, status, message);
        }
        if !retry.is_empty() {
            batch.events = retry;
            if self.exhausted(&mut batch) {
                failed += batch.events.len() as u64;
                let message = format!(
                    "{} event(s) not stored after {} attempts{}",
                    batch.events.len(),
                    batch.attempts,
                    self.retry_bound()
                );
                self.fail(
                    DeliveryErrorKind::RetriesExhausted,
                    batch.uuids(),
                    status,
                    message,
                );
            } else {
                self.held_bytes += batch.bytes();
                self.retries.push_back(batch);
            }
        }
        self.resolve(id, accepted, failed);
    }

    /// Whether a batch whose attempt just failed (retryably) has used up its retries:
    /// `max_retries` when set explicitly, else `retry_for` since its first failure
    /// (C-RETRY-QUEUE.6). Marks the first failure.
    pub(super) fn exhausted(&self, batch: &mut PendingBatch) -> bool {
        let since = *batch.failing_since.get_or_insert_with(Instant::now);
        match self.config.max_retries {
            Some(max) => batch.attempts > max,
            None => since.elapsed() >= self.config.retry_for,
        }
    }

    /// How retries were bounded, for reports.
    fn retry_bound(&self) -> String {
        match self.config.max_retries {
            Some(max) => format!(" (max_retries {max})"),
            None => format!(" over {:?} (retry_for)", self.config.retry_for),
        }
    }

    /// An attempt started at `started` failed retryably: the server's health takes note (see [`super::health`]);
    /// returns when the failed batch may be tried again. `retry_after` is a floor, capped at
    /// the backoff's cap.
    fn backed_off(&mut self, retry_after: Option<Duration>, started: Instant) -> Instant {
        let policy = self.config.retry;
        let backoff =
            |n: u32| backoff::delay(policy.base, policy.cap, policy.jitter, n, None, jitter());
        self.health.failed(
            Instant::now(),
            started,
            backoff,
            retry_after.map(|wait| wait.min(policy.cap)),
        )
    }

    /// The server answered: its streak of failures is over, and batches backing off may go
    /// at once.
    fn recovered(&mut self) {
        if self.health.streak() > 0 || self.health.resumes_at(Instant::now()).is_some() {
            self.health.succeeded();
            for batch in &mut self.retries {
                batch.not_before = None;
            }
        }
    }

    /// Returns the batch to retry later, or reports it as failed (`None`).
    pub(super) fn retry_or_fail(
        &mut self,
        mut batch: PendingBatch,
        err: &TransportError,
        status: Option<u16>,
        started: Instant,
    ) -> Option<PendingBatch> {
        let n = batch.events.len();
        let retryable = err.is_no_response()
            || match self.config.v1 {
                // Capture v1: 429 is final, 408 is retried (protocol.md §1.4).
                Some(_) => matches!(status, Some(408 | 500 | 502 | 503 | 504)),
                None => status
                    .and_then(|s| http::StatusCode::from_u16(s).ok())
                    .is_some_and(|s| RetryOn::Ingestion.retries_status(s)),
            };
        if !retryable {
            if matches!(status, Some(401 | 403)) && !self.auth_warned {
                self.auth_warned = true;
                tracing::error!(target: "posthog", "PostHog rejected the project token ({err}); check the API key");
            }
            self.fail(
                DeliveryErrorKind::Rejected,
                batch.uuids(),
                status,
                format!("batch of {n} events rejected: {err}"),
            );
            return None;
        }
        let not_before = self.backed_off(err.retry_after(), started);
        if self.exhausted(&mut batch) {
            let message = format!(
                "batch of {n} events dropped after {} attempts{}: {err}",
                batch.attempts,
                self.retry_bound()
            );
            self.fail(
                DeliveryErrorKind::RetriesExhausted,
                batch.uuids(),
                status,
                message,
            );
            return None;
        }
        tracing::debug!(target: "posthog", events = n, attempt = batch.attempts, streak = self.health.streak(), "batch will be retried: {err}");
        batch.not_before = Some(not_before);
        Some(batch)
    }

    /// A batch's attempt is over: credit the flushes waiting for it.
    pub(super) fn resolve(&mut self, id: u64, sent: u64, failed: u64) {
        for waiter in &mut self.flushes {
            if waiter.outstanding.remove(&id) {
                waiter.report.sent += sent;
                waiter.report.failed += failed;
            }
        }
    }
}
