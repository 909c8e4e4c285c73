//! [`TraceLayer`]: a server span per request, continuing the caller's trace from its W3C
//! `traceparent` (and `tracestate`) headers, active while the request is handled, so spans and
//! logs inside it join the trace; [`PropagateContextLayer`](super::PropagateContextLayer)
//! carries the active span to downstream services.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use tower::{Layer, Service};

use crate::Client;
use crate::traces::{SpanKind, SpanOptions, SpanStatus};

/// Names a request's span: a route template (`GET /orders/{id}`), never the raw path.
pub type SpanNamer = Arc<dyn Fn(&http::Request<()>) -> String + Send + Sync>;

/// Opens a server span per request.
///
/// ```
/// use posthog::middleware::TraceLayer;
/// use tower::ServiceBuilder;
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), posthog::Error> {
/// # let server = posthog::test_util::FakePostHog::start().await;
/// let client = posthog::Client::builder("phc_project_token")
/// #   .host(server.url())
///     .traces(posthog::traces::TracesConfig::new())
///     .build()?;
/// let service = ServiceBuilder::new()
///     .layer(TraceLayer::new(client).name_with(|req| format!("{} /orders/{{id}}", req.method())))
///     .service_fn(|_req: http::Request<()>| async {
///         Ok::<_, std::convert::Infallible>(http::Response::new(()))
///     });
/// # let _ = service;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct TraceLayer {
    client: Client,
    namer: Option<SpanNamer>,
}

impl std::fmt::Debug for TraceLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TraceLayer").finish_non_exhaustive()
    }
}

impl TraceLayer {
    /// A layer naming each span by the request's method alone (low-cardinality); give it a
    /// route template with [`TraceLayer::name_with`].
    pub fn new(client: Client) -> Self {
        Self {
            client,
            namer: None,
        }
    }

    /// Names each span with `namer` (it sees the request's method, URI and headers).
    pub fn name_with(
        mut self,
        namer: impl Fn(&http::Request<()>) -> String + Send + Sync + 'static,
    ) -> Self {
        self.namer = Some(Arc::new(namer));
        self
    }
}

impl<S> Layer<S> for TraceLayer {
    type Service = TraceService<S>;

    fn layer(&self, inner: S) -> TraceService<S> {
        TraceService {
            inner,
            client: self.client.clone(),
            namer: self.namer.clone(),
        }
    }
}

/// The service [`TraceLayer`] produces.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = posthog::test_util::FakePostHog::start().await;
/// # let client = posthog::Client::builder("phc_project_token").host(server.url()).traces(posthog::traces::TracesConfig::new()).build()?;
/// use posthog::middleware::{TraceLayer, TraceService};
/// use tower::Layer;
/// let inner = tower::service_fn(|_req: http::Request<()>| async {
///     Ok::<_, std::convert::Infallible>(http::Response::new(()))
/// });
/// let service: TraceService<_> = TraceLayer::new(client.clone()).layer(inner);
/// # let _ = service;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct TraceService<S> {
    inner: S,
    client: Client,
    namer: Option<SpanNamer>,
}

impl<S> std::fmt::Debug for TraceService<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TraceService").finish_non_exhaustive()
    }
}

fn header(headers: &http::HeaderMap, name: &str) -> Option<String> {
    headers.get(name)?.to_str().ok().map(str::to_owned)
}

impl<S, B, R> Service<http::Request<B>> for TraceService<S>
where
    S: Service<http::Request<B>, Response = http::Response<R>>,
    S::Future: Send + 'static,
    S::Error: std::fmt::Display,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let headers = request.headers();
        let mut opts = SpanOptions::new()
            .kind(SpanKind::Server)
            .attribute("http.request.method", request.method().as_str());
        if let Some(parent) = header(headers, "traceparent") {
            let state = header(headers, "tracestate");
            opts = opts.continue_from(parent, state.as_deref());
        }
        let name = match &self.namer {
            Some(namer) => {
                let mut probe = http::Request::new(());
                *probe.method_mut() = request.method().clone();
                *probe.uri_mut() = request.uri().clone();
                *probe.headers_mut() = request.headers().clone();
                namer(&probe)
            }
            None => request.method().to_string(),
        };
        let span = self.client.start_span(name, opts);
        let future = crate::traces::scope(span.clone(), self.inner.call(request));
        Box::pin(async move {
            let outcome = future.await;
            match &outcome {
                Ok(response) => {
                    let status = response.status();
                    span.set_attribute("http.response.status_code", status.as_u16());
                    if status.is_server_error() {
                        span.set_status(SpanStatus::Error(status.to_string()));
                    }
                }
                Err(error) => {
                    span.record_exception("error", &error.to_string());
                }
            }
            span.end();
            outcome
        })
    }
}
