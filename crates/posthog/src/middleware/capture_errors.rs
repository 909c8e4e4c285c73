//! [`CaptureErrorsLayer`]: a tower layer that captures the errors and panics escaping a
//! service as unhandled `$exception` events (`mechanism: middleware`, `$exception_source:
//! tower.middleware`; C-EXCEPTION-META.4/.6/.9), then hands them on unchanged.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use posthog_core::exception::Level;
use tower::{Layer, Service};

use crate::Client;
use crate::exceptions::{Boundary, catching};

/// `$exception_source` of what this layer captures.
pub const MIDDLEWARE_SOURCE: &str = "tower.middleware";

/// An error escaping the request: unhandled, level error.
const MIDDLEWARE: Boundary = Boundary {
    mechanism: "middleware",
    handled: false,
    level: Level::Error,
    source: Some(MIDDLEWARE_SOURCE),
};

/// Captures the `Err`s (of a service whose error type implements `std::error::Error`) and the
/// panics that escape the wrapped service. Put it inside a [`ContextLayer`](super::ContextLayer)
/// so the events carry the request's distinct id, session and tags.
///
/// ```
/// use posthog::middleware::{CaptureErrorsLayer, ContextLayer};
/// use tower::{ServiceBuilder, ServiceExt};
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), posthog::Error> {
/// # let server = posthog::test_util::FakePostHog::start().await;
/// let client = posthog::Client::builder("phc_project_token")
/// #   .host(server.url())
///     .build()?;
/// let service = ServiceBuilder::new()
///     .layer(ContextLayer::new())
///     .layer(CaptureErrorsLayer::new(client.clone()))
///     .service_fn(|_req: http::Request<()>| async {
///         Err::<http::Response<()>, _>(std::io::Error::other("database down"))
///     });
/// assert!(service.oneshot(http::Request::new(())).await.is_err());
/// # client.flush().await;
/// # assert_eq!(server.events()[0]["properties"]["$exception_source"], "tower.middleware");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct CaptureErrorsLayer {
    client: Client,
}

impl CaptureErrorsLayer {
    /// A layer capturing through `client`.
    pub fn new(client: Client) -> Self {
        Self { client }
    }
}

impl<S> Layer<S> for CaptureErrorsLayer {
    type Service = CaptureErrorsService<S>;

    fn layer(&self, inner: S) -> CaptureErrorsService<S> {
        CaptureErrorsService {
            inner,
            client: self.client.clone(),
        }
    }
}

/// The service [`CaptureErrorsLayer`] produces.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = posthog::test_util::FakePostHog::start().await;
/// # let client = posthog::Client::builder("phc_project_token").host(server.url()).build()?;
/// use posthog::middleware::{CaptureErrorsLayer, CaptureErrorsService};
/// use tower::Layer;
/// let inner = tower::service_fn(|_req: http::Request<()>| async {
///     Ok::<_, std::io::Error>(http::Response::new(()))
/// });
/// let service: CaptureErrorsService<_> = CaptureErrorsLayer::new(client.clone()).layer(inner);
/// # let _ = service;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct CaptureErrorsService<S> {
    inner: S,
    client: Client,
}

impl<S, R> Service<R> for CaptureErrorsService<S>
where
    S: Service<R>,
    S::Future: Send + 'static,
    S::Error: std::error::Error + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> Self::Future {
        let future = self.inner.call(request);
        let client = self.client.clone();
        Box::pin(async move {
            let outcome = catching(future).await;
            client.settle(outcome, MIDDLEWARE)
        })
    }
}
