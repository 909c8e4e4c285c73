//! The regex portability gate (flags.md §5.6): admits only patterns that behave the same in
//! Python's `re` and the Rust `regex` crate, and rewrites them into the Rust dialect.

/// A pattern that passed the gate, in Rust syntax, plus what the match-time checks need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Gated {
    pub(crate) rust: String,
    /// An unescaped `$` outside classes together with `* + ? { |` outside classes.
    pub(crate) dollar_with_repetition: bool,
    pub(crate) uses_word_class: bool,
    pub(crate) uses_space_class: bool,
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
                prev = match groups.pop() {
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
                prev = Prev::Quantifier;
            }
            '{' => {
                has_repetition = true;
                let end = counted_repetition(&chars, i)?;
                if matches!(
                    prev,
                    Prev::Start
                        | Prev::OpenGroup
                        | Prev::Alternation
                        | Prev::Caret
                        | Prev::Dollar
                        | Prev::EmptyGroup
                        | Prev::Quantifier
                        | Prev::QuantifiedGroup
                ) {
                    return None;
                }
                if matches!(chars.get(end + 1), Some('+' | '{')) {
                    return None;
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
                i = class(&chars, i, &mut out, &mut uses_word, &mut uses_space)?;
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
    Some(Gated {
        rust: out,
        dollar_with_repetition: has_dollar && has_repetition,
        uses_word_class: uses_word,
        uses_space_class: uses_space,
    })
}

/// Parses `{n}`, `{n,}` or `{n,m}` starting at `start` (the `{`); returns the index of `}`.
fn counted_repetition(chars: &[char], start: usize) -> Option<usize> {
    let mut i = start + 1;
    let read_count = |i: &mut usize| -> Option<usize> {
        let from = *i;
        while *i < chars.len() && chars[*i].is_ascii_digit() {
            *i += 1;
        }
        let len = *i - from;
        if len == 0 || len > 10 {
            return None;
        }
        let text: String = chars[from..*i].iter().collect();
        text.parse::<u64>()
            .ok()
            .filter(|n| *n <= 4_294_967_295)
            .map(|_| len)
    };
    read_count(&mut i)?;
    if chars.get(i) == Some(&',') {
        i += 1;
        if chars.get(i) != Some(&'}') {
            read_count(&mut i)?;
        }
    }
    (chars.get(i) == Some(&'}')).then_some(i)
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
) -> Option<usize> {
    let mut i = start + 1;
    out.push('[');
    if chars.get(i) == Some(&'^') {
        out.push('^');
        i += 1;
    }
    if chars.get(i) == Some(&']') {
        return None; // `[]` and `[^]`
    }
    // Whether the previous item was a shorthand (`\d`…), which cannot end a range.
    let mut prev_shorthand = false;
    let mut prev_was_dash_range = false;
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
                let at_edge = next == Some(&']') || out.ends_with('[') || out.ends_with("[^");
                if !at_edge && prev_shorthand {
                    return None;
                }
                prev_was_dash_range = !at_edge;
                out.push_str(if at_edge { "\\-" } else { "-" });
                prev_shorthand = false;
                i += 1;
                continue;
            }
            '\\' => {
                let next = *chars.get(i + 1)?;
                let shorthand = matches!(next, 'd' | 'D' | 's' | 'S' | 'w' | 'W');
                if shorthand && prev_was_dash_range {
                    return None;
                }
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
                        prev_shorthand = false;
                        prev_was_dash_range = false;
                        continue;
                    }
                    c if CLASS_PUNCTUATION.contains(c) => {
                        out.push('\\');
                        out.push(c);
                    }
                    _ => return None,
                }
                prev_shorthand = shorthand;
                prev_was_dash_range = false;
                i += 2;
                continue;
            }
            c => {
                if c == '^' || c == '&' || c == '~' {
                    out.push('\\');
                }
                out.push(c);
            }
        }
        prev_shorthand = false;
        prev_was_dash_range = false;
        i += 1;
    }
    // Unterminated class: Python rejects it; keep it unterminated so compiling fails too.
    Some(i)
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
    fn dollar_with_repetition_is_flagged() {
        assert!(gate("a+$").unwrap().dollar_with_repetition);
        assert!(!gate("a$").unwrap().dollar_with_repetition);
    }
}
