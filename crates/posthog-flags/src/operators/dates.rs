//! Date filters (flags.md §5.7): relative (`-7d`) and absolute texts, as CPython 3.11's
//! `datetime.fromisoformat` reads them after PostHog's pre-processing.

use chrono::{DateTime, Datelike, Duration, Months, NaiveDate, TimeZone, Utc};

/// An instant as microseconds since the Unix epoch.
pub(crate) type Micros = i64;

const MICROS_PER_DAY: i64 = 86_400_000_000;

/// A compiled date filter value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum DateFilter {
    /// `now - n units`, resolved at evaluation time.
    Relative { n: u32, unit: Unit },
    /// A fixed instant.
    Absolute(Micros),
    /// A bare four-digit year: that year, today's month and day, midnight UTC.
    Year(i32),
}

/// Units of a relative date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unit {
    Hour,
    Day,
    Week,
    Month,
    Year,
}

impl DateFilter {
    /// Reads the filter text (Python `str()` of the JSON value). `None` = invalid.
    pub(crate) fn parse(raw: &str) -> Option<Self> {
        if let Some(relative) = parse_relative(raw) {
            return relative;
        }
        match preprocess(raw)? {
            Pre::Year(y) => Some(DateFilter::Year(y)),
            Pre::Text(t) => from_iso(t.as_bytes()).map(DateFilter::Absolute),
        }
    }

    /// The instant at `now()` (the clock is read only for relative and year dates). `None`
    /// when a relative or year date falls outside years 1–9999.
    pub(crate) fn resolve(&self, now: impl FnOnce() -> DateTime<Utc>) -> Option<Micros> {
        match *self {
            DateFilter::Absolute(t) => Some(t),
            DateFilter::Year(y) => year_today(y, now()),
            DateFilter::Relative { n, unit } => {
                let now = now();
                let n64 = i64::from(n);
                let t = match unit {
                    Unit::Hour => now.checked_sub_signed(Duration::hours(n64))?,
                    Unit::Day => now.checked_sub_signed(Duration::days(n64))?,
                    Unit::Week => now.checked_sub_signed(Duration::weeks(n64))?,
                    // chrono clamps the day to the target month's length, as stepping one
                    // month at a time does: the end-of-month clamp only ever shortens.
                    Unit::Month => months_back(now, n)?,
                    Unit::Year => years_back(now, n)?,
                };
                (1..=9999)
                    .contains(&t.year())
                    .then_some(t.timestamp_micros())
            }
        }
    }
}

/// Parses a property value (always absolute; the clock is read only for a bare year).
/// `None` = unparseable.
pub(crate) fn parse_property(raw: &str, now: impl FnOnce() -> DateTime<Utc>) -> Option<Micros> {
    if let Some(t) = canonical_utc(raw.as_bytes()) {
        return Some(t);
    }
    match preprocess(raw)? {
        Pre::Year(y) => year_today(y, now()),
        Pre::Text(t) => from_iso(t.as_bytes()),
    }
}

/// The shapes most timestamps have, `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM:SSZ` and
/// `YYYY-MM-DDTHH:MM:SS+00:00`, read without pre-processing. `None` for anything else,
/// including out-of-range fields: the full parser then decides, so this path only ever
/// answers what the full one answers (proven by `canonical_shapes_agree_with_the_full_parser`).
fn canonical_utc(b: &[u8]) -> Option<Micros> {
    let num = |range: std::ops::Range<usize>| {
        b[range].iter().try_fold(0u32, |acc, d| {
            d.is_ascii_digit().then(|| acc * 10 + u32::from(d - b'0'))
        })
    };
    let time_ends = match b.len() {
        10 => None,
        20 if b[19] == b'Z' => Some(19),
        25 if &b[19..] == b"+00:00" => Some(19),
        _ => return None,
    };
    if b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let days = days_from_civil(num(0..4)? as i32, num(5..7)?, num(8..10)?)?;
    let Some(19) = time_ends else {
        return Some(days * MICROS_PER_DAY);
    };
    if b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (h, m, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if h > 23 || m > 59 || sec > 59 {
        return None;
    }
    let seconds = i64::from(h) * 3600 + i64::from(m) * 60 + i64::from(sec);
    Some(days * MICROS_PER_DAY + seconds * 1_000_000)
}

fn year_today(year: i32, now: DateTime<Utc>) -> Option<Micros> {
    Some(days_from_civil(year, now.month(), now.day())? * MICROS_PER_DAY)
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        _ => 28,
    }
}

