//! Byte strings read as little-endian 64-bit words, for the SDK's small in-memory hashers
//! (the flag-key index, the `$feature_flag_called` dedupe keys). Not a wire format.

/// Folds the words of `bytes` into `init`: each whole 8-byte chunk, then the last 1–7 bytes
/// as one word (none when the length is a multiple of 8).
///
/// The tail is read in at most two loads instead of a byte-by-byte copy, which costs more
/// than the hashing itself for short keys. Its bytes may overlap, so the word alone does not
/// identify the tail; together with the length (which hashers mix in first) it does: for a
/// given length every byte of the tail lands in the word.
///
/// ```
/// use posthog_core::words::fold_words;
/// let words = |b: &[u8]| fold_words(b, Vec::new(), |mut v, w| { v.push(w); v });
/// assert_eq!(words(b"abcdefghij").len(), 2);
/// assert_eq!(words(b"abcdefgh"), [u64::from_le_bytes(*b"abcdefgh")]);
/// assert_ne!(words(b"ab"), words(b"ba"));
/// ```
#[inline]
pub fn fold_words<A>(bytes: &[u8], init: A, mut f: impl FnMut(A, u64) -> A) -> A {
    let mut chunks = bytes.chunks_exact(8);
    let mut acc = init;
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        acc = f(acc, u64::from_le_bytes(word));
    }
    let tail = chunks.remainder();
    if tail.is_empty() {
        acc
    } else {
        f(acc, tail_word(tail))
    }
}

/// Up to 8 bytes as one word, read in at most two loads: 4–8 bytes as their first and last
/// four (which may overlap), 1–3 as their first, middle and last byte. With the length it
/// identifies the bytes (see [`fold_words`], which reads a key's last 1–7 bytes with it).
///
/// ```
/// use posthog_core::words::tail_word;
/// assert_eq!(tail_word(b"abcdefgh"), u64::from_le_bytes(*b"abcdefgh"));
/// assert_ne!(tail_word(b"ab"), tail_word(b"ba"));
/// assert_eq!(tail_word(b""), 0);
/// ```
#[inline]
pub fn tail_word(tail: &[u8]) -> u64 {
    let n = tail.len();
    let u32_at = |i: usize| {
        let mut word = [0u8; 4];
        word.copy_from_slice(&tail[i..i + 4]);
        u64::from(u32::from_le_bytes(word))
    };
    match n {
        4.. => u32_at(0) | (u32_at(n - 4) << 32),
        1.. => u64::from(tail[0]) | (u64::from(tail[n / 2]) << 8) | (u64::from(tail[n - 1]) << 16),
        0 => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn words(bytes: &[u8]) -> Vec<u64> {
        fold_words(bytes, Vec::new(), |mut v, w| {
            v.push(w);
            v
        })
    }

    #[test]
    fn whole_words_and_no_empty_tail() {
        assert_eq!(words(b"").len(), 0);
        assert_eq!(words(b"12345678").len(), 1);
        assert_eq!(words(b"123456789").len(), 2);
    }

    proptest! {
        /// Two different strings of one length never give the same words.
        #[test]
        fn same_length_strings_differ(a in proptest::collection::vec(any::<u8>(), 0..24), flip in any::<usize>(), bit in 0u8..8) {
            prop_assume!(!a.is_empty());
            let mut b = a.clone();
            let i = flip % b.len();
            b[i] ^= 1 << bit;
            prop_assert_ne!(words(&a), words(&b));
        }
    }
}
