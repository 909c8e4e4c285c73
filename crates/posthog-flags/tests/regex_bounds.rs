//! Issue 15 item 7: regex filters are bounded. A document of many costly patterns compiles
//! (only their syntax is checked then), a pattern too large to build leaves only its own
//! flag inconclusive (the server decides), and ordinary patterns match as before. The time
//! it takes is a benchmark figure (`benches/evaluate.rs`, `compile_2000_costly_regexes`).

use posthog_flags::{EvalContext, FlagSet, Properties};
use serde_json::json;

fn regex_flag(key: &str, pattern: &str) -> serde_json::Value {
    json!({"key": key, "active": true, "filters": {"groups": [
        {"properties": [{"key": "email", "operator": "regex", "value": pattern, "type": "person"}],
         "rollout_percentage": 100}]}})
}

#[test]
fn a_pattern_too_large_to_build_leaves_only_its_flag_inconclusive() {
    let mut flags: Vec<serde_json::Value> = (0..200)
        .map(|i| regex_flag(&format!("costly-{i}"), &format!(r"\w{{40}}{i}")))
        .collect();
    flags.push(regex_flag("ordinary", r"^[^@]+@acme\.com$"));
    flags.push(regex_flag("broken", r"a(b"));
    let set = FlagSet::compile(&json!({ "flags": flags })).expect("the document compiles");
    assert_eq!(set.len(), 202);

    let mut props = Properties::new();
    props.insert("email".into(), json!("ada@acme.com"));
    let ctx = EvalContext::new("user-1").person_properties(&props);
    let ordinary = set.evaluate("ordinary", &ctx).expect("known");
    assert_eq!(ordinary.value().map(|v| v.is_enabled()), Some(true));
    let broken = set.evaluate("broken", &ctx).expect("known");
    assert_eq!(
        broken.value().map(|v| v.is_enabled()),
        Some(false),
        "invalid: false"
    );
    let costly = set.evaluate("costly-7", &ctx).expect("known");
    assert!(costly.is_inconclusive(), "{costly:?}");
}
