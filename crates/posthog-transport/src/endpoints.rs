//! [`Transport`]: PostHog's endpoints as typed calls, written only against the
//! [`HttpService`] seam, each with its own timeout and retry policy.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{
    AUTHORIZATION, CONTENT_ENCODING, CONTENT_TYPE, ETAG, HeaderValue, IF_NONE_MATCH,
};
use http::{Method, Request, Response, StatusCode};
use posthog_core::{BatchRequest, Event, FlagsRequest, FlagsResponse};
use tracing::Instrument;

use crate::retry::{Attempts, Jitter, RetryPolicy, classify};
use crate::{
    HttpClient, HttpService, ProjectToken, RequestPolicy, SecretKey, StackConfig, TransportError,
    gzip, host, layered,
};

/// The result of a delivered ingestion request.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = posthog_transport::test_util::TestServer::start().await?;
/// let transport = posthog_transport::Transport::builder("phc_project_token")
/// #   .host(server.url())
///     .build()?;
/// let delivery = transport.send_batch(bytes::Bytes::from_static(br#"{"api_key": "phc_project_token", "batch": []}"#)).await?;
/// assert_eq!((delivery.status.as_u16(), delivery.attempts), (200, 1));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    /// The 2xx status.
    pub status: StatusCode,
    /// Attempts it took.
    pub attempts: u32,
}

/// One attempt of a capture-v1 batch: the ids that stay the same across retries and the
/// attempt number.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = posthog_transport::test_util::TestServer::start().await?;
/// let transport = posthog_transport::Transport::builder("phc_project_token")
/// #   .host(server.url())
///     .build()?;
/// use posthog_transport::{ContentEncoding, V1Attempt};
/// let attempt = V1Attempt { request_id: posthog_core::ids::new_uuid(), attempt: 1 };
/// let delivery = transport
///     .send_v1(bytes::Bytes::from_static(b"{\"batch\": []}"), attempt, ContentEncoding::Gzip)
///     .await?;
/// assert!(delivery.status.is_success());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct V1Attempt {
    /// `PostHog-Request-Id`: one per logical batch, unchanged across retries.
    pub request_id: uuid::Uuid,
    /// `PostHog-Attempt`: 1 on the first try.
    pub attempt: u32,
}

/// A capture-v1 batch the server answered with 2xx: a verdict per event.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = posthog_transport::test_util::TestServer::start().await?;
/// let transport = posthog_transport::Transport::builder("phc_project_token")
/// #   .host(server.url())
///     .build()?;
/// use posthog_transport::{ContentEncoding, V1Attempt};
/// let attempt = V1Attempt { request_id: posthog_core::ids::new_uuid(), attempt: 1 };
/// let delivery = transport
///     .send_v1(bytes::Bytes::from_static(b"{\"batch\": []}"), attempt, ContentEncoding::Gzip)
///     .await?;
/// // Per-event verdicts: an event the answer does not name was accepted.
/// assert_eq!(delivery.results.verdict(&posthog_core::ids::new_uuid()), posthog_core::capture_v1::Verdict::Accepted);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct V1Delivery {
    /// The 2xx status.
    pub status: StatusCode,
    /// Verdicts by event uuid.
    pub results: posthog_core::capture_v1::V1Response,
    /// The answer's `Retry-After` (delta-seconds or HTTP-date), a floor for resending the
    /// events it asks to retry.
    pub retry_after: Option<std::time::Duration>,
}

/// The answer of the definitions endpoint.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = posthog_transport::test_util::TestServer::start().await?;
/// let transport = posthog_transport::Transport::builder("phc_project_token")
/// #   .host(server.url())
///     .build()?;
/// use posthog_transport::test_util::Reply;
/// # let transport = posthog_transport::Transport::builder("phc_project_token").host(server.url()).personal_api_key("phx_personal_key").build()?;
/// server.script([Reply::json(200, &serde_json::json!({"flags": []})).header("etag", "\"v1\"")]);
/// match transport.local_evaluation(None).await? {
///     posthog_transport::Definitions::Modified { body, etag } => {
///         assert_eq!(etag.as_deref(), Some("\"v1\""));
///         # let _ = body;
///     }
///     posthog_transport::Definitions::NotModified { .. } => unreachable!(),
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum Definitions {
    /// New definitions (the JSON body) and their ETag.
    Modified {
        /// The definitions document.
        body: Bytes,
        /// The ETag to send back as `If-None-Match`.
        etag: Option<String>,
    },
    /// 304: the definitions sent with this ETag are current.
    NotModified {
        /// The ETag of the 304 when it had one, else the one sent.
        etag: Option<String>,
    },
}

