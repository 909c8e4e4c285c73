//! [`RequestPolicy`]: how one request is timed, retried and compressed, carried in the
//! request's extensions so a single stack serves endpoints with different rules.

use std::time::Duration;

use crate::retry::RetryPolicy;

/// Per-request settings read by the timeout, retry and gzip layers. Requests without one get
/// each layer's default.
///
/// ```
/// use posthog_transport::{RequestPolicy, RetryPolicy};
/// let mut request = http::Request::new(bytes::Bytes::new());
/// RequestPolicy { retry: RetryPolicy::flags(1), timeout: Some(std::time::Duration::from_secs(3)), gzip: false }
///     .apply(&mut request);
/// assert!(RequestPolicy::of(&request).is_some());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct RequestPolicy {
    /// Which failures are retried, how often and how long to wait.
    pub retry: RetryPolicy,
    /// The limit for each attempt.
    pub timeout: Option<Duration>,
    /// Whether the gzip layer compresses the body.
    pub gzip: bool,
}

impl RequestPolicy {
    /// No retries, no timeout, no compression.
    pub fn none() -> Self {
        Self {
            retry: RetryPolicy::none(),
            timeout: None,
            gzip: false,
        }
    }

    /// Attaches this policy to a request.
    pub fn apply<B>(self, request: &mut http::Request<B>) {
        request.extensions_mut().insert(self);
    }

    /// The policy attached to a request, if any.
    pub fn of<B>(request: &http::Request<B>) -> Option<&RequestPolicy> {
        request.extensions().get::<RequestPolicy>()
    }
}
