//! [`ApiError`]: what a private-API call can fail with, typed by PostHog's answer
//! (protocol.md §5.6).

use std::fmt;
use std::time::Duration;

use http::StatusCode;
use posthog_transport::{ErrorKind, TransportError};
use serde::{Deserialize, Serialize};

/// PostHog's error body: `{"type", "code", "detail", "attr"}`. Every field is optional, since
/// a proxy in front of PostHog may answer with anything.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = posthog::test_util::FakePostHog::start().await;
/// # let personal_api_key = posthog::test_util::FAKE_PERSONAL_API_KEY;
/// let api = posthog_api::ApiClient::builder(personal_api_key)
/// #   .host(server.url())
///     .build()?;
/// let err = api.create_feature_flag(&posthog_api::NewFeatureFlag::new("dup")).await
///     .and(api.create_feature_flag(&posthog_api::NewFeatureFlag::new("dup")).await)
///     .unwrap_err();
/// let body = err.body().expect("PostHog's error body");
/// assert_eq!((body.code.as_deref(), body.attr.as_deref()), (Some("unique"), Some("key")));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// `authentication_error`, `invalid_request`, `validation_error`, `throttled_error`,
    /// `server_error`, …
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    /// A machine-readable code, e.g. `authentication_failed`, `not_found`, `throttled`.
    #[serde(default)]
    pub code: Option<String>,
    /// The human-readable explanation.
    #[serde(default)]
    pub detail: Option<String>,
    /// The field a validation error is about.
    #[serde(default)]
    pub attr: Option<String>,
}

impl ErrorBody {
    /// Reads an error body; text that is not PostHog's JSON becomes the `detail`.
    pub(crate) fn parse(text: &str) -> Self {
        serde_json::from_str::<ErrorBody>(text).unwrap_or_else(|_| ErrorBody {
            detail: (!text.trim().is_empty()).then(|| text.trim().to_owned()),
            ..ErrorBody::default()
        })
    }
}

impl fmt::Display for ErrorBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(kind) = &self.kind {
            parts.push(kind.as_str());
        }
        if let Some(code) = &self.code {
            parts.push(code.as_str());
        }
        match (&self.detail, parts.is_empty()) {
            (Some(detail), true) => write!(f, "{detail}")?,
            (Some(detail), false) => {
                write!(f, "{} ({}): {detail}", parts[0], parts[1..].join(", "))?
            }
            (None, false) => write!(f, "{}", parts.join(", "))?,
            (None, true) => write!(f, "no details")?,
        }
        if let Some(attr) = &self.attr {
            write!(f, " [field {attr}]")?;
        }
        Ok(())
    }
}

/// A failed private-API call. No variant ever holds the personal API key.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = posthog::test_util::FakePostHog::start().await;
/// # let personal_api_key = posthog::test_util::FAKE_PERSONAL_API_KEY;
/// let api = posthog_api::ApiClient::builder(personal_api_key)
/// #   .host(server.url())
///     .build()?;
/// use posthog_api::ApiError;
/// match api.person("user-ada").await {
///     // PostHog refuses a distinct id where a person id belongs:
///     Err(ApiError::Validation(body)) => assert!(body.detail.unwrap().contains("distinct_id")),
///     other => panic!("{other:?}"),
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum ApiError {
    /// 401: the key is missing, wrong or revoked.
    Unauthorized(ErrorBody),
    /// 403: the key lacks a scope (e.g. `person:read`) or access to the project.
    Forbidden(ErrorBody),
    /// 404: no such project or object.
    NotFound(ErrorBody),
    /// 400: the request was invalid; `attr` names the field when PostHog says which.
    Validation(ErrorBody),
    /// 429: throttled, still after the retries reads get.
    RateLimited {
        /// How long PostHog asked to wait.
        retry_after: Option<Duration>,
        /// PostHog's explanation.
        body: ErrorBody,
    },
    /// Another non-2xx answer (5xx after retries, 405, 409, …).
    Status {
        /// The status.
        status: StatusCode,
        /// PostHog's explanation.
        body: ErrorBody,
    },
    /// No answer: timeout, connection or TLS failure, a body over the size limit.
    Transport(TransportError),
    /// The answer was not the JSON this call returns.
    Decode(String),
    /// An argument was rejected before anything was sent.
    InvalidInput(String),
    /// PostHog accepted the query but is still running it (a `202` answer, or
    /// `query_status.complete: false`); ask again later for the query with this id.
    QueryRunning {
        /// The running query's id, when PostHog gave one.
        query_id: Option<String>,
    },
}

