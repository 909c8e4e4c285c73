//! A delivery lane: the queue, batching, sending, retrying and shutdown every pipeline needs,
//! for items of any kind. What is a pipeline's own is its [`Route`]: how a queued item becomes
//! bytes, how a batch of them is sent, and how the answer reads item by item. The lane carries
//! items and bytes only; it knows nothing of events, and imports nothing of the crate outside
//! `lane/`.
//!
//! Per lane ([`LaneConfig`]): a bounded queue with an overflow policy (drop the incoming item
//! or the oldest) that also takes items the caller encoded already ([`Lane::push_encoded`],
//! bounded by bytes, in order with the others), batches cut by count, bytes and interval, a
//! per-item byte cap, sends in flight, a bound on the bytes the worker holds, retries paced by
//! the server's health ([`health`]) with `Retry-After` as a floor, bounded by a retry window
//! or count, 413 halving (and, where the route wants it, later batches stay at most half size
//! until healthy sends ramp them back up by one item each), batches kept deflated while the server struggles where the route
//! wants it ([`backlog`]),
//! per-item verdicts, flush by batch identity, a bounded shutdown, counters ([`LaneStats`])
//! and a report of every item lost ([`Loss`]).
//!
//! Four routes run on it: events (`capture/route.rs`), the AI lane (`ai_lane.rs`), logs
//! (`logs/`) and traces (`traces/`). docs/architecture.md says how to add one.

pub(crate) mod arena;
mod backlog;
mod batch;
mod flushing;
pub(crate) mod health;
mod packed;
mod queue;
mod settle;
mod worker;

#[cfg(test)]
mod tests;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::StatusCode;
use posthog_transport::{Transport, TransportError};
use tokio::sync::oneshot;
use uuid::Uuid;

pub(crate) use arena::Arena;
pub(crate) use batch::Encoded;
use queue::{Queued, Shared, Stop};

/// A boxed send of one batch.
pub(crate) type SendFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Answer, TransportError>> + Send + 'a>>;

/// What is a pipeline's own on a lane.
pub(crate) trait Route: Send + Sync + 'static {
    /// What the pipeline queues.
    type Item: Send + 'static;

    /// The route's name, in logs.
    fn name(&self) -> &'static str;

    /// An item's id, named in the report when it is lost (an event's uuid); `None`: items
    /// are reported by count only.
    fn id(&self, _item: &Self::Item) -> Option<u128> {
        None
    }

    /// A queued item as the bytes it adds to a body, written into `arena` when that suits
    /// (items then share its chunks). Runs on the lane's worker, never on the thread that
    /// queued it. `Err` drops the item, reported as the [`Refusal`] says.
    fn encode(&self, item: Self::Item, arena: &mut Arena) -> Result<Bytes, Refusal>;

    /// Sends one body made of `batch` (the route builds it: a JSON array, an OTLP request, …)
    /// through `transport`, one attempt, and reads the answer. Called on a task of its own,
    /// off the worker.
    fn send<'a>(&'a self, transport: &'a Transport, batch: &'a Outgoing) -> SendFuture<'a>;

    /// Whether a batch answered with this status (not 2xx, not 413) is tried again; others
    /// are lost ([`LossKind::Rejected`]). By default 408, 429 and 5xx.
    fn retryable(&self, status: u16) -> bool {
        matches!(status, 408 | 429 | 500..=599)
    }
}

/// One attempt of one batch, as the route sends it.
#[derive(Debug, Clone)]
pub(crate) struct Outgoing {
    /// The items, in order: their bytes and ids ([`Route::id`]).
    pub(crate) items: Vec<Encoded>,
    /// The attempt's number: 1 for the first.
    pub(crate) attempt: u32,
    /// The batch's own id, the same on every attempt (a request id, say).
    pub(crate) key: Uuid,
    /// When the batch's first attempt started, the same on every attempt.
    pub(crate) first_attempt: chrono::DateTime<chrono::Utc>,
}

impl Outgoing {
    /// The items' bytes, in order.
    pub(crate) fn bodies(&self) -> impl Iterator<Item = &[u8]> + Clone {
        self.items.iter().map(|item| &item.bytes[..])
    }
}

