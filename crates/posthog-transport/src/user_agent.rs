//! The user-agent layer: names the SDK on every request (C-HTTP.3).

use std::task::{Context, Poll};

use http::Request;
use http::header::{HeaderValue, USER_AGENT};
use tower::{Layer, Service};

/// [`posthog_core::USER_AGENT`] (`posthog-rust/<version>`), the user agent PostHog
/// attributes usage to.
pub fn default_user_agent() -> HeaderValue {
    HeaderValue::from_static(posthog_core::USER_AGENT)
}

/// Adds [`UserAgent`] to a service.
///
/// ```
/// let inner = tower::service_fn(|req: http::Request<bytes::Bytes>| async move {
///     Ok::<_, posthog_transport::TransportError>(http::Response::new(bytes::Bytes::from(format!("{:?}", req.headers()))))
/// });
/// let service = tower::ServiceBuilder::new()
///     .layer(posthog_transport::UserAgentLayer::new(http::HeaderValue::from_static("my-service/1.0")))
///     .service(inner);
/// # let _ = service;
/// ```
#[derive(Debug, Clone)]
pub struct UserAgentLayer {
    value: HeaderValue,
}

impl UserAgentLayer {
    /// Sets `value` on requests that have no user agent yet.
    pub fn new(value: HeaderValue) -> Self {
        Self { value }
    }
}

impl Default for UserAgentLayer {
    fn default() -> Self {
        Self::new(default_user_agent())
    }
}

impl<S> Layer<S> for UserAgentLayer {
    type Service = UserAgent<S>;

    fn layer(&self, inner: S) -> UserAgent<S> {
        UserAgent {
            inner,
            value: self.value.clone(),
        }
    }
}

/// Sets the `User-Agent` header.
///
/// ```
/// let inner = tower::service_fn(|req: http::Request<bytes::Bytes>| async move {
///     Ok::<_, posthog_transport::TransportError>(http::Response::new(bytes::Bytes::from(format!("{:?}", req.headers()))))
/// });
/// use posthog_transport::user_agent::default_user_agent;
/// let service: posthog_transport::UserAgent<_> =
///     tower::Layer::layer(&posthog_transport::UserAgentLayer::new(default_user_agent()), inner);
/// # let _ = service;
/// ```
#[derive(Debug, Clone)]
pub struct UserAgent<S> {
    inner: S,
    value: HeaderValue,
}

impl<S, B> Service<Request<B>> for UserAgent<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> S::Future {
        if !request.headers().contains_key(USER_AGENT) {
            request.headers_mut().insert(USER_AGENT, self.value.clone());
        }
        self.inner.call(request)
    }
}
