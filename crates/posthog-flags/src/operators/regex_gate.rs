//! The regex portability gate (flags.md §5.6): admits only patterns that behave the same in
//! Python's `re` and the Rust `regex` crate, and rewrites them into the Rust dialect.
//!
//! It follows PostHog's Python SDK (7.91.1) to the letter, quirks included (ranges are read
//! off the text, `)` right after `(` or an empty group is an empty group), and it marks the
//! gated patterns CPython's parser rejects although the Rust parser takes them
//! ([`Gated::python_rejects`]). `fixtures/flags_project/regex_differential.py` compares the
//! two on random patterns.

/// A pattern that passed the gate, in Rust syntax, plus what the match-time checks need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Gated {
    pub(crate) rust: String,
    /// An unescaped `$` outside classes together with `* + ? { |` outside classes.
    pub(crate) dollar_with_repetition: bool,
    pub(crate) uses_word_class: bool,
    pub(crate) uses_space_class: bool,
    /// CPython's `re` rejects the pattern although the Rust parser takes it: a quantifier
    /// stacked on another (`a**`, `a?*`, `a*??`, "multiple repeat"). Such a filter is
    /// invalid, so both `regex` and `not_regex` are false (flags.md §5.6).
    pub(crate) python_rejects: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Prev {
    Start,
    OpenGroup,
    Alternation,
    Caret,
    Dollar,
    EmptyGroup,
    Quantifier,
    /// A quantifier made lazy by `?` (`a*?`): Python lets nothing follow it.
    LazyQuantifier,
    QuantifiedGroup,
    Atom,
}

struct Group {
    has_quantifier: bool,
    empty: bool,
}

