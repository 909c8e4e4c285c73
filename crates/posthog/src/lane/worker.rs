//! The lane's worker (C-BATCHER, C-RETRY-QUEUE): one task that takes items from the queue and
//! encodes them (each once, into its arena), cuts batches by count, bytes and interval, and
//! sends them as separate tasks, a few at a time, so bodies are built and compressed on every
//! core while the worker keeps taking items in. What it does with answers is in `settle.rs`,
//! flushes and the shutdown in `flushing.rs`, packing in `backlog.rs`.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use posthog_transport::{Transport, TransportError};
use tokio::sync::oneshot;
use tokio::task::JoinSet;

use super::arena::Arena;
use super::batch::{Batch, Encoded, cut};
use super::health::Health;
use super::queue::{Counters, Queued, Shared, Stop};
use super::{Answer, LaneReport, LossKind, Outgoing, Route};

/// How soon a worker holding part of a batch, with no send in flight, looks at the queue
/// again: a batch's worth split between its buffer and the queue (items pushed right after
/// the start, say) goes out within this, not at the next `flush_interval`. Each look that
/// finds no full batch doubles the wait (up to `flush_interval`), so a quiet service holding a
/// few items wakes about eight times per interval, not every 20 ms.
pub(super) const PEEK: Duration = Duration::from_millis(20);

/// Queued items the worker processes per turn of its loop (see [`Worker::drain`]).
pub(super) const DRAIN_STEP: usize = 4096;

/// The capacity the queue's buffer keeps between bursts (entries).
const INTAKE_KEPT: usize = 4096;

/// A flush waiting for the batches it covers.
pub(super) struct FlushWaiter {
    pub(super) reply: oneshot::Sender<LaneReport>,
    pub(super) outstanding: HashSet<u64>,
    pub(super) report: LaneReport,
}

pub(super) type Sent = (Batch, Result<Answer, TransportError>);

/// A batch being sent.
pub(super) struct InFlight {
    /// When it was sent (a stalled server is one whose oldest send is old).
    pub(super) since: Instant,
    /// How many items, and the ids of those that have one, to report them if the shutdown
    /// aborts the send.
    pub(super) count: usize,
    pub(super) ids: Vec<u128>,
    /// Its bytes, held while it is out.
    pub(super) bytes: usize,
}

pub(super) struct Worker<R: Route> {
    pub(super) route: Arc<R>,
    pub(super) transport: Transport,
    pub(super) shared: Arc<Shared<R::Item>>,
    /// The shutdown request.
    pub(super) stop: Option<oneshot::Receiver<Stop>>,
    /// Items taken from the queue, not yet processed.
    pub(super) intake: VecDeque<Queued<R::Item>>,
    pub(super) buffer: VecDeque<Encoded>,
    /// Where items are encoded.
    pub(super) arena: Arena,
    /// Batches cut and waiting for a sending slot (flushes, 413 halves, packed backlog).
    pub(super) ready: VecDeque<Batch>,
    /// Batches whose attempt failed, oldest first, waiting for the server ([`Health`]).
    pub(super) retries: VecDeque<Batch>,
    /// Paces attempts by the server's health.
    pub(super) health: Health,
    pub(super) in_flight: JoinSet<Sent>,
    /// Batches being sent, by id.
    pub(super) in_flight_ids: HashMap<u64, InFlight>,
    /// The batch each send task carries, to report it if the task panics.
    tasks: HashMap<tokio::task::Id, u64>,
    /// When a send last finished (a busy server still finishes sends; a stalled one does not).
    pub(super) last_answer: Instant,
    /// Bytes of encoded items held: buffered, cut, in flight, waiting for a retry.
    pub(super) held_bytes: usize,
    /// The bytes in `buffer` (part of `held_bytes`).
    pub(super) buffer_bytes: usize,
    next_id: u64,
    pub(super) interval_due: bool,
    pub(super) flushes: Vec<FlushWaiter>,
    pub(super) auth_warned: bool,
    /// The current wait of a look at the queue while a partial batch waits ([`PEEK`]).
    peek_wait: Duration,
    /// Items per batch now: `flush_at`, halved by a 413 and back up by one per healthy send
    /// (C-LOGS.17).
    pub(super) batch_limit: usize,
    /// Whether the worker ran to its end (the shutdown answered, or the orphan drain done).
    pub(super) finished: bool,
}

impl<R: Route> Worker<R> {
    pub(super) fn new(
        route: Arc<R>,
        transport: Transport,
        shared: Arc<Shared<R::Item>>,
        stop: oneshot::Receiver<Stop>,
    ) -> Self {
        let batch_limit = shared.config.flush_at.max(1);
        Self {
            route,
            transport,
            shared,
            stop: Some(stop),
            intake: VecDeque::new(),
            buffer: VecDeque::new(),
            arena: Arena::default(),
            ready: VecDeque::new(),
            retries: VecDeque::new(),
            health: Health::default(),
            in_flight: JoinSet::new(),
            in_flight_ids: HashMap::new(),
            tasks: HashMap::new(),
            last_answer: Instant::now(),
            held_bytes: 0,
            buffer_bytes: 0,
            next_id: 0,
            interval_due: false,
            flushes: Vec::new(),
            auth_warned: false,
            peek_wait: PEEK,
            batch_limit,
            finished: false,
        }
    }