/// Builds a [`Transport`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = posthog_transport::test_util::TestServer::start().await?;
/// let transport = posthog_transport::Transport::builder("phc_project_token")
/// #   .host(server.url())
///     .build()?;
/// let tuned = posthog_transport::Transport::builder("phc_project_token")
/// #   .host(server.url())
///     .gzip_level(6)
///     .capture_timeout(std::time::Duration::from_secs(10))
///     .max_retries(3)
///     .build()?;
/// tuned.send_batch(bytes::Bytes::from_static(br#"{"api_key": "phc_project_token", "batch": []}"#)).await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct TransportBuilder {
    token: ProjectToken,
    host: String,
    api_host: Option<String>,
    personal_api_key: Option<SecretKey>,
    gzip: bool,
    gzip_level: u32,
    capture_timeout: Duration,
    flags_timeout: Duration,
    definitions_timeout: Duration,
    api_timeout: Duration,
    max_retries: u32,
    flag_retries: u32,
    api_retries: u32,
    definitions_path: String,
    service: Option<HttpService>,
    jitter: Option<Jitter>,
}

impl std::fmt::Debug for TransportBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransportBuilder")
            .field("token", &self.token)
            .field("host", &self.host)
            .field("personal_api_key", &self.personal_api_key)
            .finish_non_exhaustive()
    }
}

impl TransportBuilder {
    /// Defaults of protocol.md §6: US host, gzip on, 15 s capture timeout, 3 s flags timeout
    /// with one retry, 10 s definitions timeout, 3 ingestion retries.
    pub fn new(project_token: impl Into<String>) -> Self {
        Self {
            token: ProjectToken::new(project_token),
            host: host::US_INGESTION_HOST.to_owned(),
            api_host: None,
            personal_api_key: None,
            gzip: true,
            gzip_level: crate::gzip::DEFAULT_LEVEL,
            capture_timeout: Duration::from_secs(15),
            flags_timeout: Duration::from_secs(3),
            definitions_timeout: Duration::from_secs(10),
            api_timeout: Duration::from_secs(30),
            max_retries: 3,
            flag_retries: 1,
            api_retries: 2,
            definitions_path: "/flags/definitions".to_owned(),
            service: None,
            jitter: None,
        }
    }

    /// The ingestion host (normalised when built).
    pub fn host(mut self, host: impl Into<String>) -> Self {
        self.host = host.into();
        self
    }

    /// The private API's host (default: PostHog Cloud's app host for its ingestion hosts, the
    /// ingestion host otherwise).
    pub fn api_host(mut self, host: impl Into<String>) -> Self {
        self.api_host = Some(host.into());
        self
    }

    /// The personal API key (or project secret key) for definitions, remote config and the
    /// private API. It is only ever sent as `Authorization: Bearer`.
    pub fn personal_api_key(mut self, key: impl Into<String>) -> Self {
        self.personal_api_key = Some(SecretKey::new(key));
        self
    }

    /// Gzip ingestion bodies (default on).
    pub fn gzip(mut self, on: bool) -> Self {
        self.gzip = on;
        self
    }

    /// The gzip level of ingestion bodies, 0–9 (default [`crate::gzip::DEFAULT_LEVEL`]):
    /// higher levels make bodies a little smaller for much more CPU.
    pub fn gzip_level(mut self, level: u32) -> Self {
        self.gzip_level = level.min(9);
        self
    }

