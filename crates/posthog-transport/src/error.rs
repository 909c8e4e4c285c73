//! [`TransportError`]: the one error of the transport, and what it says about retrying.

use std::fmt;
use std::time::Duration;

use http::StatusCode;

/// A boxed error, as user-supplied HTTP stacks may return.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What went wrong with a request.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = posthog_transport::test_util::TestServer::start().await?;
/// let transport = posthog_transport::Transport::builder("phc_project_token")
/// #   .host(server.url())
///     .build()?;
/// use posthog_transport::{ErrorKind, test_util::Reply};
/// server.script([Reply::status(400)]);
/// let err = transport.send_batch(bytes::Bytes::from_static(br#"{"api_key": "phc_project_token", "batch": []}"#)).await.unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::Status);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The attempt did not finish within its timeout.
    Timeout,
    /// No connection could be made (DNS, refused, unreachable).
    Connect,
    /// The TLS handshake or certificate check failed.
    Tls,
    /// The connection broke before a full response arrived (reset, closed mid-body).
    Io,
    /// The server answered with a non-2xx status.
    Status,
    /// The response body was not what the endpoint returns (bad JSON).
    Decode,
    /// The response body was larger than the configured limit.
    BodyTooLarge,
    /// The request could not be built (bad host, missing key).
    Config,
}

/// The transport's error: kind, status and a bounded excerpt of the body, `Retry-After`, and
/// how many attempts were made. It never contains an API key or a URL query string.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = posthog_transport::test_util::TestServer::start().await?;
/// let transport = posthog_transport::Transport::builder("phc_project_token")
/// #   .host(server.url())
///     .build()?;
/// use posthog_transport::test_util::Reply;
/// server.script([Reply::status(400).body("bad batch")]);
/// let err = transport.send_batch(bytes::Bytes::from_static(br#"{"api_key": "phc_project_token", "batch": []}"#)).await.unwrap_err();
/// assert_eq!(err.status_code().map(|s| s.as_u16()), Some(400));
/// assert_eq!(err.body(), Some("bad batch"));
/// # Ok(()) }
/// ```
pub struct TransportError {
    kind: ErrorKind,
    status: Option<StatusCode>,
    body: Option<String>,
    retry_after: Option<Duration>,
    attempts: u32,
    endpoint: Option<String>,
    source: Option<BoxError>,
}

/// The longest body excerpt an error keeps.
pub const BODY_EXCERPT_LIMIT: usize = 1024;

impl TransportError {
    pub(crate) fn new(kind: ErrorKind) -> Self {
        Self {
            kind,
            status: None,
            body: None,
            retry_after: None,
            attempts: 1,
            endpoint: None,
            source: None,
        }
    }

    /// A timeout.
    pub fn timeout() -> Self {
        Self::new(ErrorKind::Timeout)
    }

    /// A failure with no HTTP response, from any HTTP stack (classified as retryable).
    pub fn no_response(kind: ErrorKind, source: impl Into<BoxError>) -> Self {
        Self::new(kind).with_source(source)
    }

