//! [`TestServer`]: a scripted HTTP/1.1 server on 127.0.0.1 (feature `test-util`).
//!
//! It records every request (gzip bodies decoded), counts TCP connections, and answers from a
//! script of [`Reply`]s: statuses with headers and delays, a connection closed without a
//! response, or a response cut off mid-body. A handler can answer by path once the script is
//! empty. The SDK's own tests use it; so can yours.

use std::collections::VecDeque;
use std::io::Read;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, Incoming};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::AbortHandle;

mod connect_proxy;
pub use connect_proxy::ConnectProxy;

/// How the server answers one request.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = posthog_transport::test_util::TestServer::start().await?;
/// let transport = posthog_transport::Transport::builder("phc_project_token")
/// #   .host(server.url())
///     .build()?;
/// use posthog_transport::test_util::Reply;
/// server.script([Reply::status(503).header("retry-after", "0"), Reply::ok()]);
/// let delivery = transport.send_batch(bytes::Bytes::from_static(br#"{"api_key": "phc_project_token", "batch": []}"#)).await?; // retried once
/// assert_eq!(delivery.attempts, 2);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// An HTTP response, after `delay`.
    Respond {
        /// Status code.
        status: u16,
        /// Extra headers.
        headers: Vec<(String, String)>,
        /// Body.
        body: Bytes,
        /// Wait before answering.
        delay: Duration,
    },
    /// Close the connection without answering.
    Close,
    /// Send the headers and part of the body, then break the connection.
    CutOffBody,
}

impl Reply {
    /// A response with `status` and an empty body.
    pub fn status(status: u16) -> Reply {
        Reply::Respond {
            status,
            headers: Vec::new(),
            body: Bytes::new(),
            delay: Duration::ZERO,
        }
    }

    /// `200` with `{"status": 1}`, what PostHog's capture endpoint answers.
    pub fn ok() -> Reply {
        Reply::json(200, &serde_json::json!({"status": 1}))
    }

    /// A JSON response.
    pub fn json(status: u16, body: &serde_json::Value) -> Reply {
        Reply::status(status)
            .header("content-type", "application/json")
            .body(body.to_string())
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Reply {
        if let Reply::Respond { headers, .. } = &mut self {
            headers.push((name.to_owned(), value.to_owned()));
        }
        self
    }

    /// Sets the body.
    pub fn body(mut self, text: impl Into<Bytes>) -> Reply {
        if let Reply::Respond { body, .. } = &mut self {
            *body = text.into();
        }
        self
    }

    /// Waits before answering.
    pub fn delay(mut self, wait: Duration) -> Reply {
        if let Reply::Respond { delay, .. } = &mut self {
            *delay = wait;
        }
        self
    }
}

/// One request as the server received it.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = posthog_transport::test_util::TestServer::start().await?;
/// let transport = posthog_transport::Transport::builder("phc_project_token")
/// #   .host(server.url())
///     .build()?;
/// transport.send_batch(bytes::Bytes::from_static(br#"{"api_key": "phc_project_token", "batch": []}"#)).await?;
/// let request = &server.requests()[0];
/// assert_eq!((request.method.as_str(), request.path.as_str()), ("POST", "/batch/"));
/// assert_eq!(request.json()["api_key"], "phc_project_token");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// Method.
    pub method: http::Method,
    /// Path.
    pub path: String,
    /// Query string, if any.
    pub query: Option<String>,
    /// Headers.
    pub headers: HeaderMap,
    /// Body, decoded when it was sent with a `Content-Encoding` (gzip, deflate, br, zstd).
    pub body: Bytes,
    /// Body as received.
    pub raw_body: Bytes,
    /// Which TCP connection (1-based) carried it.
    pub connection: usize,
    /// When it arrived.
    pub at: Instant,
    /// The status it was answered with (`None`: closed or cut off without a full answer).
    pub status: Option<u16>,
}

