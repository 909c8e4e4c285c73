//! The lane's worker: takes items from the queue and encodes them, cuts batches, sends them as
//! tasks, settles each answer (delivered, resend, retry, halve, lose), and answers flushes and
//! the shutdown.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::Bytes;
use posthog_transport::{Transport, TransportError};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;

use super::health::Health;
use super::{Answer, Control, LaneReport, LossKind, Route, Shared};

/// How long the worker drains when every lane handle is gone without a shutdown.
const ORPHAN_DRAIN: Duration = Duration::from_secs(5);

/// An encoded item and its id ([`Route::id`]).
#[derive(Clone)]
struct Encoded {
    id: Option<u128>,
    bytes: Bytes,
}

/// The ids of `items` that have one.
fn ids(items: &[Encoded]) -> Vec<u128> {
    items.iter().filter_map(|item| item.id).collect()
}

/// A batch and its retry state.
struct Batch {
    items: Vec<Encoded>,
    /// The items' bytes.
    bytes: usize,
    /// Failed attempts so far.
    failures: u32,
    first_failure: Option<Instant>,
    /// Not sent again before this.
    not_before: Instant,
    /// When its current attempt started.
    started: Instant,
}

impl Batch {
    fn new(items: Vec<Encoded>, now: Instant) -> Self {
        Self {
            bytes: items.iter().map(|item| item.bytes.len()).sum(),
            items,
            failures: 0,
            first_failure: None,
            not_before: now,
            started: now,
        }
    }
}

type Sent = (Batch, Result<Answer, TransportError>);

/// A flush or the shutdown waiting to be answered, with the counters when it was asked.
struct Waiter {
    reply: Option<oneshot::Sender<LaneReport>>,
    sent_before: u64,
    failed_before: u64,
}

pub(super) struct Worker<R: Route> {
    route: Arc<R>,
    transport: Transport,
    shared: Arc<Shared<R::Item>>,
    requests: mpsc::UnboundedReceiver<Control>,
    handles_gone: bool,
    buffer: Vec<Encoded>,
    buffer_bytes: usize,
    buffer_since: Option<Instant>,
    ready: VecDeque<Batch>,
    retries: Vec<Batch>,
    in_flight: JoinSet<Sent>,
    /// The count, ids and bytes of each send in flight, by task (to report a send that
    /// panicked or was aborted, and to bound what is held).
    in_flight_items: HashMap<tokio::task::Id, (usize, Vec<u128>, usize)>,
    health: Health,
    /// Items per batch now: `flush_at`, halved by a 413 and back up by one per healthy send
    /// (C-LOGS.17).
    batch_limit: usize,
    flushes: Vec<Waiter>,
    shutdown: Option<(Instant, Waiter)>,
}

impl<R: Route> Worker<R> {
    pub(super) fn new(
        route: Arc<R>,
        transport: Transport,
        shared: Arc<Shared<R::Item>>,
        requests: mpsc::UnboundedReceiver<Control>,
    ) -> Self {
        let batch_limit = shared.config.flush_at.max(1);
        Self {
            route,
            transport,
            shared,
            requests,
            handles_gone: false,
            buffer: Vec::new(),
            buffer_bytes: 0,
            buffer_since: None,
            ready: VecDeque::new(),
            retries: Vec::new(),
            in_flight: JoinSet::new(),
            in_flight_items: HashMap::new(),
            health: Health::default(),
            batch_limit,
            flushes: Vec::new(),
            shutdown: None,
        }
    }