impl ApiError {
    /// The HTTP status PostHog answered with, when it answered.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            ApiError::Unauthorized(_) => Some(StatusCode::UNAUTHORIZED),
            ApiError::Forbidden(_) => Some(StatusCode::FORBIDDEN),
            ApiError::NotFound(_) => Some(StatusCode::NOT_FOUND),
            ApiError::Validation(_) => Some(StatusCode::BAD_REQUEST),
            ApiError::RateLimited { .. } => Some(StatusCode::TOO_MANY_REQUESTS),
            ApiError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// PostHog's error body, when it answered with one.
    pub fn body(&self) -> Option<&ErrorBody> {
        match self {
            ApiError::Unauthorized(body)
            | ApiError::Forbidden(body)
            | ApiError::NotFound(body)
            | ApiError::Validation(body)
            | ApiError::RateLimited { body, .. }
            | ApiError::Status { body, .. } => Some(body),
            _ => None,
        }
    }

    pub(crate) fn decode(what: &str, err: impl fmt::Display) -> Self {
        ApiError::Decode(format!("{what}: {err}"))
    }
}

impl From<TransportError> for ApiError {
    fn from(err: TransportError) -> Self {
        let Some(status) = err
            .status_code()
            .filter(|_| err.kind() == ErrorKind::Status)
        else {
            return if err.kind() == ErrorKind::Decode {
                ApiError::Decode(err.to_string())
            } else {
                ApiError::Transport(err)
            };
        };
        let body = ErrorBody::parse(err.body().unwrap_or_default());
        match status.as_u16() {
            400 => ApiError::Validation(body),
            401 => ApiError::Unauthorized(body),
            403 => ApiError::Forbidden(body),
            404 => ApiError::NotFound(body),
            429 => ApiError::RateLimited {
                retry_after: err.retry_after(),
                body,
            },
            _ => ApiError::Status { status, body },
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApiError::Unauthorized(body) => write!(f, "unauthorized (401): {body}"),
            ApiError::Forbidden(body) => write!(f, "forbidden (403): {body}"),
            ApiError::NotFound(body) => write!(f, "not found (404): {body}"),
            ApiError::Validation(body) => write!(f, "invalid request (400): {body}"),
            ApiError::RateLimited { retry_after, body } => {
                write!(f, "rate limited (429): {body}")?;
                if let Some(wait) = retry_after {
                    write!(f, "; retry after {} s", wait.as_secs())?;
                }
                Ok(())
            }
            ApiError::Status { status, body } => write!(f, "PostHog answered {status}: {body}"),
            ApiError::Transport(err) => write!(f, "request failed: {err}"),
            ApiError::Decode(message) => write!(f, "unexpected answer: {message}"),
            ApiError::InvalidInput(message) => write!(f, "invalid input: {message}"),
            ApiError::QueryRunning { query_id } => match query_id {
                Some(id) => write!(f, "the query is still running (id {id})"),
                None => write!(f, "the query is still running"),
            },
        }
    }
}

impl std::error::Error for ApiError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ApiError::Transport(err) => Some(err),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_variants_with_posthogs_body() {
        let body = br#"{"type": "validation_error", "code": "unique", "detail": "There is already a feature flag with this key.", "attr": "key"}"#;
        let err = ApiError::from(TransportError::status(StatusCode::BAD_REQUEST, body, None));
        let ApiError::Validation(b) = &err else {
            panic!("{err:?}")
        };
        assert_eq!(b.attr.as_deref(), Some("key"));
        assert_eq!(
            err.to_string(),
            "invalid request (400): validation_error (unique): There is already a feature flag with this key. [field key]"
        );
        let throttled = ApiError::from(TransportError::status(
            StatusCode::TOO_MANY_REQUESTS,
            br#"{"type": "throttled_error", "code": "throttled", "detail": "slow down", "attr": null}"#,
            Some(Duration::from_secs(59)),
        ));
        assert!(matches!(
            throttled,
            ApiError::RateLimited { retry_after: Some(d), .. } if d == Duration::from_secs(59)
        ));
        let proxy = ApiError::from(TransportError::status(
            StatusCode::BAD_GATEWAY,
            b"<html>bad gateway</html>",
            None,
        ));
        assert_eq!(proxy.status(), Some(StatusCode::BAD_GATEWAY));
        assert_eq!(
            proxy.body().and_then(|b| b.detail.as_deref()),
            Some("<html>bad gateway</html>")
        );
    }
}