/// Why a route would not encode an item: reported as a loss of this kind, with this message
/// (which the route words: e.g. an event's name and size, never its content).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub(crate) kind: LossKind,
    pub(crate) message: String,
}

impl Refusal {
    /// The item could not be encoded.
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self {
            kind: LossKind::Invalid,
            message: message.into(),
        }
    }

    /// The item is over the route's size cap.
    pub(crate) fn too_large(message: impl Into<String>) -> Self {
        Self {
            kind: LossKind::TooLarge,
            message: message.into(),
        }
    }
}

/// What the server said of one item of a batch it answered with a 2xx.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NotTaken {
    /// Send it again (with the batch's key, as its next attempt).
    Retry,
    /// Lost for good, for this reason ([`LossKind::Rejected`]).
    Dropped(String),
}

/// How the server answered one send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Answer {
    /// The status.
    pub(crate) status: StatusCode,
    /// The server's `Retry-After`, if any.
    pub(crate) retry_after: Option<Duration>,
    /// On a 2xx answer: the items, by position, the server did not take (per-item verdicts);
    /// the others are delivered.
    pub(crate) not_taken: Vec<(usize, NotTaken)>,
}

impl Answer {
    /// An answer that speaks for the whole batch.
    pub(crate) fn status(status: StatusCode, retry_after: Option<Duration>) -> Self {
        Self {
            status,
            retry_after,
            not_taken: Vec::new(),
        }
    }
}

/// What a full queue does with one more item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Overflow {
    /// Refuse the new item (it is lost and reported).
    DropIncoming,
    /// Drop the oldest queued item (lost and reported) to make room.
    DropOldest,
}

/// A lane's settings.
#[derive(Debug, Clone)]
pub(crate) struct LaneConfig {
    /// Items the queue holds before [`LaneConfig::overflow`] applies.
    pub(crate) queue_size: usize,
    /// What a full queue does.
    pub(crate) overflow: Overflow,
    /// Items per batch; the worker is woken and a batch cut as soon as this many wait.
    pub(crate) flush_at: usize,
    /// The worker looks at the queue at least this often, and sends a partial batch then.
    pub(crate) flush_interval: Duration,
    /// An item larger than this is dropped ([`LossKind::TooLarge`]).
    pub(crate) max_item_bytes: usize,
    /// Bytes per batch (items summed); an item larger than this (within `max_item_bytes`)
    /// goes in a batch of its own.
    pub(crate) max_batch_bytes: usize,
    /// Sends at once.
    pub(crate) max_in_flight: usize,
    /// Bytes of encoded items the worker holds (buffered, cut, in flight, waiting for a
    /// retry), and the budget of items queued encoded past `queue_size`: past it, the worker
    /// takes nothing more from the queue until sends finish, so the queue fills and
    /// [`LaneConfig::overflow`] applies (reported) instead of memory growing through an
    /// outage. While the server struggles, batches past a sixteenth of it wait deflated.
    pub(crate) max_held_bytes: usize,
    /// How long a failing batch is retried, when `max_retries` is not set.
    pub(crate) retry_for: Duration,
    /// Retries per batch, when set.
    pub(crate) max_retries: Option<u32>,
    /// The first retry's wait; it doubles per failed round, up to `backoff_cap`.
    pub(crate) backoff_base: Duration,
    /// The longest wait between retries, and the cap on a `Retry-After`.
    pub(crate) backoff_cap: Duration,
    /// Up to this fraction of a backoff is added at random.
    pub(crate) jitter: f64,
    /// Keep batches waiting for a sending slot deflated while the server struggles (or a
    /// quarter of `max_held_bytes` is taken): about a tenth of the memory, for the CPU of
    /// deflating and inflating each ([`backlog`]).
    pub(crate) pack_backlog: bool,
    /// After a 413, later batches too stay at most half the refused one's size, growing back
    /// by one item per healthy send (C-LOGS.17); `false`: only the refused batch is halved.
    pub(crate) shrink_after_413: bool,
    /// How long the worker drains when every lane handle is gone without a shutdown.
    pub(crate) orphan_drain: Duration,
    /// Log every delivered batch.
    pub(crate) debug: bool,
}

