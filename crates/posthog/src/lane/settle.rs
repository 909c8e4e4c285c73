//! What the worker does with a finished send: delivered items are counted, items the server
//! did not take are resent or reported as its verdicts say, failed batches wait on the retry
//! queue with backoff (C-RETRY-QUEUE) or are reported, and a 413 halves the batch.

use std::time::{Duration, Instant};

use posthog_transport::retry::backoff;

use super::batch::{Batch, Encoded, ids};
use super::queue::Counters;
use super::worker::{Sent, Worker};
use super::{LossKind, NotTaken, Route};

impl<R: Route> Worker<R> {
    /// Handles a finished send.
    pub(super) fn complete(&mut self, (mut batch, result): Sent) {
        let id = batch.id;
        let now = Instant::now();
        let started = self
            .in_flight_ids
            .remove(&id)
            .map_or(now, |sending| sending.since);
        self.last_answer = now;
        let n = batch.items.len();
        // The attempt is over: its bytes are held again only by what waits for another one.
        self.held_bytes = self.held_bytes.saturating_sub(batch.bytes());
        let answer = match result {
            Ok(answer) => answer,
            Err(err) if err.is_no_response() || err.is_timeout() => {
                let why = err.to_string();
                return self.retry(batch, err.retry_after(), None, started, why);
            }
            Err(err) => {
                self.shared.lost(
                    LossKind::Rejected,
                    n,
                    batch.ids(),
                    err.status_code().map(|s| s.as_u16()),
                    format!("a batch of {n} failed: {err}"),
                );
                return self.resolve(id, 0, n as u64);
            }
        };
        let code = answer.status.as_u16();
        match code {
            200..=299 => {
                let mut retry = Vec::new();
                let mut dropped = Vec::new();
                let mut reasons = Vec::new();
                let mut verdicts = answer.not_taken;
                verdicts.sort_by_key(|(at, _)| *at);
                let mut verdicts = verdicts.into_iter().peekable();
                for (at, item) in std::mem::take(&mut batch.items).into_iter().enumerate() {
                    // The last verdict given for a position counts.
                    let mut verdict = None;
                    while let Some((_, v)) = verdicts.next_if(|(i, _)| *i == at) {
                        verdict = Some(v);
                    }
                    match verdict {
                        None => {}
                        Some(NotTaken::Retry) => retry.push(item),
                        Some(NotTaken::Dropped(why)) => {
                            reasons.push(why);
                            dropped.push(item);
                        }
                    }
                }
                let delivered = n - retry.len() - dropped.len();
                if self.shared.config.debug {
                    tracing::info!(target: "posthog", route = self.shared.route, delivered, dropped = dropped.len(), retry = retry.len(), attempts = batch.attempts, "batch delivered");
                }
                Counters::add(&self.shared.counters.sent, delivered);
                Counters::add(&self.shared.counters.batches, 1);
                self.auth_warned = false;
                self.batch_limit = (self.batch_limit + 1).min(self.shared.config.flush_at.max(1));
                let mut failed = dropped.len() as u64;
                if !dropped.is_empty() {
                    reasons.sort();
                    reasons.dedup();
                    let message = format!(
                        "the server dropped {} of a batch of {n} ({})",
                        dropped.len(),
                        reasons.join(", ")
                    );
                    self.shared.lost(
                        LossKind::Rejected,
                        dropped.len(),
                        ids(&dropped),
                        Some(code),
                        message,
                    );
                }
                if retry.is_empty() {
                    self.recovered();
                } else {
                    // Items the server could not take now: back off as for a failure, and
                    // never sooner than the answer's `Retry-After`; the same batch (key and
                    // first attempt) goes again.
                    failed +=
                        self.retry_items(&mut batch, retry, answer.retry_after, code, started);
                }
                self.resolve(id, delivered as u64, failed);
            }
            413 if n > 1 => {
                // C-BATCHER.7: too large for the server: send each half on its own (not a
                // retry, no backoff); with `shrink_after_413`, cut batches no larger than a
                // half until healthy sends ramp the size back up.
                if self.shared.config.shrink_after_413 {
                    self.batch_limit = self.batch_limit.min(n / 2).max(1);
                }
                let second = batch.items.split_off(n / 2);
                let (a, b) = (self.next_id(), self.next_id());
                for waiter in &mut self.flushes {
                    if waiter.outstanding.remove(&id) {
                        waiter.outstanding.extend([a, b]);
                    }
                }
                let (first, second) = (Batch::new(a, batch.items), Batch::new(b, second));
                self.held_bytes += first.bytes() + second.bytes();
                self.ready.push_front(second);
                self.ready.push_front(first);
            }
            413 => {
                self.shared.lost(
                    LossKind::TooLarge,
                    n,
                    batch.ids(),
                    Some(413),
                    format!(
                        "the server refused {} as too large (413)",
                        self.describe(&batch.items)
                    ),
                );
                self.resolve(id, 0, n as u64);
            }
            code if self.route.retryable(code) => {
                let why = format!("the server answered {code}");
                self.retry(batch, answer.retry_after, Some(code), started, why);
            }
            code => {
                if matches!(code, 401 | 403) && !self.auth_warned {
                    self.auth_warned = true;
                    tracing::error!(target: "posthog", route = self.shared.route, "PostHog rejected the project token ({code}); check the API key");
                }
                self.shared.lost(
                    LossKind::Rejected,
                    n,
                    batch.ids(),
                    Some(code),
                    format!("a batch of {n} was rejected ({code})"),
                );
                self.resolve(id, 0, n as u64);
            }
        }
    }