/// Days since 1970-01-01 of a valid proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(year: i32, month: u32, day: u32) -> Option<i64> {
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    let y = i64::from(year) - i64::from(month <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

fn months_back(now: DateTime<Utc>, n: u32) -> Option<DateTime<Utc>> {
    // Step one month at a time, clamping each step (Mar 31 − 2m = Jan 28 via Feb 28).
    let mut t = now;
    for _ in 0..n {
        t = t.checked_sub_months(Months::new(1))?;
    }
    Some(t)
}

fn years_back(now: DateTime<Utc>, n: u32) -> Option<DateTime<Utc>> {
    let year = now.year().checked_sub(i32::try_from(n).ok()?)?;
    let date = now.date_naive();
    let day = if date.month() == 2 && date.day() == 29 {
        28
    } else {
        date.day()
    };
    let target = NaiveDate::from_ymd_opt(year, date.month(), day)?;
    Some(Utc.from_utc_datetime(&target.and_time(now.time())))
}

/// `^-?[0-9]+[a-z]$` (Python `$`: a trailing `\n` is allowed). `Some(None)` = relative form
/// but invalid (too large or unknown unit); `None` = not the relative form.
fn parse_relative(raw: &str) -> Option<Option<DateFilter>> {
    let text = raw.strip_suffix('\n').unwrap_or(raw).as_bytes();
    let body = text.strip_prefix(b"-").unwrap_or(text);
    // Bytes, not `str` slicing: the last character may be multi-byte (then it is no unit).
    let (&unit, digits) = body.split_last()?;
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) || !unit.is_ascii_lowercase() {
        return None;
    }
    let digits = std::str::from_utf8(digits).ok()?;
    let unit = char::from(unit);
    let n = match digits.parse::<u32>() {
        Ok(n) if n < 10_000 => n,
        _ => return Some(None),
    };
    let unit = match unit {
        'h' => Unit::Hour,
        'd' => Unit::Day,
        'w' => Unit::Week,
        'm' => Unit::Month,
        'y' => Unit::Year,
        _ => return Some(None),
    };
    Some(Some(DateFilter::Relative { n, unit }))
}

enum Pre {
    Year(i32),
    Text(Buf),
}

/// The pre-processed text: on the stack unless it is unusually long (no allocation for
/// ordinary timestamps on the evaluation path).
enum Buf {
    Stack([u8; 64], usize),
    Heap(Vec<u8>),
}

impl Buf {
    fn new(parts: &[&[u8]]) -> Buf {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        if len <= 64 {
            let mut buf = [0u8; 64];
            let mut at = 0;
            for part in parts {
                buf[at..at + part.len()].copy_from_slice(part);
                at += part.len();
            }
            Buf::Stack(buf, len)
        } else {
            Buf::Heap(parts.concat())
        }
    }

    fn as_bytes(&self) -> &[u8] {
        match self {
            Buf::Stack(buf, len) => &buf[..*len],
            Buf::Heap(v) => v,
        }
    }
}

fn preprocess(raw: &str) -> Option<Pre> {
    let t = raw.trim().as_bytes();
    let utc: &[u8] = b"+00:00";
    let (body, suffix): (&[u8], &[u8]) = if let Some(rest) = t.strip_suffix(b"Z") {
        (rest, utc)
    } else if t.len() >= 4 && t[t.len() - 4..].eq_ignore_ascii_case(b" utc") {
        (&t[..t.len() - 4], utc)
    } else if t.len() == 4 && t.iter().all(u8::is_ascii_digit) {
        return std::str::from_utf8(t).ok()?.parse().ok().map(Pre::Year);
    } else {
        (t, b"")
    };
    // One space directly before a trailing ±HH:MM offset is removed.
    let n = body.len();
    let spaced_offset = suffix.is_empty()
        && n >= 7
        && body[n - 7] == b' '
        && matches!(body[n - 6], b'+' | b'-')
        && body[n - 5].is_ascii_digit()
        && body[n - 4].is_ascii_digit()
        && body[n - 3] == b':'
        && body[n - 2].is_ascii_digit()
        && body[n - 1].is_ascii_digit();
    if spaced_offset {
        return Some(Pre::Text(Buf::new(&[&body[..n - 7], &body[n - 6..]])));
    }
    Some(Pre::Text(Buf::new(&[body, suffix])))
}

