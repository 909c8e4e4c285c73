//! How filter and property values read as text, truth and numbers (flags.md §5.2, §5.3, §5.5).

use std::borrow::Cow;
use std::fmt::Write;

use serde_json::{Number, Value};

/// Python truthiness of a JSON value, used for definition switches such as `active`.
pub(crate) fn py_truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// *truthy* of §5.3: `true`, a string lowercasing to `true`, or an array of truthy items.
pub(crate) fn exact_truthy(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::String(s) => s.eq_ignore_ascii_case("true") || s.to_lowercase() == "true",
        Value::Array(items) => items.iter().all(exact_truthy),
        _ => false,
    }
}

/// *boolean-like* of §5.3: a bool, a string `true`/`false` in any case, or an array of such.
pub(crate) fn boolean_like(v: &Value) -> bool {
    match v {
        Value::Bool(_) => true,
        Value::String(s) => {
            let lower = s.to_lowercase();
            lower == "true" || lower == "false"
        }
        Value::Array(items) => items.iter().all(boolean_like),
        _ => false,
    }
}

/// The text form of a value (§5.2): strings as they are, everything else rendered.
pub(crate) fn stringify(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => {
            let mut out = String::new();
            write_plain(&mut out, other);
            out
        }
    }
}

fn write_plain(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => write_number(out, n, Exponent::Bare, -5),
        Value::String(s) => out.push_str(s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (k, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_str(out, k);
                out.push(':');
                write_json(out, item);
            }
            out.push('}');
        }
    }
}

fn write_json(out: &mut String, v: &Value) {
    match v {
        Value::String(s) => write_json_str(out, s),
        other => write_plain(out, other),
    }
}

fn write_json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// How the exponent of a scientific float is written.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exponent {
    /// `1e-7`, `1e+16` (§5.2).
    Bare,
    /// `1e-07`, `1e+16`: Python `repr` pads to two digits.
    Padded,
}

/// Writes a JSON number: integers in decimal, floats as shortest round-trip digits in
/// positional notation when `min_exp <= exponent < 16`, else scientific.
pub(crate) fn write_number(out: &mut String, n: &Number, exp_style: Exponent, min_exp: i32) {
    if n.is_f64() {
        if let Some(f) = n.as_f64() {
            write_float(out, f, exp_style, min_exp);
        }
    } else {
        let _ = write!(out, "{n}");
    }
}

fn write_float(out: &mut String, f: f64, exp_style: Exponent, min_exp: i32) {
    // `{:e}` yields the shortest round-trip digits: "1.25e17", "-1e-7", "0e0".
    let sci = format!("{:e}", f.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    if f.is_sign_negative() {
        out.push('-');
    }
    if (min_exp..16).contains(&exp) {
        if exp < 0 {
            out.push_str("0.");
            out.extend(std::iter::repeat_n('0', (-exp - 1) as usize));
            out.push_str(&digits);
        } else {
            let int_len = exp as usize + 1;
            if digits.len() <= int_len {
                out.push_str(&digits);
                out.extend(std::iter::repeat_n('0', int_len - digits.len()));
                out.push_str(".0");
            } else {
                out.push_str(&digits[..int_len]);
                out.push('.');
                out.push_str(&digits[int_len..]);
            }
        }
    } else {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        match exp_style {
            Exponent::Bare => {
                let _ = write!(out, "{}", exp.abs());
            }
            Exponent::Padded => {
                let _ = write!(out, "{:02}", exp.abs());
            }
        }
    }
}

/// Python `str()` of a scalar filter value: `True`/`False`/`None`, floats as `repr`.
/// Arrays and objects give `None` (their Python literal form is not supported).
pub(crate) fn python_str(v: &Value) -> Option<Cow<'_, str>> {
    Some(match v {
        Value::Null => Cow::Borrowed("None"),
        Value::Bool(true) => Cow::Borrowed("True"),
        Value::Bool(false) => Cow::Borrowed("False"),
        Value::Number(n) => {
            let mut out = String::new();
            write_number(&mut out, n, Exponent::Padded, -4);
            Cow::Owned(out)
        }
        Value::String(s) => Cow::Borrowed(s),
        Value::Array(_) | Value::Object(_) => return None,
    })
}

/// A numeric reading of §5.5: JSON numbers (not bools) and strings matching
/// `[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?` in full, finite.
pub(crate) fn numeric(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64().filter(|f| f.is_finite()),
        Value::String(s) if numeric_text(s) => s.parse::<f64>().ok().filter(|f| f.is_finite()),
        _ => None,
    }
}

fn numeric_text(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'+' | b'-')) {
        i += 1;
    }
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let int_digits = i - int_start;
    let mut frac_digits = 0;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        frac_digits = i - start;
    }
    if int_digits == 0 && frac_digits == 0 {
        return false;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    i == b.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn s(v: Value) -> String {
        stringify(&v)
    }

    #[test]
    fn floats_stringify_like_python() {
        assert_eq!(s(json!(1e-5)), "0.00001");
        assert_eq!(s(json!(2.5e-5)), "0.000025");
        assert_eq!(s(json!(1e-6)), "1e-6");
        assert_eq!(s(json!(1.5e-7)), "1.5e-7");
        assert_eq!(s(json!(1e16)), "1e+16");
        assert_eq!(s(json!(1.25e17)), "1.25e+17");
        assert_eq!(s(json!(1e15)), "1000000000000000.0");
        assert_eq!(s(json!(-0.0)), "-0.0");
        assert_eq!(s(json!(10.0)), "10.0");
        assert_eq!(s(json!(123456.789)), "123456.789");
        assert_eq!(s(json!(7)), "7");
    }

    #[test]
    fn python_repr_pads_exponent() {
        assert_eq!(python_str(&json!(1e-5)).unwrap(), "1e-05");
        assert_eq!(python_str(&json!(1.5)).unwrap(), "1.5");
        assert_eq!(python_str(&json!(1e16)).unwrap(), "1e+16");
        assert_eq!(python_str(&json!(0.0001)).unwrap(), "0.0001");
        assert_eq!(python_str(&json!(true)).unwrap(), "True");
    }

    #[test]
    fn containers_stringify_as_compact_json() {
        assert_eq!(s(json!(["a", "B"])), r#"["a","B"]"#);
        assert_eq!(s(json!({"b": 1, "a": "x"})), r#"{"a":"x","b":1}"#);
        assert_eq!(s(json!([1.0, true, null])), "[1.0,true,null]");
        assert_eq!(s(json!(["\u{1}é"])), "[\"\\u0001é\"]");
    }

    #[test]
    fn numeric_grammar() {
        for ok in ["1e3", "+4", ".5", "5.", "-1.5E-3"] {
            assert!(numeric(&json!(ok)).is_some(), "{ok}");
        }
        for bad in [
            "0x10", "1_000", "inf", "1e999", " 1", "", ".", "1e", "\u{663}",
        ] {
            assert!(numeric(&json!(bad)).is_none(), "{bad}");
        }
        assert_eq!(numeric(&json!(true)), None);
    }

    #[test]
    fn truthiness() {
        assert!(exact_truthy(&json!([])));
        assert!(exact_truthy(&json!("TRUE")));
        assert!(!exact_truthy(&json!("yes")));
        assert!(boolean_like(&json!(["true", false])));
        assert!(!boolean_like(&json!([1])));
    }
}
