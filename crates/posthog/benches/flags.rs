//! `get_feature_flag` through the client (local definitions, the `$feature_flag_called` dedup
//! included) against the bare evaluator, in one run, and `get_all_flags` for the 30 flags of
//! `fixtures/bench/thirty_flags.json` against the bare `FlagSet::evaluate_all` collecting the
//! same key → value map. Targets (issues 5 and 15): the client costs at most 1.5x the bare
//! evaluation, for one flag and for all 30.
//!
//! Run: `cargo bench -p posthog-sdk --bench flags` (or `cargo xtask bench`). Each of 301 rounds
//! times 2,000 calls of each kind back to back; the medians of the per-call times and of the
//! per-round ratios are printed (a round's ratio is measured at one machine speed, which on a
//! shared machine changes from second to second). Nothing asserts a time.

#![allow(missing_docs)]

mod support;

use std::hint::black_box;
use std::time::{Duration, Instant};

use std::collections::BTreeMap;

use posthog::flags::{EvalContext, FlagSet};
use posthog::test_util::FakePostHog;
use posthog::{Client, FlagOptions, FlagValue, Properties};
use serde_json::json;

const CALLS: u32 = 2_000;
const ROUNDS: usize = 301;

fn definitions() -> serde_json::Value {
    json!({"flags": [
        {"id": 1, "key": "rollout", "active": true, "filters": {"groups": [{"rollout_percentage": 50}]}},
        {"id": 2, "key": "pro-plan", "active": true, "filters": {"groups": [
            {"properties": [{"key": "plan", "operator": "exact", "value": "pro", "type": "person"}], "rollout_percentage": 100}]}}
    ]})
}

fn main() {
    let runtime = support::runtime();
    runtime.block_on(async {
        let server = FakePostHog::start().await;
        server.set_definitions(definitions());
        let client = Client::builder("phc_bench").host(server.url()).personal_api_key("phx_bench").build().expect("client");
        assert!(client.wait_for_flags(Duration::from_secs(10)).await, "definitions");
        let set = FlagSet::compile(&definitions()).expect("compiles");
        let person: Properties = serde_json::from_value(json!({"plan": "pro"})).expect("props");
        let opts = FlagOptions::new().person_property("plan", "pro");

        println!("posthog flags: get_feature_flag through the client vs the bare evaluator (median ns per call)");
        for key in ["rollout", "pro-plan"] {
            // Warm up: the first read sends $feature_flag_called; later reads hit the dedup.
            assert!(client.get_feature_flag(key, "user-123", &opts).await.is_some());
            let quiet = opts.clone().send_feature_flag_events(false);
            let ctx = EvalContext::new("user-123").person_properties(&person);
            let (mut bare, mut through, mut noev) = (Vec::new(), Vec::new(), Vec::new());
            let (mut ratio, mut ratio_noev) = (Vec::new(), Vec::new());
            for round in 0..ROUNDS {
                // The three run back to back in a short round, in an order that turns each
                // round, so a change of machine speed between rounds cancels out of a round's
                // ratio.
                let mut ns = [0.0; 3];
                for step in 0..3 {
                    let which = (round + step) % 3;
                    let started = Instant::now();
                    match which {
                        0 => {
                            for _ in 0..CALLS {
                                black_box(set.evaluate(black_box(key), black_box(&ctx)).and_then(|e| e.value()).map(|v| v.to_owned()));
                            }
                        }
                        1 => {
                            for _ in 0..CALLS {
                                black_box(client.get_feature_flag(black_box(key), "user-123", &opts).await);
                            }
                        }
                        _ => {
                            for _ in 0..CALLS {
                                black_box(client.get_feature_flag(black_box(key), "user-123", &quiet).await);
                            }
                        }
                    }
                    ns[which] = started.elapsed().as_nanos() as f64 / f64::from(CALLS);
                }
                bare.push(ns[0]);
                through.push(ns[1]);
                noev.push(ns[2]);
                ratio.push(ns[1] / ns[0]);
                ratio_noev.push(ns[2] / ns[0]);
            }
            let (b, c, q) = (support::median(bare), support::median(through), support::median(noev));
            let (r, rq) = (support::median(ratio), support::median(ratio_noev));
            println!("  {key:<10} bare {b:7.1} ns   client {c:7.1} ns   ratio {r:.2}x   [<= 1.50x]");
            println!("  {key:<10} without $feature_flag_called: client {q:7.1} ns   ratio {rq:.2}x");
        }
        client.shutdown(Duration::from_secs(5)).await;
        all_thirty_flags().await;
    });
}

fn load(name: &str) -> serde_json::Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/bench")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(path).expect("bench fixture")).expect("json")
}

/// `get_all_flags` (local only) against `evaluate_all` collecting the same map.
async fn all_thirty_flags() {
    let definitions = load("thirty_flags.json");
    let subject = load("subject.json");
    let server = FakePostHog::start().await;
    server.set_definitions(definitions.clone());
    let client = Client::builder("phc_bench")
        .host(server.url())
        .personal_api_key("phx_bench")
        .build()
        .expect("client");
    assert!(
        client.wait_for_flags(Duration::from_secs(10)).await,
        "definitions"
    );
    let set = FlagSet::compile(&definitions).expect("compiles");
    let person: Properties =
        serde_json::from_value(subject["person_properties"].clone()).expect("props");
    let groups: posthog::flags::Groups =
        serde_json::from_value(subject["groups"].clone()).expect("groups");
    let group_props: posthog::flags::GroupProperties =
        serde_json::from_value(subject["group_properties"].clone()).expect("gp");
    let ctx = EvalContext::new("user-123")
        .person_properties(&person)
        .groups(&groups)
        .group_properties(&group_props);
    let opts = FlagOptions::new()
        .only_evaluate_locally(true)
        .person_properties(person.clone())
        .groups(groups.clone())
        .group_properties(group_props.clone());
    let bare_map = || -> BTreeMap<String, FlagValue> {
        set.evaluate_all(&ctx)
            .filter_map(|(k, e)| Some((k.to_owned(), e.local_only_value()?.to_owned())))
            .collect()
    };
    let through = client
        .get_all_flags("user-123", &opts)
        .await
        .expect("complete");
    assert_eq!(through, bare_map(), "the same answer");
    println!(
        "posthog flags: all {} flags through get_all_flags vs evaluate_all into a map (median ns per call)",
        set.len()
    );
    let (mut bare, mut client_ns, mut ratio) = (Vec::new(), Vec::new(), Vec::new());
    const ALL_CALLS: u32 = 200;
    for round in 0..ROUNDS {
        let mut ns = [0.0; 2];
        for step in 0..2 {
            let which = (round + step) % 2;
            let started = Instant::now();
            if which == 0 {
                for _ in 0..ALL_CALLS {
                    black_box(bare_map());
                }
            } else {
                for _ in 0..ALL_CALLS {
                    let _ = black_box(client.get_all_flags(black_box("user-123"), &opts).await);
                }
            }
            ns[which] = started.elapsed().as_nanos() as f64 / f64::from(ALL_CALLS);
        }
        bare.push(ns[0]);
        client_ns.push(ns[1]);
        ratio.push(ns[1] / ns[0]);
    }
    let (b, c, r) = (
        support::median(bare),
        support::median(client_ns),
        support::median(ratio),
    );
    println!(
        "  all-{:<6} bare {b:7.1} ns   client {c:7.1} ns   ratio {r:.2}x   [<= 1.50x]",
        set.len()
    );
    client.shutdown(Duration::from_secs(5)).await;
}
