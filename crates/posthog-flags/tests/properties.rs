//! Invariants of the hash and the evaluator, checked with proptest.

use posthog_core::hash::bucket;
use posthog_flags::{EvalContext, FlagSet, FlagValueRef, GroupProperties, Groups, Properties};
use proptest::prelude::*;
use serde_json::{Value, json};

/// Field names of the definitions format, so generated documents reach deep into the compiler.
const NAMES: &[&str] = &[
    "key",
    "active",
    "filters",
    "groups",
    "properties",
    "rollout_percentage",
    "variant",
    "multivariate",
    "variants",
    "payloads",
    "aggregation_group_type_index",
    "type",
    "operator",
    "value",
    "negation",
    "dependency_chain",
    "holdout",
    "id",
    "exclusion_percentage",
    "feature_enrollment",
    "early_exit",
    "bucketing_identifier",
    "values",
    "ensure_experience_continuity",
    "flags",
    "cohorts",
    "group_type_mapping",
    "property_matching_version",
    "true",
    "false",
    "0",
    "1",
];

const OPERATORS: &[&str] = &[
    "exact",
    "is_not",
    "is_set",
    "is_not_set",
    "icontains",
    "not_icontains",
    "regex",
    "not_regex",
    "starts_with",
    "not_starts_with",
    "ends_with",
    "not_ends_with",
    "gt",
    "gte",
    "lt",
    "lte",
    "is_date_before",
    "is_date_after",
    "semver_eq",
    "semver_neq",
    "semver_gt",
    "semver_gte",
    "semver_lt",
    "semver_lte",
    "semver_tilde",
    "semver_caret",
    "semver_wildcard",
    "in",
    "not_in",
    "flag_evaluates_to",
    "unknown_op",
];

