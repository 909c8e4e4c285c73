//! The delivery pipeline (C-BATCHER, C-RETRY-QUEUE, C-FLUSH, C-SHUTDOWN): one worker task fed
//! by a bounded channel. It serialises each event once as it arrives, cuts batches by count,
//! bytes and interval, and sends them as separate tasks (a few at a time, so compression runs
//! on every core while the worker keeps taking events in). Failed batches wait on the
//! worker's own retry queue with backoff, so a failing flush never spins. Memory is bounded
//! twice: the channel holds at most `max_queue_size` events, and the worker at most
//! `max_pending_bytes` of serialised events (when full it stops taking events, the channel
//! fills, and new captures are dropped and reported). The worker is woken only when a batch's
//! worth of events is waiting, for a flush or shutdown, or by its interval timer, so a capture in
//! a quiet service does not pay for a cross-thread wake-up.

mod arena;
mod backlog;
mod batch;
mod flushing;
mod settle;

mod overflow;
mod pace;
mod packed;
mod queue;
#[cfg(test)]
mod worker_tests;

pub(crate) use arena::{local_json, with_local};
pub(crate) use batch::{Envelope, PendingEvent};
pub(crate) use overflow::Refused;
pub(crate) use pace::back_to_back;
pub(crate) use queue::{Queue, Shared};

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use posthog_core::Event;
use posthog_transport::retry::backoff;
use posthog_transport::{
    ContentEncoding, Delivery, RetryPolicy, Transport, TransportError, V1Attempt, V1Delivery,
};
use tokio::sync::mpsc::error::TryRecvError;
use tokio::sync::{Notify, mpsc, oneshot};
use tokio::task::JoinSet;
use uuid::Uuid;

use crate::capture::Defaults;
use crate::report::{Counters, DeliveryError, DeliveryErrorKind, OnError};
use arena::Arena;
use batch::{PendingBatch, cut};

/// How soon a worker holding part of a batch, with no send in flight, looks at the channel
/// again: a batch's worth split between its buffer and the channel (captures right after
/// `build()`, say) goes out within this, not at the next `flush_interval`. Each look that
/// finds no full batch doubles the wait (up to `flush_interval`), so a quiet service holding a
/// few events wakes about eight times per interval, not every 20 ms.
pub(crate) const PEEK: Duration = Duration::from_millis(20);

/// Messages the worker takes from the channel per turn of its loop (see [`Worker::drain`]).
const DRAIN_STEP: usize = 4096;

/// What the client sends the worker.
pub(crate) enum Msg {
    /// A `/batch/` event serialised by the capturing thread.
    Json {
        uuid: Uuid,
        json: bytes::Bytes,
    },
    Event(Box<Event>),
    /// An event whose SDK properties are already set (and must not be added again).
    Complete(Box<Event>),
    /// An `$exception` event and the stack its outermost entry still needs: resolved here,
    /// off the calling thread. `add_defaults`: as for [`Msg::Event`] (`false` once hooks saw
    /// the SDK-owned properties, like [`Msg::Complete`]).
    Exception {
        event: Box<Event>,
        trace: Box<std::backtrace::Backtrace>,
        add_defaults: bool,
    },
    Flush(oneshot::Sender<FlushReport>),
}

/// The event an event message carries, unpacked.
pub(crate) enum Payload {
    /// Serialised already.
    Json(PendingEvent),
    /// To serialise, with the SDK-owned properties merged in or not.
    Event(Event, bool),
}

impl Msg {
    /// The event this message carries (an `$exception`'s stack resolved and attached, with
    /// in-app frames by `in_app`), or a flush's reply.
    pub(crate) fn into_payload(
        self,
        in_app: &crate::exceptions::InApp,
    ) -> Result<Payload, oneshot::Sender<FlushReport>> {
        Ok(match self {
            Msg::Json { uuid, json } => Payload::Json(PendingEvent { uuid, json }),
            Msg::Event(event) => Payload::Event(*event, true),
            Msg::Complete(event) => Payload::Event(*event, false),
            Msg::Exception {
                event,
                trace,
                add_defaults,
            } => {
                let mut event = *event;
                crate::exceptions::attach_frames(&mut event, &trace, in_app);
                Payload::Event(event, add_defaults)
            }
            Msg::Flush(reply) => return Err(reply),
        })
    }
}