/// CPython 3.11 `datetime.fromisoformat` (C implementation) for the shapes PostHog uses.
fn from_iso(b: &[u8]) -> Option<Micros> {
    if b.len() < 7 {
        return None;
    }
    let sep = separator_location(b)?;
    let days = parse_date(b.get(..sep.min(b.len()))?, sep)?;
    let (time_micros, offset_micros) = if b.len() > sep + 1 {
        parse_time(&b[sep + 1..])?
    } else if b.len() == sep + 1 {
        // A separator with nothing after it: CPython reads an empty time and fails.
        return None;
    } else {
        (0, 0)
    };
    if offset_micros.abs() >= MICROS_PER_DAY {
        return None;
    }
    Some(days * MICROS_PER_DAY + time_micros - offset_micros)
}

fn separator_location(b: &[u8]) -> Option<usize> {
    let len = b.len();
    if len == 7 {
        return Some(7);
    }
    if b[4] == b'-' {
        if b[5] == b'W' {
            if len > 8 && b[8] == b'-' {
                if len == 9 {
                    return None;
                }
                if len > 10 && b[10].is_ascii_digit() {
                    return Some(8);
                }
                return Some(10);
            }
            return Some(8);
        }
        return Some(10);
    }
    if b[4] == b'W' {
        let mut idx = 7;
        while idx < len && b[idx].is_ascii_digit() {
            idx += 1;
        }
        if idx < 9 {
            return Some(idx);
        }
        return Some(if idx % 2 == 0 { 7 } else { 8 });
    }
    Some(8)
}

/// Reads exactly `n` ASCII digits at `*p`.
fn digits(b: &[u8], p: &mut usize, n: usize) -> Option<u32> {
    let chunk = b.get(*p..*p + n)?;
    if !chunk.iter().all(u8::is_ascii_digit) {
        return None;
    }
    *p += n;
    Some(
        chunk
            .iter()
            .fold(0, |acc, d| acc * 10 + u32::from(d - b'0')),
    )
}

/// Days since the epoch of `YYYY-MM-DD`, `YYYYMMDD` or an ISO week date.
fn parse_date(b: &[u8], len: usize) -> Option<i64> {
    let mut p = 0;
    let year = digits(b, &mut p, 4)? as i32;
    let dash = b.get(p) == Some(&b'-');
    if dash {
        p += 1;
    }
    if b.get(p) == Some(&b'W') {
        p += 1;
        let week = digits(b, &mut p, 2)?;
        let day = if p < len {
            if dash {
                if b.get(p) != Some(&b'-') {
                    return None;
                }
                p += 1;
            }
            digits(b, &mut p, 1)?
        } else {
            1
        };
        let weekday = match day {
            1 => chrono::Weekday::Mon,
            2 => chrono::Weekday::Tue,
            3 => chrono::Weekday::Wed,
            4 => chrono::Weekday::Thu,
            5 => chrono::Weekday::Fri,
            6 => chrono::Weekday::Sat,
            7 => chrono::Weekday::Sun,
            _ => return None,
        };
        let date = NaiveDate::from_isoywd_opt(year, week, weekday)?;
        return days_from_civil(date.year(), date.month(), date.day());
    }
    let month = digits(b, &mut p, 2)?;
    if dash {
        if b.get(p) != Some(&b'-') {
            return None;
        }
        p += 1;
    }
    let day = digits(b, &mut p, 2)?;
    days_from_civil(year, month, day)
}

