//! Rate limiting of autocaptured exceptions (Python's `enable_exception_autocapture_rate_limiting`
//! and its three settings): one token bucket per exception type. Manual captures are never
//! limited.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The settings of [`crate::ClientBuilder::exception_autocapture_rate_limit`], clamped as
/// PostHog's SDKs clamp them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RateLimit {
    /// Tokens a type starts with and may hold (0–100; PostHog's default 50).
    pub(crate) bucket_size: u32,
    /// Tokens given back per whole interval (0–`bucket_size`; default 10).
    pub(crate) refill_rate: u32,
    /// The interval (at most a day; default 10 s). Zero refills the bucket on every capture.
    pub(crate) refill_interval: Duration,
}

impl RateLimit {
    pub(crate) fn new(bucket_size: u32, refill_rate: u32, refill_interval: Duration) -> Self {
        let bucket_size = bucket_size.min(100);
        Self {
            bucket_size,
            refill_rate: refill_rate.min(bucket_size),
            refill_interval: refill_interval.min(Duration::from_secs(86_400)),
        }
    }
}

#[derive(Debug)]
struct Bucket {
    tokens: u32,
    last_refill: Instant,
}

/// Buckets by exception type.
#[derive(Debug)]
pub(crate) struct Limiter {
    limit: RateLimit,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl Limiter {
    pub(crate) fn new(limit: RateLimit) -> Self {
        Self {
            limit,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes a token for `kind`; `true` when the capture must be skipped. The capture that
    /// takes the last token is itself skipped, so a fresh bucket lets `bucket_size - 1`
    /// through (PostHog's SDKs behave so).
    pub(crate) fn limited(&self, kind: &str, now: Instant) -> bool {
        let Ok(mut buckets) = self.buckets.lock() else {
            return false;
        };
        let limit = self.limit;
        let bucket = buckets.entry(kind.to_owned()).or_insert(Bucket {
            tokens: limit.bucket_size,
            last_refill: now,
        });
        if limit.refill_interval.is_zero() {
            bucket.tokens = limit.bucket_size;
            bucket.last_refill = now;
        } else {
            let elapsed = now.saturating_duration_since(bucket.last_refill);
            let intervals = elapsed.as_nanos() / limit.refill_interval.as_nanos();
            if intervals > 0 {
                let add = u32::try_from(intervals)
                    .unwrap_or(u32::MAX)
                    .saturating_mul(limit.refill_rate);
                bucket.tokens = bucket.tokens.saturating_add(add).min(limit.bucket_size);
                // Whole intervals only: the remainder counts towards the next refill.
                let whole = u32::try_from(intervals).unwrap_or(u32::MAX);
                bucket.last_refill += limit.refill_interval.saturating_mul(whole);
            }
        }
        if bucket.tokens == 0 {
            return true;
        }
        bucket.tokens -= 1;
        bucket.tokens == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fresh_bucket_lets_size_minus_one_through_then_refills_by_whole_intervals() {
        let limiter = Limiter::new(RateLimit::new(5, 2, Duration::from_secs(10)));
        let start = Instant::now();
        let passed = (0..10)
            .filter(|_| !limiter.limited("Timeout", start))
            .count();
        assert_eq!(passed, 4);
        assert!(!limiter.limited("Other", start), "one bucket per type");
        // 9.9 s: no whole interval yet.
        assert!(limiter.limited("Timeout", start + Duration::from_millis(9_900)));
        // 25 s: two intervals, four tokens; the fourth capture takes the last one.
        let later = start + Duration::from_secs(25);
        let passed = (0..10)
            .filter(|_| !limiter.limited("Timeout", later))
            .count();
        assert_eq!(passed, 3);
    }

    #[test]
    fn settings_are_clamped() {
        let limit = RateLimit::new(1_000, 500, Duration::from_secs(999_999));
        assert_eq!(limit.bucket_size, 100);
        assert_eq!(limit.refill_rate, 100);
        assert_eq!(limit.refill_interval, Duration::from_secs(86_400));
    }
}