    pub(super) async fn run(mut self) {
        loop {
            self.intake();
            let now = Instant::now();
            let draining = !self.flushes.is_empty() || self.shutdown.is_some();
            self.cut(now, draining);
            self.launch(now);
            if !self.flushes.is_empty() && self.nothing_but_retries() {
                let retrying: usize = self.retries.iter().map(|b| b.items.len()).sum();
                let pending = (retrying + self.queued()) as u64;
                for waiter in std::mem::take(&mut self.flushes) {
                    self.answer(waiter, pending);
                }
            }
            if let Some((deadline, _)) = &self.shutdown {
                if (self.nothing_but_retries() && self.retries.is_empty()) || now >= *deadline {
                    self.finish();
                    return;
                }
            }
            let next = self.next_wakeup(now);
            tokio::select! {
                request = self.requests.recv(), if !self.handles_gone => self.on_request(request, now),
                Some(done) = self.in_flight.join_next_with_id(), if !self.in_flight.is_empty() => {
                    match done {
                        Ok((id, sent)) => {
                            self.in_flight_items.remove(&id);
                            self.settle(sent);
                        }
                        Err(err) => {
                            let (count, ids, _) = self.in_flight_items.remove(&err.id()).unwrap_or_default();
                            self.shared.lost(LossKind::Rejected, count, ids, None, format!("a send failed: {err}"));
                        }
                    }
                }
                () = self.shared.wake.notified() => {}
                () = tokio::time::sleep_until(next.into()) => {}
            }
        }
    }

    fn on_request(&mut self, request: Option<Control>, now: Instant) {
        let counters = &self.shared.counters;
        let waiter = |reply| Waiter {
            reply: Some(reply),
            sent_before: counters.sent.load(Ordering::Relaxed),
            failed_before: counters.failed.load(Ordering::Relaxed),
        };
        match request {
            Some(Control::Flush(reply)) => self.flushes.push(waiter(reply)),
            Some(Control::Shutdown(deadline, reply)) => {
                self.shutdown = Some((deadline, waiter(reply)));
            }
            None => {
                // Every handle is gone: deliver what is held, briefly, as a shutdown would.
                self.handles_gone = true;
                self.shared.closed.store(true, Ordering::Release);
                if self.shutdown.is_none() {
                    let mut orphan = waiter(oneshot::channel().0);
                    orphan.reply = None;
                    self.shutdown = Some((now + ORPHAN_DRAIN, orphan));
                }
            }
        }
    }

    /// The bytes of encoded items held: buffered, cut, in flight, waiting for a retry.
    fn held_bytes(&self) -> usize {
        self.buffer_bytes
            + self
                .ready
                .iter()
                .chain(&self.retries)
                .map(|b| b.bytes)
                .sum::<usize>()
            + self
                .in_flight_items
                .values()
                .map(|(_, _, bytes)| bytes)
                .sum::<usize>()
    }

    /// Takes every queued item, encodes it and buffers it (or reports it lost); nothing
    /// while `max_held_bytes` are held (the queue's overflow policy applies meanwhile).
    fn intake(&mut self) {
        if self.held_bytes() >= self.shared.config.max_held_bytes {
            return;
        }
        let taken = match self.shared.queue.lock() {
            Ok(mut queue) => std::mem::take(&mut *queue),
            Err(_) => return,
        };
        let config = &self.shared.config;
        for item in taken {
            let id = self.route.id(&item);
            match self.route.encode(item) {
                Err(refusal) => {
                    let ids = id.into_iter().collect();
                    self.shared
                        .lost(refusal.kind, 1, ids, None, refusal.message);
                }
                Ok(bytes) if bytes.len() > config.max_item_bytes => {
                    self.shared.lost(
                        LossKind::TooLarge,
                        1,
                        id.into_iter().collect(),
                        None,
                        format!("an item of {} bytes is over the limit", bytes.len()),
                    );
                }
                Ok(bytes) => {
                    self.buffer_since.get_or_insert_with(Instant::now);
                    self.buffer_bytes += bytes.len();
                    self.buffer.push(Encoded { id, bytes });
                }
            }
        }
    }

