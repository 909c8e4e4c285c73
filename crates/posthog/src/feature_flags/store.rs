//! Flag definitions for local evaluation (C-FLAG-DEFS): the store swapped whole on each load
//! (C-FLAG-DEFS.4), read through a per-thread copy of its current `Arc`. Loading into it is
//! `load.rs`; the background poll, `poller.rs`.
//!
//! A per-thread copy of a store's current definitions, so a flag read costs no atomic
//! read-modify-write (a read lock costs two): a thread keeps the `Arc` it last read together
//! with the store's version, and reads under the lock again only when a load has bumped that
//! version. The price: a thread's copy keeps the definitions it last read alive until it reads
//! again (from any store) or exits.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use posthog_flags::FlagSet;
use tokio::sync::watch;

/// One loaded definitions document.
#[derive(Debug)]
pub(crate) struct Loaded {
    pub(crate) set: FlagSet,
    pub(crate) loaded_at: SystemTime,
}

/// The current definitions. Readers clone an `Arc` under a read lock held for a pointer copy
/// (flag reads keep a per-thread copy, re-read only when `version` moves); a load compiles the
/// new set first and then swaps the pointer, so readers always see a whole set and never wait
/// for a compile (C-FLAG-DEFS.4, C-LOCAL-EVAL.10).
pub(crate) struct DefinitionsStore {
    pub(super) current: RwLock<Option<Arc<Loaded>>>,
    /// Bumped, under `current`'s write lock, on every replace.
    pub(super) version: AtomicU64,
    /// This store's id for the per-thread copies.
    pub(super) id: u64,
    /// The ETag of the current set, sent back as `If-None-Match`.
    pub(super) etag: Mutex<Option<String>>,
    pub(super) ready: watch::Sender<bool>,
    /// Held while a refresh runs: a refresh asked for meanwhile joins it (single flight).
    pub(super) refreshing: tokio::sync::Mutex<()>,
    /// The client's `on_error`, told of every failed load.
    pub(super) on_error: Option<crate::report::OnError>,
}

impl std::fmt::Debug for DefinitionsStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DefinitionsStore")
            .field("loaded", &self.current().is_some())
            .field("version", &self.version.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl DefinitionsStore {
    pub(crate) fn new(on_error: Option<crate::report::OnError>) -> Self {
        Self {
            on_error,
            current: RwLock::new(None),
            version: AtomicU64::new(0),
            id: next_store_id(),
            etag: Mutex::new(None),
            ready: watch::channel(false).0,
            refreshing: tokio::sync::Mutex::new(()),
        }
    }

    pub(crate) fn current(&self) -> Option<Arc<Loaded>> {
        self.current.read().ok().and_then(|c| c.clone())
    }

    /// Runs `f` on the current set: this thread's copy of it when no load replaced it since
    /// this thread last read, else what the read lock finds (held for a pointer copy).
    #[inline]
    pub(crate) fn with_current<R>(&self, f: impl FnOnce(Option<&Loaded>) -> R) -> R {
        read(self.id, &self.version, &self.current, f)
    }

    pub(super) fn replace(&self, loaded: Option<Loaded>, etag: Option<String>) {
        let is_loaded = loaded.is_some();
        let old = match self.current.write() {
            Ok(mut current) => {
                let old = std::mem::replace(&mut *current, loaded.map(Arc::new));
                self.version.fetch_add(1, Ordering::Release);
                old
            }
            Err(_) => None,
        };
        // The old set is freed (unless a thread's copy still holds it) outside the lock.
        drop(old);
        // The ETag is stored only once its definitions are installed.
        self.set_etag(etag);
        self.ready.send_replace(is_loaded);
    }

    pub(super) fn set_etag(&self, etag: Option<String>) {
        if let Ok(mut slot) = self.etag.lock() {
            *slot = etag;
        }
    }

    pub(super) fn etag(&self) -> Option<String> {
        self.etag.lock().ok().and_then(|e| e.clone())
    }

    /// Waits until definitions are loaded, at most `timeout`; `true` when they are.
    pub(crate) async fn wait_ready(&self, timeout: Duration) -> bool {
        let mut rx = self.ready.subscribe();
        tokio::time::timeout(timeout, rx.wait_for(|ready| *ready))
            .await
            .is_ok_and(|r| r.is_ok())
    }
}

/// Source of store ids: unique in the process, so a dropped store's copies never match
/// another store (an address can be reused, an id is not).
static STORE_IDS: AtomicU64 = AtomicU64::new(1);

/// A fresh store id.
fn next_store_id() -> u64 {
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
fn read<R>(
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
