//! A small, fast hasher for the flag-key index. Keys come from the project's own definitions,
//! so resistance to crafted collisions (what std's SipHash buys) is not needed on this path.

use std::hash::{BuildHasherDefault, Hasher};

/// The multiply-rotate hash used by rustc ("FxHash"), over 8-byte words.
#[derive(Default, Clone, Copy, Debug)]
pub(crate) struct FxHasher {
    hash: u64,
}

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

/// One word into the hash.
#[inline]
fn step(hash: u64, word: u64) -> u64 {
    (hash.rotate_left(5) ^ word).wrapping_mul(SEED)
}

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = step(self.hash, word);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let hash = step(self.hash, bytes.len() as u64);
        self.hash = posthog_core::words::fold_words(bytes, hash, step);
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.hash
    }
}

/// `HashMap` builder using [`FxHasher`].
pub(crate) type FxBuild = BuildHasherDefault<FxHasher>;

/// A map keyed by flag key, cohort id or payload key.
pub(crate) type FxMap<K, V> = std::collections::HashMap<K, V, FxBuild>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinct_keys_hash_differently() {
        let h = |s: &str| {
            let mut hasher = FxHasher::default();
            hasher.write(s.as_bytes());
            hasher.finish()
        };
        assert_ne!(h("rollout-1"), h("rollout-2"));
        assert_ne!(h("a"), h("a\0"));
        assert_eq!(h("beta-ui"), h("beta-ui"));
    }
}