    /// Per-attempt timeout of ingestion requests.
    pub fn capture_timeout(mut self, timeout: Duration) -> Self {
        self.capture_timeout = timeout;
        self
    }

    /// Per-attempt timeout of `/flags` requests.
    pub fn flags_timeout(mut self, timeout: Duration) -> Self {
        self.flags_timeout = timeout;
        self
    }

    /// Timeout of a definitions request.
    pub fn definitions_timeout(mut self, timeout: Duration) -> Self {
        self.definitions_timeout = timeout;
        self
    }

    /// Per-attempt timeout of private-API requests.
    pub fn api_timeout(mut self, timeout: Duration) -> Self {
        self.api_timeout = timeout;
        self
    }

    /// Retries of ingestion requests inside one send (0 when the caller schedules retries).
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.max_retries = retries;
        self
    }

    /// Retries of `/flags` requests (clamped to [`crate::retry::MAX_FLAG_RETRIES`]).
    pub fn flag_retries(mut self, retries: u32) -> Self {
        self.flag_retries = retries;
        self
    }

    /// Retries of idempotent private-API reads.
    pub fn api_retries(mut self, retries: u32) -> Self {
        self.api_retries = retries;
        self
    }

    /// The definitions path (default `/flags/definitions`; old self-hosted servers use
    /// `/api/feature_flag/local_evaluation/`).
    pub fn definitions_path(mut self, path: impl Into<String>) -> Self {
        self.definitions_path = path.into();
        self
    }

    /// Replaces the HTTP stack (see [`crate::from_service`] and the seam's contract in
    /// [`crate::service`]). The SDK's layers still wrap it.
    pub fn service(mut self, service: HttpService) -> Self {
        self.service = Some(service);
        self
    }

    /// Replaces the source of retry jitter.
    pub fn jitter(mut self, jitter: Jitter) -> Self {
        self.jitter = Some(jitter);
        self
    }

    /// Validates the settings and builds the transport.
    pub fn build(self) -> Result<Transport, TransportError> {
        if self.token.as_str().trim().is_empty() {
            return Err(TransportError::config("the project token is empty"));
        }
        let host = host::normalize_host(&self.host)?;
        let api_host = match &self.api_host {
            Some(h) => host::normalize_host(h)?,
            None => host::default_api_host(&host),
        };
        let path = self.definitions_path.trim();
        if !path.starts_with('/') || path.contains('?') {
            return Err(TransportError::config(
                "the definitions path must start with / and have no query",
            ));
        }
        let inner = match self.service {
            Some(service) => service,
            None => crate::from_service(HttpClient::new()?),
        };
        let stack = StackConfig {
            jitter: self.jitter,
            gzip_level: self.gzip_level,
            ..StackConfig::default()
        };
        Ok(Transport {
            service: layered(inner, &stack),
            config: Arc::new(Config {
                token: self.token,
                host,
                api_host,
                personal_api_key: self.personal_api_key,
                gzip: self.gzip,
                gzip_level: self.gzip_level,
                capture: RequestPolicy {
                    retry: RetryPolicy::ingestion(self.max_retries),
                    timeout: Some(self.capture_timeout),
                    gzip: self.gzip,
                },
                flags: RequestPolicy {
                    retry: RetryPolicy::flags(self.flag_retries),
                    timeout: Some(self.flags_timeout),
                    gzip: false,
                },
                definitions: RequestPolicy {
                    retry: RetryPolicy::none(),
                    timeout: Some(self.definitions_timeout),
                    gzip: false,
                },
                api_read: RequestPolicy {
                    retry: RetryPolicy::api_read(self.api_retries),
                    timeout: Some(self.api_timeout),
                    gzip: false,
                },
                api_write: RequestPolicy {
                    retry: RetryPolicy::none(),
                    timeout: Some(self.api_timeout),
                    gzip: false,
                },
                definitions_path: path.to_owned(),
            }),
        })
    }
}

