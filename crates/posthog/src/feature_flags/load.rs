//! Loading definitions into the [`DefinitionsStore`]: compiling a document off the async
//! threads, one load from PostHog with its ETag, a refresh through a shared cache, and the
//! report of a failed load.

use std::time::{Duration, SystemTime};

use posthog_flags::FlagSet;
use posthog_transport::{Definitions, Transport};

use super::cache::{CachedDefinitions, DefinitionsCache};
use super::store::{DefinitionsStore, Loaded};

impl DefinitionsStore {
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
