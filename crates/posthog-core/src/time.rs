//! Event timestamps: any offset in, UTC RFC 3339 with a `Z` and the sub-second part out.

use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};

/// A timestamp text that is not RFC 3339 with an explicit offset.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid timestamp {text:?}: expected RFC 3339 with an offset, e.g. 2025-01-02T08:34:05+05:30"
)]
///
/// ```
/// let err = posthog_core::time::parse_timestamp("yesterday").unwrap_err();
/// println!("{err}");
/// ```
pub struct TimestampError {
    text: String,
}

/// Parses RFC 3339 text with an offset (`Z`, `+05:30`, …) into the same instant in UTC.
/// Naive times (no offset) are rejected: their instant is ambiguous.
///
/// ```
/// let t = posthog_core::time::parse_timestamp("2025-01-02T08:34:05+05:30").unwrap();
/// assert_eq!(posthog_core::time::format_timestamp(&t), "2025-01-02T03:04:05.000Z");
/// ```
pub fn parse_timestamp(text: &str) -> Result<DateTime<Utc>, TimestampError> {
    DateTime::<FixedOffset>::parse_from_rfc3339(text.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| TimestampError {
            text: text.to_owned(),
        })
}

/// Formats a UTC instant as RFC 3339 with `Z`, keeping at least milliseconds and more digits
/// when the instant has them (micro- or nanoseconds).
pub fn format_timestamp(t: &DateTime<Utc>) -> String {
    let nanos = t.timestamp_subsec_nanos() % 1_000_000_000;
    let precision = if nanos % 1_000_000 == 0 {
        SecondsFormat::Millis
    } else if nanos % 1_000 == 0 {
        SecondsFormat::Micros
    } else {
        SecondsFormat::Nanos
    };
    t.to_rfc3339_opts(precision, true)
}

/// `serde` helpers writing [`format_timestamp`] and reading any RFC 3339 text.
pub mod serde_utc {
    use super::*;
    use serde::{Deserialize, Deserializer, Serializer};

    /// Serialises an optional instant with [`format_timestamp`] (absent stays absent).
    pub fn serialize<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.serialize_str(&format_timestamp(t)),
            None => s.serialize_none(),
        }
    }

    /// Reads an optional RFC 3339 text into UTC.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        let text = Option::<String>::deserialize(d)?;
        text.map(|t| parse_timestamp(&t).map_err(serde::de::Error::custom))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_keep_their_instant() {
        let t = parse_timestamp("2025-01-02T08:34:05+05:30").unwrap();
        assert_eq!(format_timestamp(&t), "2025-01-02T03:04:05.000Z");
    }

    #[test]
    fn sub_second_digits_are_kept() {
        let t = parse_timestamp("2026-03-01T12:00:04.981123Z").unwrap();
        assert_eq!(format_timestamp(&t), "2026-03-01T12:00:04.981123Z");
        let t = parse_timestamp("2026-03-01T12:00:04.981123456-01:00").unwrap();
        assert_eq!(format_timestamp(&t), "2026-03-01T13:00:04.981123456Z");
    }

    #[test]
    fn naive_times_are_rejected() {
        assert!(parse_timestamp("2020-08-16 09:03:11.913767").is_err());
        assert!(parse_timestamp("not a time").is_err());
    }
}