    /// Cuts batches from the buffer: full ones always, the rest when `force` or when the
    /// oldest buffered item has waited `flush_interval`.
    fn cut(&mut self, now: Instant, force: bool) {
        let config = &self.shared.config;
        let due = force
            || self
                .buffer_since
                .is_some_and(|since| now.duration_since(since) >= config.flush_interval);
        let limit = self.batch_limit;
        while !self.buffer.is_empty() {
            let full = self.buffer.len() >= limit || self.buffer_bytes >= config.max_batch_bytes;
            if !full && !due {
                break;
            }
            let mut bytes = 0;
            let take = self
                .buffer
                .iter()
                .take(limit)
                .take_while(|item| {
                    bytes += item.bytes.len();
                    bytes <= config.max_batch_bytes
                })
                .count()
                .max(1);
            let items: Vec<Encoded> = self.buffer.drain(..take).collect();
            self.buffer_bytes -= items.iter().map(|item| item.bytes.len()).sum::<usize>();
            self.ready.push_back(Batch::new(items, now));
        }
        if self.buffer.is_empty() {
            self.buffer_since = None;
        }
    }

    /// Starts sends while the server's health allows: cut batches first, then due retries.
    fn launch(&mut self, now: Instant) {
        let width = self
            .health
            .width(now, self.shared.config.max_in_flight.max(1));
        while self.in_flight.len() < width {
            let batch = match self.ready.pop_front() {
                Some(batch) => batch,
                None => {
                    let due = self
                        .retries
                        .iter()
                        .enumerate()
                        .filter(|(_, b)| b.not_before <= now)
                        .min_by_key(|(_, b)| b.not_before)
                        .map(|(i, _)| i);
                    match due {
                        Some(i) => self.retries.swap_remove(i),
                        None => return,
                    }
                }
            };
            let mut batch = batch;
            batch.started = now;
            let count = batch.items.len();
            let bodies = batch.items.iter().map(|item| item.bytes.clone()).collect();
            let send = self.route.send(&self.transport, bodies);
            let sending = (count, ids(&batch.items), batch.bytes);
            let handle = self.in_flight.spawn(async move { (batch, send.await) });
            self.in_flight_items.insert(handle.id(), sending);
        }
    }

    /// Reads one answer.
    fn settle(&mut self, (batch, outcome): Sent) {
        let now = Instant::now();
        let answer = match outcome {
            Ok(answer) => answer,
            Err(err) if err.is_no_response() || err.is_timeout() => {
                return self.retry(batch, None, None, now, err.to_string());
            }
            Err(err) => {
                let count = batch.items.len();
                return self.shared.lost(
                    LossKind::Rejected,
                    count,
                    ids(&batch.items),
                    None,
                    format!("the send failed: {err}"),
                );
            }
        };
        let code = answer.status.as_u16();
        match code {
            200..=299 => {
                self.health.succeeded();
                self.batch_limit = (self.batch_limit + 1).min(self.shared.config.flush_at.max(1));
                let resend: Vec<Encoded> = answer
                    .resend
                    .iter()
                    .filter_map(|&i| batch.items.get(i).cloned())
                    .collect();
                let delivered = batch.items.len() - resend.len();
                self.shared
                    .counters
                    .sent
                    .fetch_add(delivered as u64, Ordering::Relaxed);
                if !resend.is_empty() {
                    let again = Batch {
                        bytes: resend.iter().map(|item| item.bytes.len()).sum(),
                        items: resend,
                        ..batch
                    };
                    self.retry(
                        again,
                        answer.retry_after,
                        Some(code),
                        now,
                        "the server asked to resend some items".into(),
                    );
                }
            }
            413 if batch.items.len() > 1 => {
                // Too large for the server: send each half on its own (no backoff), and cut
                // batches no larger than a half until healthy sends ramp the size back up.
                self.batch_limit = self.batch_limit.min(batch.items.len() / 2).max(1);
                let mut first = batch.items;
                let second = first.split_off(first.len() / 2);
                self.ready.push_front(Batch::new(second, now));
                self.ready.push_front(Batch::new(first, now));
            }
            413 => self.shared.lost(
                LossKind::TooLarge,
                1,
                ids(&batch.items),
                Some(413),
                "the server refused a batch of one item as too large".into(),
            ),
            408 | 429 | 500..=599 => {
                self.retry(
                    batch,
                    answer.retry_after,
                    Some(code),
                    now,
                    format!("the server answered {code}"),
                );
            }
            _ => self.shared.lost(
                LossKind::Rejected,
                batch.items.len(),
                ids(&batch.items),
                Some(code),
                format!("the server refused the batch ({code})"),
            ),
        }
    }

