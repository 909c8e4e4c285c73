//! Helpers shared by the client's benchmarks.
#![allow(dead_code)]

use posthog::test_util::FakePostHog;

/// The runtime every benchmark runs on: two worker threads, like the CI machine's two cores.
pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// A FakePostHog that keeps no record of requests (so memory measures the client only).
pub(crate) async fn quiet_server() -> FakePostHog {
    let server = FakePostHog::start().await;
    server.server().set_recording(false);
    server
}

/// The `p`-quantile (0–1) of sorted samples.
pub(crate) fn percentile(sorted: &[u64], p: f64) -> u64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// The median of per-round figures.
pub(crate) fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(|a, b| a.total_cmp(b));
    xs[xs.len() / 2]
}
