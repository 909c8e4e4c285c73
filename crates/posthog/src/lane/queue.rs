//! The lane's queue, shared by the threads that push and the worker: items, items encoded
//! already, and flushes, in the order they came. Bounded by count (`queue_size`), and past it,
//! for encoded items, by bytes (`max_held_bytes`, with what the worker holds). It wakes the
//! worker only when there is work worth waking for — `flush_at` items waiting, a full queue,
//! a flush, the shutdown, or the last handle gone — so a push in a quiet service is a push, not
//! a cross-thread wake-up (the worker also looks every `flush_interval`, and after `PEEK`,
//! doubling, while it holds a partial batch with nothing in flight).
//!
//! The worker takes the whole queue at once (a swap) and counts the items out as it
//! processes them, so the bounds cover what it took but has not processed yet.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use tokio::sync::{Notify, oneshot};

use super::batch::Encoded;
use super::{LaneConfig, LaneReport, LaneStats, Loss, LossKind, OnLoss, Overflow, Refused};

/// What waits in the queue. One cache line each (64 bytes, aligned): a push writes one line,
/// not parts of two the worker last read.
#[repr(align(64))]
pub(super) enum Queued<I> {
    /// An item for the route to encode.
    Item(I),
    /// An item encoded by the caller.
    Encoded(Encoded),
    /// A flush: answered once everything queued before it had its attempt.
    Flush(oneshot::Sender<LaneReport>),
}

impl<I> Queued<I> {
    /// What the entry counts against the queue's bounds: items, and bytes encoded already.
    pub(super) fn weight(&self) -> (usize, usize) {
        match self {
            Queued::Item(_) => (1, 0),
            Queued::Encoded(encoded) => (1, encoded.bytes.len()),
            Queued::Flush(_) => (0, 0),
        }
    }
}

/// The shutdown request: drain until `deadline`, then answer. It travels beside the queue (a
/// oneshot the worker always listens to), so nothing queued can hold it up.
pub(super) struct Stop {
    pub(super) deadline: Instant,
    pub(super) reply: oneshot::Sender<LaneReport>,
}

/// A route's [`super::Route::id`], boxed for the lane handle (which is not generic over the
/// route).
pub(super) type IdOf<I> = Box<dyn Fn(&I) -> Option<u128> + Send + Sync>;

#[derive(Debug, Default)]
pub(super) struct Counters {
    pub(super) sent: AtomicU64,
    pub(super) failed: AtomicU64,
    pub(super) dropped: AtomicU64,
    pub(super) retried: AtomicU64,
    pub(super) batches: AtomicU64,
}

impl Counters {
    pub(super) fn add(counter: &AtomicU64, n: usize) {
        counter.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// The counters, with `queued` items accepted.
    pub(super) fn snapshot(&self, queued: u64) -> LaneStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        LaneStats {
            queued,
            sent: get(&self.sent),
            failed: get(&self.failed),
            dropped: get(&self.dropped),
            retried: get(&self.retried),
            batches: get(&self.batches),
        }
    }
}

/// A value on cache lines of its own, so writes to its neighbours do not evict it from the
/// cores that read it (what the pushing threads write, what the worker writes, and the
/// wake-up, each on their own).
#[repr(align(128))]
#[derive(Debug, Default)]
pub(super) struct Own<T>(pub(super) T);

impl<T> std::ops::Deref for Own<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

/// The queue and the pushers' side of its accounting, behind one lock (plain fields: a push
/// writes no shared counter of its own). What is still queued is what was pushed less what
/// the worker processed ([`Done`], which it counts without the lock).
struct State<I> {
    items: VecDeque<Queued<I>>,
    /// Items pushed (less those a `DropOldest` queue dropped).
    pushed: usize,
    /// Bytes of encoded items pushed (less those dropped).
    pushed_bytes: usize,
    /// Items accepted, ever.
    queued: u64,
}

/// The queue, and a copy of `pushed` the pushers can read without the lock.
struct Queue<I> {
    state: Mutex<State<I>>,
    pushed: AtomicUsize,
}

/// What the worker processed of what was pushed: written by the worker alone.
#[derive(Debug, Default)]
struct Done {
    items: AtomicUsize,
    bytes: AtomicUsize,
}

/// What the lane handles and the worker share.
pub(super) struct Shared<I> {
    queue: Own<Queue<I>>,
    done: Own<Done>,
    /// Bytes the worker holds, as it last published them.
    held: Own<AtomicUsize>,
    /// Flushes queued and not yet taken by the worker.
    flushes: AtomicUsize,
    pub(super) wake: Own<Notify>,
    closed: AtomicBool,
    handles_gone: AtomicBool,
    worker_gone: AtomicBool,
    stop: Mutex<Option<oneshot::Sender<Stop>>>,
    pub(super) counters: Counters,
    pub(super) config: LaneConfig,
    pub(super) route: &'static str,
    on_loss: Option<OnLoss>,
    /// The route's id, for items lost before the worker sees them.
    pub(super) id_of: IdOf<I>,
}