    pub(super) async fn run(mut self) {
        // (`interval` panics on zero.)
        let every = self
            .shared
            .config
            .flush_interval
            .max(Duration::from_millis(1));
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await; // the first tick is immediate
        let Some(mut stop) = self.stop.take() else {
            return;
        };
        let max_held = self.shared.config.max_held_bytes;
        loop {
            // Every handle gone: nothing more can be queued, so drain what is held now (the
            // orphan drain takes the queue whatever the worker holds).
            if self.shared.are_handles_gone() {
                break;
            }
            self.drain();
            self.dispatch();
            self.answer_flushes();
            self.shared.set_held(self.held_bytes);
            let retry_wait = until(self.next_wake());
            // A partial batch with nothing in flight: no finished send will wake the worker,
            // and the rest of a batch's worth may be arriving below the pushers' wake-up
            // threshold.
            let peek = (self.in_flight.is_empty() && !self.buffer.is_empty())
                .then(|| Instant::now() + self.peek_wait);
            // While full (`max_held_bytes`), wake-ups could not be acted on: leave them
            // pending until a send completes.
            let accepting = self.held_bytes < max_held;
            tokio::select! {
                biased;
                request = &mut stop => match request {
                    Ok(Stop { deadline, reply }) => {
                        let report = self.shutdown(deadline).await;
                        let _ = reply.send(report);
                        self.finished = true;
                        return;
                    }
                    Err(_) => break,
                },
                Some(done) = self.in_flight.join_next_with_id(), if !self.in_flight.is_empty() => {
                    self.joined(done);
                }
                () = self.shared.wake.notified(), if accepting => {}
                _ = tick.tick() => self.interval_due = true,
                () = retry_wait => {}
                () = until(peek), if accepting => {
                    self.peek_wait = (self.peek_wait * 2).min(self.shared.config.flush_interval);
                }
            }
        }
        // Every handle is gone without a shutdown: deliver what it can within
        // `orphan_drain`.
        let deadline = Instant::now() + self.shared.config.orphan_drain;
        self.shutdown(deadline).await;
        self.finished = true;
    }

    /// A send task ended: its answer, or (it panicked or was aborted) its items lost.
    pub(super) fn joined(&mut self, done: Result<(tokio::task::Id, Sent), tokio::task::JoinError>) {
        match done {
            Ok((task, sent)) => {
                self.tasks.remove(&task);
                self.complete(sent);
            }
            Err(err) => {
                // The task's batch went with it: report its items, known by task.
                let Some(id) = self.tasks.remove(&err.id()) else {
                    return;
                };
                if let Some(sending) = self.in_flight_ids.remove(&id) {
                    self.held_bytes = self.held_bytes.saturating_sub(sending.bytes);
                    self.shared.lost(
                        LossKind::Rejected,
                        sending.count,
                        sending.ids,
                        None,
                        format!("a send failed: {err}"),
                    );
                    self.resolve(id, 0, sending.count as u64);
                }
            }
        }
    }

    /// Takes in what the queue holds, while the worker has room for it (`max_held_bytes`):
    /// items and flushes, [`DRAIN_STEP`] at most per turn.
    pub(super) fn drain(&mut self) {
        let mut taken = 0;
        let (mut items, mut encoded_bytes) = (0, 0);
        while self.held_bytes < self.shared.config.max_held_bytes {
            if taken == DRAIN_STEP {
                // Come back for the rest after a turn of the loop (sends, packing), which a
                // producer as fast as the worker would otherwise hold off.
                self.shared.wake.notify_one();
                break;
            }
            let Some(queued) = self.next_queued(false) else {
                break;
            };
            taken += 1;
            let (n, bytes) = queued.weight();
            (items, encoded_bytes) = (items + n, encoded_bytes + bytes);
            self.take(queued);
        }
        self.shared.processed(items, encoded_bytes);
        if self.held_bytes >= self.shared.config.max_held_bytes {
            self.take_flushes();
        }
    }

    /// Holding `max_held_bytes`, the worker takes no items: what it took but has not
    /// processed goes back to the front of the queue (where a `DropOldest` queue can drop
    /// it), and flushes queued behind items are taken now: they cover what the worker holds,
    /// and count what waits as pending.
    fn take_flushes(&mut self) {
        if !self.intake.is_empty() {
            self.shared.give_back(&mut self.intake);
        }
        for reply in self.shared.take_flushes() {
            self.begin_flush(reply);
        }
    }

    /// The oldest queued entry: from what was taken, else the queue taken now.
    pub(super) fn next_queued(&mut self, close: bool) -> Option<Queued<R::Item>> {
        if self.intake.is_empty() {
            // The emptied buffer goes back to the pushers: from its start (they then write
            // the few lines the worker just read, not cold ones around the ring), and no
            // larger than a busy queue needs once a burst is over.
            self.intake.clear();
            self.intake.shrink_to(INTAKE_KEPT);
            self.shared.take(&mut self.intake, close);
        }
        self.intake.pop_front()
    }

