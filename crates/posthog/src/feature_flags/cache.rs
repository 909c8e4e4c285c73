//! Sharing flag definitions between clients (C-FLAG-DEFS.10–.13), the role of the Python SDK's
//! `flag_fallback_cache_url`: one process fetches from PostHog and shares the document; the
//! others read the shared copy instead of fetching.

use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;

/// A boxed future, as the cache methods return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// An error from a cache (it is logged; local evaluation carries on).
pub type CacheError = Box<dyn std::error::Error + Send + Sync>;

/// A definitions document and its ETag, as fetched from PostHog.
///
/// ```
/// let stored = posthog::feature_flags::cache::CachedDefinitions {
///     body: bytes::Bytes::from_static(br#"{"flags": []}"#),
///     etag: Some("\"v1\"".into()),
/// };
/// assert!(stored.etag.is_some());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedDefinitions {
    /// The JSON document.
    pub body: Bytes,
    /// PostHog's ETag for it.
    pub etag: Option<String>,
}

/// Where clients share flag definitions. Each poll asks [`DefinitionsCache::should_fetch`]:
/// `true` → this client fetches from PostHog and [`put`](DefinitionsCache::put)s the result;
/// `false` → it installs what [`get`](DefinitionsCache::get) returns. Every call is bounded by
/// a timeout; errors and timeouts are logged and never stop local evaluation (a failed
/// decision means fetching directly, a failed read keeps the current definitions).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = posthog::test_util::FakePostHog::start().await;
/// # let client = posthog::Client::builder("phc_project_token").host(server.url()).build()?;
/// use std::{sync::Arc, time::Duration};
/// use posthog::feature_flags::cache::MemoryDefinitionsCache;
/// // Share one definitions fetch between clients (a Redis cache shares it between processes).
/// let shared = Arc::new(MemoryDefinitionsCache::new(Duration::from_secs(30)));
/// let client = posthog::Client::builder("phc_project_token")
/// #   .host(server.url())
///     .personal_api_key("phx_personal_key")
///     .definitions_cache(shared)
///     .build()?;
/// # let _ = client;
/// # Ok(()) }
/// ```
pub trait DefinitionsCache: Send + Sync + Debug {
    /// Whether this client should fetch from PostHog now (e.g. it won a lock for this period).
    fn should_fetch(&self) -> BoxFuture<'_, Result<bool, CacheError>>;

    /// The shared definitions, if any were stored.
    fn get(&self) -> BoxFuture<'_, Result<Option<CachedDefinitions>, CacheError>>;

    /// Stores freshly fetched definitions for the others.
    fn put<'a>(
        &'a self,
        definitions: &'a CachedDefinitions,
    ) -> BoxFuture<'a, Result<(), CacheError>>;

    /// Releases resources on client shutdown (failures are logged, never fatal).
    fn shutdown(&self) -> BoxFuture<'_, Result<(), CacheError>> {
        Box::pin(async { Ok(()) })
    }
}

/// A cache shared by clients in one process: the first client to ask in each `fetch_every`
/// period fetches; the others use its copy.
///
/// ```
/// use posthog::feature_flags::cache::{DefinitionsCache, MemoryDefinitionsCache};
/// let cache = MemoryDefinitionsCache::new(std::time::Duration::from_secs(30));
/// let shared: std::sync::Arc<dyn DefinitionsCache> = std::sync::Arc::new(cache);
/// # let _ = shared;
/// ```
#[derive(Debug)]
pub struct MemoryDefinitionsCache {
    fetch_every: Duration,
    state: Mutex<(Option<CachedDefinitions>, Option<Instant>)>,
}

impl MemoryDefinitionsCache {
    /// One fetch per `fetch_every` (use the clients' poll interval).
    pub fn new(fetch_every: Duration) -> Self {
        Self {
            fetch_every,
            state: Mutex::new((None, None)),
        }
    }
}

impl DefinitionsCache for MemoryDefinitionsCache {
    fn should_fetch(&self) -> BoxFuture<'_, Result<bool, CacheError>> {
        Box::pin(async move {
            let mut state = self.state.lock().map_err(|_| "cache lock poisoned")?;
            let now = Instant::now();
            if state.1.is_some_and(|until| until > now) {
                return Ok(false);
            }
            state.1 = Some(now + self.fetch_every);
            Ok(true)
        })
    }

    fn get(&self) -> BoxFuture<'_, Result<Option<CachedDefinitions>, CacheError>> {
        Box::pin(async move {
            Ok(self
                .state
                .lock()
                .map_err(|_| "cache lock poisoned")?
                .0
                .clone())
        })
    }

    fn put<'a>(
        &'a self,
        definitions: &'a CachedDefinitions,
    ) -> BoxFuture<'a, Result<(), CacheError>> {
        Box::pin(async move {
            self.state.lock().map_err(|_| "cache lock poisoned")?.0 = Some(definitions.clone());
            Ok(())
        })
    }
}
