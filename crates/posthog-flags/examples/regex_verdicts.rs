//! Reads regex patterns (one JSON string per line) on stdin and prints, for each, how local
//! evaluation treats a `regex` filter with it: `defer` (inconclusive), `invalid` (both
//! `regex` and `not_regex` false) or `valid` followed by T/F/D for ten probe values.
//!
//! `fixtures/flags_project/regex_differential.py` runs this beside PostHog's Python SDK on
//! random patterns and prints every pattern the two treat differently.

use std::io::{BufRead, Write};

use posthog_flags::{EvalContext, Evaluation, FlagSet, Properties};
use serde_json::json;

/// The values each valid pattern is tried on (the differential script uses the same list).
const PROBES: [&str; 10] = [
    "", "a", "ab-", "x\n", "é", "aaa", "[a]", "a{2}", "b.b", "x-z 1",
];

fn one_filter(key: &str, operator: &str, pattern: &str) -> serde_json::Value {
    json!({"key": key, "active": true, "filters": {"groups": [{"properties": [
        {"key": "v", "operator": operator, "value": pattern, "type": "person"}],
        "rollout_percentage": 100}]}})
}

fn answer(set: &FlagSet, key: &str, value: &str) -> Option<bool> {
    let mut props = Properties::new();
    props.insert("v".into(), json!(value));
    let ctx = EvalContext::new("u").person_properties(&props);
    match set.evaluate(key, &ctx)? {
        Evaluation::Match(m) => Some(m.value.is_enabled()),
        Evaluation::Inconclusive(_) => None,
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for line in std::io::stdin().lock().lines() {
        let pattern: String = serde_json::from_str(&line?)?;
        let set = FlagSet::compile(&json!({"flags": [
            one_filter("r", "regex", &pattern),
            one_filter("n", "not_regex", &pattern),
        ]}))?;
        let verdict = match (answer(&set, "r", "zzz"), answer(&set, "n", "zzz")) {
            (None, _) | (_, None) => "defer".to_string(),
            (Some(false), Some(false)) => "invalid".to_string(),
            _ => {
                let marks: String = PROBES
                    .iter()
                    .map(|v| match answer(&set, "r", v) {
                        Some(true) => " T",
                        Some(false) => " F",
                        None => " D",
                    })
                    .collect();
                format!("valid{marks}")
            }
        };
        writeln!(out, "{verdict}")?;
    }
    Ok(())
}
