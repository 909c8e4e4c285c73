//! Property operators (flags.md §5): a filter's operator and value compiled once into a
//! [`Matcher`], then checked against a property value.

pub(crate) mod dates;
pub(crate) mod regex_gate;
pub(crate) mod semver;

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use regex::Regex;
use serde_json::Value;

use crate::outcome::Reason;
use crate::tri::Tri;
use crate::value::{boolean_like, exact_truthy, numeric, python_str, stringify};
use dates::DateFilter;
use semver::{SemverFilter, SemverOp};

/// A compiled operator with its filter value.
#[derive(Debug)]
pub(crate) enum Matcher {
    Unknown,
    IsSet,
    IsNotSet,
    Exact {
        negate: bool,
        rule: ExactRule,
    },
    Text {
        kind: TextKind,
        negate: bool,
        needle: Box<str>,
    },
    Regex {
        negate: bool,
        regex: RegexMatcher,
    },
    Numeric {
        cmp: Cmp,
        filter: Option<f64>,
    },
    Date {
        before: bool,
        filter: Option<DateFilter>,
    },
    Semver {
        filter: Option<SemverFilter>,
    },
}

#[derive(Debug)]
pub(crate) enum ExactRule {
    /// Filter `[]`: match iff the property is truthy.
    EmptyArray,
    /// v1 with a boolean-like filter: match iff truthiness agrees.
    Truthiness(bool),
    /// Lower-cased text forms of the filter (one, or one per array item).
    Candidates(Box<[Box<str>]>),
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum TextKind {
    Contains,
    StartsWith,
    EndsWith,
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Cmp {
    Gt,
    Gte,
    Lt,
    Lte,
}

#[derive(Debug)]
pub(crate) enum RegexMatcher {
    Empty,
    Unportable,
    Invalid,
    Compiled(Box<CompiledRegex>),
}

/// A regex filter whose syntax was checked when the definitions were compiled, built on its
/// first use: a document of many costly patterns (2,000 `\w{40}…`, ~10 ms each to build)
/// then compiles in milliseconds, and only the flags actually evaluated pay for theirs.
#[derive(Debug)]
pub(crate) struct CompiledRegex {
    /// The pattern in Rust's dialect.
    rust: String,
    /// Built on first use; `None` when it is over [`REGEX_SIZE_LIMIT`].
    regex: std::sync::OnceLock<Option<Regex>>,
    dollar_with_repetition: bool,
    uses_word_class: bool,
    uses_space_class: bool,
}

/// The most memory one filter's compiled regex may take; a pattern past it (Unicode classes
/// repeated many times, say) leaves its condition inconclusive (the server decides), with a
/// warning. Building one that large takes milliseconds; ordinary patterns are far below it.
pub const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// The most memory one regex's lazy DFA cache may grow to while matching (it falls back to
/// slower engines, not to failure).
const REGEX_DFA_LIMIT: usize = 256 << 10;

/// Non-ASCII characters Python's `\w` and Rust's `\w` may disagree on.
static NON_WORD_UNICODE: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"[^\x00-\x7F\p{L}\p{Nd}]").ok());

impl Matcher {
    /// Compiles `operator` (absent, null or `""` = `exact`) with its filter value.
    pub(crate) fn compile(operator: Option<&str>, value: &Value, matching_v2: bool) -> Matcher {
        let op = match operator {
            None | Some("") => "exact",
            Some(op) => op,
        };
        match op {
            "exact" | "is_not" => Matcher::Exact {
                negate: op == "is_not",
                rule: exact_rule(value, matching_v2),
            },
            "is_set" => Matcher::IsSet,
            "is_not_set" => Matcher::IsNotSet,
            "icontains" | "not_icontains" => {
                text(TextKind::Contains, op.starts_with("not_"), value)
            }
            "starts_with" | "not_starts_with" => {
                text(TextKind::StartsWith, op.starts_with("not_"), value)
            }
            "ends_with" | "not_ends_with" => {
                text(TextKind::EndsWith, op.starts_with("not_"), value)
            }
            "regex" | "not_regex" => Matcher::Regex {
                negate: op == "not_regex",
                regex: compile_regex(value),
            },
            "gt" => Matcher::Numeric {
                cmp: Cmp::Gt,
                filter: numeric(value),
            },
            "gte" => Matcher::Numeric {
                cmp: Cmp::Gte,
                filter: numeric(value),
            },
            "lt" => Matcher::Numeric {
                cmp: Cmp::Lt,
                filter: numeric(value),
            },
            "lte" => Matcher::Numeric {
                cmp: Cmp::Lte,
                filter: numeric(value),
            },
            "is_date_before" | "is_date_after" => Matcher::Date {
                before: op == "is_date_before",
                filter: python_str(value).and_then(|t| DateFilter::parse(&t)),
            },
            "semver_eq" => semver(SemverOp::Eq, value),
            "semver_neq" => semver(SemverOp::Neq, value),
            "semver_gt" => semver(SemverOp::Gt, value),
            "semver_gte" => semver(SemverOp::Gte, value),
            "semver_lt" => semver(SemverOp::Lt, value),
            "semver_lte" => semver(SemverOp::Lte, value),
            "semver_tilde" => semver(SemverOp::Tilde, value),
            "semver_caret" => semver(SemverOp::Caret, value),
            "semver_wildcard" => semver(SemverOp::Wildcard, value),
            _ => Matcher::Unknown,
        }
    }