    /// A configuration problem.
    pub fn config(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Config).with_source(message.into())
    }

    /// A non-2xx answer; `body` is cut to [`BODY_EXCERPT_LIMIT`] bytes.
    pub fn status(status: StatusCode, body: &[u8], retry_after: Option<Duration>) -> Self {
        let mut err = Self::new(ErrorKind::Status);
        err.status = Some(status);
        err.retry_after = retry_after;
        if !body.is_empty() {
            let cut = body.len().min(BODY_EXCERPT_LIMIT);
            err.body = Some(String::from_utf8_lossy(&body[..cut]).into_owned());
        }
        err
    }

    /// A body that did not decode.
    pub fn decode(source: impl Into<BoxError>) -> Self {
        Self::new(ErrorKind::Decode).with_source(source)
    }

    pub(crate) fn with_source(mut self, source: impl Into<BoxError>) -> Self {
        self.source = Some(source.into());
        self
    }

    pub(crate) fn with_attempts(mut self, attempts: u32) -> Self {
        self.attempts = attempts.max(1);
        self
    }

    /// Names the request (method and path, never the query string).
    pub(crate) fn with_endpoint(mut self, method: &http::Method, path: &str) -> Self {
        self.endpoint = Some(format!("{method} {path}"));
        self
    }

    pub(crate) fn redact(mut self, key: Option<&crate::SecretKey>) -> Self {
        if let (Some(key), Some(body)) = (key, self.body.as_mut()) {
            *body = key.redact(body);
        }
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// Whether an attempt timed out.
    pub fn is_timeout(&self) -> bool {
        self.kind == ErrorKind::Timeout
    }

    /// Whether the request failed without any HTTP response (timeout, connect, TLS, reset).
    pub fn is_no_response(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::Timeout | ErrorKind::Connect | ErrorKind::Tls | ErrorKind::Io
        )
    }

    /// The status of a non-2xx answer.
    pub fn status_code(&self) -> Option<StatusCode> {
        self.status
    }

    /// The start of the answer's body (at most [`BODY_EXCERPT_LIMIT`] bytes).
    pub fn body(&self) -> Option<&str> {
        self.body.as_deref()
    }

    /// The server's `Retry-After`, parsed.
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    /// How many attempts were made (1 = not retried).
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// How many times the request was retried.
    pub fn retries(&self) -> u32 {
        self.attempts - 1
    }
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            ErrorKind::Timeout => f.write_str("request timed out")?,
            ErrorKind::Connect => f.write_str("could not connect")?,
            ErrorKind::Tls => f.write_str("TLS failure")?,
            ErrorKind::Io => f.write_str("connection lost before the response completed")?,
            ErrorKind::Status => match self.status {
                Some(status) => write!(f, "server answered {status}")?,
                None => f.write_str("server answered with an error")?,
            },
            ErrorKind::Decode => f.write_str("could not decode the response")?,
            ErrorKind::BodyTooLarge => f.write_str("response body too large")?,
            ErrorKind::Config => f.write_str("invalid request configuration")?,
        }
        if let Some(endpoint) = &self.endpoint {
            write!(f, " ({endpoint})")?;
        }
        if self.attempts > 1 {
            write!(f, " after {} attempts", self.attempts)?;
        }
        if let Some(body) = &self.body {
            write!(f, ": {body}")?;
        }
        if let Some(source) = &self.source {
            // Every cause, outermost first (hyper's own messages, like "client error
            // (Connect)", hide the one that says what happened).
            let mut last = String::new();
            for cause in causes(source.as_ref()) {
                let text = cause.to_string();
                if !text.is_empty() && !last.contains(&text) {
                    write!(f, ": {text}")?;
                }
                last = text;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TransportError")
            .field("kind", &self.kind)
            .field("status", &self.status)
            .field("endpoint", &self.endpoint)
            .field("attempts", &self.attempts)
            .field("retry_after", &self.retry_after)
            .field("body", &self.body)
            .field("source", &self.source.as_ref().map(|s| s.to_string()))
            .finish()
    }
}

/// `err` and its causes, outermost first. Unlike `source()` alone, this looks inside an
/// `io::Error` at the error it wraps (its `source()` skips that one: a TLS failure inside a
/// connect error is a rustls error wrapped in an `io::Error`).
pub(crate) fn causes<'a>(
    err: &'a (dyn std::error::Error + 'static),
) -> impl Iterator<Item = &'a (dyn std::error::Error + 'static)> {
    std::iter::successors(Some(err), |e| match e.downcast_ref::<std::io::Error>() {
        Some(io) => io
            .get_ref()
            .map(|inner| inner as &(dyn std::error::Error + 'static)),
        None => e.source(),
    })
}

impl std::error::Error for TransportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|s| s as &(dyn std::error::Error + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_bounded_and_informative() {
        let body = vec![b'x'; 5000];
        let err = TransportError::status(StatusCode::SERVICE_UNAVAILABLE, &body, None)
            .with_attempts(4)
            .with_endpoint(&http::Method::POST, "/batch/");
        let text = err.to_string();
        assert!(text.starts_with(
            "server answered 503 Service Unavailable (POST /batch/) after 4 attempts: xxx"
        ));
        assert_eq!(err.body().unwrap().len(), BODY_EXCERPT_LIMIT);
        assert_eq!(err.retries(), 3);
    }
}
