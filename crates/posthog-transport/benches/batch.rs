//! Delivery of a 1000-event batch (10 properties each, gzipped) to a loopback server: through
//! the whole transport stack (user agent, gzip, retry, timeout, pooled hyper client) and
//! through a bare hyper-util client doing the same gzip (the same level), in one run.
//!
//! Run: `cargo bench -p posthog-transport`, or `cargo xtask bench` for medians and the ratio.
//! Target (issue 3): the stack's overhead over the bare client is at most 10 %.

// `criterion_group!` defines an undocumented function.
#![allow(missing_docs)]

use std::sync::Arc;

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use posthog_core::{BatchRequest, Event};
use posthog_transport::test_util::TestServer;
use posthog_transport::{RetryPolicy, Transport};

fn batch() -> Bytes {
    let events: Vec<Event> = (0..1000)
        .map(|i| {
            let mut e = Event::new("order_placed", format!("user-{i}"));
            for p in 0..10 {
                e = e.property(format!("prop_{p}"), format!("value {i} {p}"));
            }
            e.stamp(chrono::Utc::now());
            e
        })
        .collect();
    Bytes::from(
        serde_json::to_vec(&BatchRequest::new("phc_bench", &events, chrono::Utc::now()))
            .expect("json"),
    )
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let server = runtime.block_on(TestServer::start()).expect("server");
    server.set_recording(false);
    let url = format!("{}/batch/?compression=gzip", server.url());
    let json = batch();
    let transport = runtime
        .block_on(async { Transport::builder("phc_bench").host(server.url()).build() })
        .expect("transport");
    let bare: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new())
        .build(hyper_util::client::legacy::connect::HttpConnector::new());
    let bare = Arc::new(bare);

    let mut g = c.benchmark_group("transport");
    g.throughput(Throughput::Elements(1000));
    g.sample_size(30);
    g.bench_function("bare_hyper_gzip_1000", |b| {
        b.to_async(&runtime).iter(|| {
            let (bare, url, json) = (bare.clone(), url.clone(), json.clone());
            async move {
                let body = Bytes::from(
                    posthog_transport::gzip::gzip(&json, posthog_transport::gzip::DEFAULT_LEVEL)
                        .expect("gzip"),
                );
                let request = http::Request::post(url)
                    .header("content-type", "application/json")
                    .header("content-encoding", "gzip")
                    .body(Full::new(body))
                    .expect("request");
                let response = bare.request(request).await.expect("response");
                assert!(response.status().is_success());
                response.into_body().collect().await.expect("body");
            }
        })
    });
    g.bench_function("stack_gzip_1000", |b| {
        b.to_async(&runtime).iter(|| {
            let (transport, json) = (transport.clone(), json.clone());
            async move {
                transport
                    .send_batch_with(json, RetryPolicy::ingestion(3))
                    .await
                    .expect("delivered");
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
