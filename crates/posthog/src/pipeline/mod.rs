//! The delivery pipeline (C-BATCHER, C-RETRY-QUEUE, C-FLUSH, C-SHUTDOWN): one worker task fed
//! by a bounded channel. It serialises each event once, cuts batches by count, bytes and
//! interval, sends them through the transport without inline retries, and keeps retryable
//! batches on its own queue with backoff, so one failing flush never spins.

mod batch;

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::{Duration, Instant};

use posthog_core::Event;
use posthog_transport::retry::{RetryOn, backoff};
use posthog_transport::{RetryPolicy, Transport, TransportError};
use tokio::sync::{mpsc, oneshot};

use crate::client::Defaults;
use crate::report::{Counters, DeliveryError, DeliveryErrorKind, OnError};
use batch::{Envelope, PendingBatch, PendingEvent, cut};

/// What the client sends the worker.
pub(crate) enum Msg {
    Event(Box<Event>),
    Flush(oneshot::Sender<FlushReport>),
    Shutdown {
        deadline: Instant,
        reply: oneshot::Sender<ShutdownReport>,
    },
}

/// The outcome of a flush.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct FlushReport {
    /// Events delivered by this flush.
    pub sent: u64,
    /// Events given up on during this flush.
    pub failed: u64,
    /// Events still queued for a later retry.
    pub pending: u64,
}

/// The outcome of a shutdown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ShutdownReport {
    /// Events delivered during the final drain.
    pub sent: u64,
    /// Events that could not be delivered (failed, or still unsent at the deadline).
    pub undelivered: u64,
    /// Whether the deadline passed before the queue was drained.
    pub timed_out: bool,
}

/// Settings the worker needs.
#[derive(Clone)]
pub(crate) struct WorkerConfig {
    pub(crate) flush_at: usize,
    pub(crate) flush_interval: Duration,
    pub(crate) max_batch_bytes: usize,
    pub(crate) max_event_bytes: usize,
    pub(crate) max_retries: u32,
    pub(crate) max_pending: usize,
    pub(crate) retry: RetryPolicy,
}

pub(crate) struct Worker {
    rx: mpsc::Receiver<Msg>,
    transport: Transport,
    envelope: Envelope,
    config: WorkerConfig,
    counters: Arc<Counters>,
    on_error: Option<OnError>,
    defaults: Arc<Defaults>,
    buffer: VecDeque<PendingEvent>,
    retries: VecDeque<PendingBatch>,
    auth_warned: bool,
}

/// Reports lost events: counts them, logs, and calls `on_error` (whose panics are contained).
pub(crate) fn report(
    counters: &Counters,
    on_error: Option<&OnError>,
    error: DeliveryError,
    failed: bool,
) {
    let counter = if failed {
        &counters.failed
    } else {
        &counters.dropped
    };
    Counters::add(counter, error.count);
    tracing::warn!(target: "posthog", kind = ?error.kind, count = error.count, status = ?error.status, "{}", error.message);
    if let Some(on_error) = on_error {
        if catch_unwind(AssertUnwindSafe(|| on_error(&error))).is_err() {
            tracing::warn!(target: "posthog", "the on_error callback panicked");
        }
    }
}

impl Worker {
    pub(crate) fn new(
        rx: mpsc::Receiver<Msg>,
        transport: Transport,
        envelope_key: &str,
        historical_migration: bool,
        config: WorkerConfig,
        counters: Arc<Counters>,
        on_error: Option<OnError>,
        defaults: Arc<Defaults>,
    ) -> Self {
        Self {
            rx,
            transport,
            envelope: Envelope::new(envelope_key, historical_migration),
            config,
            counters,
            on_error,
            defaults,
            buffer: VecDeque::new(),
            retries: VecDeque::new(),
            auth_warned: false,
        }
    }

