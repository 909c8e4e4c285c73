//! The flag hash: SHA-1 of `key + separator + bucketing value + salt`, read as a number in `[0, 1]`.
//!
//! PostHog buckets a subject for a flag by hashing `"<flag key>.<distinct id><salt>"` with SHA-1,
//! taking the first 15 hex digits (60 bits) as an integer and dividing by `2^60 - 1`. The salt is
//! empty for the rollout check and `"variant"` for variant selection; holdouts hash
//! `"holdout-<bucketing value>"`. The division is done in `f64` exactly as the reference SDK does,
//! so results agree bit for bit.

use sha1::digest::consts::U64;
use sha1::digest::generic_array::GenericArray;
use sha1::{Digest, Sha1};

/// One 64-byte SHA-1 block.
type Block = GenericArray<u8, U64>;

fn to_blocks(bytes: &[u8]) -> Vec<Block> {
    bytes
        .chunks_exact(64)
        .map(Block::clone_from_slice)
        .collect()
}

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

/// SHA-1's initial state.
const SHA1_INIT: [u32; 5] = [
    0x6745_2301,
    0xEFCD_AB89,
    0x98BA_DCFE,
    0x1032_5476,
    0xC3D2_E1F0,
];

/// A SHA-1 state with `"<key><separator>"` already absorbed, so each bucketing call hashes only
/// the subject's bytes. A typical call pads one 64-byte block on the stack and runs a single
/// SHA-1 compression; it never allocates for inputs up to 119 bytes.
///
/// ```
/// use posthog_core::hash::{BucketHasher, bucket};
/// // The flag key's hash state once, then each subject: the same answer as `bucket`.
/// let hasher = BucketHasher::new("beta", ".");
/// assert_eq!(hasher.bucket("user-123", ""), bucket("beta", "user-123", ""));
/// ```
#[derive(Clone)]
pub struct BucketHasher {
    /// State after the prefix's whole 64-byte blocks.
    state: [u32; 5],
    /// The prefix bytes after those blocks (fewer than 64), then zeros.
    tail: [u8; 64],
    tail_len: usize,
    /// Bytes of the prefix absorbed into `state`.
    absorbed: u64,
}

impl std::fmt::Debug for BucketHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BucketHasher").finish_non_exhaustive()
    }
}

impl BucketHasher {
    /// Precomputes the state for `key + separator`.
    pub fn new(key: &str, separator: &str) -> Self {
        let prefix = [key.as_bytes(), separator.as_bytes()].concat();
        let whole = prefix.len() / 64 * 64;
        let mut state = SHA1_INIT;
        sha1::compress(&mut state, &to_blocks(&prefix[..whole]));
        let mut tail = [0u8; 64];
        tail[..prefix.len() - whole].copy_from_slice(&prefix[whole..]);
        Self {
            state,
            tail,
            tail_len: prefix.len() - whole,
            absorbed: whole as u64,
        }
    }

    /// Finishes the hash for one bucketing value and salt, in `[0, 1]`.
    #[inline]
    pub fn bucket(&self, bucketing_value: &str, salt: &str) -> f64 {
        let (value, salt) = (bucketing_value.as_bytes(), salt.as_bytes());
        let len = self.tail_len + value.len() + salt.len();
        let bit_len = (self.absorbed + len as u64).wrapping_mul(8);
        // Message + 0x80 + 8 length bytes, rounded up to whole blocks.
        let padded = (len + 9).div_ceil(64) * 64;
        let mut state = self.state;
        if padded == 64 {
            // The tail is zero after `tail_len`, so the block starts as a copy of it.
            let mut block = self.tail;
            let mut at = self.tail_len;
            for part in [value, salt] {
                block[at..at + part.len()].copy_from_slice(part);
                at += part.len();
            }
            block[at] = 0x80;
            block[56..].copy_from_slice(&bit_len.to_be_bytes());
            sha1::compress(&mut state, std::slice::from_ref(Block::from_slice(&block)));
        } else if padded <= 128 {
            let mut buf = [0u8; 128];
            fill(
                &mut buf[..padded],
                &self.tail[..self.tail_len],
                value,
                salt,
                bit_len,
            );
            let mut blocks = [Block::default(); 2];
            blocks[0].copy_from_slice(&buf[..64]);
            blocks[1].copy_from_slice(&buf[64..]);
            sha1::compress(&mut state, &blocks[..padded / 64]);
        } else {
            let mut buf = vec![0u8; padded];
            fill(&mut buf, &self.tail[..self.tail_len], value, salt, bit_len);
            sha1::compress(&mut state, &to_blocks(&buf));
        }
        // The first 15 hex digits of the digest are the top 60 bits of h0 and h1.
        let first64 = (u64::from(state[0]) << 32) | u64::from(state[1]);
        (first64 >> 4) as f64 / HASH_DIVISOR
    }
}

/// Writes `tail ‖ value ‖ salt ‖ 0x80 ‖ zeros ‖ bit length (big-endian)` into `buf`.
#[inline]
fn fill(buf: &mut [u8], tail: &[u8], value: &[u8], salt: &[u8], bit_len: u64) {
    let mut at = 0;
    for part in [tail, value, salt] {
        buf[at..at + part.len()].copy_from_slice(part);
        at += part.len();
    }
    buf[at] = 0x80;
    let end = buf.len();
    buf[end - 8..].copy_from_slice(&bit_len.to_be_bytes());
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
    fn long_inputs_span_several_blocks() {
        let key = "k".repeat(150);
        for id in ["", "user", &"u".repeat(70), &"x".repeat(200)] {
            let direct = digest_to_unit(&sha1_digest(format!("{key}.{id}variant").as_bytes()));
            assert_eq!(
                BucketHasher::new(&key, ".").bucket(id, VARIANT_SALT),
                direct,
                "{id}"
            );
        }
    }

    #[test]
    fn variant_salt_changes_the_hash() {
        assert_eq!(
            bucket("beta-ui", "user-123", VARIANT_SALT),
            0.19707029979423124
        );
    }
}
