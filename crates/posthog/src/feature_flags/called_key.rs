//! The `$feature_flag_called` dedupe key (C-FLAG-CALLED.3): a 64-bit hash of the distinct id,
//! the flag, the response and the group context, computed without allocating.
//!
//! Each part is hashed as its own lane (the lanes' multiplications overlap): two words per
//! 64×64→128-bit multiply folded to 64 bits, with its length mixed in; the lanes are then
//! combined in order. A repeated read waits for about three multiplications. Not for
//! adversarial input: dedupe keys only.

use posthog_core::{FlagValue, Groups};
use posthog_flags::FlagValueRef;

const P0: u64 = 0xA076_1D64_78BD_642F;
const P1: u64 = 0xE703_7ED1_A0B4_28DB;
const P2: u64 = 0x8EBC_6AF0_9C88_C6E3;

/// The 128-bit product of `a` and `b`, its halves folded together.
#[inline]
fn fold_mul(a: u64, b: u64) -> u64 {
    let product = u128::from(a) * u128::from(b);
    (product as u64) ^ ((product >> 64) as u64)
}

/// One part of a key, from `seed`, with its length mixed in (so `("ab", "c")` and
/// `("a", "bc")` differ). Up to 16 bytes (ids, flag keys, values) take one multiply on words
/// loaded directly (the two may overlap; with the length they still identify the bytes);
/// longer parts fold their words in pairs, the last pair padded with zero.
#[inline(always)]
fn part(seed: u64, bytes: &[u8]) -> u64 {
    let len = bytes.len();
    let start = seed ^ (len as u64).wrapping_mul(P2);
    if len <= 16 {
        let (a, b) = short_words(bytes);
        return fold_mul(start ^ a, b ^ P1);
    }
    let (acc, odd) =
        posthog_core::words::fold_words(bytes, (start, None), |(acc, odd), word| match odd {
            None => (acc, Some(word)),
            Some(first) => (fold_mul(acc ^ first, word ^ P1), None),
        });
    match odd {
        Some(first) => fold_mul(acc ^ first, P1),
        None => acc,
    }
}

/// Up to 16 bytes as two words: 9–16 bytes as the first and last eight, fewer as one word
/// ([`posthog_core::words::tail_word`]).
#[inline(always)]
fn short_words(bytes: &[u8]) -> (u64, u64) {
    let n = bytes.len();
    if n <= 8 {
        return (posthog_core::words::tail_word(bytes), 0);
    }
    let u64_at = |i: usize| {
        let mut word = [0u8; 8];
        word.copy_from_slice(&bytes[i..i + 8]);
        u64::from_le_bytes(word)
    };
    (u64_at(0), u64_at(n - 8))
}

/// The dedupe key: distinct id, flag, response and group context (`Groups` is a B-tree, so
/// already sorted by group type). Booleans and "no value" are tagged so no variant can equal
/// them.
pub(crate) fn key(
    distinct_id: &str,
    flag: &str,
    response: Option<&FlagValue>,
    groups: &Groups,
) -> u64 {
    let response = match response {
        None => NO_VALUE,
        Some(FlagValue::Bool(b)) => bool_text(*b),
        Some(FlagValue::Variant(v)) => v,
    };
    key_text(distinct_id, flag, response, groups)
}

/// [`key`] for a value local evaluation decided, passed in registers: the fast path of a read
/// copies nothing.
#[inline]
pub(crate) fn key_ref(
    distinct_id: &str,
    flag: &str,
    response: FlagValueRef<'_>,
    groups: &Groups,
) -> u64 {
    let response = match response {
        FlagValueRef::Bool(b) => bool_text(b),
        FlagValueRef::Variant(v) => v,
    };
    key_text(distinct_id, flag, response, groups)
}

/// How "no value" is hashed.
const NO_VALUE: &str = "\u{0}null";

/// How booleans are hashed (tagged, so no variant can equal them).
#[inline]
fn bool_text(b: bool) -> &'static str {
    if b { "\u{0}true" } else { "\u{0}false" }
}

