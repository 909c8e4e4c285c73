//! A delivery lane: the queue, batching, sending, retrying and shutdown every pipeline needs,
//! for items of any kind. What is a pipeline's own is its [`Route`]: how a queued item becomes
//! bytes and how a batch of them is sent and answered. The lane carries items and bytes only;
//! it knows nothing of events, and imports nothing of the crate outside `lane/`.
//!
//! Per lane ([`LaneConfig`]): a bounded queue with an overflow policy (drop the incoming item
//! or the oldest), batches cut by count, bytes and interval, a per-item byte cap, sends in
//! flight, a bound on the bytes the worker holds, retries paced by the server's health
//! ([`health`]) with `Retry-After` as a floor,
//! bounded by a retry window or count, 413 halving (batches stay at most half size until
//! healthy sends ramp them back up by one item each), flush, a bounded shutdown, counters
//! ([`LaneStats`]) and a report of every item lost ([`Loss`]).
//!
//! Three routes run on it: the AI lane (`ai_lane.rs`), logs (`logs/`) and traces (`traces/`).
//! The events pipeline (`pipeline/`) predates the lane and shares only its [`health`] pacing.
//! docs/architecture.md says how to add a route.

pub(crate) mod health;
mod worker;

#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::StatusCode;
use posthog_transport::{Transport, TransportError};
use tokio::sync::{Notify, mpsc, oneshot};

/// A boxed send of one batch.
pub(crate) type SendFuture = Pin<Box<dyn Future<Output = Result<Answer, TransportError>> + Send>>;

/// What is a pipeline's own on a lane.
pub(crate) trait Route: Send + Sync + 'static {
    /// What the pipeline queues.
    type Item: Send + 'static;

    /// The route's name, in logs and loss reports.
    fn name(&self) -> &'static str;

    /// An item's id, named in the report when it is lost (an event's uuid); `None`: items
    /// are reported by count only.
    fn id(&self, _item: &Self::Item) -> Option<u128> {
        None
    }

    /// A queued item as the bytes it adds to a body. Runs on the lane's worker, never on the
    /// thread that queued it. `Err` drops the item, reported as the [`Refusal`] says.
    fn encode(&self, item: Self::Item) -> Result<Bytes, Refusal>;

    /// Sends one body made of `items` (the route builds it: a JSON array, an OTLP request, …)
    /// through `transport`, one attempt, and reads the answer.
    fn send(&self, transport: &Transport, items: Vec<Bytes>) -> SendFuture;
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

/// How the server answered one send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Answer {
    /// The status.
    pub(crate) status: StatusCode,
    /// The server's `Retry-After`, if any.
    pub(crate) retry_after: Option<Duration>,
    /// On a 2xx answer: the positions of items the server asks to have sent again (per-item
    /// verdicts); the others are delivered.
    pub(crate) resend: Vec<usize>,
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
    /// Items per batch; a batch is cut as soon as this many wait.
    pub(crate) flush_at: usize,
    /// The longest an item waits for a batch to fill.
    pub(crate) flush_interval: Duration,
    /// An item larger than this is dropped ([`LossKind::TooLarge`]).
    pub(crate) max_item_bytes: usize,
    /// Bytes per batch (items summed); an item larger than this (within `max_item_bytes`)
    /// goes in a batch of its own.
    pub(crate) max_batch_bytes: usize,
    /// Sends at once.
    pub(crate) max_in_flight: usize,
    /// Bytes of encoded items the worker holds (buffered, cut, in flight, waiting for a
    /// retry): past it, it takes nothing more from the queue until sends finish, so the queue
    /// fills and [`LaneConfig::overflow`] applies (reported) instead of memory growing through
    /// an outage.
    pub(crate) max_held_bytes: usize,
    /// How long a failing batch is retried, when `max_retries` is not set.
    pub(crate) retry_for: Duration,
    /// Retries per batch, when set.
    pub(crate) max_retries: Option<u32>,
    /// The first retry's wait; it doubles per failed round, up to `backoff_cap`.
    pub(crate) backoff_base: Duration,
    /// The longest wait between retries.
    pub(crate) backoff_cap: Duration,
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
    /// The item alone is larger than the per-item or per-batch cap, or the server said so
    /// of a batch of one (413).
    TooLarge,
    /// The server refused the batch for good (a 4xx other than 408, 413 and 429), or the
    /// request failed in a way a retry cannot mend.
    Rejected,
    /// The batch kept failing for the whole retry window (or count).
    RetriesExhausted,
    /// Shutdown's deadline passed first.
    ShutdownTimeout,
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
}

/// The outcome of a flush or shutdown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct LaneReport {
    /// Items delivered meanwhile.
    pub(crate) sent: u64,
    /// Items lost meanwhile.
    pub(crate) failed: u64,
    /// Items still held (waiting for a retry) when it returned.
    pub(crate) pending: u64,
}

#[derive(Debug, Default)]
struct Counters {
    queued: AtomicU64,
    sent: AtomicU64,
    failed: AtomicU64,
    dropped: AtomicU64,
}

/// A route's [`Route::id`], boxed for the lane handle (which is not generic over the route).
type IdOf<I> = Box<dyn Fn(&I) -> Option<u128> + Send + Sync>;

