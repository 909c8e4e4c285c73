//! A per-thread copy of a store's current definitions, so a flag read costs no atomic
//! read-modify-write (a read lock costs two): a thread keeps the `Arc` it last read together
//! with the store's version, and reads under the lock again only when a load has bumped that
//! version. The price: a thread's copy keeps the definitions it last read alive until it reads
//! again (from any store) or exits.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use super::poller::Loaded;

/// Source of store ids: unique in the process, so a dropped store's copies never match
/// another store (an address can be reused, an id is not).
static STORE_IDS: AtomicU64 = AtomicU64::new(1);

/// A fresh store id.
pub(super) fn next_store_id() -> u64 {
    STORE_IDS.fetch_add(1, Ordering::Relaxed)
}

/// What this thread last read from a store.
struct Copy {
    store: u64,
    version: u64,
    loaded: Option<Arc<Loaded>>,
}

thread_local! {
    static COPY: RefCell<Option<Copy>> = const { RefCell::new(None) };
}

/// Runs `f` on the definitions of store `store` as of now: this thread's copy when it is of
/// the current `version`, else what `current` holds (read under its lock and kept as this
/// thread's copy). `version` must only change while `current`'s write lock is held.
#[inline]
pub(super) fn read<R>(
    store: u64,
    version: &AtomicU64,
    current: &RwLock<Option<Arc<Loaded>>>,
    f: impl FnOnce(Option<&Loaded>) -> R,
) -> R {
    let now = version.load(Ordering::Acquire);
    let mut f = Some(f);
    let hit = COPY
        .try_with(|copy| {
            let copy = copy.try_borrow().ok()?;
            let copy = copy.as_ref()?;
            if copy.store != store || copy.version != now {
                return None;
            }
            let f = f.take()?;
            Some(f(copy.loaded.as_deref()))
        })
        .ok()
        .flatten();
    match (hit, f) {
        (Some(answer), _) => answer,
        (None, Some(f)) => read_locked(store, version, current, f),
        // `f` is taken only when it ran, and then there is an answer.
        (None, None) => unreachable!("a read without an answer consumed its closure"),
    }
}

/// The slow path of [`read`]: the lock, then the copy is refreshed.
#[cold]
fn read_locked<R>(
    store: u64,
    version: &AtomicU64,
    current: &RwLock<Option<Arc<Loaded>>>,
    f: impl FnOnce(Option<&Loaded>) -> R,
) -> R {
    let Ok(guard) = current.read() else {
        return f(None);
    };
    // Under the read lock the version cannot move, so it names exactly this set.
    let now = version.load(Ordering::Relaxed);
    let loaded = guard.clone();
    drop(guard);
    let answer = f(loaded.as_deref());
    // Kept after `f`, which may read another store's copy (nested reads are not cached).
    let _ = COPY.try_with(|copy| {
        if let Ok(mut copy) = copy.try_borrow_mut() {
            *copy = Some(Copy {
                store,
                version: now,
                loaded,
            });
        }
    });
    answer
}

#[cfg(test)]
mod tests {
    use super::*;
    use posthog_flags::FlagSet;
    use serde_json::json;
    use std::time::SystemTime;

    fn loaded(key: &str) -> Option<Arc<Loaded>> {
        let doc = json!({"flags": [{"id": 1, "key": key, "active": true,
            "filters": {"groups": [{"rollout_percentage": 100}]}}]});
        Some(Arc::new(Loaded {
            set: FlagSet::compile(&doc).expect("compiles"),
            loaded_at: SystemTime::now(),
        }))
    }

    fn keys(loaded: Option<&Loaded>) -> Vec<String> {
        loaded.map_or_else(Vec::new, |l| {
            l.set.keys().map(str::to_owned).collect::<Vec<_>>()
        })
    }

    #[test]
    fn a_bumped_version_is_read_again_and_stores_do_not_share_copies() {
        let (a, b) = (next_store_id(), next_store_id());
        let (va, vb) = (AtomicU64::new(0), AtomicU64::new(0));
        let (ca, cb) = (RwLock::new(loaded("one")), RwLock::new(loaded("other")));
        assert_eq!(read(a, &va, &ca, keys), ["one"]);
        // Without a version bump the copy answers, even though the lock holds something new:
        // this proves the copy is used (a store always bumps when it replaces).
        *ca.write().unwrap() = loaded("two");
        assert_eq!(read(a, &va, &ca, keys), ["one"]);
        va.fetch_add(1, Ordering::Release);
        assert_eq!(read(a, &va, &ca, keys), ["two"]);
        assert_eq!(
            read(b, &vb, &cb, keys),
            ["other"],
            "store b has its own copy"
        );
        assert_eq!(read(a, &va, &ca, keys), ["two"]);
        // Another thread has no copy and reads the lock.
        std::thread::scope(|s| {
            s.spawn(|| assert_eq!(read(a, &va, &ca, keys), ["two"]));
        });
    }

    #[test]
    fn nested_reads_answer_without_a_copy() {
        let (a, b) = (next_store_id(), next_store_id());
        let (va, vb) = (AtomicU64::new(0), AtomicU64::new(0));
        let (ca, cb) = (RwLock::new(loaded("one")), RwLock::new(loaded("other")));
        let both = read(a, &va, &ca, |outer| {
            let inner = read(b, &vb, &cb, keys);
            (keys(outer), inner)
        });
        assert_eq!(both, (vec!["one".to_owned()], vec!["other".to_owned()]));
        let again = read(a, &va, &ca, |outer| (keys(outer), read(b, &vb, &cb, keys)));
        assert_eq!(again, both);
    }
}
