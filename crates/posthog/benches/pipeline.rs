//! The client's hot path and pipeline, all in one run (issue 4's targets in brackets):
//!
//! 1. calling-thread cost of building and capturing a 10-property event, median and p99
//!    [≤ 300 ns median, ≤ 5 µs p99];
//! 2. end-to-end delivery of 200,000 such events with gzip to a loopback server until all are
//!    acknowledged, in events/s [≥ 400,000/s on 2 cores];
//! 3. the same events through serde_json + gzip alone (the floor; at the client's gzip level,
//!    and at level 6 for comparison);
//! 4. peak RSS growth with 200,000 events queued behind a stalled server [≤ 60 MiB];
//! 5. a 200,000-event burst at default settings: how many were dropped [none];
//! 6. capture in a quiet service (one event every 200 µs), median and p99: the case where a
//!    capture could have to wake an idle worker;
//! 7. for comparison with 1, build + capture of a typical handler's event: ten literal keys,
//!    two `format!`ed values and eight literal, numeric or boolean ones (1 formats every key
//!    and value, 20 heap strings per event).
//!
//! Run: `cargo bench -p posthog-sdk --bench pipeline` (or `cargo xtask bench`). Figures are
//! printed; nothing here asserts a time.

#![allow(missing_docs)]

mod support;

use std::hint::black_box;
use std::time::{Duration, Instant};

use posthog::test_util::{FakePostHog, Reply};
use posthog::{Client, ClientBuilder, Event};

const N: usize = 200_000;

fn event(i: usize) -> Event {
    let mut e = Event::new("order_placed", "user-123");
    for p in 0..10 {
        e = e.property(format!("prop_{p}"), format!("value {i} {p}"));
    }
    e
}

/// Ten properties as a request handler would set them: literal keys, two values formatted
/// from the request, the others literals and numbers.
fn typical_event(i: usize) -> Event {
    Event::new("order_placed", "user-123")
        .property("order_id", format!("ord_{i}"))
        .property("path", format!("/api/orders/{i}"))
        .property("plan", "pro")
        .property("currency", "EUR")
        .property("amount", 4990)
        .property("items", 3)
        .property("discount", 0.15)
        .property("first_order", false)
        .property("channel", "web")
        .property("status", 201)
}

fn vm_hwm_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// A client whose queue holds the whole run.
fn roomy_client(server: &FakePostHog) -> Client {
    ClientBuilder::new("phc_bench")
        .host(server.url())
        .max_queue_size(N + 1000)
        .build()
        .expect("client")
}