/// `[HH[:?MM[:?SS]]][.,fraction]`; returns (h, m, s, µs, more text follows).
fn hh_mm_ss_ff(b: &[u8]) -> Option<([u32; 3], u32, bool)> {
    let mut vals = [0u32; 3];
    let mut p = 0;
    let mut has_separator = true;
    for (i, val) in vals.iter_mut().enumerate() {
        *val = digits(b, &mut p, 2)?;
        let c = b.get(p).copied();
        p += 1;
        if i == 0 {
            has_separator = c == Some(b':');
        }
        if p >= b.len() {
            // `c` was the last character (more text) or the end itself (done).
            return Some((vals, 0, c.is_some()));
        }
        match c {
            Some(b':') if has_separator => continue,
            Some(b'.' | b',') => break,
            _ if !has_separator => p -= 1,
            _ => return None,
        }
    }
    // The fraction: up to six digits read, further digits skipped (CPython reads here after
    // three components even without a `.`).
    let take = (b.len() - p).min(6);
    let mut micro = digits(b, &mut p, take)?;
    micro *= 10u32.pow((6 - take) as u32);
    while p < b.len() && b[p].is_ascii_digit() {
        p += 1;
    }
    Some((vals, micro, p < b.len()))
}

/// The time of day and the UTC offset, both in microseconds.
fn parse_time(b: &[u8]) -> Option<(i64, i64)> {
    let tz = b
        .iter()
        .position(|c| matches!(c, b'Z' | b'+' | b'-'))
        .unwrap_or(b.len());
    let ([h, m, s], micro, more) = hh_mm_ss_ff(&b[..tz])?;
    if h > 23 || m > 59 || s > 59 {
        return None;
    }
    let time =
        (i64::from(h) * 3600 + i64::from(m) * 60 + i64::from(s)) * 1_000_000 + i64::from(micro);
    if tz == b.len() {
        return (!more).then_some((time, 0));
    }
    if b[tz] == b'Z' {
        return (tz + 1 == b.len()).then_some((time, 0));
    }
    let sign: i64 = if b[tz] == b'-' { -1 } else { 1 };
    let ([th, tm, ts], tus, tz_more) = hh_mm_ss_ff(&b[tz + 1..])?;
    if tz_more {
        return None;
    }
    let offset =
        (i64::from(th) * 3600 + i64::from(tm) * 60 + i64::from(ts)) * 1_000_000 + i64::from(tus);
    Some((time, sign * offset))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn abs(s: &str) -> Option<String> {
        DateFilter::parse(s).and_then(|d| match d {
            DateFilter::Absolute(t) => Some(
                DateTime::from_timestamp_micros(t)?
                    .format("%Y-%m-%dT%H:%M:%S%.6f")
                    .to_string(),
            ),
            _ => None,
        })
    }

    #[test]
    fn civil_days_agree_with_chrono() {
        for (y, m, d) in [
            (1970, 1, 1),
            (2000, 2, 29),
            (1, 1, 1),
            (9999, 12, 31),
            (1900, 3, 1),
            (2024, 12, 31),
        ] {
            let chrono_days = NaiveDate::from_ymd_opt(y, m, d)
                .unwrap()
                .signed_duration_since(NaiveDate::from_ymd_opt(1970, 1, 1).unwrap())
                .num_days();
            assert_eq!(days_from_civil(y, m, d), Some(chrono_days), "{y}-{m}-{d}");
        }
        assert_eq!(days_from_civil(2023, 2, 29), None);
        assert_eq!(days_from_civil(2023, 13, 1), None);
    }

    #[test]
    fn iso_shapes() {
        assert_eq!(
            abs("2000-01-01").as_deref(),
            Some("2000-01-01T00:00:00.000000")
        );
        assert_eq!(
            abs("19991231").as_deref(),
            Some("1999-12-31T00:00:00.000000")
        );
        assert_eq!(
            abs("1999-W52-5").as_deref(),
            Some("1999-12-31T00:00:00.000000")
        );
        assert_eq!(
            abs("1999-12-31T23").as_deref(),
            Some("1999-12-31T23:00:00.000000")
        );
        assert_eq!(
            abs("1999-12-31T2359").as_deref(),
            Some("1999-12-31T23:59:00.000000")
        );
        assert_eq!(
            abs("1999-12-31 23:59:59,5").as_deref(),
            Some("1999-12-31T23:59:59.500000")
        );
        assert_eq!(
            abs("2000-01-01T01:00:00+0200").as_deref(),
            Some("1999-12-31T23:00:00.000000")
        );
        assert_eq!(
            abs("2000-01-01T00:30:00+01").as_deref(),
            Some("1999-12-31T23:30:00.000000")
        );
        assert_eq!(
            abs("1999-12-31T23:59:59.999999999").as_deref(),
            Some("1999-12-31T23:59:59.999999")
        );
        assert_eq!(
            abs("2000-01-01T00:00:00 UTC").as_deref(),
            Some("2000-01-01T00:00:00.000000")
        );
        assert_eq!(
            abs("1999-12-31T23:00:00 -02:00").as_deref(),
            Some("2000-01-01T01:00:00.000000")
        );
    }

    #[test]
    fn invalid_shapes() {
        for s in [
            "1999-12-31T24:00:00",
            "1999-12-31T23:59:60",
            "2000-1-1",
            "2000/01/01",
            "1999-12",
            "1999-365",
        ] {
            assert_eq!(DateFilter::parse(s), None, "{s}");
        }
    }

    /// The full parser alone, without the canonical fast path.
    fn full(raw: &str) -> Option<Micros> {
        match preprocess(raw)? {
            Pre::Year(_) => None,
            Pre::Text(t) => from_iso(t.as_bytes()),
        }
    }

    #[test]
    fn canonical_shapes_take_the_fast_path() {
        for s in [
            "2026-11-01",
            "2026-11-01T10:00:00Z",
            "2026-11-01T10:00:00+00:00",
            "2024-02-29T23:59:59Z",
        ] {
            assert!(canonical_utc(s.as_bytes()).is_some(), "{s}");
            assert_eq!(canonical_utc(s.as_bytes()), full(s), "{s}");
        }
        for s in [
            "2023-02-29",
            "2026-11-01T24:00:00Z",
            "2026-11-01 10:00:00Z",
            " 2026-11-01",
        ] {
            assert_eq!(canonical_utc(s.as_bytes()), None, "{s}");
        }
    }

    proptest::proptest! {
        /// Whatever the fast path answers, the full parser answers the same; and it answers
        /// every valid date of its shapes.
        #[test]
        fn canonical_shapes_agree_with_the_full_parser(
            y in 0u32..10_000, mo in 0u32..14, d in 0u32..33,
            h in 0u32..26, mi in 0u32..62, sec in 0u32..62,
            shape in 0usize..3, sep in proptest::sample::select(vec!['T', ' ', 't']),
        ) {
            let date = format!("{y:04}-{mo:02}-{d:02}");
            let s = match shape {
                0 => date,
                1 => format!("{date}{sep}{h:02}:{mi:02}:{sec:02}Z"),
                _ => format!("{date}{sep}{h:02}:{mi:02}:{sec:02}+00:00"),
            };
            let fast = canonical_utc(s.as_bytes());
            if fast.is_some() {
                proptest::prop_assert_eq!(fast, full(&s), "{}", s);
            } else if sep == 'T' {
                proptest::prop_assert_eq!(full(&s), None, "{}", s);
            }
        }
    }

    #[test]
    fn relative_forms() {
        assert!(matches!(
            DateFilter::parse("-3d"),
            Some(DateFilter::Relative {
                n: 3,
                unit: Unit::Day
            })
        ));
        assert!(matches!(
            DateFilter::parse("3d"),
            Some(DateFilter::Relative { .. })
        ));
        for s in [
            "+1d",
            "-1.5d",
            "-1 d",
            "-1D",
            "-10000d",
            "--1d",
            "-1q",
            "-3é",
            "᥀",
            "3\u{10FFFF}",
        ] {
            assert_eq!(DateFilter::parse(s), None, "{s}");
        }
    }

    #[test]
    fn months_clamp_each_step() {
        let now = Utc.with_ymd_and_hms(2021, 3, 31, 12, 0, 0).unwrap();
        let t = DateFilter::Relative {
            n: 2,
            unit: Unit::Month,
        }
        .resolve(|| now)
        .unwrap();
        let t = DateTime::from_timestamp_micros(t).unwrap();
        assert_eq!(
            t.date_naive(),
            NaiveDate::from_ymd_opt(2021, 1, 28).unwrap()
        );
        let leap = Utc.with_ymd_and_hms(2024, 2, 29, 0, 0, 0).unwrap();
        let t = DateFilter::Relative {
            n: 1,
            unit: Unit::Year,
        }
        .resolve(|| leap)
        .unwrap();
        let t = DateTime::from_timestamp_micros(t).unwrap();
        assert_eq!(
            t.date_naive(),
            NaiveDate::from_ymd_opt(2023, 2, 28).unwrap()
        );
    }
}