    /// §5.9: the filter value itself cannot be used with its operator.
    pub(crate) fn unusable(&self) -> bool {
        match self {
            Matcher::Unknown => true,
            Matcher::Regex { regex, .. } => matches!(regex, RegexMatcher::Unportable),
            Matcher::Numeric { filter, .. } => filter.is_none(),
            Matcher::Date { filter, .. } => filter.is_none(),
            Matcher::Semver { filter } => filter.is_none(),
            _ => false,
        }
    }

    /// Checks a property value (`None` = the key is absent) in the order of §5.1.
    pub(crate) fn check(&self, property: Option<&Value>, now: &impl Fn() -> DateTime<Utc>) -> Tri {
        if matches!(self, Matcher::Unknown) {
            return Tri::Soft(Reason::UnsupportedDefinition);
        }
        let Some(prop) = property else {
            return Tri::Soft(if self.unusable() {
                Reason::UnsupportedDefinition
            } else {
                Reason::MissingContext
            });
        };
        match self {
            Matcher::Unknown => Tri::Soft(Reason::UnsupportedDefinition),
            Matcher::IsSet => Tri::Yes,
            Matcher::IsNotSet => Tri::No,
            Matcher::Numeric { cmp, filter } => {
                let Some(f) = *filter else {
                    return Tri::Soft(Reason::UnsupportedDefinition);
                };
                let Some(p) = numeric(prop) else {
                    return Tri::No;
                };
                Tri::from(match cmp {
                    Cmp::Gt => p > f,
                    Cmp::Gte => p >= f,
                    Cmp::Lt => p < f,
                    Cmp::Lte => p <= f,
                })
            }
            Matcher::Exact { negate, rule } => Tri::from(exact(rule, prop) != *negate),
            Matcher::Text {
                kind,
                negate,
                needle,
            } => {
                let owned;
                let hay = match prop {
                    Value::String(s) => s.as_str(),
                    other => {
                        owned = stringify(other);
                        owned.as_str()
                    }
                };
                Tri::from(text_match(*kind, hay.as_bytes(), needle.as_bytes()) != *negate)
            }
            Matcher::Regex { negate, regex } => check_regex(regex, *negate, prop),
            Matcher::Date { before, filter } => {
                if prop.is_null() {
                    return Tri::No;
                }
                let Some(filter) = filter else {
                    return Tri::Soft(Reason::UnsupportedDefinition);
                };
                let Some(f) = filter.resolve(now) else {
                    return Tri::Soft(Reason::UnsupportedDefinition);
                };
                let Value::String(text) = prop else {
                    return Tri::Soft(Reason::MissingContext);
                };
                let Some(p) = dates::parse_property(text, now) else {
                    return Tri::Soft(Reason::MissingContext);
                };
                Tri::from(if *before { p < f } else { p > f })
            }
            Matcher::Semver { filter } => {
                if prop.is_null() {
                    return Tri::No;
                }
                let Some(filter) = filter else {
                    return Tri::Soft(Reason::UnsupportedDefinition);
                };
                match python_str(prop).as_deref().and_then(semver::parse) {
                    Some(v) => Tri::from(filter.matches(v)),
                    None => Tri::Soft(Reason::MissingContext),
                }
            }
        }
    }
}

fn exact_rule(value: &Value, matching_v2: bool) -> ExactRule {
    match value {
        Value::Array(items) if items.is_empty() => ExactRule::EmptyArray,
        v if !matching_v2 && boolean_like(v) => ExactRule::Truthiness(exact_truthy(v)),
        Value::Array(items) => ExactRule::Candidates(
            items
                .iter()
                .map(|i| stringify(i).to_lowercase().into_boxed_str())
                .collect(),
        ),
        v => ExactRule::Candidates(Box::new([stringify(v).to_lowercase().into_boxed_str()])),
    }
}

