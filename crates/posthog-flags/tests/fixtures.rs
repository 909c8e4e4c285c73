//! C-LOCAL-EVAL: every case of the shared fixtures (fixtures/flags, checked against PostHog's
//! Python SDK) evaluated through the public API. A failure names its file and case.

use std::path::PathBuf;

use serde_json::Value;

mod cases;

/// `name` is a file of `fixtures/flags`, or a path under `fixtures/` when it has a `/`.
fn fixture(name: &str) -> Value {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures");
    let path = if name.contains('/') {
        root.join(name)
    } else {
        root.join("flags").join(name)
    };
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {}: {e}", path.display()))
}

fn run_file(name: &str) {
    cases::check_cases(name, &fixture(name));
}

#[test]
fn c_local_eval_fixture_operators() {
    run_file("cases_operators.json");
}

#[test]
fn c_local_eval_fixture_regex() {
    run_file("cases_regex.json");
}

#[test]
fn c_local_eval_fixture_evaluation() {
    run_file("cases_evaluation.json");
}

#[test]
fn c_local_eval_fixture_semantics() {
    run_file("cases_semantics.json");
}

/// Issue 15 item 9: the project's own cases beside the shared ones (`fixtures/flags_project`,
/// expected values from PostHog's Python SDK 7.91.1 by its `generate.py`): regex patterns
/// CPython rejects (false) or the SDK defers, and two chains naming one undefined flag.
#[test]
fn c_local_eval_fixture_project_cases() {
    run_file("flags_project/cases_project.json");
}

/// The bucketing consistency vectors (2 × 1000 distinct ids).
#[test]
fn c_local_eval_consistency_vectors() {
    cases::check_consistency(&fixture("consistency.json"));
}

/// The raw hash vectors: input, SHA-1 prefix and the resulting float.
#[test]
fn hash_vectors() {
    cases::check_hash_vectors(&fixture("hash_vectors.json"));
}
