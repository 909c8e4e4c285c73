//! The logs rate cap (C-LOGS.15): a tumbling window counting accepted logs; past the limit a
//! log is dropped, with at most one warning per window. A clock that moves backwards starts a
//! new window. A limit of 0 turns it off.

use std::sync::Mutex;
use std::time::{Duration, Instant};

pub(super) struct RateCap {
    limit: u32,
    window: Duration,
    state: Mutex<Window>,
}

struct Window {
    started: Instant,
    count: u32,
    warned: bool,
}

impl RateCap {
    pub(super) fn new(limit: u32, window: Duration) -> Self {
        Self {
            limit,
            window,
            state: Mutex::new(Window {
                started: Instant::now(),
                count: 0,
                warned: false,
            }),
        }
    }

    /// Whether one more log is accepted now.
    pub(super) fn admit(&self) -> bool {
        self.admit_at(Instant::now())
    }

    fn admit_at(&self, now: Instant) -> bool {
        if self.limit == 0 || self.window.is_zero() {
            return true;
        }
        let Ok(mut w) = self.state.lock() else {
            return true;
        };
        let elapsed = now.checked_duration_since(w.started);
        if elapsed.is_none_or(|e| e >= self.window) {
            *w = Window {
                started: now,
                count: 0,
                warned: false,
            };
        }
        if w.count < self.limit {
            w.count += 1;
            return true;
        }
        if !w.warned {
            w.warned = true;
            tracing::warn!(target: "posthog", limit = self.limit, window_ms = self.window.as_millis() as u64, "logs over the rate cap are dropped for the rest of this window");
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// C-LOGS.15: a tumbling window; 0 turns the cap off.
    #[test]
    fn c_logs_15_tumbling_window() {
        let cap = RateCap::new(3, Duration::from_secs(1));
        let t0 = Instant::now();
        let first: Vec<bool> = (0..5).map(|_| cap.admit_at(t0)).collect();
        assert_eq!(first, [true, true, true, false, false]);
        assert!(
            cap.admit_at(t0 + Duration::from_millis(1_000)),
            "a new window"
        );
        let off = RateCap::new(0, Duration::from_secs(1));
        assert!((0..100).all(|_| off.admit_at(t0)));
    }
}
