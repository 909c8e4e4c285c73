//! Cost of local flag evaluation, per evaluation, next to the cost of one SHA-1 (the floor).
//!
//! Run: `cargo bench -p posthog-flags` (criterion's figures), or `cargo xtask bench` for a
//! table of medians and ratios to the floor. Inputs: `fixtures/bench/thirty_flags.json` and
//! `fixtures/bench/subject.json`. Targets (issue 2): a 50 % rollout at most 2x the SHA-1
//! floor; all 30 flags at most 2 µs per user.

// `criterion_group!` defines an undocumented function.
#![allow(missing_docs)]

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{Criterion, criterion_group, criterion_main};
use posthog_flags::{EvalContext, FlagSet, GroupProperties, Groups, Properties};
use serde_json::Value;

fn load(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/bench")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(path).expect("bench fixture")).expect("json")
}

fn bench(c: &mut Criterion) {
    let set = FlagSet::compile(&load("thirty_flags.json")).expect("compiles");
    assert!(set.problems().is_empty(), "{:?}", set.problems());
    assert_eq!(set.len(), 30);
    let subject = load("subject.json");
    let person: Properties =
        serde_json::from_value(subject["person_properties"].clone()).expect("props");
    let groups: Groups = serde_json::from_value(subject["groups"].clone()).expect("groups");
    let group_props: GroupProperties =
        serde_json::from_value(subject["group_properties"].clone()).expect("gp");
    let ctx = EvalContext::new("user-123")
        .person_properties(&person)
        .groups(&groups)
        .group_properties(&group_props);

    let mut g = c.benchmark_group("flags");
    g.bench_function("sha1_floor", |b| {
        b.iter(|| posthog_core::hash::sha1_digest(black_box(b"rollout-5.user-123")))
    });
    let single = [
        ("rollout_50", "rollout-5"),
        ("one_filter", "pro-plan"),
        ("multivariate_3", "checkout"),
        ("regex", "email-domain"),
        ("group_flag", "big-companies"),
        ("cohort_flag", "power-users"),
    ];
    for (name, key) in single {
        assert!(
            set.evaluate(key, &ctx)
                .is_some_and(|e| !e.is_inconclusive()),
            "{key} decides locally"
        );
        g.bench_function(name, |b| {
            b.iter(|| set.evaluate(black_box(key), black_box(&ctx)))
        });
    }
    // Three property filters in one condition: exact, icontains and gt.
    let three = FlagSet::from_slice(
        br#"{"flags": [{"key": "f", "active": true, "filters": {"groups": [{"properties": [
          {"key": "plan", "operator": "exact", "value": ["pro", "enterprise"], "type": "person"},
          {"key": "email", "operator": "icontains", "value": "@acme.com", "type": "person"},
          {"key": "age", "operator": "gt", "value": 18, "type": "person"}], "rollout_percentage": 100}]}}]}"#,
    )
    .expect("compiles");
    g.bench_function("exact_icontains_gt", |b| {
        b.iter(|| three.evaluate(black_box("f"), black_box(&ctx)))
    });
    g.bench_function("all_30_flags", |b| {
        b.iter(|| {
            let mut enabled = 0;
            for (_, answer) in set.evaluate_all(black_box(&ctx)) {
                enabled += usize::from(answer.value().is_some_and(|v| v.is_enabled()));
            }
            enabled
        })
    });
    // Issue 15 item 7: 2,000 flags whose regexes are costly to build (`\w{40}…`, ~10 ms
    // each): compiling the document only checks their syntax [target: < 1 s].
    let costly = costly_regex_document(2_000);
    g.sample_size(10);
    g.bench_function("compile_2000_costly_regexes", |b| {
        b.iter(|| FlagSet::from_slice(black_box(&costly)).expect("compiles"))
    });
    g.finish();
}

/// `n` flags, each with an `\w{40}<i>` regex filter on `email`.
fn costly_regex_document(n: usize) -> Vec<u8> {
    let flags: Vec<Value> = (0..n)
        .map(|i| {
            serde_json::json!({"id": i, "key": format!("f{i}"), "active": true, "filters": {"groups": [
                {"properties": [{"key": "email", "operator": "regex", "value": format!("\\w{{40}}{i}"), "type": "person"}],
                 "rollout_percentage": 100}]}})
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({"flags": flags})).expect("json")
}

criterion_group!(benches, bench);
criterion_main!(benches);
