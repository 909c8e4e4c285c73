//! The public seam: [`HttpService`], a boxed, cloneable `tower::Service` from
//! `http::Request<Bytes>` to `http::Response<Bytes>`, and the layered stack built around it.
//!
//! # The contract of a user-supplied service
//!
//! - **Concurrency:** it is cloned freely and called from many tasks at once; each clone must
//!   be usable on its own (as hyper's and reqwest's clients are).
//! - **Cancellation:** a call's future may be dropped (timeouts); that must abort the request.
//! - **Responses:** any status is an `Ok` response with the whole body read; non-2xx statuses
//!   are interpreted by the endpoint calls, not by the service.
//! - **Errors:** an `Err` means no HTTP response was received; it is treated as retryable.
//!   Return a [`TransportError`] to say more precisely what happened.
//! - **Who retries:** the retry layer above it. The service itself should not retry, except
//!   for the reconnects a connection pool does on its own.

use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use tower::util::BoxCloneSyncService;
use tower::{Service, ServiceBuilder, ServiceExt};

use crate::gzip::GzipLayer;
use crate::retry::{Jitter, RetryLayer, RetryPolicy};
use crate::timeout::TimeoutLayer;
use crate::user_agent::UserAgentLayer;
use crate::{BoxError, ErrorKind, TransportError};

/// The transport seam: any HTTP stack, boxed.
pub type HttpService = BoxCloneSyncService<Request<Bytes>, Response<Bytes>, TransportError>;

/// Boxes any service with the seam's request and response types. Its errors become
/// [`TransportError`]s (kept as they are when they already are one, else "no response").
///
/// ```
/// use bytes::Bytes;
/// use http::{Request, Response};
/// use posthog_transport::{HttpService, from_service};
///
/// // A stack that answers everything with 200 and an empty JSON object.
/// let canned = tower::service_fn(|_req: Request<Bytes>| async {
///     Ok::<_, std::io::Error>(Response::new(Bytes::from_static(b"{}")))
/// });
/// let service: HttpService = from_service(canned);
/// ```
pub fn from_service<S, E>(service: S) -> HttpService
where
    S: Service<Request<Bytes>, Response = Response<Bytes>, Error = E>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
    E: Into<BoxError>,
{
    BoxCloneSyncService::new(service.map_err(|e: E| {
        let e: BoxError = e.into();
        match e.downcast::<TransportError>() {
            Ok(err) => *err,
            Err(other) => TransportError::no_response(ErrorKind::Io, other),
        }
    }))
}

/// Settings of the layers the SDK puts around the seam.
///
/// ```
/// use posthog_transport::{RetryPolicy, StackConfig, from_service, layered, user_agent::default_user_agent};
/// let config = StackConfig {
///     default_retry: RetryPolicy::ingestion(3),
///     default_timeout: Some(std::time::Duration::from_secs(10)),
///     gzip_query_hint: true,
///     gzip_level: 2,
///     jitter: None,
///     user_agent: default_user_agent(),
/// };
/// let inner = from_service(tower::service_fn(|_req: http::Request<bytes::Bytes>| async {
///     Ok::<_, std::convert::Infallible>(http::Response::new(bytes::Bytes::new()))
/// }));
/// let stack = layered(inner, &config);
/// # let _ = stack;
/// ```
#[derive(Clone)]
pub struct StackConfig {
    /// Retry policy for requests that carry none.
    pub default_retry: RetryPolicy,
    /// Per-attempt timeout for requests that carry none.
    pub default_timeout: Option<Duration>,
    /// Add `compression=gzip` to compressed requests' query.
    pub gzip_query_hint: bool,
    /// The gzip level (0–9) of compressed requests.
    pub gzip_level: u32,
    /// Source of retry jitter.
    pub jitter: Option<Jitter>,
    /// The `User-Agent` header.
    pub user_agent: http::HeaderValue,
}

impl std::fmt::Debug for StackConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StackConfig")
            .field("default_retry", &self.default_retry)
            .field("default_timeout", &self.default_timeout)
            .field("gzip_query_hint", &self.gzip_query_hint)
            .field("gzip_level", &self.gzip_level)
            .field("user_agent", &self.user_agent)
            .finish_non_exhaustive()
    }
}

impl Default for StackConfig {
    fn default() -> Self {
        Self {
            default_retry: RetryPolicy::none(),
            default_timeout: Some(Duration::from_secs(30)),
            gzip_query_hint: true,
            gzip_level: crate::gzip::DEFAULT_LEVEL,
            jitter: None,
            user_agent: crate::user_agent::default_user_agent(),
        }
    }
}

/// Wraps `inner` in the SDK's layers, outermost first: user agent → gzip (once, not per
/// attempt) → retry → per-attempt timeout → `inner`.
pub fn layered(inner: HttpService, config: &StackConfig) -> HttpService {
    let mut retry = RetryLayer::new(config.default_retry);
    if let Some(jitter) = &config.jitter {
        retry = retry.with_jitter(jitter.clone());
    }
    let stack = ServiceBuilder::new()
        .layer(UserAgentLayer::new(config.user_agent.clone()))
        .layer(
            GzipLayer::new()
                .level(config.gzip_level)
                .query_hint(config.gzip_query_hint),
        )
        .layer(retry)
        .layer(TimeoutLayer::new(config.default_timeout))
        .service(inner);
    BoxCloneSyncService::new(stack)
}
