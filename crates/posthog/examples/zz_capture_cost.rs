use std::time::Instant;
fn time<F: FnMut(usize)>(label: &str, n: usize, mut f: F) {
    let t = Instant::now();
    for i in 0..n {
        f(i);
    }
    println!(
        "{label:40} {:8.0} ns",
        t.elapsed().as_nanos() as f64 / n as f64
    );
}
#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n = 200_000;
    time("build 10-prop event", n, |i| {
        let mut e = posthog::Event::new("order_placed", "user-123");
        for p in 0..10 {
            e = e.property(format!("prop_{p}"), format!("value {i} {p}"));
        }
        std::hint::black_box(e);
    });
    time("uuid now_v7", n, |_| {
        std::hint::black_box(uuid::Uuid::now_v7());
    });
    time("Utc::now", n, |_| {
        std::hint::black_box(chrono::Utc::now());
    });
    let server = posthog::test_util::FakePostHog::start().await;
    server.server().set_recording(false);
    let client = posthog::ClientBuilder::new("phc")
        .host(server.url())
        .max_queue_size(n + 10)
        .build()
        .unwrap();
    let events: Vec<posthog::Event> = (0..n)
        .map(|i| {
            let mut e = posthog::Event::new("order_placed", "user-123");
            for p in 0..10 {
                e = e.property(format!("prop_{p}"), format!("value {i} {p}"));
            }
            e
        })
        .collect();
    let mut it = events.into_iter();
    time("capture only (prebuilt)", n, |_| {
        std::hint::black_box(client.capture(it.next().unwrap()));
    });
}
