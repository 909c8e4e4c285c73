//! The fixture checks, shared by the native tests (`fixtures.rs`, reading files) and the
//! wasm tests (`wasm.rs`, the same files compiled in).

#![allow(dead_code)] // each test binary uses its part

use posthog_flags::{
    EvalContext, Evaluation, FlagSet, FlagValueRef, GroupProperties, Groups, Properties,
};
use serde_json::Value;

fn value_of(v: &Value) -> Option<FlagValueRef<'_>> {
    match v {
        Value::Bool(b) => Some(FlagValueRef::Bool(*b)),
        Value::String(s) => Some(FlagValueRef::Variant(s)),
        _ => None,
    }
}

/// Runs one case; `Err` describes the disagreement.
pub(crate) fn run_case(case: &Value) -> Result<(), String> {
    let set = FlagSet::compile(&case["definitions"]).map_err(|e| e.to_string())?;
    let person: Properties =
        serde_json::from_value(case["person_properties"].clone()).unwrap_or_default();
    let groups: Groups = serde_json::from_value(case["groups"].clone()).unwrap_or_default();
    let group_props: GroupProperties =
        serde_json::from_value(case["group_properties"].clone()).unwrap_or_default();
    let distinct_id = case["distinct_id"].as_str().unwrap_or_default();
    let mut ctx = EvalContext::new(distinct_id)
        .person_properties(&person)
        .groups(&groups)
        .group_properties(&group_props);
    if let Some(device) = case.get("device_id").and_then(Value::as_str) {
        ctx = ctx.device_id(device);
    }
    let key = case["flag_key"].as_str().unwrap_or_default();
    let expected = &case["expected"];
    let answer = set.evaluate(key, &ctx);
    if expected.get("inconclusive") == Some(&Value::Bool(true)) {
        let want = expected.get("reason").and_then(Value::as_str);
        return match (answer, want) {
            (None, Some("flag_missing")) => Ok(()),
            (Some(Evaluation::Inconclusive(i)), Some(reason)) if i.local_only_value().is_none() => {
                if i.reason.as_str() == reason || (reason == "error") {
                    Ok(())
                } else {
                    Err(format!(
                        "inconclusive {:?} ({:?}), expected {reason}",
                        i.reason, i.cause
                    ))
                }
            }
            (Some(Evaluation::Inconclusive(i)), None) if i.local_only_value().is_none() => Ok(()),
            (other, _) => Err(format!("got {other:?}, expected inconclusive {want:?}")),
        };
    }
    let want = value_of(&expected["value"]).ok_or("bad expected value")?;
    let answer = answer.ok_or("flag missing")?;
    let got = answer
        .local_only_value()
        .ok_or_else(|| format!("got {answer:?}, expected {want:?}"))?;
    if got != want {
        return Err(format!("got {got:?} ({answer:?}), expected {want:?}"));
    }
    let payload = match answer {
        Evaluation::Match(m) => m.payload,
        Evaluation::Inconclusive(_) => set.payload(key, got),
    };
    let want_payload = &expected["payload"];
    match (payload, want_payload) {
        (None, Value::Null) => Ok(()),
        (Some(p), w) if p == w => Ok(()),
        (p, w) => Err(format!("payload {p:?}, expected {w}")),
    }
}

/// Every case of a fixture document (`{"cases": [...]}`); panics listing the failures.
pub(crate) fn check_cases(name: &str, doc: &Value) {
    let cases = doc["cases"].as_array().expect("cases");
    assert!(!cases.is_empty(), "{name} has no cases");
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|case| {
            let result = std::panic::catch_unwind(|| run_case(case))
                .unwrap_or_else(|_| Err("panicked".into()));
            result
                .err()
                .map(|e| format!("{name}: {}: {e}", case["name"].as_str().unwrap_or("?")))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// The bucketing consistency vectors (2 × 1000 distinct ids).
pub(crate) fn check_consistency(doc: &Value) {
    let mut checked = 0;
    for entry in doc["flags"].as_array().expect("flags") {
        let definitions = serde_json::json!({"flags": [entry["flag"].clone()]});
        let set = FlagSet::compile(&definitions).expect("compiles");
        let key = entry["flag"]["key"].as_str().expect("key");
        for (distinct_id, expected) in entry["results"].as_object().expect("results") {
            let got = set
                .evaluate(key, &EvalContext::new(distinct_id))
                .and_then(|e| e.value());
            assert_eq!(got, value_of(expected), "{}: {distinct_id}", entry["test"]);
            checked += 1;
        }
    }
    assert_eq!(checked, 2000);
}

/// The raw hash vectors: input, SHA-1 prefix and the resulting float.
pub(crate) fn check_hash_vectors(doc: &Value) {
    for v in doc["vectors"].as_array().expect("vectors") {
        let (key, bucketing, salt, sep) = (
            v["flag_key"].as_str().unwrap(),
            v["bucketing_value"].as_str().unwrap(),
            v["salt"].as_str().unwrap(),
            v["separator"].as_str().unwrap(),
        );
        let got = posthog_core::hash::BucketHasher::new(key, sep).bucket(bucketing, salt);
        assert_eq!(got, v["hash"].as_f64().unwrap(), "{}", v["input"]);
    }
}
