//! The `$feature_flag_called` tracker (C-FLAG-CALLED.2–.6): remembers which (distinct id, flag,
//! value, groups) were reported, in a bounded set that forgets the oldest entries first.
//!
//! Entries are 64-bit hashes of the parts ([`super::called_key`]), built without allocating: a
//! flag read that was already reported costs a hash and one lookup in a per-thread front cache.
//! With 50,000 entries the chance that a new report is taken for a known one is about 10^-10.

use std::cell::Cell;
use std::collections::{HashSet, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// The properties a minimal `$feature_flag_called` keeps (C-FLAG-CALLED.8); everything else
/// (caller and super properties, context tags, `$referrer`, `$feature/<key>`, the payload)
/// is stripped.
const MINIMAL_KEEPS: &[&str] = &[
    "$feature_flag",
    "$feature_flag_response",
    "$feature_flag_has_experiment",
    "$feature_flag_id",
    "$feature_flag_version",
    "$feature_flag_reason",
    "$feature_flag_request_id",
    "$feature_flag_evaluated_at",
    "$feature_flag_error",
    "locally_evaluated",
    "$groups",
    "$process_person_profile",
    "$session_id",
    "$lib",
    "$lib_version",
    "$is_server",
    "$geoip_disable",
    "$os",
    "$os_version",
    "$referring_domain",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_content",
    "utm_term",
    "gad_source",
    "mc_cid",
    "gclid",
    "fbclid",
];

/// Whether a minimal `$feature_flag_called` keeps property `key`.
pub(crate) fn minimal_keeps(key: &str) -> bool {
    MINIMAL_KEEPS.contains(&key)
}

/// The default number of remembered reports.
pub(crate) const CAPACITY: usize = 50_000;

#[derive(Debug)]
pub(crate) struct CalledTracker {
    inner: Mutex<State>,
    capacity: usize,
    /// Mixed into the keys of the per-thread front cache: unique per tracker, and changed
    /// by [`CalledTracker::clear`], so entries of another tracker or of before a clear never
    /// match.
    salt: AtomicU64,
}

/// Slots of the per-thread front cache.
const FRONT_SLOTS: usize = 256;

thread_local! {
    /// A direct-mapped cache, per thread, of salted keys this thread saw reported: a repeated
    /// read is answered here without the tracker's lock. It only ever says "reported" for a
    /// key the tracker reported, so its failure mode is an event too few for a key the
    /// tracker has since evicted (C-FLAG-CALLED.6).
    static FRONT: [Cell<u64>; FRONT_SLOTS] = const { [const { Cell::new(0) }; FRONT_SLOTS] };
}

/// One key's slot in this thread's [`FRONT`] cache.
struct FrontEntry {
    salted: u64,
    slot: usize,
}

impl FrontEntry {
    /// Whether this thread saw the key reported.
    #[inline]
    fn known(&self) -> bool {
        FRONT
            .try_with(|front| front[self.slot].get() == self.salted)
            .unwrap_or(false)
    }

    /// Notes the key as reported for this thread.
    fn remember(&self) {
        let _ = FRONT.try_with(|front| front[self.slot].set(self.salted));
    }
}

/// Source of tracker salts.
static SALTS: AtomicU64 = AtomicU64::new(0x9E37_79B9_7F4A_7C15);

fn next_salt() -> u64 {
    // splitmix64 of a counter: distinct, well spread, never zero in practice.
    let mut z = SALTS.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (z ^ (z >> 31)) | 1
}

#[derive(Debug, Default)]
struct State {
    seen: HashSet<u64, BuildHasherDefault<Identity>>,
    order: VecDeque<u64>,
}

/// The keys are hashes already: the set uses them as they are.
#[derive(Debug, Default, Clone, Copy)]
struct Identity(u64);

impl Hasher for Identity {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

impl CalledTracker {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            inner: Mutex::new(State::default()),
            capacity: capacity.max(1),
            salt: AtomicU64::new(next_salt()),
        }
    }

    /// Records a report; `true` when it is new (so the event should be sent).
    pub(crate) fn first_time(&self, key: u64) -> bool {
        let front = self.front_entry(key);
        if front.known() {
            return false;
        }
        let first = self.first_time_shared(key);
        front.remember();
        first
    }

    /// Whether `key` was reported already, without recording anything: the read-only check
    /// of the flag-read fast path. A `false` sends the read down the full path, whose
    /// [`CalledTracker::first_time`] decides.
    #[inline]
    pub(crate) fn was_reported(&self, key: u64) -> bool {
        let front = self.front_entry(key);
        if front.known() {
            return true;
        }
        let reported = self
            .inner
            .lock()
            .is_ok_and(|state| state.seen.contains(&key));
        if reported {
            front.remember();
        }
        reported
    }

    /// Where `key` lives in this thread's front cache.
    #[inline]
    fn front_entry(&self, key: u64) -> FrontEntry {
        let salted = (key ^ self.salt.load(Ordering::Relaxed)) | 1;
        FrontEntry {
            salted,
            slot: (salted as usize) % FRONT_SLOTS,
        }
    }

    fn first_time_shared(&self, key: u64) -> bool {
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
        state.order.push_back(key);
        state.seen.insert(key);
        true
    }

    pub(crate) fn clear(&self) {
        if let Ok(mut state) = self.inner.lock() {
            *state = State::default();
        }
        // Every thread's front entries for this tracker stop matching.
        self.salt.store(next_salt(), Ordering::Relaxed);
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.inner.lock().map_or(0, |s| s.seen.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// C-FLAG-CALLED.4: memory is bounded; at capacity the oldest entry goes, one at a time
    /// (the rest stay remembered: no wipe, no flood of duplicates).
    #[test]
    fn c_flag_called_4_dedupes_and_evicts_the_oldest_only() {
        let t = CalledTracker::new(2);
        assert!(t.first_time_shared(1));
        assert!(!t.first_time_shared(1));
        assert!(t.first_time_shared(2));
        assert!(t.first_time_shared(3)); // evicts 1
        assert_eq!(t.len(), 2);
        assert!(!t.first_time_shared(3), "the newer entries stay");
        assert!(t.first_time_shared(1));
        t.clear();
        assert_eq!(t.len(), 0);
    }

    #[test]
    fn the_front_cache_is_per_tracker_and_cleared_with_it() {
        let (a, b) = (CalledTracker::new(100), CalledTracker::new(100));
        assert!(a.first_time(7));
        assert!(!a.first_time(7), "answered by this thread's front cache");
        assert!(b.first_time(7), "another tracker has its own reports");
        // Another thread asks the shared set.
        std::thread::scope(|s| {
            s.spawn(|| assert!(!a.first_time(7)));
        });
        a.clear();
        assert!(
            a.first_time(7),
            "a clear forgets this thread's front entries too"
        );
    }

    #[test]
    fn was_reported_only_reads() {
        let t = CalledTracker::new(100);
        assert!(!t.was_reported(9));
        assert!(!t.was_reported(9), "asking records nothing");
        assert!(t.first_time(9));
        assert!(t.was_reported(9));
        std::thread::scope(|s| {
            s.spawn(|| {
                assert!(
                    t.was_reported(9),
                    "another thread finds it in the shared set"
                )
            });
        });
        t.clear();
        assert!(
            !t.was_reported(9),
            "a clear forgets it for this thread's front cache too"
        );
    }
}
