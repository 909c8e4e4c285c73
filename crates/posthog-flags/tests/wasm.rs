//! Local evaluation on `wasm32-unknown-unknown`, under Node (`wasm-bindgen-test`): the shared
//! fixtures, compiled in, answer as they do natively, and ids and the clock work without an
//! operating system. `cargo xtask ci` runs it:
//! `cargo test -p posthog-flags --target wasm32-unknown-unknown --test wasm`.

#![cfg(all(target_family = "wasm", target_os = "unknown"))]

use posthog_flags::{EvalContext, FlagSet, Properties};
use serde_json::Value;
use wasm_bindgen_test::wasm_bindgen_test;

mod cases;

fn doc(text: &str) -> Value {
    serde_json::from_str(text).expect("fixture json")
}

macro_rules! fixture {
    ($name:literal) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../fixtures/",
            $name
        ))
    };
}

#[wasm_bindgen_test]
fn c_local_eval_fixtures_under_wasm() {
    cases::check_cases("operators", &doc(fixture!("flags/cases_operators.json")));
    cases::check_cases("regex", &doc(fixture!("flags/cases_regex.json")));
    cases::check_cases("evaluation", &doc(fixture!("flags/cases_evaluation.json")));
    cases::check_cases("semantics", &doc(fixture!("flags/cases_semantics.json")));
    cases::check_cases(
        "project",
        &doc(fixture!("flags_project/cases_project.json")),
    );
}

#[wasm_bindgen_test]
fn hash_and_bucketing_vectors_under_wasm() {
    cases::check_hash_vectors(&doc(fixture!("flags/hash_vectors.json")));
    cases::check_consistency(&doc(fixture!("flags/consistency.json")));
}

/// Relative-date operators read the clock when the caller gives no "now": JavaScript's
/// `Date` on wasm (`std::time::SystemTime` would panic there).
#[wasm_bindgen_test]
fn the_clock_and_ids_work_without_an_os() {
    let definitions = serde_json::json!({"flags": [{
        "key": "recent", "active": true, "rollout_percentage": 100,
        "filters": {"groups": [{"rollout_percentage": 100, "properties": [
            {"key": "signed_up", "type": "person", "operator": "is_date_after", "value": "-30d"}
        ]}]}
    }]});
    let set = FlagSet::compile(&definitions).expect("compiles");
    let mut person = Properties::new();
    person.insert("signed_up".into(), "2000-01-01T00:00:00Z".into());
    let answer = set
        .evaluate(
            "recent",
            &EvalContext::new("user-1").person_properties(&person),
        )
        .and_then(|e| e.value());
    assert_eq!(answer, Some(posthog_flags::FlagValueRef::Bool(false)));

    let (a, b) = (posthog_core::ids::new_uuid(), posthog_core::ids::new_uuid());
    assert_ne!(a, b);
    assert_eq!(a.get_version_num(), 7);
    let (secs, _) = a.get_timestamp().expect("v7").to_unix();
    assert!(secs > 1_700_000_000, "the clock is JavaScript's, not zero");
}