/// A shutdown request: drain until `deadline`, then answer. It travels beside the channel
/// (a oneshot the worker always listens to), so a full channel cannot hold it up.
pub(crate) struct StopRequest {
    pub(crate) deadline: Instant,
    pub(crate) reply: oneshot::Sender<ShutdownReport>,
}

/// The outcome of a flush.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = posthog::test_util::FakePostHog::start().await;
/// # let client = posthog::Client::builder("phc_project_token").host(server.url()).build()?;
/// client.capture(posthog::Event::new("order_placed", "user-123"));
/// let report: posthog::FlushReport = client.flush().await;
/// assert_eq!((report.sent, report.failed, report.pending), (1, 0, 0));
/// # Ok(()) }
/// ```
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
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = posthog::test_util::FakePostHog::start().await;
/// # let client = posthog::Client::builder("phc_project_token").host(server.url()).build()?;
/// client.capture(posthog::Event::new("order_placed", "user-123"));
/// let report: posthog::ShutdownReport = client.shutdown(std::time::Duration::from_secs(5)).await;
/// assert!(!report.timed_out && report.undelivered == 0);
/// # Ok(()) }
/// ```
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
    /// Retries per batch when set explicitly; `None`: retry for `retry_for`.
    pub(crate) max_retries: Option<u32>,
    /// How long a failing batch keeps being retried when `max_retries` is not set.
    pub(crate) retry_for: Duration,
    pub(crate) max_pending_bytes: usize,
    pub(crate) max_in_flight: usize,
    pub(crate) retry: RetryPolicy,
    /// `Some` for capture v1 (`/i/v1/analytics/events`) with this body encoding; `None` for
    /// `/batch/`.
    pub(crate) v1: Option<ContentEncoding>,
    /// Log every delivered batch (`ClientBuilder::debug`).
    pub(crate) debug: bool,
    /// Which frames are in-app, for the stacks resolved here.
    pub(crate) in_app: crate::exceptions::InApp,
    /// How long the final drain may take when every client handle is gone without a
    /// `shutdown` (`ClientBuilder::shutdown_timeout`).
    pub(crate) drop_timeout: Duration,
}

/// What draining the channel found.
enum Drained {
    Open,
    Closed,
}

/// What a finished send answered.
enum Delivered {
    Batch,
    V1(V1Delivery),
}

/// A flush waiting for the batches it covers.
struct FlushWaiter {
    reply: oneshot::Sender<FlushReport>,
    outstanding: HashSet<u64>,
    report: FlushReport,
}

type Sent = (PendingBatch, Result<Delivered, TransportError>);

/// A batch being sent.
struct InFlight {
    /// When it was sent (a stalled server is one whose oldest send is old).
    since: Instant,
    /// Its events, to report them if shutdown aborts the send.
    uuids: Vec<Uuid>,
}

