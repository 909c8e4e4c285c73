//! PostHog traces (issue 17): the calling-thread cost of a `with_span` around an empty
//! closure and of an `#[instrument]`ed function through `SpansLayer` [targets: median ≤ 1 µs
//! each], and spans per second exported end to end, gzipped, to a loopback FakePostHog.
//!
//! Run: `cargo bench -p posthog-sdk --features tracing,test-util --bench traces` (or `cargo xtask
//! bench`). Figures are printed; nothing asserts a time.

#![allow(missing_docs)]

mod support;

use std::time::{Duration, Instant};

use posthog::ClientBuilder;
use posthog::traces::{SpanOptions, SpansLayer, TracesConfig};
use tracing_subscriber::layer::SubscriberExt;

#[tracing::instrument]
fn instrumented(n: u64) -> u64 {
    std::hint::black_box(n)
}

fn main() {
    let runtime = support::runtime();
    runtime.block_on(async {
        let server = support::quiet_server().await;
        let config = TracesConfig::new().batching(Duration::from_secs(1), 512);
        let mut config = config;
        config.max_queue_size = 1_000_000;
        let client = ClientBuilder::new("phc_bench")
            .host(server.url())
            .traces(config)
            .build()
            .expect("client");

        let mut samples = Vec::with_capacity(20_000);
        for i in 0..22_000u64 {
            let started = Instant::now();
            let _: Result<(), std::convert::Infallible> =
                client.with_span("noop", SpanOptions::new(), |_| Ok(()));
            let ns = started.elapsed().as_nanos() as u64;
            if i >= 2_000 {
                samples.push(ns);
            }
        }
        client.flush().await;
        samples.sort_unstable();
        println!(
            "posthog traces: with_span around an empty closure, calling thread: median {} ns, p99 {} ns   [median <= 1,000 ns]",
            support::percentile(&samples, 0.5),
            support::percentile(&samples, 0.99)
        );

        let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(SpansLayer::new(client.clone())));
        let mut samples = Vec::with_capacity(20_000);
        tracing::dispatcher::with_default(&dispatch, || {
            for i in 0..22_000u64 {
                let started = Instant::now();
                instrumented(i);
                let ns = started.elapsed().as_nanos() as u64;
                if i >= 2_000 {
                    samples.push(ns);
                }
            }
        });
        client.flush().await;
        samples.sort_unstable();
        println!(
            "posthog traces: an #[instrument]ed function through SpansLayer, calling thread: median {} ns, p99 {} ns   [median <= 1,000 ns]",
            support::percentile(&samples, 0.5),
            support::percentile(&samples, 0.99)
        );

        const N: u64 = 200_000;
        let started = Instant::now();
        for _ in 0..N {
            client.start_span("span", SpanOptions::new()).end();
        }
        client.flush().await;
        let took = started.elapsed();
        println!(
            "posthog traces: {N} spans exported gzipped to a loopback server in {:.2} s: {:.0} spans/s",
            took.as_secs_f64(),
            N as f64 / took.as_secs_f64()
        );
        client.shutdown(Duration::from_secs(10)).await;
    });
}
