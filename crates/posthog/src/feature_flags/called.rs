//! The `$feature_flag_called` tracker (C-FLAG-CALLED.2–.6): remembers which (distinct id, flag,
//! value, groups) were reported, in a bounded set that forgets the oldest entries first.

use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;

/// The default number of remembered reports.
pub(crate) const CAPACITY: usize = 50_000;

#[derive(Debug)]
pub(crate) struct CalledTracker {
    inner: Mutex<State>,
    capacity: usize,
}

#[derive(Debug, Default)]
struct State {
    seen: HashSet<String>,
    order: VecDeque<String>,
}

impl CalledTracker {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            inner: Mutex::new(State::default()),
            capacity: capacity.max(1),
        }
    }

    /// Records a report; `true` when it is new (so the event should be sent).
    pub(crate) fn first_time(&self, key: String) -> bool {
        let Ok(mut state) = self.inner.lock() else {
            return true;
        };
        if state.seen.contains(&key) {
            return false;
        }
        while state.order.len() >= self.capacity {
            if let Some(oldest) = state.order.pop_front() {
                state.seen.remove(&oldest);
            }
        }
        state.order.push_back(key.clone());
        state.seen.insert(key);
        true
    }

    pub(crate) fn clear(&self) {
        if let Ok(mut state) = self.inner.lock() {
            *state = State::default();
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.inner.lock().map_or(0, |s| s.seen.len())
    }
}

/// The dedupe key: distinct id, flag, response, and the sorted group context.
pub(crate) fn key(
    distinct_id: &str,
    flag: &str,
    response: &str,
    groups: &posthog_core::Groups,
) -> String {
    // `Groups` is a BTreeMap: already sorted by group type.
    let groups: Vec<String> = groups.iter().map(|(t, k)| format!("{t}={k}")).collect();
    format!(
        "{distinct_id}\u{0}{flag}\u{0}{response}\u{0}{}",
        groups.join("&")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dedupes_and_evicts_oldest() {
        let t = CalledTracker::new(2);
        assert!(t.first_time("a".into()));
        assert!(!t.first_time("a".into()));
        assert!(t.first_time("b".into()));
        assert!(t.first_time("c".into())); // evicts a
        assert_eq!(t.len(), 2);
        assert!(t.first_time("a".into()));
        t.clear();
        assert_eq!(t.len(), 0);
    }
}
