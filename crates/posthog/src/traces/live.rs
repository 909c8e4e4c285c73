//! Live-span bookkeeping (C-TRACES.17): how many spans are open, the eviction of spans open
//! longer than `max_span_age` (their handles become inert and free their slot), and the count
//! of dropped spans with at most one warning per flush interval.
//!
//! Each open span holds a slot in a slab (its start and a weak reference), taken at start and
//! given back when it ends or is dropped, so only open spans are held. The slab is scanned
//! only when the live-span limit is reached and some span can be over age by then.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use super::span::Live;

/// The open spans and the limits on them.
pub(crate) struct LiveSpans {
    count: AtomicUsize,
    max: usize,
    max_age: Duration,
    slots: Mutex<Slots>,
    pub(super) drops: Arc<Drops>,
}

#[derive(Default)]
struct Slots {
    entries: Vec<Option<(Instant, Weak<Mutex<Live>>)>>,
    free: Vec<usize>,
    /// No open span can be over age before this.
    next_eviction: Option<Instant>,
}

impl LiveSpans {
    pub(super) fn new(max: usize, max_age: Duration, drops: Arc<Drops>) -> Self {
        Self {
            count: AtomicUsize::new(0),
            max,
            max_age,
            slots: Mutex::new(Slots::default()),
            drops,
        }
    }

    /// Takes a place for a new span (evicting over-age spans first when none is free);
    /// `false` at the limit.
    pub(super) fn enter(&self, now: Instant) -> bool {
        if self.count.load(Ordering::Relaxed) >= self.max {
            self.evict_over_age(now);
        }
        if self.count.fetch_add(1, Ordering::Relaxed) >= self.max {
            self.count.fetch_sub(1, Ordering::Relaxed);
            self.drops.note("the live-span limit was reached");
            return false;
        }
        true
    }

    /// Gives the place of a span that never got a slot back.
    pub(super) fn leave_unslotted(&self) {
        self.count.fetch_sub(1, Ordering::Relaxed);
    }

    /// Records an entered span started at `started`; returns its slot.
    pub(super) fn track(&self, started: Instant, span: Weak<Mutex<Live>>) -> Option<usize> {
        let mut slots = self.slots.lock().ok()?;
        let entry = Some((started, span));
        let at = started + self.max_age;
        slots.next_eviction = Some(slots.next_eviction.map_or(at, |next| next.min(at)));
        Some(match slots.free.pop() {
            Some(slot) => {
                slots.entries[slot] = entry;
                slot
            }
            None => {
                slots.entries.push(entry);
                slots.entries.len() - 1
            }
        })
    }

    /// A span ended or was dropped: its place and slot are free.
    pub(super) fn leave(&self, slot: usize) {
        self.count.fetch_sub(1, Ordering::Relaxed);
        if let Ok(mut slots) = self.slots.lock() {
            if let Some(entry) = slots.entries.get_mut(slot) {
                *entry = None;
                slots.free.push(slot);
            }
        }
    }

    /// Evicts every span open longer than the maximum age, when one can be.
    fn evict_over_age(&self, now: Instant) {
        let over_age: Vec<Arc<Mutex<Live>>> = {
            let Ok(mut slots) = self.slots.lock() else {
                return;
            };
            if slots.next_eviction.is_none_or(|at| now < at) {
                return;
            }
            let mut next: Option<Instant> = None;
            let mut found = Vec::new();
            for (started, weak) in slots.entries.iter().flatten() {
                if now.saturating_duration_since(*started) > self.max_age {
                    found.extend(weak.upgrade());
                } else {
                    let at = *started + self.max_age;
                    next = Some(next.map_or(at, |n| n.min(at)));
                }
            }
            slots.next_eviction = next;
            found
        };
        // Outside the slab's lock: ending a span gives its slot back, which takes it.
        for span in over_age {
            let evicted = span.lock().is_ok_and(|mut live| live.evict());
            if evicted {
                self.drops
                    .note("a span stayed open past the maximum span age");
            }
        }
    }
}

/// Dropped spans: every drop counted, and at most one warning per interval summarising them.
pub(crate) struct Drops {
    total: AtomicU64,
    unreported: AtomicU64,
    /// Milliseconds after `epoch` before which no warning is logged.
    quiet_until: AtomicU64,
    interval: Duration,
    epoch: Instant,
}

impl Drops {
    pub(super) fn new(interval: Duration) -> Self {
        Self {
            total: AtomicU64::new(0),
            unreported: AtomicU64::new(0),
            quiet_until: AtomicU64::new(0),
            interval,
            epoch: Instant::now(),
        }
    }

    /// Counts one dropped span; logs a summary unless one was logged within the interval.
    pub(super) fn note(&self, why: &str) {
        let total = self.total.fetch_add(1, Ordering::Relaxed) + 1;
        self.unreported.fetch_add(1, Ordering::Relaxed);
        let now = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        let quiet_until = self.quiet_until.load(Ordering::Relaxed);
        let next = now.saturating_add(u64::try_from(self.interval.as_millis()).unwrap_or(0));
        if now >= quiet_until
            && self
                .quiet_until
                .compare_exchange(quiet_until, next, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            let dropped = self.unreported.swap(0, Ordering::Relaxed);
            tracing::warn!(target: "posthog", dropped, total, "spans dropped since the last warning; the latest because {why}");
        }
    }

    /// Spans dropped so far.
    pub(crate) fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }
}
