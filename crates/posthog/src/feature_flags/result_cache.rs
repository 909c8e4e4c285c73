//! The opt-in cross-call cache of evaluated flags (C-FLAG-CACHE.5): a bounded LRU with a TTL,
//! keyed by everything an answer depends on (distinct id, groups, properties, requested keys).
//! Fresh entries answer reads first; expired ones answer only when the server cannot.

use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::{AllFlags, FlagOptions, Resolved};

/// What a cache entry holds: one flag's answer, or one subject's flags.
#[derive(Debug, Clone)]
pub(crate) enum Cached {
    One(Option<Resolved>),
    All(AllFlags),
}

#[derive(Debug)]
struct Entry {
    value: Cached,
    stored: Instant,
    /// The use this entry's newest position in `order` stands for.
    tick: u64,
}

#[derive(Debug, Default)]
struct State {
    entries: HashMap<u64, Entry>,
    /// Keys by last use, oldest first; positions older than their entry's tick are stale.
    order: VecDeque<(u64, u64)>,
    tick: u64,
}

/// The cache.
#[derive(Debug)]
pub(crate) struct ResultCache {
    capacity: usize,
    ttl: Duration,
    state: Mutex<State>,
}

/// A fresh hit, or an expired one kept for when the server fails.
pub(crate) enum Lookup {
    Fresh(Cached),
    Stale(Cached),
    Miss,
}

impl ResultCache {
    pub(crate) fn new(capacity: usize, ttl: Duration) -> Self {
        Self {
            capacity: capacity.max(1),
            ttl,
            state: Mutex::new(State::default()),
        }
    }

    pub(crate) fn get(&self, key: u64) -> Lookup {
        let Ok(mut state) = self.state.lock() else {
            return Lookup::Miss;
        };
        state.tick += 1;
        let tick = state.tick;
        let Some(entry) = state.entries.get_mut(&key) else {
            return Lookup::Miss;
        };
        entry.tick = tick;
        let value = entry.value.clone();
        let fresh = entry.stored.elapsed() < self.ttl;
        state.order.push_back((key, tick));
        Self::compact(&mut state);
        if fresh {
            Lookup::Fresh(value)
        } else {
            Lookup::Stale(value)
        }
    }

    pub(crate) fn put(&self, key: u64, value: Cached) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        state.tick += 1;
        let tick = state.tick;
        let entry = Entry {
            value,
            stored: Instant::now(),
            tick,
        };
        state.entries.insert(key, entry);
        state.order.push_back((key, tick));
        // Evict the least recently used until within capacity.
        while state.entries.len() > self.capacity {
            let Some((old, at)) = state.order.pop_front() else {
                break;
            };
            if state.entries.get(&old).is_some_and(|e| e.tick == at) {
                state.entries.remove(&old);
            }
        }
        Self::compact(&mut state);
    }

    /// Drops stale positions so `order` stays proportional to the entries.
    fn compact(state: &mut State) {
        if state.order.len() > 2 * state.entries.len() + 16 {
            let entries = &state.entries;
            state
                .order
                .retain(|(key, at)| entries.get(key).is_some_and(|e| e.tick == *at));
        }
    }

    pub(crate) fn clear(&self) {
        if let Ok(mut state) = self.state.lock() {
            *state = State::default();
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.state.lock().map_or(0, |s| s.entries.len())
    }
}

/// The cache key of a read: the subject, its properties, groups and device, the mode and the
/// requested keys.
/// `kind` tells single-flag reads, all-flags reads and reads of chosen flags apart.
pub(crate) fn key(distinct_id: &str, opts: &FlagOptions, kind: &str, requested: &[&str]) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    kind.hash(&mut hasher);
    distinct_id.hash(&mut hasher);
    opts.groups.hash(&mut hasher);
    // JSON maps are ordered by key, so equal properties print equally.
    serde_json::to_string(&opts.person_properties)
        .unwrap_or_default()
        .hash(&mut hasher);
    serde_json::to_string(&opts.group_properties)
        .unwrap_or_default()
        .hash(&mut hasher);
    opts.device_id.hash(&mut hasher);
    opts.only_evaluate_locally.hash(&mut hasher);
    requested.hash(&mut hasher);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn least_recently_used_goes_first_and_ttl_makes_stale() {
        let cache = ResultCache::new(2, Duration::from_millis(30));
        cache.put(1, Cached::One(None));
        cache.put(2, Cached::One(None));
        assert!(matches!(cache.get(1), Lookup::Fresh(_))); // 1 is now the most recent
        cache.put(3, Cached::One(None));
        assert!(
            matches!(cache.get(2), Lookup::Miss),
            "2 was the least recently used"
        );
        assert!(matches!(cache.get(1), Lookup::Fresh(_)));
        assert_eq!(cache.len(), 2);
        std::thread::sleep(Duration::from_millis(40));
        assert!(matches!(cache.get(3), Lookup::Stale(_)));
        for i in 0..1000 {
            cache.get(1);
            cache.put(10 + i % 3, Cached::One(None));
        }
        assert!(
            cache.state.lock().unwrap().order.len() < 64,
            "positions are compacted"
        );
        cache.clear();
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn keys_depend_on_everything_an_answer_depends_on() {
        let base = FlagOptions::new();
        let k = key("u", &base, "all", &[]);
        assert_eq!(k, key("u", &FlagOptions::new(), "all", &[]));
        assert_ne!(k, key("v", &base, "all", &[]));
        assert_ne!(
            k,
            key(
                "u",
                &base.clone().person_property("plan", "pro"),
                "all",
                &[]
            )
        );
        assert_ne!(
            k,
            key("u", &base.clone().group("company", "acme"), "all", &[])
        );
        assert_ne!(
            k,
            key("u", &base.clone().only_evaluate_locally(true), "all", &[])
        );
        assert_ne!(k, key("u", &base, "some", &["beta"]));
        assert_ne!(
            key("u", &base, "one", &["beta"]),
            key("u", &base, "some", &["beta"])
        );
    }
}
