//! The per-attempt timeout layer: the request's [`RequestPolicy`] timeout,
//! else the layer's default; expiry is [`ErrorKind::Timeout`](crate::ErrorKind::Timeout).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use http::Request;
use tower::{Layer, Service};

use crate::{RequestPolicy, TransportError};

/// Adds [`Timeout`] to a service.
///
/// ```
/// let inner = tower::service_fn(|req: http::Request<bytes::Bytes>| async move {
///     Ok::<_, posthog_transport::TransportError>(http::Response::new(bytes::Bytes::from(format!("{:?}", req.headers()))))
/// });
/// let service = tower::ServiceBuilder::new()
///     .layer(posthog_transport::TimeoutLayer::new(Some(std::time::Duration::from_secs(5))))
///     .service(inner);
/// # let _ = service;
/// ```
#[derive(Debug, Clone, Copy)]
pub struct TimeoutLayer {
    default: Option<Duration>,
}

impl TimeoutLayer {
    /// Limits each attempt to `default` unless a request carries its own timeout.
    pub fn new(default: Option<Duration>) -> Self {
        Self { default }
    }
}

impl<S> Layer<S> for TimeoutLayer {
    type Service = Timeout<S>;

    fn layer(&self, inner: S) -> Timeout<S> {
        Timeout {
            inner,
            default: self.default,
        }
    }
}

/// Fails an attempt that takes longer than its timeout.
///
/// ```
/// let inner = tower::service_fn(|req: http::Request<bytes::Bytes>| async move {
///     Ok::<_, posthog_transport::TransportError>(http::Response::new(bytes::Bytes::from(format!("{:?}", req.headers()))))
/// });
/// let service: posthog_transport::Timeout<_> =
///     tower::Layer::layer(&posthog_transport::TimeoutLayer::new(Some(std::time::Duration::from_secs(5))), inner);
/// # let _ = service;
/// ```
#[derive(Debug, Clone)]
pub struct Timeout<S> {
    inner: S,
    default: Option<Duration>,
}

impl<S, B> Service<Request<B>> for Timeout<S>
where
    S: Service<Request<B>, Error = TransportError>,
    S::Future: Send + 'static,
    S::Response: Send + 'static,
{
    type Response = S::Response;
    type Error = TransportError;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, TransportError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), TransportError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let limit = RequestPolicy::of(&request)
            .and_then(|p| p.timeout)
            .or(self.default);
        let future = self.inner.call(request);
        Box::pin(async move {
            match limit {
                Some(limit) => tokio::time::timeout(limit, future)
                    .await
                    .unwrap_or_else(|_| Err(TransportError::timeout())),
                None => future.await,
            }
        })
    }
}
