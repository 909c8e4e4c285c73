//! How long to wait before a retry: exponential, capped, with upward jitter, and never sooner
//! than the server's `Retry-After` (itself capped).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A source of uniform numbers in `[0, 1)` for jitter; injected so tests are deterministic.
pub type Jitter = Arc<dyn Fn() -> f64 + Send + Sync>;

/// The delay before retry number `retry` (1-based): `base × 2^(retry−1)`, plus up to
/// `jitter_fraction` of that at random, capped at `cap`, and at least the server's
/// `Retry-After` capped at `cap`. Jitter only ever adds, so minimums (C-HTTP.7) hold.
pub fn delay(
    base: Duration,
    cap: Duration,
    jitter_fraction: f64,
    retry: u32,
    retry_after: Option<Duration>,
    random: f64,
) -> Duration {
    let exp = base.saturating_mul(
        1u32.checked_shl(retry.saturating_sub(1))
            .unwrap_or(u32::MAX),
    );
    let jitter = exp.mul_f64((jitter_fraction * random).clamp(0.0, 1.0));
    let backoff = exp.saturating_add(jitter).min(cap);
    match retry_after {
        Some(hint) => backoff.max(hint.min(cap)),
        None => backoff,
    }
}

/// Jitter from a small xorshift generator seeded by the clock; good enough to spread
/// retries, not for anything secret.
pub fn default_jitter() -> Jitter {
    static STATE: AtomicU64 = AtomicU64::new(0);
    Arc::new(|| {
        let mut x = STATE.load(Ordering::Relaxed);
        if x == 0 {
            x = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0x9E37_79B9_7F4A_7C15, |d| d.as_nanos() as u64)
                | 1;
        }
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        STATE.store(x, Ordering::Relaxed);
        (x >> 11) as f64 / (1u64 << 53) as f64
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn doubles_from_base_and_caps() {
        let d = |retry, random| delay(300 * MS, 30_000 * MS, 0.25, retry, None, random);
        assert_eq!(d(1, 0.0), 300 * MS);
        assert_eq!(d(2, 0.0), 600 * MS);
        assert_eq!(d(3, 0.0), 1200 * MS);
        assert_eq!(d(1, 0.999_999), Duration::from_nanos(374_999_925));
        assert_eq!(d(40, 0.5), 30_000 * MS);
    }

    #[test]
    fn retry_after_is_a_capped_floor() {
        assert_eq!(
            delay(200 * MS, 30_000 * MS, 0.0, 1, Some(3_000 * MS), 0.0),
            3_000 * MS
        );
        assert_eq!(
            delay(200 * MS, 30_000 * MS, 0.0, 1, Some(90_000 * MS), 0.0),
            30_000 * MS
        );
        assert_eq!(
            delay(2_000 * MS, 30_000 * MS, 0.0, 1, Some(MS), 0.0),
            2_000 * MS
        );
    }

    #[test]
    fn default_jitter_is_in_unit_interval() {
        let j = default_jitter();
        for _ in 0..1000 {
            let x = j();
            assert!((0.0..1.0).contains(&x));
        }
    }
}