fn exact(rule: &ExactRule, prop: &Value) -> bool {
    match rule {
        ExactRule::EmptyArray => exact_truthy(prop),
        ExactRule::Truthiness(filter) => exact_truthy(prop) == *filter,
        ExactRule::Candidates(candidates) => {
            if let Value::String(s) = prop {
                if s.is_ascii() {
                    return candidates.iter().any(|c| s.eq_ignore_ascii_case(c));
                }
            }
            let lowered = stringify(prop).to_lowercase();
            candidates.iter().any(|c| **c == *lowered)
        }
    }
}

fn text(kind: TextKind, negate: bool, value: &Value) -> Matcher {
    Matcher::Text {
        kind,
        negate,
        needle: stringify(value).to_ascii_lowercase().into_boxed_str(),
    }
}

fn text_match(kind: TextKind, hay: &[u8], needle: &[u8]) -> bool {
    if needle.len() > hay.len() {
        return false;
    }
    match kind {
        TextKind::StartsWith => hay[..needle.len()].eq_ignore_ascii_case(needle),
        TextKind::EndsWith => hay[hay.len() - needle.len()..].eq_ignore_ascii_case(needle),
        TextKind::Contains => {
            needle.is_empty()
                || hay
                    .windows(needle.len())
                    .any(|w| w.eq_ignore_ascii_case(needle))
        }
    }
}

fn semver(op: SemverOp, value: &Value) -> Matcher {
    Matcher::Semver {
        filter: python_str(value).and_then(|t| SemverFilter::compile(op, &t)),
    }
}

fn compile_regex(value: &Value) -> RegexMatcher {
    let Some(pattern) = python_str(value) else {
        return RegexMatcher::Unportable;
    };
    if pattern.is_empty() {
        return RegexMatcher::Empty;
    }
    let Some(gated) = regex_gate::gate(&pattern) else {
        return RegexMatcher::Unportable;
    };
    if gated.python_rejects {
        return RegexMatcher::Invalid;
    }
    // Only the syntax now (the same parser `regex` uses, and cheap); building waits for the
    // first use.
    match regex_syntax::Parser::new().parse(&gated.rust) {
        Ok(_) => RegexMatcher::Compiled(Box::new(CompiledRegex {
            rust: gated.rust,
            regex: std::sync::OnceLock::new(),
            dollar_with_repetition: gated.dollar_with_repetition,
            uses_word_class: gated.uses_word_class,
            uses_space_class: gated.uses_space_class,
        })),
        Err(err) if err.to_string().contains("nest limit") => RegexMatcher::Unportable,
        Err(_) => RegexMatcher::Invalid,
    }
}

impl CompiledRegex {
    /// The regex, built on first use within the size limits; `None` when it is over them.
    fn regex(&self) -> Option<&Regex> {
        self.regex
            .get_or_init(|| {
                regex::RegexBuilder::new(&self.rust)
                    .size_limit(REGEX_SIZE_LIMIT)
                    .dfa_size_limit(REGEX_DFA_LIMIT)
                    .build()
                    .ok()
            })
            .as_ref()
    }
}

fn check_regex(regex: &RegexMatcher, negate: bool, prop: &Value) -> Tri {
    let compiled = match regex {
        RegexMatcher::Empty => return Tri::from(!negate),
        RegexMatcher::Unportable => return Tri::Soft(Reason::UnsupportedDefinition),
        RegexMatcher::Invalid => return Tri::No,
        RegexMatcher::Compiled(c) => c,
    };
    let owned;
    let text = match prop {
        Value::String(s) => s.as_str(),
        other => {
            owned = stringify(other);
            owned.as_str()
        }
    };
    if compiled.dollar_with_repetition && text.ends_with('\n') {
        return Tri::Soft(Reason::UnsupportedDefinition);
    }
    if compiled.uses_word_class && !text.is_ascii() {
        let diverges = NON_WORD_UNICODE.as_ref().is_none_or(|re| re.is_match(text));
        if diverges {
            return Tri::Soft(Reason::UnsupportedDefinition);
        }
    }
    if compiled.uses_space_class && text.chars().any(|c| ('\u{1c}'..='\u{1f}').contains(&c)) {
        return Tri::Soft(Reason::UnsupportedDefinition);
    }
    match compiled.regex() {
        Some(regex) => Tri::from(regex.is_match(text) != negate),
        // Over the size limit: the server decides (C-LOCAL-EVAL: inconclusive, not false).
        None => Tri::Soft(Reason::UnsupportedDefinition),
    }
}