pub(crate) struct Worker {
    rx: mpsc::Receiver<Msg>,
    /// The shutdown request (an error: every client handle is gone).
    stop: Option<oneshot::Receiver<StopRequest>>,
    /// Woken by the [`Queue`] when there is work; the worker also wakes every interval.
    wake: Arc<Notify>,
    transport: Transport,
    envelope: Arc<Envelope>,
    historical_migration: bool,
    config: WorkerConfig,
    counters: Arc<Counters>,
    on_error: Option<OnError>,
    defaults: Arc<Defaults>,
    buffer: VecDeque<PendingEvent>,
    /// Where events are serialised.
    arena: Arena,
    /// Batches cut and waiting for a sending slot (flushes, 413 halves).
    ready: VecDeque<PendingBatch>,
    /// Batches whose attempt failed, oldest first, waiting for the server ([`health`]).
    retries: VecDeque<PendingBatch>,
    /// Paces attempts by the server's health.
    health: crate::lane::health::Health,
    in_flight: JoinSet<Sent>,
    /// Batches being sent, by id.
    in_flight_ids: HashMap<u64, InFlight>,
    /// When a send last finished (a busy server still finishes sends; a stalled one does not).
    last_answer: Instant,
    held_bytes: usize,
    /// The JSON bytes in `buffer` (part of `held_bytes`).
    buffer_bytes: usize,
    next_id: u64,
    interval_due: bool,
    flushes: Vec<FlushWaiter>,
    auth_warned: bool,
    /// Shared with the [`Queue`]: the overflow.
    shared: Arc<Shared>,
    /// The current wait of a look at the channel while a partial batch waits ([`PEEK`]).
    peek_wait: Duration,
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
        if crate::hooks::contain(|| on_error(&error)).is_none() {
            tracing::warn!(target: "posthog", "the on_error callback panicked");
        }
    }
}