struct Config {
    token: ProjectToken,
    host: String,
    api_host: String,
    personal_api_key: Option<SecretKey>,
    gzip: bool,
    /// The level of gzip and zlib-deflate ingestion bodies.
    gzip_level: u32,
    capture: RequestPolicy,
    flags: RequestPolicy,
    definitions: RequestPolicy,
    api_read: RequestPolicy,
    api_write: RequestPolicy,
    definitions_path: String,
}

/// PostHog's endpoints over an [`HttpService`]. Cheap to clone; safe to share.
///
/// ```no_run
/// # async fn demo() -> Result<(), posthog_transport::TransportError> {
/// use posthog_core::Event;
/// use posthog_transport::TransportBuilder;
///
/// let transport = TransportBuilder::new("phc_project_token").build()?;
/// transport.send_event(&Event::new("signed_up", "user-123")).await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Transport {
    service: HttpService,
    config: Arc<Config>,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("host", &self.config.host)
            .field("api_host", &self.config.api_host)
            .field("token", &self.config.token)
            .field("personal_api_key", &self.config.personal_api_key)
            .finish_non_exhaustive()
    }
}

fn json_request(method: Method, url: &str, body: Bytes) -> Result<Request<Bytes>, TransportError> {
    Request::builder()
        .method(method)
        .uri(url)
        .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
        .body(body)
        .map_err(|e| TransportError::config(format!("cannot build request: {e}")))
}

