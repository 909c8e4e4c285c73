//! [`HttpClient`]: the default HTTP stack, hyper-util's pooled client over rustls.
//!
//! Connections are kept alive and reused; HTTPS negotiates HTTP/2 through ALPN when the server
//! offers it. TLS is rustls with the provider and roots [`crate::tls`] picks (or a
//! `ClientConfig` of yours); connections go through the proxy [`Proxy`] names (by default the
//! environment's `HTTPS_PROXY`/`NO_PROXY`).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tower::Service;

use crate::proxy::{Proxy, ProxyConnector};
use crate::{ErrorKind, TransportError};

/// Settings of the default HTTP client.
///
/// ```
/// use std::time::Duration;
/// let http = posthog_transport::HttpClient::builder()
///     .connect_timeout(Duration::from_secs(5))
///     .pool_idle_timeout(Duration::from_secs(30))
///     .max_response_bytes(4 * 1024 * 1024)
///     .build()?;
/// # let _ = http;
/// # Ok::<(), posthog_transport::TransportError>(())
/// ```
#[derive(Debug, Clone)]
pub struct HttpClientBuilder {
    connect_timeout: Duration,
    pool_idle_timeout: Duration,
    pool_max_idle_per_host: usize,
    max_response_bytes: usize,
    proxy: Proxy,
    tls: Option<rustls::ClientConfig>,
}

impl Default for HttpClientBuilder {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            pool_idle_timeout: Duration::from_secs(90),
            pool_max_idle_per_host: 8,
            max_response_bytes: 32 * 1024 * 1024,
            proxy: Proxy::from_env(),
            tls: None,
        }
    }
}

impl HttpClientBuilder {
    /// Limit for establishing a TCP connection.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long an idle pooled connection is kept.
    pub fn pool_idle_timeout(mut self, timeout: Duration) -> Self {
        self.pool_idle_timeout = timeout;
        self
    }

    /// Idle connections kept per host.
    pub fn pool_max_idle_per_host(mut self, max: usize) -> Self {
        self.pool_max_idle_per_host = max;
        self
    }

    /// Responses with larger bodies fail with [`ErrorKind::BodyTooLarge`].
    pub fn max_response_bytes(mut self, max: usize) -> Self {
        self.max_response_bytes = max;
        self
    }

    /// The outbound proxy (default: [`Proxy::from_env`], read when the client is built).
    pub fn proxy(mut self, proxy: Proxy) -> Self {
        self.proxy = proxy;
        self
    }

    /// Your own rustls configuration (provider, roots, client certificates), instead of the
    /// one the crate's features give (see the crate's TLS notes). Its ALPN protocols are set
    /// by the client (HTTP/2, HTTP/1.1).
    pub fn tls_config(mut self, config: rustls::ClientConfig) -> Self {
        self.tls = Some(config);
        self
    }

    /// Builds the client. Must be called inside a tokio runtime only when used, not here.
    ///
    /// Fails with a configuration error when no TLS setup is available: no crypto provider
    /// (neither the `ring` nor the `aws-lc-rs` feature, none installed process-wide) or no
    /// root certificates (neither `webpki-roots` nor `native-roots`), and no
    /// [`HttpClientBuilder::tls_config`].
    pub fn build(self) -> Result<HttpClient, TransportError> {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(self.connect_timeout));
        let tls = match self.tls {
            Some(config) => config,
            None => crate::tls::default_config()?,
        };
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .wrap_connector(ProxyConnector::new(http, &self.proxy));
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(self.pool_idle_timeout)
            .pool_max_idle_per_host(self.pool_max_idle_per_host)
            .build(https);
        Ok(HttpClient {
            client,
            max_response_bytes: self.max_response_bytes,
        })
    }
}

/// The default HTTP stack: a `tower::Service<http::Request<Bytes>>` answering
/// `http::Response<Bytes>` with the whole body read.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = posthog_transport::test_util::TestServer::start().await?;
/// let transport = posthog_transport::Transport::builder("phc_project_token")
/// #   .host(server.url())
///     .build()?;
/// // The default stack's HTTP client, built by hand: to wrap it, or to set a proxy or TLS.
/// let http = posthog_transport::HttpClient::builder().proxy(posthog_transport::Proxy::none()).build()?;
/// let transport = posthog_transport::Transport::builder("phc_project_token")
/// #   .host(server.url())
///     .service(posthog_transport::from_service(http))
///     .build()?;
/// transport.send_batch(bytes::Bytes::from_static(br#"{"api_key": "phc_project_token", "batch": []}"#)).await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct HttpClient {
    client: Client<HttpsConnector<ProxyConnector>, Full<Bytes>>,
    max_response_bytes: usize,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("max_response_bytes", &self.max_response_bytes)
            .finish_non_exhaustive()
    }
}

impl HttpClient {
    /// A client with default settings.
    pub fn new() -> Result<Self, TransportError> {
        HttpClientBuilder::default().build()
    }

    /// Settings to adjust before building.
    pub fn builder() -> HttpClientBuilder {
        HttpClientBuilder::default()
    }
}

fn has_tls_cause(err: &(dyn std::error::Error + 'static)) -> bool {
    crate::error::causes(err).any(|e| e.is::<rustls::Error>())
}

fn map_client_error(err: hyper_util::client::legacy::Error) -> TransportError {
    let kind = if has_tls_cause(&err) {
        ErrorKind::Tls
    } else if err.is_connect() {
        ErrorKind::Connect
    } else {
        ErrorKind::Io
    };
    TransportError::no_response(kind, err)
}

impl Service<Request<Bytes>> for HttpClient {
    type Response = Response<Bytes>;
    type Error = TransportError;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Bytes>, TransportError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), TransportError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Bytes>) -> Self::Future {
        let client = self.client.clone();
        let limit = self.max_response_bytes;
        Box::pin(async move {
            let response = client
                .request(request.map(Full::new))
                .await
                .map_err(map_client_error)?;
            let (parts, body) = response.into_parts();
            let body = Limited::new(body, limit).collect().await.map_err(|e| {
                if e.is::<LengthLimitError>() {
                    TransportError::new(ErrorKind::BodyTooLarge).with_source(e)
                } else {
                    TransportError::no_response(ErrorKind::Io, e)
                }
            })?;
            Ok(Response::from_parts(parts, body.to_bytes()))
        })
    }
}
