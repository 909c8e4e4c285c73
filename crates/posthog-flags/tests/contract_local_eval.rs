//! C-LOCAL-EVAL acceptance scenarios and the evaluator's robustness promises.

use posthog_flags::{
    Cause, EvalContext, Evaluation, FlagSet, FlagValueRef, Groups, Properties, Reason,
};
use serde_json::{Value, json};

fn set(doc: Value) -> FlagSet {
    FlagSet::compile(&doc).expect("definitions compile")
}

fn props(v: Value) -> Properties {
    serde_json::from_value(v).expect("object")
}

fn rollout(key: &str, pct: f64) -> Value {
    json!({"key": key, "active": true, "filters": {"groups": [{"properties": [], "rollout_percentage": pct}]}})
}

/// C-LOCAL-EVAL.1/.5: `beta-ui` rolled out to `user-123` is true.
#[test]
fn c_local_eval_rollout_true_for_user_123() {
    let s = set(json!({"flags": [rollout("beta-ui", 50.0)]}));
    let answer = s
        .evaluate("beta-ui", &EvalContext::new("user-123"))
        .unwrap();
    assert_eq!(answer.value(), Some(FlagValueRef::Bool(true)));
}

/// C-LOCAL-EVAL.2: an inactive flag is false.
#[test]
fn c_local_eval_2_inactive_is_false() {
    let mut flag = rollout("off", 100.0);
    flag["active"] = json!(false);
    let s = set(json!({"flags": [flag]}));
    assert_eq!(
        s.evaluate("off", &EvalContext::new("u")).unwrap().value(),
        Some(FlagValueRef::Bool(false))
    );
}

fn checkout() -> Value {
    json!({"flags": [{"key": "checkout", "active": true, "filters": {
        "groups": [{"properties": [], "rollout_percentage": 100}],
        "multivariate": {"variants": [
            {"key": "control", "rollout_percentage": 0}, {"key": "blue", "rollout_percentage": 100}]},
        "payloads": {"blue": "{\"copy\": \"new\"}"}}}]})
}

/// C-LOCAL-EVAL.8: multivariate `checkout` gives `blue`, with its payload.
#[test]
fn c_local_eval_8_variant_and_payload() {
    let s = set(checkout());
    let m = *s
        .evaluate("checkout", &EvalContext::new("user-123"))
        .unwrap()
        .as_match()
        .unwrap();
    assert_eq!(m.value, FlagValueRef::Variant("blue"));
    assert_eq!(m.payload, Some(&json!({"copy": "new"})));
    assert_eq!(m.condition_index, Some(0));
}

/// C-LOCAL-EVAL.3: a group flag without its group is inconclusive (remote fallback), with
/// `false` for local-only callers (flags.md §15.1).
#[test]
fn c_local_eval_3_group_flag_without_group_is_inconclusive() {
    let s = set(json!({
        "flags": [{"key": "company-beta", "active": true, "filters": {
            "aggregation_group_type_index": 0, "groups": [{"properties": [], "rollout_percentage": 100}]}}],
        "group_type_mapping": {"0": "company"}
    }));
    let answer = s
        .evaluate("company-beta", &EvalContext::new("user-123"))
        .unwrap();
    let Evaluation::Inconclusive(i) = answer else {
        panic!("{answer:?}")
    };
    assert_eq!(i.cause, Cause::GroupNotProvided);
    assert_eq!(answer.local_only_value(), Some(FlagValueRef::Bool(false)));

    let groups: Groups = [("company".to_owned(), "acme".to_owned())].into();
    let answer = s
        .evaluate(
            "company-beta",
            &EvalContext::new("user-123").groups(&groups),
        )
        .unwrap();
    assert_eq!(answer.value(), Some(FlagValueRef::Bool(true)));
}

/// C-LOCAL-EVAL.6/.7: `starts_with` is ASCII-case-insensitive; a missing property is
/// inconclusive.
#[test]
fn c_local_eval_6_starts_with_and_missing_property() {
    let s = set(
        json!({"flags": [{"key": "enterprise-ui", "active": true, "filters": {"groups": [{
        "properties": [{"key": "email", "operator": "starts_with", "value": "admin@", "type": "person"}],
        "rollout_percentage": 100}]}}]}),
    );
    let p = props(json!({"email": "Admin@Example.com"}));
    let answer = s
        .evaluate(
            "enterprise-ui",
            &EvalContext::new("u").person_properties(&p),
        )
        .unwrap();
    assert_eq!(answer.value(), Some(FlagValueRef::Bool(true)));
    let answer = s.evaluate("enterprise-ui", &EvalContext::new("u")).unwrap();
    let Evaluation::Inconclusive(i) = answer else {
        panic!("{answer:?}")
    };
    assert_eq!(i.reason, Reason::MissingContext);
}

/// C-LOCAL-EVAL.7/.9: an unknown operator makes that flag inconclusive, never the others.
#[test]
fn c_local_eval_7_unknown_operator_is_isolated() {
    let s = set(json!({"flags": [
        {"key": "future-op-flag", "active": true, "filters": {"groups": [{"properties": [
            {"key": "x", "operator": "quantum_entangled", "value": 1, "type": "person"}]}]}},
        rollout("beta-ui", 50.0)
    ]}));
    let ctx = EvalContext::new("user-123");
    let all: Vec<_> = s.evaluate_all(&ctx).collect();
    assert_eq!(all.len(), 2);
    let Evaluation::Inconclusive(i) = all[0].1 else {
        panic!("{:?}", all[0])
    };
    assert_eq!(i.reason, Reason::UnsupportedDefinition);
    assert_eq!(all[1].1.value(), Some(FlagValueRef::Bool(true)));
}