async fn wait_sent(client: &Client, n: u64, limit: Duration) -> bool {
    let started = Instant::now();
    while client.stats().sent + client.stats().failed < n {
        if started.elapsed() > limit {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    true
}

fn main() {
    let runtime = support::runtime();
    let baseline_rss = vm_hwm_kib();

    // 4. Peak RSS with 200,000 queued (first, so earlier runs do not raise the high-water mark).
    let rss = runtime.block_on(async {
        let server = support::quiet_server().await;
        // Every request stalls (a script wins over FakePostHog's own answers), so nothing is
        // acknowledged and every event stays queued.
        server.script((0..1_000).map(|_| Reply::ok().delay(Duration::from_secs(30))));
        let client = roomy_client(&server);
        let before = vm_hwm_kib();
        for i in 0..N {
            client.capture(event(i));
        }
        tokio::time::sleep(Duration::from_millis(500)).await; // let the worker take them in
        let after = vm_hwm_kib();
        let pending = client.stats().pending;
        // Stop the worker now, so it does not compete with the measurements that follow.
        client.shutdown(Duration::from_millis(100)).await;
        drop(client);
        drop(server);
        (before, after, pending)
    });

    // 1. Calling-thread cost of build + capture.
    let (median, p99, mean) = runtime.block_on(async {
        let server = support::quiet_server().await;
        let client = roomy_client(&server);
        for i in 0..10_000 {
            client.capture(event(i)); // warm-up
        }
        wait_sent(&client, 10_000, Duration::from_secs(60)).await;
        let mut samples = Vec::with_capacity(N);
        for i in 0..N {
            let started = Instant::now();
            black_box(client.capture(black_box(event(i))));
            samples.push(started.elapsed().as_nanos() as u64);
        }
        wait_sent(&client, (N + 10_000) as u64, Duration::from_secs(120)).await;
        client.shutdown(Duration::from_secs(10)).await;
        let mean = samples.iter().sum::<u64>() as f64 / samples.len() as f64;
        samples.sort_unstable();
        (
            support::percentile(&samples, 0.5),
            support::percentile(&samples, 0.99),
            mean,
        )
    });

    // 2. End-to-end delivery with gzip.
    let (delivered, e2e) = runtime.block_on(async {
        let server = support::quiet_server().await;
        let client = roomy_client(&server);
        let started = Instant::now();
        for i in 0..N {
            client.capture(event(i));
        }
        client.flush().await;
        wait_sent(&client, N as u64, Duration::from_secs(300)).await;
        let elapsed = started.elapsed();
        let sent = client.stats().sent;
        client.shutdown(Duration::from_secs(10)).await;
        (sent, elapsed)
    });

    // 3. The floor: serde_json + gzip of the same events in batches of 100, at the client's
    // gzip level and at level 6.
    let floor_at = |level: u32| {
        let events: Vec<Event> = (0..N)
            .map(|i| {
                let mut e = event(i);
                e.stamp(chrono::Utc::now());
                e
            })
            .collect();
        let started = Instant::now();
        let mut bytes = 0usize;
        for chunk in events.chunks(100) {
            let body = serde_json::to_vec(&posthog::core::BatchRequest::new(
                "phc_bench",
                chunk,
                chrono::Utc::now(),
            ))
            .expect("json");
            bytes += posthog::transport::gzip::gzip(&body, level)
                .expect("gzip")
                .len();
        }
        black_box(bytes);
        started.elapsed()
    };
    let floor = floor_at(posthog::transport::gzip::DEFAULT_LEVEL);
    let floor_6 = floor_at(6);

    // 5. A 200,000-event burst at default settings.
    let (accepted, dropped) = runtime.block_on(async {
        let server = support::quiet_server().await;
        let client = ClientBuilder::new("phc_bench")
            .host(server.url())
            .build()
            .expect("client");
        let mut accepted = 0u64;
        for i in 0..N {
            if client.capture(event(i)).is_some() {
                accepted += 1;
            }
        }
        client.shutdown(Duration::from_secs(120)).await;
        (accepted, client.stats().dropped)
    });

    // 6. Sparse captures: the worker is idle between them.
    let (sparse_median, sparse_p99) = runtime.block_on(async {
        let server = support::quiet_server().await;
        let client = ClientBuilder::new("phc_bench")
            .host(server.url())
            .build()
            .expect("client");
        let mut samples = Vec::with_capacity(2_000);
        for i in 0..2_000 {
            let event = event(i);
            let started = Instant::now();
            black_box(client.capture(black_box(event)));
            samples.push(started.elapsed().as_nanos() as u64);
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
        client.shutdown(Duration::from_secs(10)).await;
        samples.sort_unstable();
        (
            support::percentile(&samples, 0.5),
            support::percentile(&samples, 0.99),
        )
    });

    // 7. Build + capture of a typical event, as in 1.
    let (typical_median, typical_p99) = runtime.block_on(async {
        let server = support::quiet_server().await;
        let client = roomy_client(&server);
        let mut samples = Vec::with_capacity(N);
        for i in 0..N {
            let started = Instant::now();
            black_box(client.capture(black_box(typical_event(i))));
            samples.push(started.elapsed().as_nanos() as u64);
        }
        wait_sent(&client, N as u64, Duration::from_secs(120)).await;
        client.shutdown(Duration::from_secs(10)).await;
        samples.sort_unstable();
        (
            support::percentile(&samples, 0.5),
            support::percentile(&samples, 0.99),
        )
    });

    let per_sec = |n: u64, d: Duration| n as f64 / d.as_secs_f64();
    println!("posthog pipeline ({N} events of 10 properties)");
    println!(
        "  capture, calling thread     median {median} ns, p99 {p99} ns, mean {mean:.0} ns   [<= 300 ns / <= 5000 ns]"
    );
    println!(
        "  end-to-end with gzip        {:.0} events/s ({delivered} delivered in {:.2} s)   [>= 400000/s]",
        per_sec(delivered, e2e),
        e2e.as_secs_f64()
    );
    println!(
        "  floor: serde_json + gzip-{}  {:.0} events/s ({:.2} s); at gzip-6 {:.0} events/s",
        posthog::transport::gzip::DEFAULT_LEVEL,
        per_sec(N as u64, floor),
        floor.as_secs_f64(),
        per_sec(N as u64, floor_6)
    );
    println!(
        "  end-to-end / floor          {:.2}x the floor's time",
        e2e.as_secs_f64() / floor.as_secs_f64()
    );
    if let (Some(before), Some(after)) = (rss.0, rss.1) {
        println!(
            "  peak RSS growth, {} queued   {:.1} MiB (high-water mark {:.1} MiB, baseline {:.1} MiB)   [<= 60 MiB]",
            rss.2,
            (after.saturating_sub(before)) as f64 / 1024.0,
            after as f64 / 1024.0,
            baseline_rss.unwrap_or(0) as f64 / 1024.0
        );
    }
    println!("  burst at default settings   {accepted} accepted, {dropped} dropped   [0 dropped]");
    println!("  capture, one every 200 µs   median {sparse_median} ns, p99 {sparse_p99} ns");
    println!(
        "  typical event (literal keys) median {typical_median} ns, p99 {typical_p99} ns (build + capture)"
    );
}
