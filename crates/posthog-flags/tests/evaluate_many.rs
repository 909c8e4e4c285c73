//! `evaluate_all_with_info` and `evaluate_keys_with_info` (one engine for many flags, person
//! properties looked up once) answer exactly as `evaluate_with_info` does flag by flag, on the
//! 30-flag benchmark document and its subject.

use posthog_flags::{EvalContext, FlagSet, GroupProperties, Groups, Properties};

fn load(name: &str) -> serde_json::Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/bench")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("json")
}

#[test]
fn batch_evaluation_matches_one_by_one() {
    let set = FlagSet::compile(&load("thirty_flags.json")).expect("compiles");
    let subject = load("subject.json");
    let person: Properties = serde_json::from_value(subject["person_properties"].clone()).unwrap();
    let groups: Groups = serde_json::from_value(subject["groups"].clone()).unwrap();
    let group_props: GroupProperties =
        serde_json::from_value(subject["group_properties"].clone()).unwrap();
    let ctx = EvalContext::new("user-123")
        .person_properties(&person)
        .groups(&groups)
        .group_properties(&group_props);
    let all: Vec<_> = set.evaluate_all_with_info(&ctx).collect();
    assert_eq!(all.len(), 30);
    for (key, info, evaluation) in &all {
        let (one_info, one) = set.evaluate_with_info(key, &ctx).expect("defined");
        assert_eq!(
            (info, format!("{evaluation:?}")),
            (&one_info, format!("{one:?}")),
            "{key}"
        );
    }
    let keys = ["checkout", "no-such-flag", "rollout-5"];
    let some: Vec<_> = set.evaluate_keys_with_info(keys, &ctx).collect();
    assert_eq!(some.len(), 3);
    assert!(some[1].1.is_none(), "an unknown key");
    for (key, answer) in some.iter().filter(|(_, a)| a.is_some()) {
        let (info, evaluation) = answer.as_ref().unwrap();
        let (one_info, one) = set.evaluate_with_info(key, &ctx).expect("defined");
        assert_eq!(
            (info, format!("{evaluation:?}")),
            (&one_info, format!("{one:?}")),
            "{key}"
        );
    }
}