fn arb_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9 $_.*+?()\\[\\]{}^|\\\\:,-]{0,16}",
        Just("1.2.3".to_owned()),
        Just("-3d".to_owned()),
        Just("2024-01-02T03:04:05+01:00".to_owned()),
        Just("company".to_owned()),
        Just("device_id".to_owned()),
        Just("AND".to_owned()),
        Just("OR".to_owned()),
        Just("cohort".to_owned()),
        Just("flag".to_owned()),
        prop::sample::select(OPERATORS).prop_map(str::to_owned),
        prop::sample::select(NAMES).prop_map(str::to_owned),
        any::<String>(),
    ]
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (-200.0f64..200.0).prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        arb_text().prop_map(Value::from),
    ];
    leaf.prop_recursive(6, 96, 6, |inner| {
        let key = prop_oneof![
            prop::sample::select(NAMES).prop_map(str::to_owned),
            "[a-z]{1,6}"
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(key, inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A well-formed flag skeleton whose leaves are arbitrary.
fn arb_flag() -> impl Strategy<Value = Value> {
    (
        prop::sample::select(OPERATORS),
        arb_json(),
        prop::sample::select(&["person", "cohort", "flag", "group"][..]),
        arb_json(),
        arb_json(),
        arb_json(),
    )
        .prop_map(|(op, value, kind, rollout, agg, extra)| {
            json!({
                "key": "f", "active": true,
                "filters": {
                    "groups": [
                        {"properties": [{"key": "p", "operator": op, "value": value, "type": kind,
                                         "dependency_chain": ["g"]}],
                         "rollout_percentage": if rollout.is_number() { rollout } else { json!(50) },
                         "aggregation_group_type_index": agg},
                        extra
                    ],
                    "multivariate": {"variants": [{"key": "a", "rollout_percentage": 60}, {"key": "b", "rollout_percentage": 40}]},
                    "payloads": {"a": "{\"x\": 1}", "true": "[1]"}
                }
            })
        })
}

fn evaluate_everything(set: &FlagSet, person: &Properties) {
    let groups: Groups = [("company".to_owned(), "acme".to_owned())].into();
    let group_props: GroupProperties = [("company".to_owned(), person.clone())].into();
    for ctx in [
        EvalContext::new("user-1"),
        EvalContext::new("user-1")
            .person_properties(person)
            .groups(&groups)
            .group_properties(&group_props),
        EvalContext::new("")
            .device_id("device-1")
            .person_properties(person),
    ] {
        for (key, _answer) in set.evaluate_all(&ctx) {
            let _ = set.payload(key, FlagValueRef::Bool(true));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    /// The bucket is a number in [0, 1) (1.0 needs fifteen leading `f`s: a 2^-60 chance).
    #[test]
    fn bucket_is_in_unit_interval(key in any::<String>(), id in any::<String>(), salt in any::<String>()) {
        let h = bucket(&key, &id, &salt);
        prop_assert!((0.0..1.0).contains(&h), "{h}");
    }

    /// A subject inside a p% rollout stays inside at every larger percentage.
    #[test]
    fn rollout_is_monotone(id in any::<String>(), p in 0.0f64..=100.0, q in 0.0f64..=100.0) {
        let (lo, hi) = if p <= q { (p, q) } else { (q, p) };
        let doc = |pct: f64| json!({"flags": [{"key": "m", "active": true,
            "filters": {"groups": [{"rollout_percentage": pct}]}}]});
        let at_lo = FlagSet::compile(&doc(lo)).unwrap();
        let at_hi = FlagSet::compile(&doc(hi)).unwrap();
        let ctx = EvalContext::new(&id);
        let inside = |s: &FlagSet| s.evaluate("m", &ctx).and_then(|e| e.value()) == Some(FlagValueRef::Bool(true));
        prop_assert!(!inside(&at_lo) || inside(&at_hi));
    }

    /// Any JSON at all as a definitions document: compiling and evaluating never panic.
    #[test]
    fn arbitrary_documents_never_panic(doc in arb_json(), props in arb_json()) {
        if let Ok(set) = FlagSet::compile(&doc) {
            let person = match props { Value::Object(m) => m, other => [("p".to_owned(), other)].into_iter().collect() };
            evaluate_everything(&set, &person);
        }
    }

    /// Well-formed flags with arbitrary operators, values, cohorts and property values.
    #[test]
    fn arbitrary_flags_and_properties_never_panic(
        flag in arb_flag(), cohort in arb_json(), value in arb_json(), v2 in any::<bool>()
    ) {
        let doc = json!({
            "flags": [flag, {"key": "g", "active": true, "filters": {"groups": [{"properties": [
                {"key": "p", "operator": "regex", "value": value.clone()}]}]}}],
            "cohorts": {"0": cohort.clone(), "1": {"type": "OR", "values": [cohort]}},
            "group_type_mapping": {"0": "company"},
            "property_matching_version": if v2 { 2 } else { 1 },
        });
        let set = FlagSet::compile(&doc).unwrap();
        let person: Properties = [("p".to_owned(), value)].into_iter().collect();
        evaluate_everything(&set, &person);
    }
}

/// Variant shares over 10,000 ids stay within 2 points of the configured split.
#[test]
fn variant_shares_follow_the_split() {
    let set = FlagSet::compile(
        &json!({"flags": [{"key": "split", "active": true, "filters": {
        "groups": [{"rollout_percentage": 100}],
        "multivariate": {"variants": [
            {"key": "a", "rollout_percentage": 20}, {"key": "b", "rollout_percentage": 30},
            {"key": "c", "rollout_percentage": 50}]}}}]}),
    )
    .unwrap();
    let mut counts = [0usize; 3];
    for i in 0..10_000 {
        let id = format!("user-{i}");
        match set
            .evaluate("split", &EvalContext::new(&id))
            .and_then(|e| e.value())
        {
            Some(FlagValueRef::Variant("a")) => counts[0] += 1,
            Some(FlagValueRef::Variant("b")) => counts[1] += 1,
            Some(FlagValueRef::Variant("c")) => counts[2] += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    for (count, want) in counts.iter().zip([0.20, 0.30, 0.50]) {
        let share = *count as f64 / 10_000.0;
        assert!((share - want).abs() < 0.02, "{counts:?}");
    }
}
