//! [`RedisDefinitionsCache`]: flag definitions shared through Redis (feature `redis`).
//!
//! Keys (under a prefix, default `posthog:flags`): `<prefix>:definitions` and `<prefix>:etag`
//! hold the last document fetched by any client; `<prefix>:fetch-lock` is taken with
//! `SET NX PX` by the client that fetches in a period, so one process fetches per
//! `fetch_every` and the others read.

use std::time::Duration;

use redis::aio::ConnectionManager;

use super::cache::{BoxFuture, CacheError, CachedDefinitions, DefinitionsCache};

/// Flag definitions shared through Redis.
///
/// ```no_run
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
/// use std::{sync::Arc, time::Duration};
/// use posthog::feature_flags::RedisDefinitionsCache;
/// let cache = RedisDefinitionsCache::connect("redis://127.0.0.1:6379", Duration::from_secs(30)).await?;
/// let client = posthog::Client::builder("phc_project_token")
///     .personal_api_key("phx_personal_key")
///     .definitions_cache(Arc::new(cache))
///     .build()?;
/// # let _ = client;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisDefinitionsCache {
    connection: ConnectionManager,
    prefix: String,
    fetch_every: Duration,
    id: String,
}

impl std::fmt::Debug for RedisDefinitionsCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold a password: it is not kept, so it cannot be printed.
        f.debug_struct("RedisDefinitionsCache")
            .field("prefix", &self.prefix)
            .field("fetch_every", &self.fetch_every)
            .finish()
    }
}

impl RedisDefinitionsCache {
    /// Connects to `url` (`redis://host:port/db`); one client fetches per `fetch_every` (use
    /// the clients' poll interval).
    pub async fn connect(url: &str, fetch_every: Duration) -> Result<Self, CacheError> {
        Self::connect_with_prefix(url, "posthog:flags", fetch_every).await
    }

    /// [`RedisDefinitionsCache::connect`] with a key prefix of your own (one per project).
    pub async fn connect_with_prefix(
        url: &str,
        prefix: &str,
        fetch_every: Duration,
    ) -> Result<Self, CacheError> {
        let client = redis::Client::open(url)?;
        let connection = client.get_connection_manager().await?;
        Ok(Self {
            connection,
            prefix: prefix.to_owned(),
            fetch_every,
            id: posthog_core::ids::new_uuid().to_string(),
        })
    }

    fn key(&self, name: &str) -> String {
        format!("{}:{name}", self.prefix)
    }
}

impl DefinitionsCache for RedisDefinitionsCache {
    fn should_fetch(&self) -> BoxFuture<'_, Result<bool, CacheError>> {
        Box::pin(async move {
            let mut connection = self.connection.clone();
            let millis = self.fetch_every.as_millis().max(1) as u64;
            let won: Option<String> = redis::cmd("SET")
                .arg(self.key("fetch-lock"))
                .arg(&self.id)
                .arg("NX")
                .arg("PX")
                .arg(millis)
                .query_async(&mut connection)
                .await?;
            Ok(won.is_some())
        })
    }

    fn get(&self) -> BoxFuture<'_, Result<Option<CachedDefinitions>, CacheError>> {
        Box::pin(async move {
            let mut connection = self.connection.clone();
            let (body, etag): (Option<Vec<u8>>, Option<String>) = redis::cmd("MGET")
                .arg(self.key("definitions"))
                .arg(self.key("etag"))
                .query_async(&mut connection)
                .await?;
            Ok(body.map(|body| CachedDefinitions {
                body: body.into(),
                etag,
            }))
        })
    }

    fn put<'a>(
        &'a self,
        definitions: &'a CachedDefinitions,
    ) -> BoxFuture<'a, Result<(), CacheError>> {
        Box::pin(async move {
            let mut connection = self.connection.clone();
            let mut pipe = redis::pipe();
            pipe.atomic()
                .cmd("SET")
                .arg(self.key("definitions"))
                .arg(definitions.body.as_ref())
                .ignore();
            match &definitions.etag {
                Some(etag) => pipe.cmd("SET").arg(self.key("etag")).arg(etag).ignore(),
                None => pipe.cmd("DEL").arg(self.key("etag")).ignore(),
            };
            pipe.query_async::<()>(&mut connection).await?;
            Ok(())
        })
    }
}
