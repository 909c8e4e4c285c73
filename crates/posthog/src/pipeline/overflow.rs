//! [`Overflow`]: where serialised events wait when the channel is full, bounded by bytes.
//!
//! The channel holds `max_queue_size` messages. Producers on more threads than the machine
//! has cores can fill it faster than the worker, which they starve of CPU, takes it in, even
//! while the worker holds far less than `max_pending_bytes`. Rather than drop those events,
//! a capture that finds the channel full serialises its event on its own thread and puts the
//! bytes here, as long as the worker's held bytes plus what waits here stay within
//! `max_pending_bytes`; only past that is an event dropped (and reported). The worker takes
//! everything here whenever it finds the channel empty.
//!
//! Order (C-BATCHER.3): once anything waits here, captures come here rather than to the
//! channel until the worker has taken it, so a thread's events never overtake each other.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use super::batch::PendingEvent;

/// Why an event could not wait here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// `max_pending_bytes` would be exceeded.
    Full,
    /// The worker has shut down.
    Closed,
}

/// Serialised events waiting for room in the worker (see the module docs).
#[derive(Debug)]
pub(crate) struct Overflow {
    state: Mutex<State>,
    /// Set while events wait here (captures then come here too, to keep their order).
    active: AtomicBool,
    /// The worker's held bytes, as it last published them.
    held: AtomicUsize,
    /// `max_pending_bytes`.
    limit: usize,
}

#[derive(Debug, Default)]
struct State {
    events: VecDeque<PendingEvent>,
    bytes: usize,
    closed: bool,
}

impl Overflow {
    pub(crate) fn new(limit: usize) -> Self {
        Self {
            state: Mutex::default(),
            active: AtomicBool::new(false),
            held: AtomicUsize::new(0),
            limit,
        }
    }

    /// Whether events wait here: a capture must come here too.
    #[inline]
    pub(crate) fn active(&self) -> bool {
        self.active.load(Ordering::Relaxed)
    }

    /// Adds an event, if the byte budget allows.
    pub(crate) fn push(&self, event: PendingEvent) -> Result<(), Refused> {
        let Ok(mut state) = self.state.lock() else {
            return Err(Refused::Closed);
        };
        if state.closed {
            return Err(Refused::Closed);
        }
        let held = self.held.load(Ordering::Relaxed);
        if held + state.bytes + event.json.len() > self.limit {
            return Err(Refused::Full);
        }
        state.bytes += event.json.len();
        state.events.push_back(event);
        self.active.store(true, Ordering::Relaxed);
        Ok(())
    }

    /// Takes every waiting event, oldest first; captures go to the channel again.
    pub(crate) fn take(&self) -> VecDeque<PendingEvent> {
        let Ok(mut state) = self.state.lock() else {
            return VecDeque::new();
        };
        state.bytes = 0;
        self.active.store(false, Ordering::Relaxed);
        std::mem::take(&mut state.events)
    }

    /// Refuses every later event (the worker is shutting down) and takes what waits.
    pub(crate) fn close(&self) -> VecDeque<PendingEvent> {
        if let Ok(mut state) = self.state.lock() {
            state.closed = true;
        }
        self.take()
    }

    /// The worker publishes what it holds, for the budget.
    #[inline]
    pub(crate) fn set_held(&self, bytes: usize) {
        self.held.store(bytes, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use uuid::Uuid;

    fn event(i: u128, len: usize) -> PendingEvent {
        PendingEvent {
            uuid: Uuid::from_u128(i),
            json: Bytes::from(vec![b'x'; len]),
        }
    }

    #[test]
    fn events_wait_in_order_within_the_byte_budget() {
        let overflow = Overflow::new(100);
        assert!(!overflow.active());
        overflow.set_held(40);
        assert_eq!(overflow.push(event(1, 30)), Ok(()));
        assert!(overflow.active());
        assert_eq!(overflow.push(event(2, 30)), Ok(()));
        assert_eq!(
            overflow.push(event(3, 1)),
            Err(Refused::Full),
            "40 + 60 + 1 > 100"
        );
        let taken: Vec<u128> = overflow.take().iter().map(|e| e.uuid.as_u128()).collect();
        assert_eq!(taken, [1, 2]);
        assert!(!overflow.active());
        assert_eq!(
            overflow.push(event(3, 60)),
            Ok(()),
            "the budget is free again"
        );
    }

    #[test]
    fn a_closed_overflow_refuses_events() {
        let overflow = Overflow::new(100);
        overflow.push(event(1, 10)).unwrap();
        assert_eq!(overflow.close().len(), 1);
        assert_eq!(overflow.push(event(2, 10)), Err(Refused::Closed));
    }
}