impl Worker {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        rx: mpsc::Receiver<Msg>,
        stop: oneshot::Receiver<StopRequest>,
        wake: Arc<Notify>,
        transport: Transport,
        envelope_key: &str,
        historical_migration: bool,
        config: WorkerConfig,
        counters: Arc<Counters>,
        on_error: Option<OnError>,
        defaults: Arc<Defaults>,
        shared: Arc<Shared>,
    ) -> Self {
        Self {
            rx,
            stop: Some(stop),
            wake,
            transport,
            envelope: Arc::new(Envelope::new(envelope_key, historical_migration)),
            historical_migration,
            config,
            counters,
            on_error,
            defaults,
            buffer: VecDeque::new(),
            arena: Arena::default(),
            ready: VecDeque::new(),
            retries: VecDeque::new(),
            health: crate::lane::health::Health::default(),
            in_flight: JoinSet::new(),
            in_flight_ids: HashMap::new(),
            last_answer: Instant::now(),
            held_bytes: 0,
            buffer_bytes: 0,
            next_id: 0,
            interval_due: false,
            flushes: Vec::new(),
            auth_warned: false,
            shared,
            peek_wait: PEEK,
        }
    }

    pub(crate) async fn run(mut self) {
        let mut tick = tokio::time::interval(self.config.flush_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await; // the first tick is immediate
        let Some(mut stop) = self.stop.take() else {
            return;
        };
        loop {
            if let Drained::Closed = self.drain() {
                break;
            }
            self.dispatch();
            self.answer_flushes();
            self.shared.overflow.set_held(self.held_bytes);
            let retry_wait = until(self.next_wake());
            // A partial batch with nothing in flight: no finished send will wake the worker,
            // and the rest of a batch's worth may be arriving in the channel below the
            // capturing threads' wake-up threshold.
            let peek = (self.in_flight.is_empty() && !self.buffer.is_empty())
                .then(|| Instant::now() + self.peek_wait);
            // While full (`max_pending_bytes`), wake-ups could not be acted on: leave them
            // pending until a send completes.
            let accepting = self.held_bytes < self.config.max_pending_bytes;
            tokio::select! {
                biased;
                request = &mut stop => match request {
                    Ok(StopRequest { deadline, reply }) => {
                        let report = self.shutdown(deadline).await;
                        let _ = reply.send(report);
                        return;
                    }
                    // Every client handle is gone (the queue held the sender).
                    Err(_) => break,
                },
                Some(done) = self.in_flight.join_next(), if !self.in_flight.is_empty() => {
                    if let Ok(sent) = done {
                        self.complete(sent);
                    }
                }
                () = self.wake.notified(), if accepting => {}
                _ = tick.tick() => self.interval_due = true,
                () = retry_wait => {}
                () = until(peek), if accepting => {
                    self.peek_wait = (self.peek_wait * 2).min(self.config.flush_interval);
                }
            }
        }
        // Every client handle is gone without a shutdown: deliver what we can within the
        // configured `shutdown_timeout`.
        self.shutdown(Instant::now() + self.config.drop_timeout)
            .await;
    }

    /// Takes in what the channel holds, while the worker has room for it
    /// (`max_pending_bytes`): events, flushes, and a shutdown (which ends the drain).
    fn drain(&mut self) -> Drained {
        let mut taken = 0;
        while self.held_bytes < self.config.max_pending_bytes {
            if taken == DRAIN_STEP {
                // Come back for the rest after a turn of the loop (sends, packing), which a
                // producer as fast as the worker would otherwise hold off: the channel would
                // never be found empty.
                self.wake.notify_one();
                break;
            }
            taken += 1;
            match self.rx.try_recv() {
                Ok(msg) => self.take(msg),
                Err(TryRecvError::Empty) => {
                    // Older than anything in the overflow, the channel is empty now: take
                    // what waits there.
                    if self.shared.overflow.active() {
                        self.take_overflow();
                    }
                    break;
                }
                Err(TryRecvError::Disconnected) => return Drained::Closed,
            }
        }
        Drained::Open
    }

    /// Holds what waited in the overflow.
    fn take_overflow(&mut self) {
        for event in self.shared.overflow.take() {
            self.hold(event.uuid, event.json);
        }
    }

    /// Handles one message.
    fn take(&mut self, msg: Msg) {
        match msg.into_payload(&self.config.in_app) {
            Ok(Payload::Json(event)) => self.hold(event.uuid, event.json),
            Ok(Payload::Event(event, add_defaults)) => self.accept(event, add_defaults),
            Err(reply) => self.begin_flush(reply),
        }
    }

    fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// Serialises an event once; events too large or unserialisable fail alone (C-BATCHER.8).
    fn accept(&mut self, mut event: Event, add_defaults: bool) {
        let uuid = event.get_uuid().unwrap_or_default();
        let v1 = self.config.v1.is_some();
        match write_event(
            &mut self.arena,
            &mut event,
            add_defaults,
            &self.defaults,
            v1,
        ) {
            Ok(json) => self.hold(uuid, json),
            Err(err) => {
                self.fail(
                    DeliveryErrorKind::Invalid,
                    vec![uuid],
                    None,
                    format!("event {uuid} did not serialise: {err}"),
                );
            }
        }
    }

    /// Queues a serialised event for a batch; one over the per-event limit fails alone
    /// (C-BATCHER.4).
    fn hold(&mut self, uuid: Uuid, json: bytes::Bytes) {
        if json.len() > self.config.max_event_bytes {
            self.fail(
                DeliveryErrorKind::EventTooLarge,
                vec![uuid],
                None,
                format!(
                    "event {uuid} is {} bytes, over the {} byte limit; dropped",
                    json.len(),
                    self.config.max_event_bytes
                ),
            );
            return;
        }
        self.held_bytes += json.len();
        self.buffer_bytes += json.len();
        self.buffer.push_back(PendingEvent { uuid, json });
    }

    fn fail(
        &self,
        kind: DeliveryErrorKind,
        uuids: Vec<Uuid>,
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

    fn cut_batch(&mut self) -> Option<PendingBatch> {
        let events = cut(
            &mut self.buffer,
            self.config.flush_at,
            self.config.max_batch_bytes,
        );
        if events.is_empty() {
            return None;
        }
        self.peek_wait = PEEK;
        let id = self.next_id();
        let batch = PendingBatch::new(id, events);
        self.buffer_bytes = self.buffer_bytes.saturating_sub(batch.bytes());
        Some(batch)
    }

    /// Starts sends while the server's health allows ([`health`]): ready batches, then
    /// retries, oldest first, then the buffer when a full batch is there or the interval has
    /// passed (C-BATCHER.1).
    fn dispatch(&mut self) {
        let width = self.health.width(Instant::now(), self.config.max_in_flight);
        while self.in_flight.len() < width {
            let batch = if let Some(batch) = self.ready.pop_front() {
                batch
            } else if let Some(batch) = self.due_retry() {
                batch
            } else if self.buffer.len() >= self.config.flush_at
                || (self.interval_due && !self.buffer.is_empty())
            {
                match self.cut_batch() {
                    Some(batch) => batch,
                    None => break,
                }
            } else {
                break;
            };
            self.start(batch);
        }
        if self.buffer.is_empty() {
            self.interval_due = false;
        }
        self.pack_backlog();
    }

    /// The oldest retry whose backoff is over.
    fn due_retry(&mut self) -> Option<PendingBatch> {
        let now = Instant::now();
        let due = self
            .retries
            .iter()
            .position(|b| b.not_before.is_none_or(|at| at <= now))?;
        self.retries.remove(due)
    }

    /// When the worker must look again: the end of a pause, or of a retry's backoff.
    fn next_wake(&self) -> Option<Instant> {
        let now = Instant::now();
        self.health
            .resumes_at(now)
            .or_else(|| self.retries.iter().filter_map(|b| b.not_before).min())
    }

    /// Whether no further attempt can start now (every slot the server's health allows is
    /// taken, or sending is paused).
    fn sending_blocked(&self) -> bool {
        self.in_flight.len() >= self.health.width(Instant::now(), self.config.max_in_flight)
    }

    fn start(&mut self, mut batch: PendingBatch) {
        if !self.unpack(&mut batch) {
            return;
        }
        batch.attempts += 1;
        if batch.attempts > 1 {
            Counters::add(&self.counters.retried, batch.events.len());
        }
        let sending = InFlight {
            since: Instant::now(),
            uuids: batch.uuids(),
        };
        self.in_flight_ids.insert(batch.id, sending);
        let transport = self.transport.clone();
        if let Some(encoding) = self.config.v1 {
            // One request id and `created_at` per logical batch, kept on every retry.
            let (request_id, created_at) = batch
                .v1
                .get_or_insert_with(|| {
                    (
                        posthog_core::ids::new_uuid(),
                        posthog_core::capture_v1::timestamp(chrono::Utc::now()),
                    )
                })
                .clone();
            let attempt = V1Attempt {
                request_id,
                attempt: batch.attempts,
            };
            let historical = self.historical_migration;
            self.in_flight.spawn(async move {
                let events: Vec<&[u8]> = batch.events.iter().map(|e| &e.json[..]).collect();
                let body = posthog_core::capture_v1::batch_body(&created_at, historical, &events);
                let result = transport
                    .send_v1(body.into(), attempt, encoding)
                    .await
                    .map(Delivered::V1);
                (batch, result)
            });
            return;
        }
        let envelope = self.envelope.clone();
        self.in_flight.spawn(async move {
            // The body (and its `sent_at`) is built for this attempt, then compressed by the
            // transport on this task's thread.
            let body = envelope.body(&batch.events);
            let result = transport
                .send_batch_with(body, RetryPolicy::none())
                .await
                .map(|_: Delivery| Delivered::Batch);
            (batch, result)
        });
    }
}

/// An event's JSON for the configured endpoint, written into `arena`: capture v1's event
/// shape (defaults set first when `add_defaults`), or `/batch/`'s with the defaults merged in
/// as it is written.
pub(crate) fn write_event(
    arena: &mut Arena,
    event: &mut Event,
    add_defaults: bool,
    defaults: &Defaults,
    v1: bool,
) -> Result<bytes::Bytes, String> {
    if v1 {
        if add_defaults {
            defaults.apply(event);
        }
        arena
            .write(|out| posthog_core::capture_v1::write_event_json(event, out))
            .map_err(|e| e.to_string())
    } else {
        arena
            .json(&defaults.merged(event, add_defaults))
            .map_err(|e| e.to_string())
    }
}

/// Sleeps until `at`, or forever when there is nothing to wait for.
async fn until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

fn jitter() -> f64 {
    thread_local! {
        static SOURCE: backoff::Jitter = backoff::default_jitter();
    }
    SOURCE.with(|j| j())
}