impl<I> Shared<I> {
    pub(super) fn new(
        route: &'static str,
        config: LaneConfig,
        on_loss: Option<OnLoss>,
        id_of: IdOf<I>,
        stop: oneshot::Sender<Stop>,
    ) -> Self {
        Self {
            queue: Own(Queue {
                state: Mutex::new(State {
                    items: VecDeque::new(),
                    pushed: 0,
                    pushed_bytes: 0,
                    queued: 0,
                }),
                pushed: AtomicUsize::new(0),
            }),
            done: Own(Done::default()),
            held: Own(AtomicUsize::new(0)),
            flushes: AtomicUsize::new(0),
            wake: Own(Notify::new()),
            closed: AtomicBool::new(false),
            handles_gone: AtomicBool::new(false),
            worker_gone: AtomicBool::new(false),
            stop: Mutex::new(Some(stop)),
            counters: Counters::default(),
            config,
            route,
            on_loss,
            id_of,
        }
    }

    /// Queues an item or an encoded one (see the module docs); a refusal is the caller's to
    /// report, except the oldest item a `DropOldest` queue drops, reported here.
    /// `entry` is queued as `wrap` makes it; `size` is its bytes when it is encoded already.
    pub(super) fn push<T>(
        &self,
        entry: T,
        size: Option<usize>,
        wrap: impl FnOnce(T) -> Queued<I>,
    ) -> Result<(), Refused<T>> {
        if self.closed.load(Ordering::Acquire) {
            return Err(Refused::Closed(entry));
        }
        let (dropped, len) = {
            let Ok(mut state) = self.queue.state.lock() else {
                return Err(Refused::Closed(entry));
            };
            // Checked under the lock: the worker closes the queue under it before it takes
            // the last items.
            if self.closed.load(Ordering::Acquire) {
                return Err(Refused::Closed(entry));
            }
            let mut dropped = None;
            let len = state
                .pushed
                .saturating_sub(self.done.items.load(Ordering::Relaxed));
            if len >= self.config.queue_size {
                let encoded_bytes = state
                    .pushed_bytes
                    .saturating_sub(self.done.bytes.load(Ordering::Relaxed));
                let fits_bytes = size.is_some_and(|size| {
                    self.held.load(Ordering::Relaxed) + encoded_bytes + size
                        <= self.config.max_held_bytes
                });
                if !fits_bytes {
                    let oldest = match self.config.overflow {
                        Overflow::DropOldest => oldest(&mut state.items),
                        Overflow::DropIncoming => None,
                    };
                    match oldest {
                        Some(old) => dropped = Some(old),
                        None => {
                            drop(state);
                            // The worker is behind: make sure it knows.
                            self.wake.notify_one();
                            return Err(Refused::Full(entry));
                        }
                    }
                }
            }
            state.items.push_back(wrap(entry));
            state.pushed_bytes += size.unwrap_or(0);
            match &dropped {
                Some(Queued::Encoded(old)) => state.pushed_bytes -= old.bytes.len(),
                Some(_) => {}
                None => state.pushed += 1,
            }
            state.queued += 1;
            self.queue.pushed.store(state.pushed, Ordering::Relaxed);
            let grew = dropped.is_none();
            (dropped, len + usize::from(grew))
        };
        if let Some(old) = dropped {
            let ids = match &old {
                Queued::Item(item) => (self.id_of)(item),
                Queued::Encoded(encoded) => encoded.id,
                Queued::Flush(_) => None,
            };
            self.lost(
                LossKind::QueueFull,
                1,
                ids.into_iter().collect(),
                None,
                "the queue was full: dropped the oldest item".into(),
            );
        }
        // Once per batch's worth: while the worker is behind, a wake-up on every push would
        // bounce the wake-up's cache line between the pushers and the worker.
        if len % self.config.flush_at.max(1) == 0 {
            self.wake.notify_one();
        }
        Ok(())
    }

    /// Queues a flush, whatever the queue holds, and wakes the worker; answered with a
    /// default report when the lane is closed.
    pub(super) fn push_control(&self, queued: Queued<I>) {
        if !self.closed.load(Ordering::Acquire) {
            if let Ok(mut state) = self.queue.state.lock() {
                if !self.closed.load(Ordering::Acquire) {
                    self.flushes.fetch_add(1, Ordering::Relaxed);
                    state.items.push_back(queued);
                    drop(state);
                    self.wake.notify_one();
                    return;
                }
            }
        }
        if let Queued::Flush(reply) = queued {
            let _ = reply.send(LaneReport::default());
        }
    }