/// Runs the gate. `None` means the pattern is outside the portable subset.
pub(crate) fn gate(pattern: &str) -> Option<Gated> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut groups: Vec<Group> = Vec::new();
    let mut prev = Prev::Start;
    let (mut has_dollar, mut has_repetition) = (false, false);
    let (mut uses_word, mut uses_space) = (false, false);
    let mut python = PythonErrors::default();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if let Some(g) = groups.last_mut() {
            if c != ')' {
                g.empty = false;
            }
        }
        match c {
            '(' => {
                if chars.get(i + 1) == Some(&'?') {
                    if chars.get(i + 2) != Some(&':') {
                        return None;
                    }
                    out.push_str("(?:");
                    i += 3;
                } else {
                    out.push('(');
                    i += 1;
                }
                groups.push(Group {
                    has_quantifier: false,
                    empty: true,
                });
                prev = Prev::OpenGroup;
                continue;
            }
            ')' => {
                out.push(')');
                // Python's gate reads "empty" off the text: `)` right after `(` or after
                // another empty group (`(())`), whether or not a group is open.
                let after_open = matches!(prev, Prev::OpenGroup | Prev::EmptyGroup);
                if groups.is_empty() {
                    python.reject(); // "unbalanced parenthesis"
                }
                prev = match groups.pop() {
                    _ if after_open => Prev::EmptyGroup,
                    Some(g) if g.empty => Prev::EmptyGroup,
                    Some(g) if g.has_quantifier => {
                        if let Some(parent) = groups.last_mut() {
                            parent.has_quantifier = true;
                        }
                        Prev::QuantifiedGroup
                    }
                    _ => Prev::Atom,
                };
            }
            '|' => {
                has_repetition = true;
                out.push('|');
                prev = Prev::Alternation;
            }
            '^' => {
                out.push('^');
                prev = Prev::Caret;
            }
            '$' => {
                has_dollar = true;
                out.push('$');
                prev = Prev::Dollar;
            }
            '*' | '+' | '?' => {
                has_repetition = true;
                match prev {
                    Prev::Caret | Prev::Dollar | Prev::EmptyGroup | Prev::QuantifiedGroup => {
                        return None;
                    }
                    Prev::Quantifier if c == '+' => return None,
                    _ => {}
                }
                if matches!(chars.get(i + 1), Some('+' | '{')) {
                    return None;
                }
                out.push(c);
                if let Some(g) = groups.last_mut() {
                    g.has_quantifier = true;
                }
                prev = match prev {
                    Prev::Quantifier if c == '?' => Prev::LazyQuantifier,
                    // "multiple repeat" and "nothing to repeat"
                    Prev::Quantifier
                    | Prev::LazyQuantifier
                    | Prev::Start
                    | Prev::OpenGroup
                    | Prev::Alternation => {
                        python.reject();
                        Prev::Quantifier
                    }
                    _ => Prev::Quantifier,
                };
            }
            '{' => {
                has_repetition = true;
                let counted = counted_repetition(&chars, i)?;
                let end = counted.end;
                if matches!(
                    prev,
                    Prev::Start
                        | Prev::OpenGroup
                        | Prev::Alternation
                        | Prev::Caret
                        | Prev::Dollar
                        | Prev::EmptyGroup
                        | Prev::Quantifier
                        | Prev::LazyQuantifier
                        | Prev::QuantifiedGroup
                ) {
                    return None;
                }
                if matches!(chars.get(end + 1), Some('+' | '{')) {
                    return None;
                }
                // CPython checks the counts in this order; the first problem it meets wins.
                if end + 2 == chars.len() && chars[end + 1] == '\\' {
                    // The tokenizer reads one token ahead: a trailing `\\` right after the
                    // count fails before the count is checked.
                    python.reject();
                } else if counted.min.max(counted.max.unwrap_or(0)) >= PYTHON_MAXREPEAT {
                    python.overflow();
                } else if counted.max.is_some_and(|max| max < counted.min) {
                    python.reject();
                }
                out.extend(&chars[i..=end]);
                if let Some(g) = groups.last_mut() {
                    g.has_quantifier = true;
                }
                prev = Prev::Quantifier;
                i = end + 1;
                continue;
            }
            '\\' => {
                let Some(&next) = chars.get(i + 1) else {
                    // A trailing lone backslash: Python rejects it, so it stays invalid.
                    out.push('\\');
                    break;
                };
                match next {
                    'd' | 'D' | 'f' | 'n' | 'r' | 't' => {}
                    'w' | 'W' => uses_word = true,
                    's' | 'S' => uses_space = true,
                    'x' => {
                        push_hex_escape(&chars, i, &mut out)?;
                        i += 4;
                        prev = Prev::Atom;
                        continue;
                    }
                    '<' | '>' => return None,
                    c if c.is_ascii_punctuation() || c == ' ' => {
                        push_literal(&mut out, c);
                        i += 2;
                        prev = Prev::Atom;
                        continue;
                    }
                    _ => return None,
                }
                out.push('\\');
                out.push(next);
                i += 2;
                prev = Prev::Atom;
                continue;
            }
            '[' => {
                i = class(
                    &chars,
                    i,
                    &mut out,
                    &mut uses_word,
                    &mut uses_space,
                    &mut python,
                )?;
                prev = Prev::Atom;
                continue;
            }
            ']' | '}' => {
                push_literal(&mut out, c);
                prev = Prev::Atom;
            }
            c => {
                if c.is_whitespace() || c == '#' || c == '&' || c == '-' || c == '~' {
                    push_literal(&mut out, c);
                } else {
                    out.push(c);
                }
                prev = Prev::Atom;
            }
        }
        i += 1;
    }
    if python.overflows {
        return None;
    }
    Some(Gated {
        rust: out,
        dollar_with_repetition: has_dollar && has_repetition,
        uses_word_class: uses_word,
        uses_space_class: uses_space,
        python_rejects: python.rejects,
    })
}

/// The first error CPython's parser meets while it reads a gated pattern left to right
/// decides: `re.error` makes the filter invalid, an over-large count (`OverflowError`) makes
/// it inconclusive. Errors it reports only at the end (an unclosed group or class) need no
/// record: the Rust parser finds them too and nothing can come after them.
#[derive(Default)]
struct PythonErrors {
    rejects: bool,
    overflows: bool,
}

impl PythonErrors {
    fn reject(&mut self) {
        self.rejects |= !self.overflows;
    }

    fn overflow(&mut self) {
        self.overflows |= !self.rejects;
    }
}

/// CPython's `MAXREPEAT`: a count this large raises `OverflowError` (not `re.error`) while
/// Python parses the pattern, which PostHog's Python SDK reports as inconclusive. The gate
/// defers such a count up front; the one difference is a pattern with a syntax error
/// *before* the count, which Python calls invalid (false) and we call inconclusive.
const PYTHON_MAXREPEAT: u64 = 4_294_967_295;

/// A counted repetition `{n}`, `{n,}` or `{n,m}`.
struct Counted {
    /// Index of the closing `}`.
    end: usize,
    min: u64,
    max: Option<u64>,
}

