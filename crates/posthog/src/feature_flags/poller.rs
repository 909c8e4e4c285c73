//! Flag definitions for local evaluation (C-FLAG-DEFS): a store swapped whole on each load,
//! and a background poller using ETags.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use posthog_flags::FlagSet;

use super::cache::{CachedDefinitions, DefinitionsCache};
use super::thread_copy;
use posthog_transport::{Definitions, Transport};
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
    current: RwLock<Option<Arc<Loaded>>>,
    /// Bumped, under `current`'s write lock, on every replace.
    version: AtomicU64,
    /// This store's id for the per-thread copies.
    id: u64,
    /// The ETag of the current set, sent back as `If-None-Match`.
    etag: Mutex<Option<String>>,
    ready: watch::Sender<bool>,
    /// Held while a refresh runs: a refresh asked for meanwhile joins it (single flight).
    refreshing: tokio::sync::Mutex<()>,
    /// The client's `on_error`, told of every failed load.
    on_error: Option<crate::report::OnError>,
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
            id: thread_copy::next_store_id(),
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
        thread_copy::read(self.id, &self.version, &self.current, f)
    }

    fn replace(&self, loaded: Option<Loaded>, etag: Option<String>) {
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

    fn set_etag(&self, etag: Option<String>) {
        if let Ok(mut slot) = self.etag.lock() {
            *slot = etag;
        }
    }

    fn etag(&self) -> Option<String> {
        self.etag.lock().ok().and_then(|e| e.clone())
    }

    /// Waits until definitions are loaded, at most `timeout`; `true` when they are.
    pub(crate) async fn wait_ready(&self, timeout: Duration) -> bool {
        let mut rx = self.ready.subscribe();
        tokio::time::timeout(timeout, rx.wait_for(|ready| *ready))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// Compiles and installs a definitions document; `false` when it does not parse.
    /// Compiling runs on tokio's blocking pool, never on an async thread: a 25 MB document
    /// stalled a current-thread runtime for ~1 s.
    pub(crate) async fn install(&self, body: &bytes::Bytes, etag: Option<String>) -> bool {
        let document = body.clone();
        let compiled = tokio::task::spawn_blocking(move || FlagSet::from_slice(&document)).await;
        let Ok(compiled) = compiled else {
            tracing::warn!(target: "posthog", "compiling flag definitions failed (the task panicked or was cancelled)");
            return false;
        };
        match compiled {
            Ok(set) => {
                for problem in set.problems() {
                    tracing::warn!(target: "posthog", "flag definition not usable locally: {problem}");
                }
                self.replace(
                    Some(Loaded {
                        set,
                        loaded_at: SystemTime::now(),
                    }),
                    etag,
                );
                true
            }
            Err(err) => {
                self.report_failure(None, format!("flag definitions ignored: {err}"));
                false
            }
        }
    }

    /// A failed load: logged, and handed to `on_error` as
    /// [`DeliveryErrorKind::FlagDefinitions`](crate::DeliveryErrorKind::FlagDefinitions).
    fn report_failure(&self, status: Option<u16>, message: String) {
        if matches!(status, Some(401..=403)) {
            tracing::error!(target: "posthog", "{message}");
        } else {
            tracing::warn!(target: "posthog", "{message}");
        }
        let Some(on_error) = &self.on_error else {
            return;
        };
        let error = crate::DeliveryError {
            kind: crate::DeliveryErrorKind::FlagDefinitions,
            count: 0,
            uuids: Vec::new(),
            status,
            message,
        };
        if crate::hooks::contain(|| on_error(&error)).is_none() {
            tracing::warn!(target: "posthog", "the on_error callback panicked");
        }
    }

    /// Installs shared definitions unless they are the ones already loaded (same ETag).
    pub(crate) async fn install_shared(&self, shared: &CachedDefinitions) {
        let same = self.current().is_some() && shared.etag.is_some() && shared.etag == self.etag();
        if !same {
            self.install(&shared.body, shared.etag.clone()).await;
        }
    }

    /// One load from PostHog: 200 replaces (and returns what it installed, to share), 304
    /// keeps (with the new ETag if any), 401/402 clear, anything else keeps the last good set
    /// (C-FLAG-DEFS.3/.6/.7).
    pub(crate) async fn load(&self, transport: &Transport) -> Option<CachedDefinitions> {
        let etag = self.current().and(self.etag());
        match transport.local_evaluation(etag.as_deref()).await {
            Ok(Definitions::Modified { body, etag }) => self
                .install(&body, etag.clone())
                .await
                .then_some(CachedDefinitions { body, etag }),
            Ok(Definitions::NotModified { etag: new_etag }) => {
                // 304: the definitions stay; a new ETag on the 304 replaces the old one.
                if new_etag.is_some() {
                    self.set_etag(new_etag);
                }
                None
            }
            Err(err) => {
                let status = err.status_code().map(|s| s.as_u16());
                let message = match status {
                    Some(401 | 402) => {
                        self.replace(None, None);
                        format!(
                            "flag definitions refused ({err}); local evaluation is off until a load succeeds"
                        )
                    }
                    Some(403) => format!(
                        "flag definitions refused ({err}); check the key's feature_flag:read scope"
                    ),
                    _ => format!("flag definitions not refreshed, keeping the last ones: {err}"),
                };
                self.report_failure(status, message);
                None
            }
        }
    }

    /// One refresh with a shared cache (C-FLAG-DEFS.11–.13): ask whether to fetch; fetch and
    /// share, or read the shared copy. A failing or slow cache never stops local evaluation:
    /// a failed decision means fetching directly, a failed read keeps the current set.
    ///
    /// Single flight: a refresh asked for while another runs (`load_feature_flags` during a
    /// poll, say) waits for that one to finish and sends no request of its own.
    pub(crate) async fn refresh(
        &self,
        transport: &Transport,
        cache: Option<&dyn DefinitionsCache>,
    ) {
        let _running = match self.refreshing.try_lock() {
            Ok(guard) => guard,
            Err(_) => {
                let _joined = self.refreshing.lock().await;
                return;
            }
        };
        let Some(cache) = cache else {
            self.load(transport).await;
            return;
        };
        let fetch = match tokio::time::timeout(CACHE_TIMEOUT, cache.should_fetch()).await {
            Ok(Ok(fetch)) => fetch,
            Ok(Err(err)) => {
                tracing::warn!(target: "posthog", "definitions cache failed to decide ({err}); fetching directly");
                true
            }
            Err(_) => {
                tracing::warn!(target: "posthog", "definitions cache did not answer in time; fetching directly");
                true
            }
        };
        if fetch {
            if let Some(fresh) = self.load(transport).await {
                match tokio::time::timeout(CACHE_TIMEOUT, cache.put(&fresh)).await {
                    Ok(Ok(())) => {}
                    Ok(Err(err)) => {
                        tracing::warn!(target: "posthog", "definitions cache could not store the definitions: {err}")
                    }
                    Err(_) => {
                        tracing::warn!(target: "posthog", "definitions cache did not store the definitions in time")
                    }
                }
            }
            return;
        }
        // Another process fetches; until it has shared a first copy, wait briefly for it.
        for attempt in 0..10 {
            match tokio::time::timeout(CACHE_TIMEOUT, cache.get()).await {
                Ok(Ok(Some(shared))) => {
                    self.install_shared(&shared).await;
                    return;
                }
                Ok(Ok(None)) if self.current().is_none() && attempt < 9 => {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Ok(Ok(None)) => break,
                Ok(Err(err)) => {
                    tracing::warn!(target: "posthog", "definitions cache read failed, keeping the current definitions: {err}");
                    return;
                }
                Err(_) => {
                    tracing::warn!(target: "posthog", "definitions cache read timed out, keeping the current definitions");
                    return;
                }
            }
        }
        if self.current().is_none() {
            // Nothing shared after waiting: fetch ourselves rather than have no flags.
            self.load(transport).await;
        }
    }
}

/// How long a cache call may take.
const CACHE_TIMEOUT: Duration = Duration::from_secs(3);

/// Loads now, then every `interval`, until `stop` changes (C-FLAG-DEFS.5/.14).
pub(crate) async fn poll(
    store: Arc<DefinitionsStore>,
    transport: Transport,
    interval: Duration,
    cache: Option<Arc<dyn DefinitionsCache>>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            () = store.refresh(&transport, cache.as_deref()) => {}
            _ = stop.changed() => return,
        }
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            _ = stop.changed() => return,
        }
    }
}
