//! Issue 14's fault run, long form: 8 producer threads capture 300,000 events into a client
//! at default settings while FakePostHog fails a third of `/batch/` requests (500, 502, 503,
//! 429 with `Retry-After`, resets, answers cut off after storing, 413) and goes down for
//! 10 s. Prints sent, stored unique, lost, duplicated (each duplicate is the same uuid stored
//! twice: an answer cut off after the batch was stored) and reported [target: 0 lost].
//!
//! Run: `cargo bench -p posthog-sdk --bench faults` (or `cargo xtask bench`). The short form
//! (100,000 events, with assertions) runs in CI as `tests/faults.rs`.

#![allow(missing_docs)]

use std::time::Duration;

#[path = "../tests/support/chaos.rs"]
#[allow(dead_code, unreachable_pub)]
mod chaos;

fn main() {
    // `cargo test --benches` runs this with `--bench` absent: keep that run short.
    let long = std::env::args().any(|a| a == "--bench");
    let events = if long { 300_000 } else { 20_000 };
    let report = chaos::run(&chaos::ChaosRun {
        producers: 8,
        events,
        failures_per_mille: 333,
        outage: (Duration::from_millis(300), Duration::from_secs(10)),
        shutdown: Duration::from_secs(120),
    });
    println!("faults/chaos ({events} events, 8 producers, 1/3 failed, one 10 s outage):");
    println!("  {report}");
    println!(
        "  client: captured {} · sent {} · retried {} · failed {} · dropped {} [target: 0 lost]",
        report.stats.captured,
        report.stats.sent,
        report.stats.retried,
        report.stats.failed,
        report.stats.dropped
    );
}