/// Percent-encodes `value` for a URL query: everything but unreserved characters
/// (`A-Z a-z 0-9 - _ . ~`) becomes `%XX`.
///
/// ```
/// assert_eq!(posthog_transport::query_escape("a b&c"), "a%20b%26c");
/// ```
pub fn query_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Transport {
    /// A transport for `project_token` with default settings (see [`TransportBuilder`]).
    pub fn builder(project_token: impl Into<String>) -> TransportBuilder {
        TransportBuilder::new(project_token)
    }

    /// The normalised ingestion host.
    pub fn host(&self) -> &str {
        &self.config.host
    }

    /// The normalised private-API host.
    pub fn api_host(&self) -> &str {
        &self.config.api_host
    }

    /// The project token.
    pub fn project_token(&self) -> &ProjectToken {
        &self.config.token
    }

    /// Whether a personal API key is configured.
    pub fn has_personal_api_key(&self) -> bool {
        self.config.personal_api_key.is_some()
    }

    /// Whether ingestion bodies are gzipped.
    pub fn gzip_enabled(&self) -> bool {
        self.config.gzip
    }

    /// The stack itself, for requests this type has no call for.
    pub fn service(&self) -> HttpService {
        self.service.clone()
    }

    /// Sends `request` with `policy`; any status is `Ok`.
    async fn execute_raw(
        &self,
        mut request: Request<Bytes>,
        policy: &RequestPolicy,
    ) -> Result<Response<Bytes>, TransportError> {
        policy.clone().apply(&mut request);
        let method = request.method().clone();
        let path = request.uri().path().to_owned();
        let span =
            tracing::debug_span!(target: "posthog", "posthog.request", %method, path = %path);
        let key = self.config.personal_api_key.as_ref();
        tower::ServiceExt::oneshot(self.service.clone(), request)
            .instrument(span)
            .await
            .map_err(|err| err.with_endpoint(&method, &path).redact(key))
    }

    /// Turns a non-2xx answer into a [`TransportError`].
    fn check(
        &self,
        method: &Method,
        path: &str,
        response: Response<Bytes>,
    ) -> Result<Response<Bytes>, TransportError> {
        if response.status().is_success() {
            return Ok(response);
        }
        let attempts = response.extensions().get::<Attempts>().map_or(1, |a| a.0);
        let retry_after = classify::retry_after(response.headers());
        Err(
            TransportError::status(response.status(), response.body(), retry_after)
                .with_attempts(attempts)
                .with_endpoint(method, path)
                .redact(self.config.personal_api_key.as_ref()),
        )
    }

    /// Sends `request` and turns non-2xx answers into [`TransportError`]s.
    async fn execute(
        &self,
        request: Request<Bytes>,
        policy: &RequestPolicy,
    ) -> Result<Response<Bytes>, TransportError> {
        let (method, path) = (request.method().clone(), request.uri().path().to_owned());
        let response = self.execute_raw(request, policy).await?;
        self.check(&method, &path, response)
    }

    fn attempts(response: &Response<Bytes>) -> u32 {
        response.extensions().get::<Attempts>().map_or(1, |a| a.0)
    }

    /// `POST /batch/` with a serialised batch body (see [`BatchRequest`]); gzipped by the
    /// stack when gzip is on. Retried per the ingestion policy.
    pub async fn send_batch(&self, json: Bytes) -> Result<Delivery, TransportError> {
        self.send_batch_with(json, self.config.capture.retry).await
    }

    /// [`Transport::send_batch`] with a caller-chosen retry policy (e.g.
    /// [`RetryPolicy::none`] when a queue schedules retries itself).
    pub async fn send_batch_with(
        &self,
        json: Bytes,
        retry: RetryPolicy,
    ) -> Result<Delivery, TransportError> {
        let request = json_request(Method::POST, &format!("{}/batch/", self.config.host), json)?;
        let policy = RequestPolicy {
            retry,
            ..self.config.capture.clone()
        };
        let response = self.execute(request, &policy).await?;
        Ok(Delivery {
            status: response.status(),
            attempts: Self::attempts(&response),
        })
    }

    /// One attempt of `POST {host}{path_and_query}` with a JSON body, for a pipeline that
    /// schedules its own retries (a delivery lane's route: the AI lane's `/i/v0/ai/batch/`,
    /// logs' `/i/v1/logs`). `gzip`: compress the body (`Content-Encoding: gzip`), or `None` to
    /// follow the capture setting; `bearer`: send the project token as `Authorization: Bearer`
    /// (traces). Any status is `Ok`: the caller reads the answer.
    pub async fn post_json(
        &self,
        path_and_query: &str,
        json: Bytes,
        gzip: Option<bool>,
        bearer: bool,
    ) -> Result<Response<Bytes>, TransportError> {
        if !path_and_query.starts_with('/') {
            return Err(TransportError::config("ingestion paths start with /"));
        }
        let url = format!("{}{path_and_query}", self.config.host);
        let mut request = json_request(Method::POST, &url, json)?;
        if bearer {
            let token = HeaderValue::from_str(&format!("Bearer {}", self.config.token.as_str()))
                .map_err(|_| TransportError::config("the project token is not a valid header"))?;
            request.headers_mut().insert(AUTHORIZATION, token);
        }
        let capture = self.config.capture.clone();
        let policy = RequestPolicy {
            retry: RetryPolicy::none(),
            gzip: gzip.unwrap_or(capture.gzip),
            ..capture
        };
        self.execute_raw(request, &policy).await
    }

    /// One attempt of `POST /i/v1/analytics/events` (protocol.md §1.4): the project token as
    /// `Authorization: Bearer`, `PostHog-Sdk-Info`, `PostHog-Request-Id`, `PostHog-Attempt`
    /// and `PostHog-Request-Timestamp` headers, the body compressed with `encoding` (sent
    /// plain if compressing fails). Not retried here: the caller resends, keeping the request
    /// id, with the events the verdicts ask for. A 2xx answer that does not parse is a
    /// [`ErrorKind::Decode`](crate::ErrorKind::Decode) error.
    pub async fn send_v1(
        &self,
        json: Bytes,
        attempt: V1Attempt,
        encoding: crate::ContentEncoding,
    ) -> Result<V1Delivery, TransportError> {
        let url = format!("{}{}", self.config.host, posthog_core::capture_v1::V1_PATH);
        let (body, encoded_as) = match encoding.encode(&json, self.config.gzip_level) {
            Ok(Some(encoded)) => (Bytes::from(encoded), encoding.header_value()),
            Ok(None) => (json, None),
            Err(err) => {
                tracing::debug!(target: "posthog", "compressing a v1 batch failed ({err}); sending it plain");
                (json, None)
            }
        };
        let mut request = json_request(Method::POST, &url, body)?;
        let token = HeaderValue::from_str(&format!("Bearer {}", self.config.token.as_str()))
            .map_err(|_| TransportError::config("the project token cannot be sent as a header"))?;
        let sdk = format!("{}/{}", posthog_core::LIB_NAME, posthog_core::LIB_VERSION);
        let now = posthog_core::capture_v1::timestamp(chrono::Utc::now());
        let headers = request.headers_mut();
        headers.insert(AUTHORIZATION, token);
        let text =
            |v: &str| HeaderValue::from_str(v).map_err(|_| TransportError::config("bad header"));
        headers.insert("posthog-sdk-info", text(&sdk)?);
        headers.insert("posthog-request-id", text(&attempt.request_id.to_string())?);
        headers.insert("posthog-attempt", text(&attempt.attempt.to_string())?);
        headers.insert("posthog-request-timestamp", text(&now)?);
        if let Some(encoding) = encoded_as {
            headers.insert(CONTENT_ENCODING, HeaderValue::from_static(encoding));
        }
        // The body is encoded here (or meant to be plain): the gzip layer stays out.
        let policy = RequestPolicy {
            retry: RetryPolicy::none(),
            gzip: false,
            ..self.config.capture.clone()
        };
        let response = self.execute(request, &policy).await?;
        let status = response.status();
        let retry_after = crate::retry::classify::retry_after(response.headers());
        let results = serde_json::from_slice(response.body()).map_err(TransportError::decode)?;
        Ok(V1Delivery {
            status,
            results,
            retry_after,
        })
    }

    /// `POST /batch/` with a body that is already gzipped.
    pub async fn send_batch_gzipped(
        &self,
        gzipped: Bytes,
        retry: RetryPolicy,
    ) -> Result<Delivery, TransportError> {
        let mut request = json_request(
            Method::POST,
            &format!("{}/batch/?compression=gzip", self.config.host),
            gzipped,
        )?;
        request
            .headers_mut()
            .insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        let policy = RequestPolicy {
            retry,
            ..self.config.capture.clone()
        };
        let response = self.execute(request, &policy).await?;
        Ok(Delivery {
            status: response.status(),
            attempts: Self::attempts(&response),
        })
    }

    /// Sends one event as a one-event `/batch/` request (stamping its uuid and timestamp if
    /// unset).
    pub async fn send_event(&self, event: &Event) -> Result<Delivery, TransportError> {
        let mut event = event.clone();
        event.stamp(chrono::Utc::now());
        let batch = [event];
        let body = BatchRequest::new(self.config.token.as_str(), &batch, chrono::Utc::now());
        let json = serde_json::to_vec(&body).map_err(TransportError::decode)?;
        self.send_batch(Bytes::from(json)).await
    }

    /// Gzips a serialised body (at [`gzip::DEFAULT_LEVEL`]) the way
    /// [`Transport::send_batch_gzipped`] expects.
    pub fn gzip(json: &[u8]) -> Result<Bytes, TransportError> {
        gzip::gzip(json, gzip::DEFAULT_LEVEL)
            .map(Bytes::from)
            .map_err(|e| TransportError::config(format!("gzip failed: {e}")))
    }

    /// `POST /flags/?v=2`: remote evaluation. The token goes in the body (`api_key` is set
    /// from the transport's token); no `Authorization` header is sent. Retried only on no
    /// response, 502 and 504 (C-HTTP.6).
    pub async fn flags(&self, request: &FlagsRequest) -> Result<FlagsResponse, TransportError> {
        let mut request = request.clone();
        request.api_key = self.config.token.as_str().to_owned();
        let body = serde_json::to_vec(&request).map_err(TransportError::decode)?;
        let http = json_request(
            Method::POST,
            &format!("{}/flags/?v=2", self.config.host),
            Bytes::from(body),
        )?;
        let response = self.execute(http, &self.config.flags).await?;
        FlagsResponse::from_slice(response.body()).map_err(TransportError::decode)
    }

    fn bearer(&self) -> Result<HeaderValue, TransportError> {
        let key = self
            .config
            .personal_api_key
            .as_ref()
            .ok_or_else(|| TransportError::config("this call needs a personal API key"))?;
        let mut value = HeaderValue::from_str(&key.bearer()).map_err(|_| {
            TransportError::config("the personal API key has characters a header cannot carry")
        })?;
        value.set_sensitive(true);
        Ok(value)
    }

    /// `GET <definitions path>?token=…&send_cohorts` with the personal key and
    /// `If-None-Match` when an ETag is known. Not retried: the next poll is the retry.
    pub async fn local_evaluation(
        &self,
        etag: Option<&str>,
    ) -> Result<Definitions, TransportError> {
        let url = format!(
            "{}{}?token={}&send_cohorts",
            self.config.host,
            self.config.definitions_path,
            query_escape(self.config.token.as_str())
        );
        let mut request = json_request(Method::GET, &url, Bytes::new())?;
        request.headers_mut().remove(CONTENT_TYPE);
        request.headers_mut().insert(AUTHORIZATION, self.bearer()?);
        if let Ok(token) = HeaderValue::from_str(self.config.token.as_str()) {
            request
                .headers_mut()
                .insert("x-posthog-project-api-key", token);
        }
        if let Some(etag) = etag.and_then(|e| HeaderValue::from_str(e).ok()) {
            request.headers_mut().insert(IF_NONE_MATCH, etag);
        }
        let path = self.config.definitions_path.clone();
        let response = self.execute_raw(request, &self.config.definitions).await?;
        let etag_of = |r: &Response<Bytes>| {
            r.headers()
                .get(ETAG)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        if response.status() == StatusCode::NOT_MODIFIED {
            // Keep the ETag sent unless the 304 names a new one.
            let etag = etag_of(&response).or_else(|| etag.map(str::to_owned));
            return Ok(Definitions::NotModified { etag });
        }
        let response = self.check(&Method::GET, &path, response)?;
        Ok(Definitions::Modified {
            etag: etag_of(&response),
            body: response.into_body(),
        })
    }

    /// `GET /api/projects/@current/feature_flags/<key>/remote_config?token=…`: the payload of
    /// a remote-config flag (a JSON text is decoded once more), `None` when it has none.
    pub async fn remote_config(
        &self,
        flag_key: &str,
    ) -> Result<Option<serde_json::Value>, TransportError> {
        let url = format!(
            "{}/api/projects/@current/feature_flags/{}/remote_config?token={}",
            self.config.host,
            query_escape(flag_key),
            query_escape(self.config.token.as_str())
        );
        let mut request = json_request(Method::GET, &url, Bytes::new())?;
        request.headers_mut().insert(AUTHORIZATION, self.bearer()?);
        let response = self.execute(request, &self.config.flags).await?;
        let value: serde_json::Value =
            serde_json::from_slice(response.body()).map_err(TransportError::decode)?;
        Ok(posthog_core::flags_api::decode_remote_payload(Some(value)))
    }

    /// A private-API request to `path_and_query` (starting with `/api/`) on the API host,
    /// authenticated with the personal key. GETs (and `idempotent` requests such as HogQL
    /// queries) are retried on 429 and 502–504, waiting as `Retry-After` says; other writes
    /// are not retried.
    pub async fn api_request(
        &self,
        method: Method,
        path_and_query: &str,
        body: Option<Bytes>,
        idempotent: bool,
    ) -> Result<Response<Bytes>, TransportError> {
        if !path_and_query.starts_with('/') {
            return Err(TransportError::config("API paths start with /"));
        }
        let retry_reads = method == Method::GET || idempotent;
        let url = format!("{}{}", self.config.api_host, path_and_query);
        let has_body = body.is_some();
        let mut request = json_request(method, &url, body.unwrap_or_default())?;
        if !has_body {
            request.headers_mut().remove(CONTENT_TYPE);
        }
        request.headers_mut().insert(AUTHORIZATION, self.bearer()?);
        let policy = if retry_reads {
            &self.config.api_read
        } else {
            &self.config.api_write
        };
        self.execute(request, policy).await
    }
}
