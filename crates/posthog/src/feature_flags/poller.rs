//! Flag definitions for local evaluation (C-FLAG-DEFS): a store swapped whole on each load,
//! and a background poller using ETags.

use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use posthog_flags::FlagSet;
use posthog_transport::{Definitions, Transport};
use tokio::sync::watch;

/// One loaded definitions document.
#[derive(Debug)]
pub(crate) struct Loaded {
    pub(crate) set: FlagSet,
    pub(crate) loaded_at: SystemTime,
}

/// The current definitions. Readers clone an `Arc` under a read lock held for a pointer copy;
/// a load compiles the new set first and then swaps the pointer, so readers always see a whole
/// set and never wait for a compile (C-FLAG-DEFS.4, C-LOCAL-EVAL.10).
#[derive(Debug)]
pub(crate) struct DefinitionsStore {
    current: RwLock<Option<Arc<Loaded>>>,
    /// The ETag of the current set, sent back as `If-None-Match`.
    etag: Mutex<Option<String>>,
    ready: watch::Sender<bool>,
}

impl DefinitionsStore {
    pub(crate) fn new() -> Self {
        Self {
            current: RwLock::new(None),
            etag: Mutex::new(None),
            ready: watch::channel(false).0,
        }
    }

    pub(crate) fn current(&self) -> Option<Arc<Loaded>> {
        self.current.read().ok().and_then(|c| c.clone())
    }

    /// Runs `f` on the current set under the read lock (held for the call only; `f` must not
    /// block).
    pub(crate) fn with_current<R>(&self, f: impl FnOnce(Option<&Loaded>) -> R) -> R {
        match self.current.read() {
            Ok(current) => f(current.as_deref()),
            Err(_) => f(None),
        }
    }

    fn replace(&self, loaded: Option<Loaded>, etag: Option<String>) {
        let is_loaded = loaded.is_some();
        if let Ok(mut current) = self.current.write() {
            *current = loaded.map(Arc::new);
        }
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

    /// One load: 200 replaces, 304 keeps (with the new ETag if any), 401/402 clear, anything
    /// else keeps the last good set (C-FLAG-DEFS.3/.6/.7).
    pub(crate) async fn load(&self, transport: &Transport) {
        let etag = self.current().and(self.etag());
        match transport.local_evaluation(etag.as_deref()).await {
            Ok(Definitions::Modified { body, etag }) => match FlagSet::from_slice(&body) {
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
                }
                Err(err) => tracing::warn!(target: "posthog", "flag definitions ignored: {err}"),
            },
            Ok(Definitions::NotModified { etag: new_etag }) => {
                // 304: the definitions stay; a new ETag on the 304 replaces the old one.
                if new_etag.is_some() {
                    self.set_etag(new_etag);
                }
            }
            Err(err) => match err.status_code().map(|s| s.as_u16()) {
                Some(401 | 402) => {
                    tracing::error!(target: "posthog", "flag definitions refused ({err}); local evaluation is off until a load succeeds");
                    self.replace(None, None);
                }
                Some(403) => {
                    tracing::error!(target: "posthog", "flag definitions refused ({err}); check the key's feature_flag:read scope")
                }
                _ => {
                    tracing::warn!(target: "posthog", "flag definitions not refreshed, keeping the last ones: {err}")
                }
            },
        }
    }
}

/// Loads now, then every `interval`, until `stop` changes (C-FLAG-DEFS.5/.14).
pub(crate) async fn poll(
    store: Arc<DefinitionsStore>,
    transport: Transport,
    interval: Duration,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            () = store.load(&transport) => {}
            _ = stop.changed() => return,
        }
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            _ = stop.changed() => return,
        }
    }
}
