//! [`RetryPolicy`]: which failures are retried, how many times, and how long to wait.

use std::time::Duration;

use super::classify::RetryOn;

/// The most retries a flags policy accepts (C-HTTP.7 clamps the setting to a small maximum).
pub const MAX_FLAG_RETRIES: u32 = 3;

/// A retry schedule.
///
/// ```
/// use posthog_transport::RetryPolicy;
/// let policy = RetryPolicy::ingestion(3);
/// assert_eq!(policy.max_retries, 3);
/// assert_eq!(RetryPolicy::none().max_retries, 0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Which outcomes are retried.
    pub retry_on: RetryOn,
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// The wait before the first retry; it doubles after each.
    pub base: Duration,
    /// The longest wait, also the cap on `Retry-After`.
    pub cap: Duration,
    /// Up to this fraction of the exponential wait is added at random.
    pub jitter: f64,
}

impl RetryPolicy {
    /// Never retry.
    pub fn none() -> Self {
        Self {
            retry_on: RetryOn::Never,
            max_retries: 0,
            base: Duration::ZERO,
            cap: Duration::ZERO,
            jitter: 0.0,
        }
    }

    /// Ingestion (C-RETRY-QUEUE): no response, 408, 429, 5xx; 3 retries; 200 ms doubling with
    /// up to 25 % jitter, capped at 30 s; `Retry-After` honoured as a floor.
    pub fn ingestion(max_retries: u32) -> Self {
        Self {
            retry_on: RetryOn::Ingestion,
            max_retries,
            base: Duration::from_millis(200),
            cap: Duration::from_secs(30),
            jitter: 0.25,
        }
    }

    /// Remote flags (C-HTTP.6, C-HTTP.7): no response, 502, 504; `retries` clamped to
    /// [`MAX_FLAG_RETRIES`]; at least 300 ms, then 600 ms, doubling.
    pub fn flags(retries: u32) -> Self {
        Self {
            retry_on: RetryOn::Flags,
            max_retries: retries.min(MAX_FLAG_RETRIES),
            base: Duration::from_millis(300),
            cap: Duration::from_secs(5),
            jitter: 0.1,
        }
    }

    /// Idempotent private-API reads: no response, 429, 502–504; waits as told by
    /// `Retry-After` up to 60 s. A longer `Retry-After` is not waited for: the answer is
    /// returned at once, so the caller sees how long PostHog asked it to wait.
    pub fn api_read(max_retries: u32) -> Self {
        Self {
            retry_on: RetryOn::ApiRead,
            max_retries,
            base: Duration::from_millis(500),
            cap: Duration::from_secs(60),
            jitter: 0.25,
        }
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self::none()
    }
}