impl Default for LaneConfig {
    fn default() -> Self {
        Self {
            queue_size: 10_000,
            overflow: Overflow::DropIncoming,
            flush_at: 100,
            flush_interval: Duration::from_secs(5),
            max_item_bytes: 1_000_000,
            max_batch_bytes: 20 * 1024 * 1024,
            max_in_flight: 4,
            max_held_bytes: 64 * 1024 * 1024,
            retry_for: Duration::from_secs(120),
            max_retries: None,
            backoff_base: Duration::from_millis(200),
            backoff_cap: Duration::from_secs(30),
            jitter: 0.0,
            pack_backlog: false,
            shrink_after_413: true,
            orphan_drain: Duration::from_secs(5),
            debug: false,
        }
    }
}

/// Why items were lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LossKind {
    /// The queue was full (or, with [`Overflow::DropOldest`], an older item made room).
    QueueFull,
    /// The route could not encode the item.
    Invalid,
    /// The item alone is larger than the per-item cap, or the server said so of a batch of
    /// one (413).
    TooLarge,
    /// The server refused the batch (or these items of it) for good, or the request failed
    /// in a way a retry cannot mend.
    Rejected,
    /// The batch kept failing for the whole retry window (or count).
    RetriesExhausted,
    /// Shutdown's deadline passed first.
    ShutdownTimeout,
    /// The worker was stopped (its runtime shut down) with the items still held.
    Abandoned,
}

/// A report of lost items.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Loss {
    /// The route's name.
    pub(crate) route: &'static str,
    /// Why.
    pub(crate) kind: LossKind,
    /// How many items.
    pub(crate) count: usize,
    /// The ids of the lost items that have one ([`Route::id`]).
    pub(crate) ids: Vec<u128>,
    /// The HTTP status, when the server answered.
    pub(crate) status: Option<u16>,
    /// A description.
    pub(crate) message: String,
}

/// Told of every loss (and the lane logs it).
pub(crate) type OnLoss = Arc<dyn Fn(&Loss) + Send + Sync>;

/// A lane's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct LaneStats {
    /// Items accepted into the queue.
    pub(crate) queued: u64,
    /// Items delivered.
    pub(crate) sent: u64,
    /// Items lost after they were accepted (invalid, too large, rejected, retries exhausted,
    /// shutdown).
    pub(crate) failed: u64,
    /// Items never accepted (the queue was full; with `DropOldest`, the oldest made room).
    pub(crate) dropped: u64,
    /// Items sent again after a failed attempt (once per attempt).
    pub(crate) retried: u64,
    /// Sends that delivered a batch.
    pub(crate) batches: u64,
}

/// The outcome of a flush or shutdown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct LaneReport {
    /// Items of the batches it covered delivered meanwhile.
    pub(crate) sent: u64,
    /// Items of the batches it covered lost meanwhile.
    pub(crate) failed: u64,
    /// Items still held (waiting for a retry) when a flush returned.
    pub(crate) pending: u64,
    /// A shutdown: whether its deadline passed first.
    pub(crate) timed_out: bool,
}

/// Why a queue did not take an item.
#[derive(Debug)]
pub(crate) enum Refused<T> {
    /// It is full (and [`Overflow::DropIncoming`], or nothing older to drop).
    Full(T),
    /// The lane is shutting down or gone.
    Closed(T),
}

/// A running lane: queue items with [`Lane::push`]; clone it freely. When the last handle is
/// dropped, the worker delivers what it holds for [`LaneConfig::orphan_drain`] and stops.
pub(crate) struct Lane<I> {
    shared: Arc<Shared<I>>,
    _handle: Arc<Handle<I>>,
}

/// Tells the worker when the last lane handle is gone.
struct Handle<I> {
    shared: Arc<Shared<I>>,
}

impl<I> Drop for Handle<I> {
    fn drop(&mut self) {
        self.shared.handles_gone();
    }
}

impl<I> Clone for Lane<I> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
            _handle: self._handle.clone(),
        }
    }
}

impl<I> std::fmt::Debug for Lane<I> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lane")
            .field("route", &self.shared.route)
            .finish_non_exhaustive()
    }
}

