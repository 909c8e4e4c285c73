//! The `$feature_flag_called` tracker (C-FLAG-CALLED.2–.6): remembers which (distinct id, flag,
//! value, groups) were reported, in a bounded set that forgets the oldest entries first.
//!
//! Entries are 64-bit hashes of the parts, built without allocating: a flag read that
//! was already reported costs a hash and one set lookup. With 50,000 entries the chance that a
//! new report is taken for a known one is about 10^-10.

use std::cell::RefCell;
use std::collections::{HashSet, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use posthog_core::{FlagValue, Groups};
use posthog_flags::FlagValueRef;

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
    static FRONT: RefCell<[u64; FRONT_SLOTS]> = const { RefCell::new([0; FRONT_SLOTS]) };
}

/// One key's slot in this thread's [`FRONT`] cache.
struct FrontEntry {
    salted: u64,
    slot: usize,
}

impl FrontEntry {
    /// Whether this thread saw the key reported.
    fn known(&self) -> bool {
        FRONT.with(|front| {
            front
                .try_borrow()
                .is_ok_and(|f| f[self.slot] == self.salted)
        })
    }

    /// Notes the key as reported for this thread.
    fn remember(&self) {
        FRONT.with(|front| {
            if let Ok(mut f) = front.try_borrow_mut() {
                f[self.slot] = self.salted;
            }
        });
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

/// A 64-bit hash over length-prefixed parts (so `("ab", "c")` and `("a", "bc")` differ), eight
/// bytes at a time ([`posthog_core::words::fold_words`]), finished with splitmix64. Not for adversarial input; dedupe keys only.
#[derive(Clone, Copy)]
struct KeyHash(u64);

impl KeyHash {
    fn mix(self, word: u64) -> Self {
        KeyHash(
            (self.0 ^ word)
                .wrapping_mul(0x9E37_79B9_7F4A_7C15)
                .rotate_left(29),
        )
    }

    fn part(self, bytes: &[u8]) -> Self {
        posthog_core::words::fold_words(bytes, self.mix(bytes.len() as u64), Self::mix)
    }

    fn finish(self) -> u64 {
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// The dedupe key: distinct id, flag, response and group context (`Groups` is a B-tree, so
/// already sorted by group type). Booleans and "no value" are tagged so no variant can equal
/// them.
pub(crate) fn key(
    distinct_id: &str,
    flag: &str,
    response: Option<&FlagValue>,
    groups: &Groups,
) -> u64 {
    let response = match response {
        None => NO_VALUE,
        Some(FlagValue::Bool(b)) => bool_text(*b),
        Some(FlagValue::Variant(v)) => v,
    };
    key_text(distinct_id, flag, response, groups)
}

/// [`key`] for a value local evaluation decided, passed in registers: the fast path of a read
/// copies nothing.
pub(crate) fn key_ref(
    distinct_id: &str,
    flag: &str,
    response: FlagValueRef<'_>,
    groups: &Groups,
) -> u64 {
    let response = match response {
        FlagValueRef::Bool(b) => bool_text(b),
        FlagValueRef::Variant(v) => v,
    };
    key_text(distinct_id, flag, response, groups)
}

/// How "no value" is hashed.
const NO_VALUE: &str = "\u{0}null";

/// How booleans are hashed (tagged, so no variant can equal them).
fn bool_text(b: bool) -> &'static str {
    if b { "\u{0}true" } else { "\u{0}false" }
}

fn key_text(distinct_id: &str, flag: &str, response: &str, groups: &Groups) -> u64 {
    let mut h = KeyHash(0x243F_6A88_85A3_08D3)
        .part(distinct_id.as_bytes())
        .part(flag.as_bytes())
        .part(response.as_bytes());
    for (group_type, group_key) in groups {
        h = h.part(group_type.as_bytes()).part(group_key.as_bytes());
    }
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dedupes_and_evicts_oldest() {
        let t = CalledTracker::new(2);
        assert!(t.first_time_shared(1));
        assert!(!t.first_time_shared(1));
        assert!(t.first_time_shared(2));
        assert!(t.first_time_shared(3)); // evicts 1
        assert_eq!(t.len(), 2);
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

    #[test]
    fn borrowed_and_owned_values_make_the_same_key() {
        let acme: Groups = [("company".to_owned(), "acme".to_owned())].into();
        let blue = FlagValue::Variant("blue".into());
        assert_eq!(
            key("u", "f", Some(&blue), &acme),
            key_ref("u", "f", FlagValueRef::Variant("blue"), &acme)
        );
        assert_eq!(
            key("u", "f", Some(&FlagValue::Bool(false)), &acme),
            key_ref("u", "f", FlagValueRef::Bool(false), &acme)
        );
    }

    #[test]
    fn keys_separate_their_parts() {
        let none = Groups::new();
        let on = Some(FlagValue::Bool(true));
        assert_ne!(
            key("ab", "c", on.as_ref(), &none),
            key("a", "bc", on.as_ref(), &none)
        );
        assert_ne!(
            key("u", "f", on.as_ref(), &none),
            key("u", "f", Some(&FlagValue::Variant("true".into())), &none)
        );
        assert_ne!(
            key("u", "f", None, &none),
            key("u", "f", Some(&FlagValue::Variant("null".into())), &none)
        );
        let acme: Groups = [("company".to_owned(), "acme".to_owned())].into();
        assert_ne!(
            key("u", "f", on.as_ref(), &none),
            key("u", "f", on.as_ref(), &acme)
        );
        assert_eq!(
            key("u", "f", on.as_ref(), &acme),
            key("u", "f", on.as_ref(), &acme.clone())
        );
    }
}
