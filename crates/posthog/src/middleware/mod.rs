//! Tower layers for axum, tonic, hyper or any tower-based server: [`ContextLayer`] opens a
//! [`Context`] per request from PostHog's tracing headers (C-TRACING-HEADERS), and
//! [`CaptureErrorsLayer`] captures the errors and panics escaping a service.
//!
//! `X-POSTHOG-DISTINCT-ID` and `X-POSTHOG-SESSION-ID` become the context's distinct id and
//! session id (first usable value, sanitised; malformed values are ignored, never an error),
//! and safe request metadata (`$request_method`, `$request_path`, `$user_agent`) becomes tags.
//! The query string is never captured. Headers are analytics hints, not authentication: an
//! application can replace the identity with an authenticated one inside the handler with
//! [`identify_context`](crate::context::identify_context) or a nested [`Context::inherit`]
//! scope (C-TRACING-HEADERS.8).

mod capture_errors;

pub use capture_errors::{CaptureErrorsLayer, CaptureErrorsService, MIDDLEWARE_SOURCE};

use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use http::HeaderMap;
use tower::{Layer, Service};

use crate::context::{Context, sanitize};

/// The distinct-id header.
pub const DISTINCT_ID_HEADER: &str = "x-posthog-distinct-id";
/// The session-id header.
pub const SESSION_ID_HEADER: &str = "x-posthog-session-id";

/// Opens a [`Context`] per request.
///
/// ```
/// use posthog::middleware::ContextLayer;
/// use tower::ServiceBuilder;
///
/// let service = ServiceBuilder::new()
///     .layer(ContextLayer::new())
///     .service_fn(|_req: http::Request<()>| async {
///         // posthog::context::current_distinct_id() is the header's value here.
///         Ok::<_, std::convert::Infallible>(http::Response::new(()))
///     });
/// # let _ = service;
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct ContextLayer {
    _private: (),
}

impl ContextLayer {
    /// A layer reading the tracing headers and request metadata.
    pub fn new() -> Self {
        Self::default()
    }
}

impl<S> Layer<S> for ContextLayer {
    type Service = ContextService<S>;

    fn layer(&self, inner: S) -> ContextService<S> {
        ContextService { inner }
    }
}

/// The service [`ContextLayer`] produces: runs the inner service inside the request's scope
/// and hands its response or error back unchanged.
#[derive(Debug, Clone)]
pub struct ContextService<S> {
    inner: S,
}

/// The first value of `name` that is text and non-empty once sanitised.
fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(name)
        .iter()
        .find_map(|v| v.to_str().ok().and_then(sanitize))
}

/// The context of a request: tracing headers plus method, path and user agent.
pub fn context_for<B>(request: &http::Request<B>) -> Context {
    let headers = request.headers();
    let mut ctx = Context::inherit()
        .tag("$request_method", request.method().as_str())
        .tag("$request_path", request.uri().path());
    if let Some(agent) = header(headers, http::header::USER_AGENT.as_str()) {
        ctx = ctx.tag("$user_agent", agent);
    }
    if let Some(id) = header(headers, DISTINCT_ID_HEADER) {
        ctx = ctx.distinct_id(id);
    }
    if let Some(session) = header(headers, SESSION_ID_HEADER) {
        ctx = ctx.session_id(session);
    }
    ctx
}

impl<S, B> Service<http::Request<B>> for ContextService<S>
where
    S: Service<http::Request<B>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let ctx = context_for(&request);
        let future = self.inner.call(request);
        Box::pin(ctx.scope(future))
    }
}
