//! `get_feature_flag` through the client (local definitions, the `$feature_flag_called` dedup
//! included) against the bare evaluator, in one run. Issue 5's target: the client's overhead is
//! at most 1.5x the bare evaluation.
//!
//! Run: `cargo bench -p posthog --bench flags` (or `cargo xtask bench`). Medians of 15 rounds
//! of 20,000 calls each are printed; nothing asserts a time.

#![allow(missing_docs)]

mod support;

use std::hint::black_box;
use std::time::{Duration, Instant};

use posthog::flags::{EvalContext, FlagSet};
use posthog::test_util::FakePostHog;
use posthog::{Client, FlagOptions, Properties};
use serde_json::json;

const CALLS: u32 = 20_000;
const ROUNDS: usize = 15;

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
            let (mut bare, mut through) = (Vec::new(), Vec::new());
            for _ in 0..ROUNDS {
                let ctx = EvalContext::new("user-123").person_properties(&person);
                let started = Instant::now();
                for _ in 0..CALLS {
                    black_box(set.evaluate(black_box(key), black_box(&ctx)).and_then(|e| e.value()).map(|v| v.to_owned()));
                }
                bare.push(started.elapsed().as_nanos() as f64 / f64::from(CALLS));
                let started = Instant::now();
                for _ in 0..CALLS {
                    black_box(client.get_feature_flag(black_box(key), "user-123", &opts).await);
                }
                through.push(started.elapsed().as_nanos() as f64 / f64::from(CALLS));
            }
            let quiet = opts.clone().send_feature_flag_events(false);
            let mut noev = Vec::new();
            for _ in 0..ROUNDS {
                let started = Instant::now();
                for _ in 0..CALLS {
                    black_box(client.get_feature_flag(black_box(key), "user-123", &quiet).await);
                }
                noev.push(started.elapsed().as_nanos() as f64 / f64::from(CALLS));
            }
            let (b, c) = (support::median(bare), support::median(through));
            println!("  {key:<10} bare {b:7.1} ns   client {c:7.1} ns   ratio {:.2}x   [<= 1.50x]", c / b);
            let q = support::median(noev);
            println!("  {key:<10} without $feature_flag_called: client {q:7.1} ns   ratio {:.2}x", q / b);
        }
        client.shutdown(Duration::from_secs(5)).await;
    });
}