    /// Handles one queued entry.
    pub(super) fn take(&mut self, queued: Queued<R::Item>) {
        match queued {
            Queued::Item(item) => {
                let id = self.route.id(&item);
                match self.route.encode(item, &mut self.arena) {
                    Ok(bytes) => self.hold(Encoded { id, bytes }),
                    Err(refusal) => self.shared.lost(
                        refusal.kind,
                        1,
                        id.into_iter().collect(),
                        None,
                        refusal.message,
                    ),
                }
            }
            Queued::Encoded(encoded) => self.hold(encoded),
            Queued::Flush(reply) => {
                self.shared.flush_taken();
                self.begin_flush(reply);
            }
        }
    }

    /// Buffers an encoded item for a batch; one over the per-item cap is lost alone
    /// (C-BATCHER.4).
    fn hold(&mut self, item: Encoded) {
        let max = self.shared.config.max_item_bytes;
        if item.bytes.len() > max {
            let message = match item.id {
                Some(id) => format!(
                    "{} {} is {} bytes, over the {max} byte limit; dropped",
                    self.shared.route,
                    uuid::Uuid::from_u128(id),
                    item.bytes.len()
                ),
                None => format!(
                    "an item of {} bytes is over the {max} byte limit; dropped",
                    item.bytes.len()
                ),
            };
            self.shared.lost(
                LossKind::TooLarge,
                1,
                item.id.into_iter().collect(),
                None,
                message,
            );
            return;
        }
        self.held_bytes += item.bytes.len();
        self.buffer_bytes += item.bytes.len();
        self.buffer.push_back(item);
    }

    pub(super) fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    pub(super) fn cut_batch(&mut self) -> Option<Batch> {
        let items = cut(
            &mut self.buffer,
            self.batch_limit,
            self.shared.config.max_batch_bytes,
        );
        if items.is_empty() {
            return None;
        }
        self.peek_wait = PEEK;
        let id = self.next_id();
        let batch = Batch::new(id, items);
        self.buffer_bytes = self.buffer_bytes.saturating_sub(batch.bytes());
        Some(batch)
    }

    /// Starts sends while the server's health allows ([`Health`]): ready batches, then
    /// retries, oldest first, then the buffer when a full batch is there or the interval has
    /// passed (C-BATCHER.1).
    pub(super) fn dispatch(&mut self) {
        let max_in_flight = self.shared.config.max_in_flight.max(1);
        let width = self.health.width(Instant::now(), max_in_flight);
        while self.in_flight.len() < width {
            let batch = if let Some(batch) = self.ready.pop_front() {
                batch
            } else if let Some(batch) = self.due_retry() {
                batch
            } else if self.buffer.len() >= self.batch_limit
                || self.buffer_bytes >= self.shared.config.max_batch_bytes
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
    fn due_retry(&mut self) -> Option<Batch> {
        let now = Instant::now();
        let due = self
            .retries
            .iter()
            .position(|b| b.not_before.is_none_or(|at| at <= now))?;
        self.retries.remove(due)
    }

    /// When the worker must look again: the end of a pause, or of a retry's backoff.
    pub(super) fn next_wake(&self) -> Option<Instant> {
        let now = Instant::now();
        self.health
            .resumes_at(now)
            .or_else(|| self.retries.iter().filter_map(|b| b.not_before).min())
    }

    /// Whether no further attempt can start now (every slot the server's health allows is
    /// taken, or sending is paused).
    pub(super) fn sending_blocked(&self) -> bool {
        let max_in_flight = self.shared.config.max_in_flight.max(1);
        self.in_flight.len() >= self.health.width(Instant::now(), max_in_flight)
    }

    /// Sends one attempt of `batch` on a task of its own.
    fn start(&mut self, mut batch: Batch) {
        if !self.unpack(&mut batch) {
            return;
        }
        batch.attempts += 1;
        if batch.attempts > 1 {
            Counters::add(&self.shared.counters.retried, batch.items.len());
        }
        let (key, first_attempt) = *batch
            .first
            .get_or_insert_with(|| (posthog_core::ids::new_uuid(), chrono::Utc::now()));
        let sending = InFlight {
            since: Instant::now(),
            count: batch.items.len(),
            ids: batch.ids(),
            bytes: batch.bytes(),
        };
        let id = batch.id;
        let (route, transport) = (self.route.clone(), self.transport.clone());
        let task = self.in_flight.spawn(async move {
            // The items travel with the attempt and come back with its answer: moved, never
            // copied (a clone of each would touch the refcount its arena chunk shares with the
            // capturing threads).
            let outgoing = Outgoing {
                items: std::mem::take(&mut batch.items),
                attempt: batch.attempts,
                key,
                first_attempt,
            };
            let answer = route.send(&transport, &outgoing).await;
            batch.items = outgoing.items;
            (batch, answer)
        });
        self.in_flight_ids.insert(id, sending);
        self.tasks.insert(task.id(), id);
    }
}

/// Sleeps until `at`, or forever when there is nothing to wait for.
pub(super) async fn until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}