impl RecordedRequest {
    /// The body as JSON (`Null` when it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Answers requests the script does not cover; `None` falls back to the default reply.
pub type Handler = Arc<dyn Fn(&RecordedRequest) -> Option<Reply> + Send + Sync>;

struct State {
    script: VecDeque<Reply>,
    default: Reply,
    handler: Option<Handler>,
    requests: Vec<RecordedRequest>,
    connections: usize,
    tasks: Vec<AbortHandle>,
    recording: bool,
}

/// Decodes a request body sent with `Content-Encoding: encoding` (gzip, zlib deflate, and br /
/// zstd when those features are on); unknown encodings are kept as they are.
fn decode_body(encoding: &str, raw: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut decoded = Vec::new();
    match encoding {
        "gzip" => {
            flate2::read::GzDecoder::new(raw).read_to_end(&mut decoded)?;
        }
        "deflate" => {
            flate2::read::ZlibDecoder::new(raw).read_to_end(&mut decoded)?;
        }
        #[cfg(feature = "br")]
        "br" => {
            brotli::Decompressor::new(raw, 4096).read_to_end(&mut decoded)?;
        }
        #[cfg(feature = "zstd")]
        "zstd" => {
            zstd::stream::read::Decoder::new(raw)?.read_to_end(&mut decoded)?;
        }
        _ => decoded.extend_from_slice(raw),
    }
    Ok(decoded)
}

/// A scripted HTTP server on 127.0.0.1. Dropping it stops it.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = posthog_transport::test_util::TestServer::start().await?;
/// let transport = posthog_transport::Transport::builder("phc_project_token")
/// #   .host(server.url())
///     .build()?;
/// transport.send_batch(bytes::Bytes::from_static(br#"{"api_key": "phc_project_token", "batch": []}"#)).await?;
/// assert_eq!(server.requests_to("/batch/").len(), 1);
/// assert_eq!(server.connection_count(), 1);
/// # Ok(()) }
/// ```
pub struct TestServer {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
}

impl std::fmt::Debug for TestServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl TestServer {
    /// Starts a server on a free port of 127.0.0.1 answering [`Reply::ok`] by default.
    pub async fn start() -> std::io::Result<TestServer> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(State {
            script: VecDeque::new(),
            default: Reply::ok(),
            handler: None,
            requests: Vec::new(),
            connections: 0,
            tasks: Vec::new(),
            recording: true,
        }));
        let accept_state = state.clone();
        let accept = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let _ = stream.set_nodelay(true);
                let connection = {
                    let mut s = lock(&accept_state);
                    s.connections += 1;
                    s.connections
                };
                let conn_state = accept_state.clone();
                let task = tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        handle(req, conn_state.clone(), connection)
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .keep_alive(true)
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
                lock(&accept_state).tasks.push(task.abort_handle());
            }
        });
        lock(&state).tasks.push(accept.abort_handle());
        Ok(TestServer { addr, state })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Queues replies for the next requests, in order.
    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        lock(&self.state).script.extend(replies);
    }

    /// The reply once the script and the handler have nothing to say.
    pub fn set_default(&self, reply: Reply) {
        lock(&self.state).default = reply;
    }

    /// Answers requests the script does not cover.
    pub fn set_handler(&self, handler: Handler) {
        lock(&self.state).handler = Some(handler);
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.state).requests.clone()
    }

    /// Requests received on `path`.
    pub fn requests_to(&self, path: &str) -> Vec<RecordedRequest> {
        lock(&self.state)
            .requests
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }

    /// TCP connections accepted so far.
    pub fn connection_count(&self) -> usize {
        lock(&self.state).connections
    }

    /// Stops (or resumes) keeping requests, e.g. for load tests; replies still follow the
    /// script.
    pub fn set_recording(&self, on: bool) {
        lock(&self.state).recording = on;
    }

    /// Forgets recorded requests.
    pub fn clear(&self) {
        lock(&self.state).requests.clear();
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        for task in lock(&self.state).tasks.drain(..) {
            task.abort();
        }
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

type ReplyBody = http_body_util::combinators::BoxBody<Bytes, std::io::Error>;

async fn handle(
    request: Request<Incoming>,
    state: Arc<Mutex<State>>,
    connection: usize,
) -> Result<Response<ReplyBody>, std::io::Error> {
    let (parts, body) = request.into_parts();
    let raw_body = body
        .collect()
        .await
        .map_err(std::io::Error::other)?
        .to_bytes();
    // Without recording (load tests) the body is not decoded either.
    let recording = lock(&state).recording;
    let encoding = parts
        .headers
        .get(http::header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .filter(|_| recording);
    let body = match encoding {
        Some(encoding) => Bytes::from(decode_body(encoding, &raw_body)?),
        None => raw_body.clone(),
    };
    let recorded = RecordedRequest {
        method: parts.method,
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        headers: parts.headers,
        body,
        raw_body,
        connection,
        at: Instant::now(),
        status: None,
    };
    let reply = {
        let mut s = lock(&state);
        let recording = s.recording;
        let scripted = s.script.pop_front();
        let handler = s.handler.clone();
        let default = s.default.clone();
        drop(s);
        let reply = scripted
            .or_else(|| handler.and_then(|h| h(&recorded)))
            .unwrap_or(default);
        if recording {
            let status = match &reply {
                Reply::Respond { status, .. } => Some(*status),
                Reply::Close | Reply::CutOffBody => None,
            };
            lock(&state)
                .requests
                .push(RecordedRequest { status, ..recorded });
        }
        reply
    };
    match reply {
        Reply::Respond {
            status,
            headers,
            body,
            delay,
        } => {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            let mut response = Response::new(
                http_body_util::Full::new(body)
                    .map_err(|never| match never {})
                    .boxed(),
            );
            *response.status_mut() =
                StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            for (name, value) in headers {
                if let (Ok(name), Ok(value)) = (
                    http::HeaderName::try_from(name),
                    http::HeaderValue::try_from(value),
                ) {
                    response.headers_mut().append(name, value);
                }
            }
            Ok(response)
        }
        Reply::Close => Err(std::io::Error::other("scripted: close without a response")),
        Reply::CutOffBody => {
            let mut response = Response::new(CutOff { sent: false }.boxed());
            response.headers_mut().insert(
                http::header::CONTENT_LENGTH,
                http::HeaderValue::from_static("1000"),
            );
            Ok(response)
        }
    }
}

/// A body that yields a few bytes and then fails, breaking the connection mid-response.
struct CutOff {
    sent: bool,
}

impl Body for CutOff {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        if self.sent {
            Poll::Ready(Some(Err(std::io::Error::other(
                "scripted: connection cut off",
            ))))
        } else {
            self.sent = true;
            Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(b"{\"status\":")))))
        }
    }
}
