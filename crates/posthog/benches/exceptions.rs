//! Calling-thread cost of `capture_exception` for a three-level `source()` chain (issue 6):
//! building the list, capturing the stack (the worker resolves it), assembling and queueing
//! the event.
//!
//! Run: `cargo bench -p posthog-sdk --bench exceptions` (or `cargo xtask bench`). Median and p99
//! of 2,000 captures are printed; nothing asserts a time.

#![allow(missing_docs)]

mod support;

use std::fmt;
use std::time::{Duration, Instant};

use posthog::{ClientBuilder, ExceptionOptions};

#[derive(Debug)]
struct Layer {
    message: String,
    source: Option<Box<Layer>>,
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Layer {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|s| s as &(dyn std::error::Error + 'static))
    }
}

fn chain(i: usize) -> Layer {
    Layer {
        message: format!("request {i} failed"),
        source: Some(Box::new(Layer {
            message: "upstream error".into(),
            source: Some(Box::new(Layer {
                message: "connection reset".into(),
                source: None,
            })),
        })),
    }
}

fn main() {
    let runtime = support::runtime();
    runtime.block_on(async {
        let server = support::quiet_server().await;
        let client = ClientBuilder::new("phc_bench").host(server.url()).build().expect("client");
        let opts = ExceptionOptions::new();
        let mut samples = Vec::with_capacity(2_000);
        for i in 0..2_200 {
            let err = chain(i);
            let started = Instant::now();
            std::hint::black_box(client.capture_exception(&err, "user-123", &opts));
            if i >= 200 {
                samples.push(started.elapsed().as_nanos() as u64);
            }
        }
        samples.sort_unstable();
        let at = |p: f64| support::percentile(&samples, p);
        println!(
            "posthog exceptions: capture_exception, three-level chain, calling thread: median {:.1} µs, p99 {:.1} µs",
            at(0.5) as f64 / 1000.0,
            at(0.99) as f64 / 1000.0
        );
        client.shutdown(Duration::from_secs(10)).await;
    });
}