#[inline]
fn key_text(distinct_id: &str, flag: &str, response: &str, groups: &Groups) -> u64 {
    let (id, flag, response) = (
        part(0x243F_6A88_85A3_08D3, distinct_id.as_bytes()),
        part(0x1319_8A2E_0370_7344, flag.as_bytes()),
        part(0xA409_3822_299F_31D0, response.as_bytes()),
    );
    let mut h = fold_mul(id ^ P0, flag ^ P1);
    if !groups.is_empty() {
        for (group_type, group_key) in groups {
            let (t, k) = (
                part(0x082E_FA98_EC4E_6C89, group_type.as_bytes()),
                part(0x4528_21E6_38D0_1377, group_key.as_bytes()),
            );
            h = fold_mul(h ^ t, k ^ P0);
        }
    }
    fold_mul(h ^ response, P2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn borrowed_and_owned_values_make_the_same_key() {
        let acme: Groups = [("company".to_owned(), "acme".to_owned())].into();
        let blue = FlagValue::Variant("blue".into());
        assert_eq!(
            key("u", "f", Some(&blue), &acme),
            key_ref("u", "f", FlagValueRef::Variant("blue"), &acme)
        );
        assert_eq!(
            key("u", "f", Some(&FlagValue::Bool(false)), &acme),
            key_ref("u", "f", FlagValueRef::Bool(false), &acme)
        );
    }

    #[test]
    fn keys_separate_their_parts() {
        let none = Groups::new();
        let on = Some(FlagValue::Bool(true));
        assert_ne!(
            key("ab", "c", on.as_ref(), &none),
            key("a", "bc", on.as_ref(), &none)
        );
        assert_ne!(
            key("u", "f", on.as_ref(), &none),
            key("u", "f", Some(&FlagValue::Variant("true".into())), &none)
        );
        assert_ne!(
            key("u", "f", None, &none),
            key("u", "f", Some(&FlagValue::Variant("null".into())), &none)
        );
        let acme: Groups = [("company".to_owned(), "acme".to_owned())].into();
        assert_ne!(
            key("u", "f", on.as_ref(), &none),
            key("u", "f", on.as_ref(), &acme)
        );
        assert_eq!(
            key("u", "f", on.as_ref(), &acme),
            key("u", "f", on.as_ref(), &acme.clone())
        );
    }

    #[test]
    fn lengths_and_long_parts_are_hashed_whole() {
        let none = Groups::new();
        let on = Some(FlagValue::Bool(true));
        let hundred = "x".repeat(100);
        let ids = [
            "",
            "a",
            "user-123",
            "user-1234",
            "0123456789abcdef",
            "0123456789abcdef0",
            hundred.as_str(),
        ];
        let keys: std::collections::HashSet<u64> = ids
            .iter()
            .map(|id| key(id, "f", on.as_ref(), &none))
            .collect();
        assert_eq!(keys.len(), ids.len(), "each id its own key");
        let long_a = format!("{}a{}", "x".repeat(40), "y".repeat(40));
        let long_b = format!("{}b{}", "x".repeat(40), "y".repeat(40));
        assert_ne!(
            key(&long_a, "f", on.as_ref(), &none),
            key(&long_b, "f", on.as_ref(), &none)
        );
        let g1: Groups = [("a".to_owned(), "b".to_owned())].into();
        let g2: Groups = [("ab".to_owned(), String::new())].into();
        assert_ne!(
            key("u", "f", on.as_ref(), &g1),
            key("u", "f", on.as_ref(), &g2)
        );
    }

    proptest::proptest! {
        /// Keys are equal exactly when the parts are (over short and long texts, so both
        /// the direct-load and the folding paths are exercised).
        #[test]
        fn keys_are_equal_only_for_equal_parts(
            a in "[a-z0-9-]{0,40}", b in "[a-z0-9-]{0,40}",
            flag_a in "[a-z-]{1,20}", flag_b in "[a-z-]{1,20}",
            group in proptest::option::of("[a-z]{0,20}"),
            pos in proptest::prelude::any::<proptest::sample::Index>(),
        ) {
            let groups: Groups = group.iter().map(|g| ("company".to_owned(), g.clone())).collect();
            let on = Some(FlagValue::Bool(true));
            let same = a == b && flag_a == flag_b;
            let (ka, kb) = (key(&a, &flag_a, on.as_ref(), &groups), key(&b, &flag_b, on.as_ref(), &groups));
            proptest::prop_assert_eq!(ka == kb, same);
            // Changing any one byte changes the key.
            if !a.is_empty() {
                let at = pos.index(a.len());
                let mut changed = a.clone().into_bytes();
                changed[at] = if changed[at] == b'x' { b'y' } else { b'x' };
                let changed = String::from_utf8(changed).unwrap_or_default();
                proptest::prop_assert_ne!(ka, key(&changed, &flag_a, on.as_ref(), &groups));
            }
            // Moving bytes from one part to the next changes the key.
            if !a.is_empty() {
                let moved = format!("{}{}", &a[a.len() - 1..], flag_a);
                proptest::prop_assert_ne!(ka, key(&a[..a.len() - 1], &moved, on.as_ref(), &groups));
            }
        }
    }
}
