//! Which outcomes are worth another attempt (C-RETRY-QUEUE.1, C-HTTP.6), apart from timing.

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{Response, StatusCode};

use crate::TransportError;

/// What to do with one attempt's outcome.
///
/// ```
/// use posthog_transport::retry::{RetryOn, Verdict};
/// let ok = Ok(http::Response::new(bytes::Bytes::new()));
/// assert_eq!(RetryOn::Ingestion.classify(&ok), Verdict::Success);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// 2xx: done.
    Success,
    /// Try again, not sooner than `retry_after` when the server said so.
    Retry {
        /// The server's `Retry-After`.
        retry_after: Option<Duration>,
    },
    /// Do not try again.
    Final,
}

/// Which rule set classifies outcomes.
///
/// ```
/// use posthog_transport::retry::RetryOn;
/// assert!(RetryOn::Ingestion.retries_status(http::StatusCode::SERVICE_UNAVAILABLE));
/// assert!(!RetryOn::Ingestion.retries_status(http::StatusCode::BAD_REQUEST));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RetryOn {
    /// Ingestion: no response, 408, 429 and every 5xx (C-RETRY-QUEUE.1).
    Ingestion,
    /// Remote flags: no response, 502 and 504 only (C-HTTP.6).
    Flags,
    /// Idempotent private-API reads: no response, 429, 502, 503 and 504.
    ApiRead,
    /// Nothing is retried.
    Never,
}

impl RetryOn {
    /// Whether a `Retry-After` longer than the policy's cap ends the retries at once (the
    /// caller gets the answer and its `Retry-After`) instead of waiting the cap and asking
    /// again too early: private-API reads, whose callers are waiting.
    pub fn gives_up_past_cap(self) -> bool {
        matches!(self, RetryOn::ApiRead)
    }

    /// Classifies an outcome.
    pub fn classify(self, outcome: &Result<Response<Bytes>, TransportError>) -> Verdict {
        match outcome {
            Ok(response) if response.status().is_success() => Verdict::Success,
            Ok(response) => {
                if self.retries_status(response.status()) {
                    Verdict::Retry {
                        retry_after: retry_after(response.headers()),
                    }
                } else {
                    Verdict::Final
                }
            }
            Err(err) if err.is_no_response() && self != RetryOn::Never => {
                Verdict::Retry { retry_after: None }
            }
            Err(_) => Verdict::Final,
        }
    }

    /// Whether a status is retried under these rules.
    pub fn retries_status(self, status: StatusCode) -> bool {
        let code = status.as_u16();
        match self {
            RetryOn::Ingestion => code == 408 || code == 429 || status.is_server_error(),
            RetryOn::Flags => code == 502 || code == 504,
            RetryOn::ApiRead => matches!(code, 429 | 502 | 503 | 504),
            RetryOn::Never => false,
        }
    }
}

/// Parses `Retry-After`: delta-seconds or an HTTP date (IMF-fixdate, RFC 850, asctime).
/// Zero, empty, past dates and anything unreadable mean "no hint".
pub fn retry_after(headers: &http::HeaderMap) -> Option<Duration> {
    let text = headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    parse_retry_after(text, SystemTime::now())
}

/// [`retry_after`] on a header value, relative to `now`.
pub fn parse_retry_after(text: &str, now: SystemTime) -> Option<Duration> {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        let secs: u64 = text.parse().ok()?;
        return (secs > 0).then(|| Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(text).ok()?;
    at.duration_since(now).ok().filter(|d| !d.is_zero())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16) -> Result<Response<Bytes>, TransportError> {
        Ok(Response::builder()
            .status(status)
            .body(Bytes::new())
            .unwrap())
    }

    #[test]
    fn ingestion_rules() {
        for code in [408, 429, 500, 502, 503, 504, 599] {
            assert!(
                matches!(
                    RetryOn::Ingestion.classify(&response(code)),
                    Verdict::Retry { .. }
                ),
                "{code}"
            );
        }
        for code in [400, 401, 402, 403, 404, 413, 415] {
            assert_eq!(
                RetryOn::Ingestion.classify(&response(code)),
                Verdict::Final,
                "{code}"
            );
        }
        assert_eq!(
            RetryOn::Ingestion.classify(&response(204)),
            Verdict::Success
        );
        let timeout = Err(TransportError::timeout());
        assert!(matches!(
            RetryOn::Ingestion.classify(&timeout),
            Verdict::Retry { .. }
        ));
        assert_eq!(
            RetryOn::Ingestion.classify(&Err(TransportError::decode("x"))),
            Verdict::Final
        );
    }

    #[test]
    fn flags_rules_c_http_6() {
        for code in [502, 504] {
            assert!(
                matches!(
                    RetryOn::Flags.classify(&response(code)),
                    Verdict::Retry { .. }
                ),
                "{code}"
            );
        }
        for code in [408, 429, 500, 503, 400] {
            assert_eq!(
                RetryOn::Flags.classify(&response(code)),
                Verdict::Final,
                "{code}"
            );
        }
        assert!(matches!(
            RetryOn::Flags.classify(&Err(TransportError::timeout())),
            Verdict::Retry { .. }
        ));
    }

    #[test]
    fn retry_after_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(parse_retry_after("3", now), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after("0", now), None);
        assert_eq!(parse_retry_after("", now), None);
        assert_eq!(parse_retry_after("soon", now), None);
        let later = httpdate::fmt_http_date(now + Duration::from_secs(10));
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(10))
        );
        let past = httpdate::fmt_http_date(now - Duration::from_secs(10));
        assert_eq!(parse_retry_after(&past, now), None);
        assert_eq!(
            parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", now),
            None
        );
    }
}
