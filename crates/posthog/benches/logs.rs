//! PostHog Logs (issue 16): the calling-thread cost of `tracing::info!` with three fields
//! through `LogsLayer` [targets: median ≤ 1 µs, p99 ≤ 10 µs], and log records per second
//! delivered end to end, gzipped, to a loopback FakePostHog [target: ≥ 200,000/s].
//!
//! Run: `cargo bench -p posthog-sdk --features tracing --bench logs` (or `cargo xtask bench`).
//! Figures are printed; nothing asserts a time.

#![allow(missing_docs)]

mod support;

use std::time::{Duration, Instant};

use posthog::ClientBuilder;
use posthog::logs::{LogsConfig, LogsLayer};
use tracing_subscriber::layer::SubscriberExt;

fn main() {
    let runtime = support::runtime();
    runtime.block_on(async {
        let server = support::quiet_server().await;
        // A rate cap and buffer large enough that the bench measures the path, not the caps.
        let config = LogsConfig::new()
            .rate_limit(0, Duration::from_secs(1))
            .max_buffered(1_000_000)
            .gzip(std::env::var("LOGS_BENCH_GZIP").map_or(true, |v| v != "0"));
        let client = ClientBuilder::new("phc_bench")
            .host(server.url())
            .logs(config)
            .build()
            .expect("client");
        let subscriber = tracing_subscriber::registry().with(LogsLayer::new(client.clone()));
        let dispatch = tracing::Dispatch::new(subscriber);

        // Calling-thread cost, one event at a time.
        let mut samples = Vec::with_capacity(20_000);
        tracing::dispatcher::with_default(&dispatch, || {
            for i in 0..22_000u64 {
                let started = Instant::now();
                tracing::info!(order_id = i, region = "eu", retries = 2, "order shipped");
                let ns = started.elapsed().as_nanos() as u64;
                if i >= 2_000 {
                    samples.push(ns);
                }
            }
        });
        client.flush().await;
        samples.sort_unstable();
        println!(
            "posthog logs: tracing::info! with three fields through LogsLayer, calling thread: median {} ns, p99 {} ns   [<= 1,000 / 10,000 ns]",
            support::percentile(&samples, 0.5),
            support::percentile(&samples, 0.99)
        );

        // End to end: 200,000 records captured as fast as possible, then flushed.
        const N: u64 = 200_000;
        let started = Instant::now();
        tracing::dispatcher::with_default(&dispatch, || {
            for i in 0..N {
                tracing::info!(order_id = i, region = "eu", retries = 2, "order shipped");
            }
        });
        client.flush().await;
        let took = started.elapsed();
        println!(
            "posthog logs: {N} records delivered gzipped to a loopback server in {:.2} s: {:.0} records/s   [>= 200,000/s]",
            took.as_secs_f64(),
            N as f64 / took.as_secs_f64()
        );
        client.shutdown(Duration::from_secs(10)).await;
    });
}