    /// A retryable failure: the batch waits by the server's health, or is given up.
    fn retry(
        &mut self,
        mut batch: Batch,
        retry_after: Option<Duration>,
        status: Option<u16>,
        now: Instant,
        why: String,
    ) {
        batch.failures += 1;
        let first = *batch.first_failure.get_or_insert(now);
        let config = &self.shared.config;
        let exhausted = match config.max_retries {
            Some(max) => batch.failures > max,
            None => now.duration_since(first) >= config.retry_for,
        };
        if exhausted {
            let count = batch.items.len();
            return self.shared.lost(
                LossKind::RetriesExhausted,
                count,
                ids(&batch.items),
                status,
                format!("retries exhausted: {why}"),
            );
        }
        let (base, cap) = (config.backoff_base, config.backoff_cap);
        let backoff = |n: u32| {
            base.saturating_mul(1u32 << n.saturating_sub(1).min(20))
                .min(cap)
        };
        batch.not_before = self.health.failed(now, batch.started, backoff, retry_after);
        self.retries.push(batch);
    }

    /// Whether only batches waiting for a retry are held (nothing buffered, cut or in flight,
    /// and nothing queued that the worker could take: while `max_held_bytes` are held, queued
    /// items wait with the retries).
    fn nothing_but_retries(&self) -> bool {
        self.buffer.is_empty()
            && self.ready.is_empty()
            && self.in_flight.is_empty()
            && (self.queued() == 0 || self.held_bytes() >= self.shared.config.max_held_bytes)
    }

    /// Items in the queue.
    fn queued(&self) -> usize {
        self.shared.queue.lock().map_or(0, |q| q.len())
    }

    /// When the worker must look again without being woken.
    fn next_wakeup(&self, now: Instant) -> Instant {
        let mut next = now + Duration::from_secs(3600);
        if let Some(since) = self.buffer_since {
            next = next.min(since + self.shared.config.flush_interval);
        }
        if let Some(retry) = self.retries.iter().map(|b| b.not_before).min() {
            next = next.min(retry);
        }
        if let Some(resume) = self.health.resumes_at(now) {
            next = next.min(resume);
        }
        if let Some((deadline, _)) = &self.shutdown {
            next = next.min(*deadline);
        }
        next.max(now + Duration::from_millis(1))
    }

    fn answer(&self, waiter: Waiter, pending: u64) {
        let counters = &self.shared.counters;
        let report = LaneReport {
            sent: counters.sent.load(Ordering::Relaxed) - waiter.sent_before,
            failed: counters.failed.load(Ordering::Relaxed) - waiter.failed_before,
            pending,
        };
        if let Some(reply) = waiter.reply {
            let _ = reply.send(report);
        }
    }

    /// The end of the shutdown: whatever is still held or queued is reported lost.
    fn finish(&mut self) {
        let queued = match self.shared.queue.lock() {
            Ok(mut queue) => std::mem::take(&mut *queue),
            Err(_) => Default::default(),
        };
        let mut held: Vec<u128> = queued
            .iter()
            .filter_map(|item| self.route.id(item))
            .collect();
        let mut count = queued.len();
        held.extend(ids(&self.buffer));
        count += self.buffer.len();
        for batch in self.ready.iter().chain(&self.retries) {
            count += batch.items.len();
            held.extend(ids(&batch.items));
        }
        for (sending, sending_ids, _) in self.in_flight_items.values() {
            count += sending;
            held.extend(sending_ids);
        }
        self.in_flight.abort_all();
        self.shared.lost(
            LossKind::ShutdownTimeout,
            count,
            held,
            None,
            "the shutdown deadline passed before these items were delivered".into(),
        );
        for waiter in std::mem::take(&mut self.flushes) {
            self.answer(waiter, 0);
        }
        if let Some((_, waiter)) = self.shutdown.take() {
            self.answer(waiter, 0);
        }
    }
}