    /// Sends the shutdown request, once.
    pub(super) fn stop(&self, stop: Stop) -> Option<()> {
        let sender = self.stop.lock().ok()?.take()?;
        self.closed.store(true, Ordering::Release);
        sender.send(stop).ok()
    }

    /// Takes everything queued, oldest first, into `into` (which must be empty), leaving
    /// `into`'s allocation for the next pushes. The items still count against the bounds
    /// until [`Shared::processed`]. `close`: refuse every later push.
    pub(super) fn take(&self, into: &mut VecDeque<Queued<I>>, close: bool) {
        if let Ok(mut state) = self.queue.state.lock() {
            if close {
                self.closed.store(true, Ordering::Release);
            }
            std::mem::swap(&mut state.items, into);
        }
    }

    /// Takes the flushes out of the queue, oldest first, leaving the items: for a worker that
    /// cannot take the items before them (it holds `max_held_bytes`), which then count as
    /// pending in the flushes' reports.
    pub(super) fn take_flushes(&self) -> Vec<oneshot::Sender<LaneReport>> {
        let mut flushes = Vec::new();
        if self.flushes.load(Ordering::Relaxed) == 0 {
            return flushes;
        }
        if let Ok(mut state) = self.queue.state.lock() {
            let entries = std::mem::take(&mut state.items);
            for entry in entries {
                match entry {
                    Queued::Flush(reply) => flushes.push(reply),
                    other => state.items.push_back(other),
                }
            }
        }
        self.flushes.fetch_sub(flushes.len(), Ordering::Relaxed);
        flushes
    }

    /// Puts entries the worker took but did not process back at the front of the queue, in
    /// their order; `entries` is left empty.
    pub(super) fn give_back(&self, entries: &mut VecDeque<Queued<I>>) {
        if let Ok(mut state) = self.queue.state.lock() {
            entries.append(&mut state.items);
            std::mem::swap(&mut state.items, entries);
        }
    }

    /// The worker took a flush from the queue.
    pub(super) fn flush_taken(&self) {
        self.flushes.fetch_sub(1, Ordering::Relaxed);
    }

    /// The worker processed `items` taken items, `bytes` of them encoded already.
    pub(super) fn processed(&self, items: usize, bytes: usize) {
        if items > 0 {
            self.done.items.fetch_add(items, Ordering::Relaxed);
            self.done.bytes.fetch_add(bytes, Ordering::Relaxed);
        }
    }

    /// Items queued and not yet processed.
    #[inline]
    pub(super) fn waiting(&self) -> usize {
        self.queue
            .pushed
            .load(Ordering::Relaxed)
            .saturating_sub(self.done.items.load(Ordering::Relaxed))
    }

    /// Items accepted, ever.
    pub(super) fn queued(&self) -> u64 {
        self.queue.state.lock().map_or(0, |state| state.queued)
    }

    /// The worker publishes the bytes it holds, for the encoded items' budget.
    pub(super) fn set_held(&self, bytes: usize) {
        // Written only when it changed: a store takes the line from the pushers' caches.
        if self.held.load(Ordering::Relaxed) != bytes {
            self.held.store(bytes, Ordering::Relaxed);
        }
    }

    /// The last handle is gone.
    pub(super) fn handles_gone(&self) {
        self.handles_gone.store(true, Ordering::Release);
        self.wake.notify_one();
    }

    pub(super) fn are_handles_gone(&self) -> bool {
        self.handles_gone.load(Ordering::Acquire)
    }

    pub(super) fn set_worker_gone(&self) {
        self.closed.store(true, Ordering::Release);
        self.worker_gone.store(true, Ordering::Release);
    }

    pub(super) fn worker_gone(&self) -> bool {
        self.worker_gone.load(Ordering::Acquire)
    }

    /// Counts, logs and reports a loss of `count` items, naming those of `ids`.
    pub(super) fn lost(
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
        Counters::add(counter, count);
        match kind {
            LossKind::ShutdownTimeout | LossKind::Abandoned => {
                tracing::error!(target: "posthog", route = self.route, ?kind, count, ?status, "{message}");
            }
            _ => {
                tracing::warn!(target: "posthog", route = self.route, ?kind, count, ?status, "{message}");
            }
        }
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

/// Removes the oldest item (not a flush) of a full queue.
fn oldest<I>(queue: &mut VecDeque<Queued<I>>) -> Option<Queued<I>> {
    let at = queue
        .iter()
        .position(|queued| !matches!(queued, Queued::Flush(_)))?;
    queue.remove(at)
}