/// Parses `{n}`, `{n,}` or `{n,m}` starting at `start` (the `{`); counts have at most 10
/// digits and are at most 4294967295.
fn counted_repetition(chars: &[char], start: usize) -> Option<Counted> {
    let mut i = start + 1;
    let read_count = |i: &mut usize| -> Option<u64> {
        let from = *i;
        while *i < chars.len() && chars[*i].is_ascii_digit() {
            *i += 1;
        }
        let len = *i - from;
        if len == 0 || len > 10 {
            return None;
        }
        let text: String = chars[from..*i].iter().collect();
        text.parse::<u64>().ok().filter(|n| *n <= 0xFFFF_FFFF)
    };
    let min = read_count(&mut i)?;
    let mut max = Some(min);
    if chars.get(i) == Some(&',') {
        i += 1;
        max = None;
        if chars.get(i) != Some(&'}') {
            max = Some(read_count(&mut i)?);
        }
    }
    (chars.get(i) == Some(&'}')).then_some(Counted { end: i, min, max })
}

/// Escapes that may stand inside a class (besides shorthands and control letters).
const CLASS_PUNCTUATION: &str = "\\-[]^.$*+?(){}|";

/// Copies a `[...]` class starting at `start`; returns the index after its `]`.
fn class(
    chars: &[char],
    start: usize,
    out: &mut String,
    uses_word: &mut bool,
    uses_space: &mut bool,
    python: &mut PythonErrors,
) -> Option<usize> {
    let mut i = start + 1;
    let mut ranges = ClassRanges::default();
    out.push('[');
    if chars.get(i) == Some(&'^') {
        out.push('^');
        i += 1;
    }
    if chars.get(i) == Some(&']') {
        return None; // `[]` and `[^]`
    }
    while i < chars.len() {
        let c = chars[i];
        match c {
            ']' => {
                out.push(']');
                return Some(i + 1);
            }
            '[' => return None,
            '&' | '-' | '~' if chars.get(i + 1) == Some(&c) => return None,
            '-' => {
                let next = chars.get(i + 1);
                // Python's gate reads ranges off the text: a `-` with something other than
                // `]` after it must neither precede nor follow a shorthand (`[\d-z]`,
                // `[-\w]`), even where Python would take the `-` literally.
                if next.is_some_and(|&n| n != ']') {
                    let shorthand = |at: usize| {
                        chars.get(at) == Some(&'\\')
                            && chars.get(at + 1).is_some_and(|c| "dDsSwW".contains(*c))
                    };
                    if shorthand(i + 1) || (i >= 2 && shorthand(i - 2)) {
                        return None;
                    }
                }
                let at_edge = next == Some(&']') || out.ends_with('[') || out.ends_with("[^");
                out.push_str(if at_edge { "\\-" } else { "-" });
                if next.is_some_and(|&n| n != ']') && ranges.item.is_some() {
                    ranges.range_from = ranges.item.take();
                } else {
                    ranges.read(Some('-'), python);
                }
                i += 1;
                continue;
            }
            '\\' => {
                let Some(&next) = chars.get(i + 1) else {
                    // A trailing lone backslash: Python rejects it, so it stays invalid.
                    out.push('\\');
                    return Some(i + 1);
                };
                ranges.read(class_escape(next, chars, i), python);
                match next {
                    'd' | 'D' => out.push_str(&format!("\\{next}")),
                    'w' | 'W' => {
                        *uses_word = true;
                        out.push_str(&format!("\\{next}"));
                    }
                    's' | 'S' => {
                        *uses_space = true;
                        out.push_str(&format!("\\{next}"));
                    }
                    'f' | 'n' | 'r' | 't' => out.push_str(&format!("\\{next}")),
                    'b' => out.push_str("\\x08"),
                    'x' => {
                        push_hex_escape(chars, i, out)?;
                        i += 4;
                        continue;
                    }
                    c if CLASS_PUNCTUATION.contains(c) => {
                        out.push('\\');
                        out.push(c);
                    }
                    _ => return None,
                }
                i += 2;
                continue;
            }
            c => {
                ranges.read(Some(c), python);
                if c == '^' || c == '&' || c == '~' {
                    out.push('\\');
                }
                out.push(c);
            }
        }
        i += 1;
    }
    // Unterminated class: Python rejects it; keep it unterminated so compiling fails too.
    Some(i)
}

