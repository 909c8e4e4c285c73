//! [`PropagateContextLayer`]: for outbound HTTP clients, puts the active context's distinct id
//! and session id into `X-POSTHOG-DISTINCT-ID` / `X-POSTHOG-SESSION-ID` on requests to an
//! exact allow-list of hosts (C-TRACING-HEADERS.11), so a downstream service's
//! [`ContextLayer`](super::ContextLayer) continues the same person and session.

use std::collections::HashSet;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use http::HeaderValue;
use tower::{Layer, Service};

use super::{DISTINCT_ID_HEADER, SESSION_ID_HEADER};

/// Adds the tracing headers to outbound requests for the listed hosts.
///
/// Hosts match exactly (case-insensitive, no wildcards). For a listed host, stale
/// `X-POSTHOG-*` values are replaced by the active context's (or removed when it has none),
/// and so are W3C `traceparent`/`tracestate`, from the active span;
/// other hosts are left untouched. A value that cannot be a header is skipped (fail open).
///
/// ```
/// use posthog::context::Context;
/// use posthog::middleware::PropagateContextLayer;
/// use tower::{ServiceBuilder, ServiceExt};
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let http_client = ServiceBuilder::new()
///     .layer(PropagateContextLayer::new(["billing.internal.example"]))
///     .service_fn(|req: http::Request<()>| async move {
///         Ok::<_, std::convert::Infallible>(req.headers().get("x-posthog-distinct-id").cloned())
///     });
/// let sent = Context::new()
///     .distinct_id("user-123")
///     .scope(http_client.oneshot(http::Request::get("https://billing.internal.example/invoices").body(()).unwrap()))
///     .await
///     .unwrap();
/// assert_eq!(sent.unwrap(), "user-123");
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct PropagateContextLayer {
    hosts: Arc<HashSet<String>>,
}

impl PropagateContextLayer {
    /// A layer adding the headers for exactly these hosts.
    pub fn new(hosts: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Self {
            hosts: Arc::new(
                hosts
                    .into_iter()
                    .map(|h| h.into().trim().to_ascii_lowercase())
                    .filter(|h| !h.is_empty())
                    .collect(),
            ),
        }
    }
}

impl<S> Layer<S> for PropagateContextLayer {
    type Service = PropagateContextService<S>;

    fn layer(&self, inner: S) -> PropagateContextService<S> {
        PropagateContextService {
            inner,
            hosts: self.hosts.clone(),
        }
    }
}

/// The service [`PropagateContextLayer`] produces.
///
/// ```
/// use posthog::middleware::{PropagateContextLayer, PropagateContextService};
/// use tower::Layer;
/// let http = tower::service_fn(|req: http::Request<()>| async move {
///     Ok::<_, std::convert::Infallible>(req)
/// });
/// let outbound: PropagateContextService<_> = PropagateContextLayer::new(["billing.internal"]).layer(http);
/// # let _ = outbound;
/// ```
#[derive(Debug, Clone)]
pub struct PropagateContextService<S> {
    inner: S,
    hosts: Arc<HashSet<String>>,
}

impl<S, B> Service<http::Request<B>> for PropagateContextService<S>
where
    S: Service<http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        let listed = request
            .uri()
            .host()
            .is_some_and(|h| self.hosts.contains(&h.to_ascii_lowercase()));
        if listed {
            let (distinct_id, session_id) = crate::context::current_ids();
            let headers = request.headers_mut();
            // The active span continues in the downstream service (W3C trace context).
            let span = crate::traces::active_span();
            let (traceparent, tracestate) = span
                .map(|s| (s.traceparent(), s.tracestate()))
                .unwrap_or_default();
            for (name, value) in [
                (DISTINCT_ID_HEADER, distinct_id),
                (SESSION_ID_HEADER, session_id),
                ("traceparent", traceparent),
                ("tracestate", tracestate),
            ] {
                headers.remove(name);
                if let Some(value) = value.and_then(|v| HeaderValue::from_str(&v).ok()) {
                    headers.insert(name, value);
                }
            }
        }
        self.inner.call(request)
    }
}