/// What the lane handle and its worker share.
struct Shared<I> {
    queue: Mutex<VecDeque<I>>,
    wake: Notify,
    closed: AtomicBool,
    counters: Counters,
    config: LaneConfig,
    route: &'static str,
    on_loss: Option<OnLoss>,
    /// The route's [`Route::id`], for items lost before the worker sees them.
    id_of: IdOf<I>,
}

impl<I> Shared<I> {
    /// Counts, logs and reports a loss of `count` items, naming those of `ids`.
    fn lost(
        &self,
        kind: LossKind,
        count: usize,
        ids: Vec<u128>,
        status: Option<u16>,
        message: String,
    ) {
        if count == 0 {
            return;
        }
        let counter = match kind {
            LossKind::QueueFull => &self.counters.dropped,
            _ => &self.counters.failed,
        };
        counter.fetch_add(count as u64, Ordering::Relaxed);
        tracing::warn!(target: "posthog", route = self.route, ?kind, count, ?status, "{message}");
        if let Some(on_loss) = &self.on_loss {
            let loss = Loss {
                route: self.route,
                kind,
                count,
                ids,
                status,
                message,
            };
            if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| on_loss(&loss))).is_err() {
                tracing::warn!(target: "posthog", "the loss callback panicked");
            }
        }
    }
}

/// A request to the worker besides new items.
enum Control {
    Flush(oneshot::Sender<LaneReport>),
    Shutdown(Instant, oneshot::Sender<LaneReport>),
}

/// A running lane: queue items with [`Lane::push`]; clone it freely.
pub(crate) struct Lane<I> {
    shared: Arc<Shared<I>>,
    control: mpsc::UnboundedSender<Control>,
}

impl<I> Clone for Lane<I> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
            control: self.control.clone(),
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
        let shared = Arc::new(Shared {
            id_of: Box::new(move |item: &I| id_route.id(item)),
            queue: Mutex::new(VecDeque::new()),
            wake: Notify::new(),
            closed: AtomicBool::new(false),
            counters: Counters::default(),
            route: route.name(),
            config,
            on_loss,
        });
        let (control, requests) = mpsc::unbounded_channel();
        runtime.spawn(worker::Worker::new(route, transport, shared.clone(), requests).run());
        Self { shared, control }
    }

    /// Queues `item` without waiting; `false` when it was refused (the lane is shut down, or
    /// the queue is full and refuses new items), which is counted and reported.
    pub(crate) fn push(&self, item: I) -> bool {
        let shared = &self.shared;
        if shared.closed.load(Ordering::Acquire) {
            return false;
        }
        let (refused, dropped_oldest, len) = {
            let Ok(mut queue) = shared.queue.lock() else {
                return false;
            };
            if queue.len() < shared.config.queue_size {
                queue.push_back(item);
                (None, None, queue.len())
            } else if shared.config.overflow == Overflow::DropOldest && !queue.is_empty() {
                let oldest = queue.pop_front();
                queue.push_back(item);
                (None, oldest, queue.len())
            } else {
                (Some(item), None, queue.len())
            }
        };
        if let Some(oldest) = dropped_oldest {
            shared.lost(
                LossKind::QueueFull,
                1,
                (shared.id_of)(&oldest).into_iter().collect(),
                None,
                "the queue was full: dropped the oldest item".into(),
            );
        }
        if let Some(item) = refused {
            shared.lost(
                LossKind::QueueFull,
                1,
                (shared.id_of)(&item).into_iter().collect(),
                None,
                "the queue was full: refused an item".into(),
            );
            return false;
        }
        shared.counters.queued.fetch_add(1, Ordering::Relaxed);
        // The first item after the worker took the queue starts its interval (the worker,
        // asleep with nothing held, would not look again for an hour); a batch's worth is cut
        // at once.
        if len == 1 || len >= shared.config.flush_at {
            shared.wake.notify_one();
        }
        true
    }

    /// Sends what is queued and waits until every batch had its attempt; batches waiting to
    /// be retried are `pending` in the report.
    pub(crate) async fn flush(&self) -> LaneReport {
        let (reply, answer) = oneshot::channel();
        if self.control.send(Control::Flush(reply)).is_err() {
            return LaneReport::default();
        }
        answer.await.unwrap_or_default()
    }

    /// Stops taking items and delivers what it holds, retries included, for at most
    /// `timeout`; what is left then is reported lost ([`LossKind::ShutdownTimeout`]).
    pub(crate) async fn shutdown(&self, timeout: Duration) -> LaneReport {
        self.shared.closed.store(true, Ordering::Release);
        let (reply, answer) = oneshot::channel();
        let deadline = Instant::now() + timeout;
        if self
            .control
            .send(Control::Shutdown(deadline, reply))
            .is_err()
        {
            return LaneReport::default();
        }
        answer.await.unwrap_or_default()
    }

    /// The counters.
    pub(crate) fn stats(&self) -> LaneStats {
        let c = &self.shared.counters;
        LaneStats {
            queued: c.queued.load(Ordering::Relaxed),
            sent: c.sent.load(Ordering::Relaxed),
            failed: c.failed.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
        }
    }
}
