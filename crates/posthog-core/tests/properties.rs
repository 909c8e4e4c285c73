//! Invariants of timestamps and the hash, checked with proptest.

use chrono::{DateTime, FixedOffset, TimeZone, Utc};
use posthog_core::Event;
use posthog_core::time::{format_timestamp, parse_timestamp};
use proptest::prelude::*;

proptest! {
    /// Any instant with any offset comes out as the same instant in UTC with a `Z`.
    #[test]
    fn timestamps_keep_their_instant(secs in 0i64..253_402_300_799, nanos in 0u32..1_000_000_000, offset_min in -1439i32..=1439) {
        let offset = FixedOffset::east_opt(offset_min * 60).unwrap();
        let utc = Utc.timestamp_opt(secs, nanos).unwrap();
        let local: DateTime<FixedOffset> = utc.with_timezone(&offset);
        let event = Event::new("e", "u").timestamp(local);
        let text = format_timestamp(&event.get_timestamp().unwrap());
        prop_assert!(text.ends_with('Z'));
        prop_assert_eq!(parse_timestamp(&text).unwrap(), utc);
        prop_assert_eq!(parse_timestamp(&local.to_rfc3339()).unwrap(), utc);
    }

    /// The precomputed-prefix hasher agrees with a plain SHA-1 of the whole input, for inputs
    /// of every length (one block, two blocks, many).
    #[test]
    fn bucket_hasher_matches_plain_sha1(key in ".{0,150}", id in ".{0,150}", salt in prop::sample::select(&["", "variant"][..])) {
        let fast = posthog_core::hash::BucketHasher::new(&key, ".").bucket(&id, salt);
        let plain = posthog_core::hash::digest_to_unit(&posthog_core::hash::sha1_digest(format!("{key}.{id}{salt}").as_bytes()));
        prop_assert_eq!(fast, plain);
    }

    /// The bucket only depends on the bytes of key + separator + value + salt.
    #[test]
    fn bucket_depends_on_the_concatenation(a in "[a-z]{0,8}", b in "[a-z]{0,8}") {
        let joined = posthog_core::hash::bucket(&a, &b, "variant");
        let direct = posthog_core::hash::digest_to_unit(&posthog_core::hash::sha1_digest(format!("{a}.{b}variant").as_bytes()));
        prop_assert_eq!(joined, direct);
    }
}
