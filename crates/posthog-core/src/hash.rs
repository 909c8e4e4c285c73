//! The flag hash: SHA-1 of `key + separator + bucketing value + salt`, read as a number in `[0, 1]`.
//!
//! PostHog buckets a subject for a flag by hashing `"<flag key>.<distinct id><salt>"` with SHA-1,
//! taking the first 15 hex digits (60 bits) as an integer and dividing by `2^60 - 1`. The salt is
//! empty for the rollout check and `"variant"` for variant selection; holdouts hash
//! `"holdout-<bucketing value>"`. The division is done in `f64` exactly as the reference SDK does,
//! so results agree bit for bit.

use sha1::{Digest, Sha1};

/// `2^60 - 1` (fifteen hex `F`s), the divisor of the 60-bit hash prefix.
pub const HASH_DIVISOR: f64 = 0x0FFF_FFFF_FFFF_FFFF_u64 as f64;

/// Salt appended to the bucketing value when choosing a multivariate variant.
pub const VARIANT_SALT: &str = "variant";

/// Hashes `key + "." + bucketing_value + salt` into `[0, 1]`.
///
/// ```
/// use posthog_core::hash::bucket;
/// let h = bucket("beta-ui", "user-123", "");
/// assert!((0.0..=1.0).contains(&h));
/// assert_eq!(h, 0.012322769931813707);
/// ```
pub fn bucket(key: &str, bucketing_value: &str, salt: &str) -> f64 {
    BucketHasher::new(key, ".").bucket(bucketing_value, salt)
}

/// The holdout hash: `"holdout-" + bucketing_value`, read into `[0, 1]`.
pub fn holdout_bucket(bucketing_value: &str) -> f64 {
    BucketHasher::new("holdout", "-").bucket(bucketing_value, "")
}

/// Turns a SHA-1 digest into the bucket number: first 60 bits over `2^60 - 1`.
pub fn digest_to_unit(digest: &[u8; 20]) -> f64 {
    let mut first8 = [0u8; 8];
    first8.copy_from_slice(&digest[..8]);
    // 15 hex digits = the top 60 bits of the first 8 bytes.
    let value = u64::from_be_bytes(first8) >> 4;
    value as f64 / HASH_DIVISOR
}

/// A SHA-1 state with `"<key><separator>"` already absorbed, so each bucketing call hashes only
/// the subject's bytes. Cloning it is a memcpy of about 100 bytes; it never allocates.
#[derive(Clone)]
pub struct BucketHasher {
    prefix: Sha1,
}

impl std::fmt::Debug for BucketHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BucketHasher").finish_non_exhaustive()
    }
}

impl BucketHasher {
    /// Precomputes the state for `key + separator`.
    pub fn new(key: &str, separator: &str) -> Self {
        let mut prefix = Sha1::new();
        prefix.update(key.as_bytes());
        prefix.update(separator.as_bytes());
        Self { prefix }
    }

    /// Finishes the hash for one bucketing value and salt, in `[0, 1]`.
    pub fn bucket(&self, bucketing_value: &str, salt: &str) -> f64 {
        let mut state = self.prefix.clone();
        state.update(bucketing_value.as_bytes());
        if !salt.is_empty() {
            state.update(salt.as_bytes());
        }
        let digest: [u8; 20] = state.finalize().into();
        digest_to_unit(&digest)
    }
}

/// One full SHA-1 of `input`, the cost floor of a bucketing call (used by benchmarks).
pub fn sha1_digest(input: &[u8]) -> [u8; 20] {
    Sha1::digest(input).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn divisor_is_two_pow_sixty_minus_one() {
        assert_eq!(HASH_DIVISOR, 1_152_921_504_606_846_975.0);
    }

    #[test]
    fn all_ones_prefix_is_one_and_zero_is_zero() {
        assert_eq!(digest_to_unit(&[0xff; 20]), 1.0);
        assert_eq!(digest_to_unit(&[0; 20]), 0.0);
    }

    #[test]
    fn holdout_uses_dash_separator() {
        assert_eq!(holdout_bucket("user-1"), 0.17805599206573022);
    }

    #[test]
    fn variant_salt_changes_the_hash() {
        assert_eq!(bucket("beta-ui", "user-123", VARIANT_SALT), 0.19707029979423124);
    }
}