/// Python's character ranges inside a class: an item, `-`, an item.
#[derive(Default)]
struct ClassRanges {
    /// The last single character read that may still start a range.
    item: Option<char>,
    /// The low end of a range whose `-` was just read.
    range_from: Option<char>,
}

impl ClassRanges {
    /// Takes one item: a character, or `None` for a shorthand such as `\d`.
    fn read(&mut self, c: Option<char>, python: &mut PythonErrors) {
        match (self.range_from.take(), c) {
            (Some(lo), Some(hi)) => {
                if hi < lo {
                    python.reject(); // "bad character range"
                }
                self.item = None;
            }
            (Some(_), None) => self.item = None,
            (None, c) => self.item = c,
        }
    }
}

/// The character a class escape stands for (the backslash at `i`); `None` for shorthands
/// and escapes the gate refuses.
fn class_escape(next: char, chars: &[char], i: usize) -> Option<char> {
    match next {
        'f' => Some('\u{c}'),
        'n' => Some('\n'),
        'r' => Some('\r'),
        't' => Some('\t'),
        'b' => Some('\u{8}'),
        'x' => {
            let hex: String = chars.get(i + 2..i + 4)?.iter().collect();
            u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32)
        }
        c if CLASS_PUNCTUATION.contains(c) => Some(c),
        _ => None,
    }
}

/// Copies `\xHH` (the backslash at `i`); `None` unless exactly two hex digits follow.
fn push_hex_escape(chars: &[char], i: usize, out: &mut String) -> Option<()> {
    let hex = chars.get(i + 2..i + 4)?;
    if !hex.iter().all(char::is_ascii_hexdigit) {
        return None;
    }
    out.push_str("\\x");
    out.extend(hex);
    Some(())
}

fn push_literal(out: &mut String, c: char) {
    if c == ' ' {
        out.push(' ');
    } else if "\\.+*?()|[]{}^$#&-~".contains(c) {
        out.push('\\');
        out.push(c);
    } else {
        out.push(c);
    }
}

#[cfg(test)]
mod tests {
    use super::gate;

    #[test]
    fn portable_patterns_pass() {
        for p in [
            "^abc$", r"\d+", "(?:ab)+", "a{2,3}", "[a-z]+", r"[\b]", r"\.", "a*?", "x|y",
        ] {
            assert!(gate(p).is_some(), "{p}");
        }
    }

    #[test]
    fn unportable_patterns_are_refused() {
        for p in [
            "(?i)a", "(?=a)", r"\bword", r"\p{L}", r"\1", "a*+", "a{2}{3}", "(a+)+", "(?:ab*)+",
            "^*", "[[a]]", "[a&&b]", r"[\d-z]", r"[a-\d]", "[]", "{2}", "a{,3}", r"\A", r"\x4",
        ] {
            assert!(gate(p).is_none(), "{p}");
        }
    }

    #[test]
    fn patterns_cpython_rejects_are_marked() {
        for p in [
            "a**",
            "a?*",
            "a+*",
            "a*??",
            "a*?*",
            "a{2}*",
            "a{2}??",
            "*a",
            "a|*",
            "a)",
            "a{2,1}",
            "[z-a]",
            "[a-^]x{4294967295}",
            "a{4294967295}\\",
        ] {
            assert!(gate(p).is_some_and(|g| g.python_rejects), "{p}");
        }
        for p in ["a*?", "a{2}?", "(a)*", "a??", "[a-z]", "[-a]", "[a-]"] {
            assert!(gate(p).is_some_and(|g| !g.python_rejects), "{p}");
        }
    }

    #[test]
    fn the_first_python_error_decides() {
        // An over-large count is inconclusive unless a `re.error` came before it.
        assert!(gate("a{4294967295})").is_none());
        assert!(gate("a){4294967295}").is_some_and(|g| g.python_rejects));
    }

    #[test]
    fn python_gate_quirks_are_kept() {
        for p in ["[-\\d]", "a][-\\w]", "(?:))+", "(())*", "[\\\\d-z]"] {
            assert!(gate(p).is_none(), "{p}");
        }
    }

    #[test]
    fn dollar_with_repetition_is_flagged() {
        assert!(gate("a+$").unwrap().dollar_with_repetition);
        assert!(!gate("a$").unwrap().dollar_with_repetition);
    }
}