    pub(crate) async fn run(mut self) {
        let mut tick = tokio::time::interval(self.config.flush_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await; // the first tick is immediate
        loop {
            let next_retry = self.retries.iter().map(|b| b.next_at).min();
            let retry_wait = async {
                match next_retry {
                    Some(at) => tokio::time::sleep_until(at.into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                msg = self.rx.recv() => match msg {
                    Some(Msg::Event(event)) => {
                        self.accept(*event);
                        while self.buffer.len() >= self.config.flush_at {
                            self.send_next_buffered().await;
                        }
                    }
                    Some(Msg::Flush(reply)) => {
                        let report = self.flush().await;
                        let _ = reply.send(report);
                    }
                    Some(Msg::Shutdown { deadline, reply }) => {
                        let report = self.shutdown(deadline).await;
                        let _ = reply.send(report);
                        return;
                    }
                    None => {
                        // Every client handle is gone: deliver what we can, briefly.
                        self.shutdown(Instant::now() + Duration::from_secs(5)).await;
                        return;
                    }
                },
                _ = tick.tick() => {
                    while !self.buffer.is_empty() {
                        self.send_next_buffered().await;
                    }
                }
                () = retry_wait => {
                    self.send_due_retries(false).await;
                }
            }
        }
    }

    /// Serialises an event once; events too large or unserialisable fail alone (C-BATCHER.8).
    fn accept(&mut self, mut event: Event) {
        self.defaults.apply(&mut event);
        let uuid = event.get_uuid().unwrap_or_default();
        match serde_json::to_vec(&event) {
            Ok(json) if json.len() > self.config.max_event_bytes => self.fail(
                DeliveryErrorKind::EventTooLarge,
                vec![uuid],
                None,
                format!(
                    "event {uuid} is {} bytes, over the {} byte limit; dropped",
                    json.len(),
                    self.config.max_event_bytes
                ),
            ),
            Ok(json) => self.buffer.push_back(PendingEvent {
                uuid,
                json: json.into(),
            }),
            Err(err) => self.fail(
                DeliveryErrorKind::Invalid,
                vec![uuid],
                None,
                format!("event {uuid} did not serialise: {err}"),
            ),
        }
    }

    fn fail(
        &self,
        kind: DeliveryErrorKind,
        uuids: Vec<uuid::Uuid>,
        status: Option<u16>,
        message: String,
    ) {
        let error = DeliveryError {
            kind,
            count: uuids.len(),
            uuids,
            status,
            message,
        };
        report(&self.counters, self.on_error.as_ref(), error, true);
    }

    async fn send_next_buffered(&mut self) -> (u64, u64) {
        let events = cut(
            &mut self.buffer,
            self.config.flush_at,
            self.config.max_batch_bytes,
        );
        if events.is_empty() {
            return (0, 0);
        }
        self.send(PendingBatch::new(events)).await
    }

    /// Sends retry batches that are due (all of them when `all`), once each.
    async fn send_due_retries(&mut self, all: bool) -> (u64, u64) {
        let now = Instant::now();
        let (due, later): (Vec<_>, Vec<_>) = self
            .retries
            .drain(..)
            .partition(|b| all || b.next_at <= now);
        self.retries.extend(later);
        let (mut sent, mut failed) = (0, 0);
        for batch in due {
            let (s, f) = self.send(batch).await;
            sent += s;
            failed += f;
        }
        (sent, failed)
    }

    /// One attempt for one batch; returns (events sent, events failed).
    async fn send(&mut self, mut batch: PendingBatch) -> (u64, u64) {
        let n = batch.events.len();
        let body = self.envelope.body(&batch.events);
        batch.attempts += 1;
        if batch.attempts > 1 {
            Counters::add(&self.counters.retried, n);
        }
        match self
            .transport
            .send_batch_with(body, RetryPolicy::none())
            .await
        {
            Ok(_) => {
                Counters::add(&self.counters.sent, n);
                Counters::add(&self.counters.batches, 1);
                self.auth_warned = false;
                (n as u64, 0)
            }
            Err(err) => self.handle_failure(batch, err),
        }
    }

    fn handle_failure(&mut self, mut batch: PendingBatch, err: TransportError) -> (u64, u64) {
        let n = batch.events.len();
        let status = err.status_code().map(|s| s.as_u16());
        if status == Some(413) {
            // C-BATCHER.7: halve and resend (not counted as a retry); one event alone is dropped.
            if n > 1 {
                let second = batch.events.split_off(n / 2);
                self.retries.push_front(PendingBatch::new(second));
                self.retries.push_front(PendingBatch::new(batch.events));
                return (0, 0);
            }
            self.fail(
                DeliveryErrorKind::EventTooLarge,
                batch.uuids(),
                status,
                "the server rejected an event as too large (413)".into(),
            );
            return (0, 1);
        }
        let retryable = err.is_no_response()
            || status.is_some_and(|s| RetryOn::Ingestion.retries_status(http_status(s)));
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
            return (0, n as u64);
        }
        if batch.attempts > self.config.max_retries {
            let message = format!(
                "batch of {n} events dropped after {} attempts: {err}",
                batch.attempts
            );
            self.fail(
                DeliveryErrorKind::RetriesExhausted,
                batch.uuids(),
                status,
                message,
            );
            return (0, n as u64);
        }
        let policy = self.config.retry;
        let wait = backoff::delay(
            policy.base,
            policy.cap,
            policy.jitter,
            batch.attempts,
            err.retry_after(),
            jitter(),
        );
        tracing::debug!(target: "posthog", events = n, attempt = batch.attempts, wait_ms = wait.as_millis() as u64, "batch will be retried: {err}");
        batch.next_at = Instant::now() + wait;
        self.retries.push_back(batch);
        self.enforce_bound();
        (0, 0)
    }

    /// C-RETRY-QUEUE.5: queued retries never exceed the queue bound; the oldest go first.
    fn enforce_bound(&mut self) {
        let mut pending: usize =
            self.retries.iter().map(|b| b.events.len()).sum::<usize>() + self.buffer.len();
        while pending > self.config.max_pending {
            let Some(oldest) = self.retries.pop_front() else {
                break;
            };
            pending -= oldest.events.len();
            self.fail(
                DeliveryErrorKind::RetriesExhausted,
                oldest.uuids(),
                None,
                "retry queue full; oldest batch dropped".into(),
            );
        }
    }

    fn pending_events(&self) -> u64 {
        (self.buffer.len() + self.retries.iter().map(|b| b.events.len()).sum::<usize>()) as u64
    }

    /// C-FLUSH: every buffered event gets an attempt, and so does every due retry; retryable
    /// failures stay queued.
    async fn flush(&mut self) -> FlushReport {
        let (mut sent, mut failed) = (0, 0);
        while !self.buffer.is_empty() {
            let (s, f) = self.send_next_buffered().await;
            sent += s;
            failed += f;
        }
        let (s, f) = self.send_due_retries(false).await;
        FlushReport {
            sent: sent + s,
            failed: failed + f,
            pending: self.pending_events(),
        }
    }

    /// C-SHUTDOWN: take what was captured before the call, then send and retry until drained
    /// or the deadline; whatever is left is reported as undelivered.
    async fn shutdown(&mut self, deadline: Instant) -> ShutdownReport {
        self.rx.close();
        while let Ok(msg) = self.rx.try_recv() {
            match msg {
                Msg::Event(event) => self.accept(*event),
                Msg::Flush(reply) => {
                    let _ = reply.send(FlushReport::default());
                }
                Msg::Shutdown { reply, .. } => {
                    let _ = reply.send(ShutdownReport::default());
                }
            }
        }
        let (mut sent, mut failed) = (0, 0);
        let deadline_sleep = tokio::time::sleep_until(deadline.into());
        tokio::pin!(deadline_sleep);
        let drain = async {
            while !self.buffer.is_empty() || !self.retries.is_empty() {
                let (s, f) = if self.buffer.is_empty() {
                    if let Some(at) = self.retries.iter().map(|b| b.next_at).min() {
                        tokio::time::sleep_until(at.into()).await;
                    }
                    self.send_due_retries(false).await
                } else {
                    self.send_next_buffered().await
                };
                sent += s;
                failed += f;
            }
        };
        let timed_out = tokio::select! {
            () = drain => false,
            () = &mut deadline_sleep => true,
        };
        let left: Vec<uuid::Uuid> = self
            .buffer
            .drain(..)
            .map(|e| e.uuid)
            .chain(
                self.retries
                    .drain(..)
                    .flat_map(|b| b.events.into_iter().map(|e| e.uuid)),
            )
            .collect();
        let undelivered = failed + left.len() as u64;
        if !left.is_empty() {
            let message = format!(
                "shutdown deadline passed with {} events undelivered",
                left.len()
            );
            tracing::error!(target: "posthog", "{message}");
            self.fail(DeliveryErrorKind::ShutdownTimeout, left, None, message);
        }
        ShutdownReport {
            sent,
            undelivered,
            timed_out,
        }
    }
}

fn http_status(code: u16) -> http::StatusCode {
    http::StatusCode::from_u16(code).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR)
}

fn jitter() -> f64 {
    thread_local! {
        static SOURCE: backoff::Jitter = backoff::default_jitter();
    }
    SOURCE.with(|j| j())
}
