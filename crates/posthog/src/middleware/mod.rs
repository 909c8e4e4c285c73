//! Tower layers for axum, tonic, hyper or any tower-based server: [`ContextLayer`] opens a
//! [`Context`] per request from PostHog's tracing headers (C-TRACING-HEADERS), and
//! [`CaptureErrorsLayer`] captures the errors and panics escaping a service, and
//! [`PropagateContextLayer`] carries the context to downstream services on outbound requests.
//!
//! `X-POSTHOG-DISTINCT-ID` and `X-POSTHOG-SESSION-ID` become the context's distinct id and
//! session id (first usable value, sanitised; malformed values are ignored, never an error),
//! and safe request metadata becomes tags: `$request_method`, `$request_path`, `$user_agent`,
//! `$current_url` (scheme, host and path, when the request says its scheme) and `$ip` (the
//! first `X-Forwarded-For` address, else `X-Real-IP`, when it parses as an IP address). The
//! query string is never captured (C-TRACING-HEADERS.9). Headers are analytics hints, not authentication: an
//! application can replace the identity with an authenticated one inside the handler with
//! [`identify_context`](crate::context::identify_context) or a nested [`Context::inherit`]
//! scope (C-TRACING-HEADERS.8).

mod capture_errors;
mod propagate;
mod trace;

pub use capture_errors::{CaptureErrorsLayer, CaptureErrorsService, MIDDLEWARE_SOURCE};
pub use propagate::{PropagateContextLayer, PropagateContextService};
pub use trace::{SpanNamer, TraceLayer, TraceService};

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
///
/// ```
/// use posthog::middleware::{ContextLayer, ContextService};
/// use tower::Layer;
/// let inner = tower::service_fn(|_req: http::Request<()>| async {
///     Ok::<_, std::convert::Infallible>(posthog::context::current_distinct_id())
/// });
/// let service: ContextService<_> = ContextLayer::new().layer(inner);
/// # let _ = service;
/// ```
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

/// `scheme://host/path` of a request, without its query: from an absolute URI, else from the
/// `Host` header with the scheme `X-Forwarded-Proto` names (omitted when the scheme is unknown).
fn current_url<B>(request: &http::Request<B>) -> Option<String> {
    let uri = request.uri();
    let path = uri.path();
    if let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) {
        return Some(format!("{scheme}://{authority}{path}"));
    }
    let headers = request.headers();
    let scheme = header(headers, "x-forwarded-proto")
        .filter(|p| p.eq_ignore_ascii_case("https") || p.eq_ignore_ascii_case("http"))?;
    let host = header(headers, http::header::HOST.as_str())?
        .parse::<http::uri::Authority>()
        .ok()?;
    Some(format!("{}://{host}{path}", scheme.to_ascii_lowercase()))
}

/// The client's address as a proxy reports it: the first `X-Forwarded-For` entry, else
/// `X-Real-IP`; only values that parse as an IP address.
fn client_ip(headers: &HeaderMap) -> Option<std::net::IpAddr> {
    let forwarded = header(headers, "x-forwarded-for")
        .and_then(|list| list.split(',').next().and_then(|ip| ip.trim().parse().ok()));
    forwarded.or_else(|| header(headers, "x-real-ip").and_then(|ip| ip.trim().parse().ok()))
}

/// The context of a request: tracing headers plus method, path, URL, user agent and client
/// address.
pub fn context_for<B>(request: &http::Request<B>) -> Context {
    let headers = request.headers();
    let mut ctx = Context::inherit()
        .tag("$request_method", request.method().as_str())
        .tag("$request_path", request.uri().path());
    if let Some(agent) = header(headers, http::header::USER_AGENT.as_str()) {
        ctx = ctx.tag("$user_agent", agent);
    }
    if let Some(url) = current_url(request) {
        ctx = ctx.tag("$current_url", url);
    }
    if let Some(ip) = client_ip(headers) {
        ctx = ctx.tag("$ip", ip.to_string());
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

#[cfg(test)]
mod tests {
    use super::*;

    fn request(uri: &str, headers: &[(&str, &str)]) -> http::Request<()> {
        let mut builder = http::Request::get(uri);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(()).unwrap()
    }

    #[test]
    fn current_url_needs_a_known_scheme_and_drops_the_query() {
        let origin_form = request("/cart?token=secret", &[("host", "shop.example.com")]);
        assert_eq!(current_url(&origin_form), None, "scheme unknown");
        let proxied = request(
            "/cart?token=secret",
            &[("host", "shop.example.com"), ("x-forwarded-proto", "HTTPS")],
        );
        assert_eq!(
            current_url(&proxied).as_deref(),
            Some("https://shop.example.com/cart")
        );
        let bad_host = request(
            "/cart",
            &[("host", "shop example"), ("x-forwarded-proto", "https")],
        );
        assert_eq!(current_url(&bad_host), None);
    }

    #[test]
    fn client_ip_takes_only_addresses() {
        let ip = |headers: &[(&str, &str)]| {
            client_ip(request("/", headers).headers()).map(|ip| ip.to_string())
        };
        assert_eq!(
            ip(&[("x-forwarded-for", "2001:db8::1, 10.0.0.1")]).as_deref(),
            Some("2001:db8::1")
        );
        assert_eq!(
            ip(&[
                ("x-forwarded-for", "unknown"),
                ("x-real-ip", "198.51.100.2")
            ])
            .as_deref(),
            Some("198.51.100.2")
        );
        assert_eq!(ip(&[("x-real-ip", "<script>")]), None);
        assert_eq!(ip(&[]), None);
    }
}