/// C-LOCAL-EVAL.5: 0.1 % is not rounded; 100.0 admits everyone and 0.0 nobody.
#[test]
fn c_local_eval_5_fractional_rollout() {
    let s = set(
        json!({"flags": [rollout("fractional-rollout", 0.1), rollout("all", 100.0), rollout("none", 0.0)]}),
    );
    let on = |key: &str, id: &str| s.evaluate(key, &EvalContext::new(id)).unwrap().value();
    assert_eq!(
        on("fractional-rollout", "user-2411"),
        Some(FlagValueRef::Bool(true))
    );
    assert_eq!(
        on("fractional-rollout", "user-184"),
        Some(FlagValueRef::Bool(false))
    );
    for id in ["a", "b", "c", "user-2411"] {
        assert_eq!(on("all", id), Some(FlagValueRef::Bool(true)));
        assert_eq!(on("none", id), Some(FlagValueRef::Bool(false)));
    }
}

/// C-LOCAL-EVAL.10: a cohort that references itself is detected, not a stack overflow.
#[test]
fn c_local_eval_10_cohort_cycle_is_detected() {
    let s = set(json!({
        "flags": [{"key": "f", "active": true, "filters": {"groups": [{"properties": [
            {"key": "id", "type": "cohort", "value": 1}]}]}}, rollout("other", 100.0)],
        "cohorts": {
            "1": {"type": "OR", "values": [{"key": "id", "type": "cohort", "value": 2}]},
            "2": {"type": "AND", "values": [{"key": "id", "type": "cohort", "value": 1}]}
        }
    }));
    let answer = s.evaluate("f", &EvalContext::new("u")).unwrap();
    let Evaluation::Inconclusive(i) = answer else {
        panic!("{answer:?}")
    };
    assert_eq!(i.cause, Cause::Cycle);
    assert_eq!(
        s.evaluate("other", &EvalContext::new("u")).unwrap().value(),
        Some(FlagValueRef::Bool(true))
    );
}

/// C-LOCAL-EVAL.10: flags depending on each other (without the server's cycle marker).
#[test]
fn c_local_eval_10_dependency_cycle_is_detected() {
    let dep = |key: &str, on: &str| {
        json!({"key": key, "active": true, "filters": {"groups": [{"properties": [
            {"key": on, "type": "flag", "operator": "flag_evaluates_to", "value": true, "dependency_chain": [on]}]}]}})
    };
    let s = set(json!({"flags": [dep("a", "b"), dep("b", "a")]}));
    for key in ["a", "b"] {
        let answer = s.evaluate(key, &EvalContext::new("u")).unwrap();
        assert!(answer.is_inconclusive(), "{key}: {answer:?}");
    }
}

/// Deeply nested cohorts end as inconclusive rather than overflowing the stack.
#[test]
fn deep_cohort_nesting_is_bounded() {
    let mut group =
        json!({"type": "AND", "values": [{"key": "x", "value": "y", "type": "person"}]});
    for _ in 0..500 {
        group = json!({"type": "AND", "values": [group]});
    }
    let s = set(json!({
        "flags": [{"key": "f", "active": true, "filters": {"groups": [{"properties": [
            {"key": "id", "type": "cohort", "value": 1}]}]}}],
        "cohorts": {"1": group}
    }));
    let p = props(json!({"x": "y"}));
    let answer = s
        .evaluate("f", &EvalContext::new("u").person_properties(&p))
        .unwrap();
    assert!(answer.is_inconclusive(), "{answer:?}");
}

/// A flag whose JSON has the wrong shape is reported and inconclusive; the rest still work.
#[test]
fn malformed_flag_is_reported_and_isolated() {
    let s = set(json!({"flags": [
        {"key": "broken", "active": true, "filters": {"groups": "not a list"}},
        {"key": "also-broken", "active": true, "filters": {"groups": [{"rollout_percentage": "50"}]}},
        rollout("fine", 100.0),
        {"no_key": true},
        {"key": 5}
    ]}));
    let problems = s.problems();
    assert_eq!(problems.len(), 3, "{problems:?}");
    assert_eq!(problems[0].flag_key.as_deref(), Some("broken"));
    assert!(
        problems[1].message.contains("rollout_percentage"),
        "{}",
        problems[1]
    );
    let answer = s.evaluate("broken", &EvalContext::new("u")).unwrap();
    let Evaluation::Inconclusive(i) = answer else {
        panic!("{answer:?}")
    };
    assert_eq!(i.cause, Cause::MalformedDefinition);
    assert_eq!(
        s.evaluate("fine", &EvalContext::new("u")).unwrap().value(),
        Some(FlagValueRef::Bool(true))
    );
    assert_eq!(s.len(), 3);
}

/// A document that is not an object is a typed error, not a panic.
#[test]
fn non_object_document_is_an_error() {
    assert!(FlagSet::from_slice(b"[1, 2]").is_err());
    assert!(FlagSet::from_slice(b"{not json").is_err());
    assert!(FlagSet::from_slice(b"{}").unwrap().is_empty());
}

/// The compiled set is shared across threads without locks.
#[test]
fn flag_set_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<FlagSet>();
}

/// Typed definitions from posthog-core compile to the same answers as their JSON.
#[test]
fn typed_definitions_compile() {
    let defs = posthog_core::FlagDefinitions {
        flags: vec![posthog_core::definitions::FlagDefinition::rollout(
            "beta-ui", 50.0,
        )],
        ..Default::default()
    };
    let s = FlagSet::from_definitions(&defs).unwrap();
    assert_eq!(
        s.evaluate("beta-ui", &EvalContext::new("user-123"))
            .unwrap()
            .value(),
        Some(FlagValueRef::Bool(true))
    );
}
