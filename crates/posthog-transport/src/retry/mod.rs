//! The retry layer: re-sends a request while its [`RetryPolicy`] says the outcome is worth
//! another attempt, waiting as [`backoff::delay`] says.
//!
//! The policy comes from the request's [`RequestPolicy`] extension, else
//! the layer's default. The final outcome carries the number of attempts: in the error, or as
//! an [`Attempts`] extension on the response.

pub mod backoff;
pub mod classify;
mod policy;

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use tower::{Layer, Service, ServiceExt};

pub use backoff::{Jitter, default_jitter};
pub use classify::{RetryOn, Verdict};
pub use policy::{MAX_FLAG_RETRIES, RetryPolicy};

use crate::{RequestPolicy, TransportError};

/// The number of attempts a response took, set by [`Retry`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = posthog_transport::test_util::TestServer::start().await?;
/// let transport = posthog_transport::Transport::builder("phc_project_token")
/// #   .host(server.url())
///     .build()?;
/// let delivery = transport.send_batch(bytes::Bytes::from_static(br#"{"api_key": "phc_project_token", "batch": []}"#)).await?;
/// // `Retry` records the attempts in the response's extensions; `Delivery` reports them.
/// assert_eq!(delivery.attempts, 1);
/// let _ = posthog_transport::retry::Attempts(delivery.attempts);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempts(pub u32);

/// Adds [`Retry`] to a service.
///
/// ```
/// let inner = tower::service_fn(|req: http::Request<bytes::Bytes>| async move {
///     Ok::<_, posthog_transport::TransportError>(http::Response::new(bytes::Bytes::from(format!("{:?}", req.headers()))))
/// });
/// let service = tower::ServiceBuilder::new()
///     .layer(posthog_transport::RetryLayer::new(posthog_transport::RetryPolicy::api_read(2)))
///     .service(inner);
/// # let _ = service;
/// ```
#[derive(Clone)]
pub struct RetryLayer {
    default: RetryPolicy,
    jitter: Jitter,
}

impl std::fmt::Debug for RetryLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RetryLayer")
            .field("default", &self.default)
            .finish_non_exhaustive()
    }
}

impl RetryLayer {
    /// Retries with `default` unless a request carries its own policy.
    pub fn new(default: RetryPolicy) -> Self {
        Self {
            default,
            jitter: default_jitter(),
        }
    }

    /// Replaces the source of jitter (tests inject a fixed one).
    pub fn with_jitter(mut self, jitter: Jitter) -> Self {
        self.jitter = jitter;
        self
    }
}

impl<S> Layer<S> for RetryLayer {
    type Service = Retry<S>;

    fn layer(&self, inner: S) -> Retry<S> {
        Retry {
            inner,
            default: self.default,
            jitter: self.jitter.clone(),
        }
    }
}

/// Re-sends requests per their retry policy.
///
/// ```
/// let inner = tower::service_fn(|req: http::Request<bytes::Bytes>| async move {
///     Ok::<_, posthog_transport::TransportError>(http::Response::new(bytes::Bytes::from(format!("{:?}", req.headers()))))
/// });
/// let service: posthog_transport::Retry<_> =
///     tower::Layer::layer(&posthog_transport::RetryLayer::new(posthog_transport::RetryPolicy::ingestion(3)), inner);
/// # let _ = service;
/// ```
#[derive(Clone)]
pub struct Retry<S> {
    inner: S,
    default: RetryPolicy,
    jitter: Jitter,
}

impl<S> std::fmt::Debug for Retry<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Retry")
            .field("default", &self.default)
            .finish_non_exhaustive()
    }
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S> Service<Request<Bytes>> for Retry<S>
where
    S: Service<Request<Bytes>, Response = Response<Bytes>, Error = TransportError>
        + Clone
        + Send
        + 'static,
    S::Future: Send,
{
    type Response = Response<Bytes>;
    type Error = TransportError;
    type Future = BoxFuture<Result<Response<Bytes>, TransportError>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), TransportError>> {
        // Readiness is awaited per attempt on a clone.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Bytes>) -> Self::Future {
        let policy = RequestPolicy::of(&request).map_or(self.default, |p| p.retry);
        let (inner, jitter) = (self.inner.clone(), self.jitter.clone());
        Box::pin(run(inner, request, policy, jitter))
    }
}

fn copy_request(template: &http::request::Parts, body: &Bytes) -> Request<Bytes> {
    let mut request = Request::new(body.clone());
    *request.method_mut() = template.method.clone();
    *request.uri_mut() = template.uri.clone();
    *request.version_mut() = template.version;
    *request.headers_mut() = template.headers.clone();
    *request.extensions_mut() = template.extensions.clone();
    request
}

async fn run<S>(
    inner: S,
    request: Request<Bytes>,
    policy: RetryPolicy,
    jitter: Jitter,
) -> Result<Response<Bytes>, TransportError>
where
    S: Service<Request<Bytes>, Response = Response<Bytes>, Error = TransportError> + Clone,
{
    let (parts, body) = request.into_parts();
    let mut attempt = 1u32;
    loop {
        let outcome = inner.clone().oneshot(copy_request(&parts, &body)).await;
        let verdict = policy.retry_on.classify(&outcome);
        let too_long = match verdict {
            Verdict::Retry {
                retry_after: Some(hint),
            } => policy.retry_on.gives_up_past_cap() && hint > policy.cap,
            _ => false,
        };
        match verdict {
            Verdict::Retry { retry_after } if attempt <= policy.max_retries && !too_long => {
                let wait = backoff::delay(
                    policy.base,
                    policy.cap,
                    policy.jitter,
                    attempt,
                    retry_after,
                    jitter(),
                );
                tracing::debug!(
                    target: "posthog",
                    path = parts.uri.path(),
                    attempt,
                    wait_ms = wait.as_millis() as u64,
                    outcome = %describe(&outcome),
                    "retrying request"
                );
                tokio::time::sleep(wait).await;
                attempt += 1;
            }
            _ => {
                return match outcome {
                    Ok(mut response) => {
                        response.extensions_mut().insert(Attempts(attempt));
                        Ok(response)
                    }
                    Err(err) => Err(err.with_attempts(attempt)),
                };
            }
        }
    }
}

fn describe(outcome: &Result<Response<Bytes>, TransportError>) -> String {
    match outcome {
        Ok(response) => response.status().to_string(),
        Err(err) => err.to_string(),
    }
}
