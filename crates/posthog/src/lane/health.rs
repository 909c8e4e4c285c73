//! [`Health`]: the server's health as the worker sees it, which paces every attempt
//! (C-RETRY-QUEUE.2).
//!
//! Backoff follows the server, not each batch. The streak counts rounds of attempts that
//! failed since the last success, of any batch (attempts that were already out when a
//! failure was counted add nothing: they are the same round):
//! - a batch whose attempt failed waits `200 ms × 2^(streak − 1)` (with jitter, capped at
//!   30 s) before its next attempt;
//! - from the second failed round in a row the whole worker pauses for as long, so an outage
//!   costs one round of attempts (`max_in_flight`) per backoff step, not one per batch, and
//!   when the pause ends the batches of that round are due together: a full round probes the
//!   server. A single failure pauses nothing (at random, failures rarely come in a row, and
//!   pausing every other batch for each of them cut throughput by three quarters in the
//!   fault run);
//! - a `Retry-After` is a floor for the failed batch's next attempt (C-RETRY-QUEUE.2), not
//!   a pause of the others: a rate limit answered for one request says nothing the next
//!   attempt will not learn for itself;
//! - the first success ends the streak: full width again, and every waiting batch may go at
//!   once, instead of each sitting out the backoff it was given during the outage (up to
//!   30 s per batch after a long one).
//!
//! A server that fails at random (a third of requests, say) thus keeps the streak short: a
//! failed batch is retried within a few hundred milliseconds however often it was unlucky
//! before, and the others keep flowing.

use std::time::{Duration, Instant};

/// The server's health (see the module docs).
#[derive(Debug, Default)]
pub(crate) struct Health {
    /// Rounds of failed attempts since the last success.
    streak: u32,
    /// When the streak last grew: an attempt started before then is of a counted round.
    counted_at: Option<Instant>,
    /// No attempt starts before this.
    paused_until: Option<Instant>,
}

impl Health {
    /// Failed attempts since the last success.
    pub(crate) fn streak(&self) -> u32 {
        self.streak
    }

    /// An attempt that started at `started` failed retryably. `backoff(n)` is the wait after
    /// `n` failed rounds in a row; `retry_after` the server's, if any. Returns when the failed
    /// batch may be tried again.
    pub(crate) fn failed(
        &mut self,
        now: Instant,
        started: Instant,
        backoff: impl Fn(u32) -> Duration,
        retry_after: Option<Duration>,
    ) -> Instant {
        if self.streak == 0 || self.counted_at.is_none_or(|at| started >= at) {
            self.streak = self.streak.saturating_add(1);
            self.counted_at = Some(now);
            if self.streak >= 2 {
                self.pause_until(now + backoff(self.streak));
            }
        }
        now + backoff(self.streak).max(retry_after.unwrap_or_default())
    }

    /// The server answered: full width again, and any pause is over (an attempt of the same
    /// round may have failed first and set one).
    pub(crate) fn succeeded(&mut self) {
        self.streak = 0;
        self.counted_at = None;
        self.paused_until = None;
    }

    /// No attempt before `at` (a pause already longer is kept).
    pub(crate) fn pause_until(&mut self, at: Instant) {
        self.paused_until = Some(self.paused_until.map_or(at, |p| p.max(at)));
    }

    /// When a pause ends, if one is on.
    pub(crate) fn resumes_at(&self, now: Instant) -> Option<Instant> {
        self.paused_until.filter(|&at| at > now)
    }

    /// How many attempts may be out at once now: none while paused, else `max_in_flight`.
    pub(crate) fn width(&self, now: Instant, max_in_flight: usize) -> usize {
        if self.resumes_at(now).is_some() {
            0
        } else {
            max_in_flight
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn backoff(n: u32) -> Duration {
        100 * MS * 2u32.pow(n - 1)
    }

    #[test]
    fn one_failure_backs_off_that_batch_only() {
        let t0 = Instant::now();
        let mut health = Health::default();
        assert_eq!(health.width(t0, 4), 4);
        let again = health.failed(t0, t0, backoff, None);
        assert_eq!(again, t0 + 100 * MS, "the failed batch backs off");
        assert_eq!(health.width(t0, 4), 4, "the others go on");
        health.succeeded();
        assert_eq!(health.width(t0, 4), 4);
    }

    #[test]
    fn failures_in_a_row_pause_the_worker_and_a_success_reopens() {
        let t0 = Instant::now();
        let mut health = Health::default();
        health.failed(t0, t0, backoff, None);
        let again = health.failed(t0 + MS, t0 + MS, backoff, None);
        assert_eq!(again, t0 + MS + 200 * MS);
        assert_eq!(
            health.resumes_at(t0),
            Some(again),
            "due when the pause ends"
        );
        assert_eq!(health.width(t0 + MS, 4), 0, "paused");
        assert_eq!(health.width(again, 4), 4, "then a round of attempts");
        health.succeeded();
        assert_eq!(
            (health.streak(), health.width(t0 + MS, 4)),
            (0, 4),
            "pause over"
        );
    }

    #[test]
    fn attempts_of_a_counted_round_add_nothing() {
        let t0 = Instant::now();
        let mut health = Health::default();
        // Two attempts out together, both failing: one round.
        health.failed(t0 + MS, t0, backoff, None);
        health.failed(t0 + 2 * MS, t0, backoff, None);
        assert_eq!((health.streak(), health.resumes_at(t0)), (1, None));
        // An attempt started after the first failure was counted is a new round.
        health.failed(t0 + 3 * MS, t0 + 2 * MS, backoff, None);
        assert_eq!(health.streak(), 2);
    }

    #[test]
    fn retry_after_is_a_floor_for_the_failed_batch_only() {
        let t0 = Instant::now();
        let mut health = Health::default();
        let again = health.failed(t0, t0, backoff, Some(900 * MS));
        assert_eq!(again, t0 + 900 * MS);
        assert_eq!(health.resumes_at(t0), None);
        assert_eq!(health.width(t0, 2), 2);
    }
}