impl<I: Send + 'static> Lane<I> {
    /// Starts a lane for `route`, its worker on `runtime`.
    pub(crate) fn start<R: Route<Item = I>>(
        route: R,
        transport: Transport,
        config: LaneConfig,
        on_loss: Option<OnLoss>,
        runtime: &tokio::runtime::Handle,
    ) -> Self {
        let route = Arc::new(route);
        let id_route = route.clone();
        let (stop, stopped) = oneshot::channel();
        let shared = Arc::new(Shared::new(
            route.name(),
            config,
            on_loss,
            Box::new(move |item: &I| id_route.id(item)),
            stop,
        ));
        let worker = worker::Worker::new(route, transport, shared.clone(), stopped);
        runtime.spawn(worker.run());
        Self {
            _handle: Arc::new(Handle {
                shared: shared.clone(),
            }),
            shared,
        }
    }

    /// Queues `item` without waiting; `false` when it was refused (the lane is shut down, or
    /// the queue is full and refuses new items), which is counted and reported.
    pub(crate) fn push(&self, item: I) -> bool {
        match self.shared.push(item, None, Queued::Item) {
            Ok(()) => true,
            Err(Refused::Full(item)) => {
                let ids = (self.shared.id_of)(&item).into_iter().collect();
                self.shared.lost(
                    LossKind::QueueFull,
                    1,
                    ids,
                    None,
                    "the queue was full: refused an item".into(),
                );
                false
            }
            Err(_) => false,
        }
    }

    /// Queues `item` without waiting or reporting a refusal: the caller decides what a full
    /// queue means (say, encoding the item itself for [`Lane::push_encoded`]).
    pub(crate) fn try_push(&self, item: I) -> Result<(), Refused<I>> {
        self.shared.push(item, None, Queued::Item)
    }

    /// Queues an item the caller encoded already (the worker only batches it), in order with
    /// the others. Past `queue_size` items it is still taken while the bytes queued encoded
    /// plus those the worker holds stay within `max_held_bytes`. Not reported when refused.
    pub(crate) fn push_encoded(&self, id: Option<u128>, bytes: Bytes) -> Result<(), Refused<()>> {
        let size = Some(bytes.len());
        self.shared
            .push(Encoded { id, bytes }, size, Queued::Encoded)
            .map_err(|refused| match refused {
                Refused::Full(_) => Refused::Full(()),
                Refused::Closed(_) => Refused::Closed(()),
            })
    }

    /// Whether a batch's worth (`flush_at`) of items waits in the queue: the worker is behind.
    #[inline]
    pub(crate) fn behind(&self) -> bool {
        self.shared.waiting() >= self.shared.config.flush_at
    }

    /// Whether the worker is gone (its task ended, or its runtime shut down).
    pub(crate) fn worker_gone(&self) -> bool {
        self.shared.worker_gone()
    }

    /// Sends everything queued before the call and waits until each of those batches had its
    /// attempt (a retry waiting out a paused server counts as `pending`).
    pub(crate) async fn flush(&self) -> LaneReport {
        let (reply, answer) = oneshot::channel();
        self.shared.push_control(Queued::Flush(reply));
        answer.await.unwrap_or_default()
    }

    /// Stops taking items and delivers what it holds, retries included, until `deadline`;
    /// what is left then is reported lost ([`LossKind::ShutdownTimeout`]). `None` when the
    /// lane was stopped already.
    pub(crate) fn stop(&self, deadline: Instant) -> Option<oneshot::Receiver<LaneReport>> {
        let (reply, answer) = oneshot::channel();
        self.shared.stop(Stop { deadline, reply })?;
        Some(answer)
    }

    /// [`Lane::stop`] for at most `timeout`, awaited.
    pub(crate) async fn shutdown(&self, timeout: Duration) -> LaneReport {
        match self.stop(Instant::now() + timeout) {
            Some(answer) => answer.await.unwrap_or_default(),
            None => LaneReport::default(),
        }
    }

    /// The counters.
    pub(crate) fn stats(&self) -> LaneStats {
        self.shared.counters.snapshot(self.shared.queued())
    }
}