    /// "event 0190…" for a batch of one item with an id, else "a batch of n".
    fn describe(&self, items: &[Encoded]) -> String {
        match items {
            [Encoded { id: Some(id), .. }] => {
                format!("{} {}", self.shared.route, uuid::Uuid::from_u128(*id))
            }
            _ => format!("a batch of {}", items.len()),
        }
    }

    /// The items of an answered batch to send again: they wait as the same batch, or are
    /// reported when its retries are used up. Returns how many were lost.
    fn retry_items(
        &mut self,
        batch: &mut Batch,
        items: Vec<Encoded>,
        retry_after: Option<Duration>,
        code: u16,
        started: Instant,
    ) -> u64 {
        let not_before = self.backed_off(retry_after, started);
        let mut again = Batch {
            items,
            packed: None,
            first: batch.first,
            ..Batch::new(batch.id, Vec::new())
        };
        again.attempts = batch.attempts;
        again.failing_since = batch.failing_since;
        if self.exhausted(&mut again) {
            let n = again.items.len();
            let message = format!(
                "{n} item(s) not taken after {} attempts{}",
                again.attempts,
                self.retry_bound()
            );
            self.shared.lost(
                LossKind::RetriesExhausted,
                n,
                again.ids(),
                Some(code),
                message,
            );
            return n as u64;
        }
        again.not_before = Some(not_before);
        self.held_bytes += again.bytes();
        // Its flushes wait for it as the same batch.
        self.retries.push_back(again);
        0
    }

    /// A retryable failure: the batch waits by the server's health, or is given up when its
    /// retries are used up.
    pub(super) fn retry(
        &mut self,
        mut batch: Batch,
        retry_after: Option<Duration>,
        status: Option<u16>,
        started: Instant,
        why: String,
    ) {
        let n = batch.items.len();
        let not_before = self.backed_off(retry_after, started);
        if self.exhausted(&mut batch) {
            let message = format!(
                "a batch of {n} dropped after {} attempts{}: {why}",
                batch.attempts,
                self.retry_bound()
            );
            self.shared
                .lost(LossKind::RetriesExhausted, n, batch.ids(), status, message);
            return self.resolve(batch.id, 0, n as u64);
        }
        tracing::debug!(target: "posthog", route = self.shared.route, items = n, attempt = batch.attempts, streak = self.health.streak(), "batch will be retried: {why}");
        batch.not_before = Some(not_before);
        self.held_bytes += batch.bytes();
        if self.held_bytes > self.pack_above() {
            self.pack(&mut batch);
        }
        // Oldest first: a retry goes out before batches cut after it. Its flushes stop
        // waiting for it (it had its attempt, C-FLUSH.3).
        self.resolve(batch.id, 0, 0);
        self.retries.push_back(batch);
    }

    /// Whether a batch whose attempt just failed (retryably) has used up its retries:
    /// `max_retries` when set, else `retry_for` since its first failure (C-RETRY-QUEUE.6).
    /// Marks the first failure.
    fn exhausted(&self, batch: &mut Batch) -> bool {
        let since = *batch.failing_since.get_or_insert_with(Instant::now);
        match self.shared.config.max_retries {
            Some(max) => batch.attempts > max,
            None => since.elapsed() >= self.shared.config.retry_for,
        }
    }

    /// How retries were bounded, for reports.
    fn retry_bound(&self) -> String {
        match self.shared.config.max_retries {
            Some(max) => format!(" (max_retries {max})"),
            None => format!(" over {:?} (retry_for)", self.shared.config.retry_for),
        }
    }

    /// An attempt started at `started` failed retryably: the server's health takes note
    /// ([`super::health`]); returns when the failed batch may be tried again. `retry_after`
    /// is a floor, capped at the backoff's cap.
    fn backed_off(&mut self, retry_after: Option<Duration>, started: Instant) -> Instant {
        let config = &self.shared.config;
        let (base, cap, jitter) = (config.backoff_base, config.backoff_cap, config.jitter);
        let backoff = |n: u32| backoff::delay(base, cap, jitter, n, None, random());
        self.health.failed(
            Instant::now(),
            started,
            backoff,
            retry_after.map(|wait| wait.min(cap)),
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

/// A number in [0, 1) for the backoff's jitter.
fn random() -> f64 {
    thread_local! {
        static SOURCE: backoff::Jitter = backoff::default_jitter();
    }
    SOURCE.with(|j| j())
}
