//! Semver filters (flags.md §5.8): `(major, minor, patch)` triples, pre-release discarded.

/// A version triple.
pub(crate) type Version = (u64, u64, u64);

/// The half-open range `[lo, hi)` a filter admits, or an exact comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SemverOp {
    Eq,
    Neq,
    Gt,
    Gte,
    Lt,
    Lte,
    Tilde,
    Caret,
    Wildcard,
}

/// A compiled semver filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SemverFilter {
    Compare(SemverOp, Version),
    Range(Version, Version),
}

impl SemverFilter {
    /// Compiles the filter text for `op`; `None` when it does not parse.
    pub(crate) fn compile(op: SemverOp, text: &str) -> Option<Self> {
        match op {
            SemverOp::Tilde => {
                let (x, y, z) = parse(text)?;
                Some(SemverFilter::Range((x, y, z), (x, y.checked_add(1)?, 0)))
            }
            SemverOp::Caret => {
                let (x, y, z) = parse(text)?;
                let hi = if x > 0 {
                    (x.checked_add(1)?, 0, 0)
                } else if y > 0 {
                    (0, y.checked_add(1)?, 0)
                } else {
                    (0, 0, z.checked_add(1)?)
                };
                Some(SemverFilter::Range((x, y, z), hi))
            }
            SemverOp::Wildcard => wildcard(text),
            op => parse(text).map(|v| SemverFilter::Compare(op, v)),
        }
    }

    /// Whether version `v` satisfies the filter.
    pub(crate) fn matches(&self, v: Version) -> bool {
        match *self {
            SemverFilter::Range(lo, hi) => lo <= v && v < hi,
            SemverFilter::Compare(op, f) => match op {
                SemverOp::Eq => v == f,
                SemverOp::Neq => v != f,
                SemverOp::Gt => v > f,
                SemverOp::Gte => v >= f,
                SemverOp::Lt => v < f,
                SemverOp::Lte => v <= f,
                SemverOp::Tilde | SemverOp::Caret | SemverOp::Wildcard => false,
            },
        }
    }
}

/// Parses `v1.2.3-beta+build` into `(1, 2, 3)`; missing minor/patch are 0.
pub(crate) fn parse(text: &str) -> Option<Version> {
    let t = text.trim().trim_start_matches(['v', 'V']).as_bytes();
    // Pre-release and build metadata are discarded: the text ends at the first `-` or `+`.
    let end = t
        .iter()
        .position(|&b| b == b'-' || b == b'+')
        .unwrap_or(t.len());
    let mut parts = t[..end].split(|&b| b == b'.');
    let major = part(parts.next()?)?;
    let minor = parts.next().map_or(Some(0), optional_part)?;
    let patch = parts.next().map_or(Some(0), optional_part)?;
    Some((major, minor, patch))
}

fn optional_part(p: &[u8]) -> Option<u64> {
    if p.is_empty() { Some(0) } else { part(p) }
}

/// Decimal digits without a leading zero (a lone `0` is fine) that fit a `u64`.
fn part(p: &[u8]) -> Option<u64> {
    if p.is_empty() || (p.len() > 1 && p[0] == b'0') {
        return None;
    }
    p.iter().try_fold(0u64, |acc, &d| {
        if !d.is_ascii_digit() {
            return None;
        }
        acc.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

fn wildcard(text: &str) -> Option<SemverFilter> {
    let t = text.trim().trim_start_matches(['v', 'V']).replace('*', "");
    let t = t.trim_end_matches('.');
    let parts: Vec<&str> = t.split('.').filter(|p| !p.is_empty()).collect();
    let nums: Vec<u64> = parts
        .iter()
        .map(|p| part(p.as_bytes()))
        .collect::<Option<_>>()?;
    match nums.as_slice() {
        [] => None,
        [x] => Some(SemverFilter::Range((*x, 0, 0), (x.checked_add(1)?, 0, 0))),
        [x, y] => Some(SemverFilter::Range((*x, *y, 0), (*x, y.checked_add(1)?, 0))),
        [x, y, z, ..] => Some(SemverFilter::Range(
            (*x, *y, *z),
            (*x, *y, z.checked_add(1)?),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_loose_forms() {
        assert_eq!(parse("vv1.2.3"), Some((1, 2, 3)));
        assert_eq!(parse("1.2.3.x"), Some((1, 2, 3)));
        assert_eq!(parse("1..3"), Some((1, 0, 3)));
        assert_eq!(parse(" V2 "), Some((2, 0, 0)));
        assert_eq!(parse("2.0.0-rc.1"), Some((2, 0, 0)));
        assert_eq!(parse("1.2.x"), None);
        assert_eq!(parse("01.2.3"), None);
        assert_eq!(parse("True"), None);
        assert_eq!(parse("1+build.7"), Some((1, 0, 0)));
        assert_eq!(parse("18446744073709551615"), Some((u64::MAX, 0, 0)));
        assert_eq!(parse("18446744073709551616"), None, "overflow");
        assert_eq!(parse("0.0"), Some((0, 0, 0)));
        assert_eq!(parse(".1"), None);
    }

    #[test]
    fn caret_and_tilde() {
        let caret = SemverFilter::compile(SemverOp::Caret, "0.0.3").unwrap();
        assert!(caret.matches((0, 0, 3)));
        assert!(!caret.matches((0, 0, 4)));
        let tilde = SemverFilter::compile(SemverOp::Tilde, "1.2.3").unwrap();
        assert!(tilde.matches((1, 2, 9)));
        assert!(!tilde.matches((1, 3, 0)));
    }

    #[test]
    fn wildcards() {
        let w = SemverFilter::compile(SemverOp::Wildcard, "1.*.3").unwrap();
        assert!(w.matches((1, 3, 9)));
        assert!(SemverFilter::compile(SemverOp::Wildcard, "1.2-beta.*").is_none());
        assert!(SemverFilter::compile(SemverOp::Wildcard, "*").is_none());
    }
}
