//! Delivery under failure: every event delivered exactly once, or reported.

mod support;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use posthog::test_util::{FakePostHog, Reply};
use posthog::{DeliveryErrorKind, Event};
use support::builder;

fn uuids(server: &FakePostHog) -> Vec<String> {
    server
        .events()
        .iter()
        .map(|e| e["uuid"].as_str().unwrap().to_owned())
        .collect()
}

/// 503 three times, then 200: each event delivered exactly once, same uuids and timestamps.
#[tokio::test]
async fn repeated_503_then_success_delivers_exactly_once() {
    let server = FakePostHog::start().await;
    server.script([Reply::status(503), Reply::status(503), Reply::status(503)]);
    let (b, errors) = builder(&server);
    let client = b.build().unwrap();
    let sent: Vec<String> = (0..10)
        .map(|i| {
            client
                .capture(Event::new("e", format!("u{i}")))
                .unwrap()
                .to_string()
        })
        .collect();
    let report = client.shutdown(Duration::from_secs(20)).await;
    assert_eq!((report.undelivered, report.timed_out), (0, false));
    let got = uuids(&server);
    assert_eq!(got, sent);
    assert_eq!(server.ingestion_requests().len(), 4);
    let bodies: Vec<_> = server
        .ingestion_requests()
        .iter()
        .map(|r| r.json()["batch"].clone())
        .collect();
    assert!(
        bodies.windows(2).all(|w| w[0] == w[1]),
        "uuids and timestamps identical across retries"
    );
    assert!(errors.all().is_empty());
    assert_eq!(client.stats().retried, 30);
}

/// 429 with Retry-After: the retry waits at least as long.
#[tokio::test]
async fn retry_after_on_429_is_honoured() {
    let server = FakePostHog::start().await;
    server.script([Reply::status(429).header("retry-after", "1")]);
    let (b, _) = builder(&server);
    let client = b.build().unwrap();
    client.capture(Event::new("e", "u"));
    client.flush().await;
    client.shutdown(Duration::from_secs(10)).await;
    let reqs = server.ingestion_requests();
    assert_eq!(reqs.len(), 2);
    assert!(reqs[1].at - reqs[0].at >= Duration::from_millis(990));
    assert_eq!(server.events().len(), 1);
}

/// Connections closed without an answer or cut off mid-body: retried and delivered.
#[tokio::test]
async fn dropped_connections_are_retried() {
    let server = FakePostHog::start().await;
    server.script([Reply::Close, Reply::CutOffBody]);
    let (b, _) = builder(&server);
    let client = b.build().unwrap();
    let id = client.capture(Event::new("e", "u")).unwrap();
    client.shutdown(Duration::from_secs(10)).await;
    assert_eq!(uuids(&server), vec![id.to_string()]);
}

/// A server slower than the timeout: the attempt times out and the retry delivers.
#[tokio::test]
async fn slow_server_times_out_and_retries() {
    let server = FakePostHog::start().await;
    server.script([Reply::ok().delay(Duration::from_secs(3))]);
    let (b, _) = builder(&server);
    let client = b.timeout(Duration::from_millis(300)).build().unwrap();
    client.capture(Event::new("e", "u"));
    let started = Instant::now();
    let report = client.shutdown(Duration::from_secs(10)).await;
    assert_eq!(report.undelivered, 0);
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(server.ingestion_requests().len(), 2);
}

/// 401: one clear error per batch, no retries.
#[tokio::test]
async fn unauthorized_is_reported_once_and_not_retried() {
    let server = FakePostHog::start().await;
    support::answer_always(&server, Reply::status(401).body("invalid token"));
    let (b, errors) = builder(&server);
    let client = b.build().unwrap();
    for i in 0..3 {
        client.capture(Event::new("e", format!("u{i}")));
    }
    let report = client.shutdown(Duration::from_secs(5)).await;
    assert_eq!(server.ingestion_requests().len(), 1);
    assert_eq!(report.undelivered, 3);
    let errors = errors.all();
    assert_eq!(errors.len(), 1);
    assert_eq!(
        (errors[0].kind.clone(), errors[0].status, errors[0].count),
        (DeliveryErrorKind::Rejected, Some(401), 3)
    );
    assert!(errors[0].message.contains("401"));
}

/// 10,000 events through a server that fails every fifth request: none lost, none duplicated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_events_with_twenty_percent_failures() {
    let server = FakePostHog::start().await;
    let counter = Arc::new(AtomicUsize::new(0));
    let seen = counter.clone();
    server.server().set_handler(Arc::new(move |_| {
        let n = seen.fetch_add(1, Ordering::SeqCst);
        Some(if n % 5 == 4 {
            Reply::status(503)
        } else {
            Reply::ok()
        })
    }));
    let (b, errors) = builder(&server);
    let client = b.max_retries(10).build().unwrap();
    let mut sent = HashSet::new();
    for i in 0..10_000 {
        let id = client
            .capture(Event::new("load", format!("user-{}", i % 97)).property("i", i))
            .expect("queued");
        sent.insert(id.to_string());
    }
    let report = client.shutdown(Duration::from_secs(60)).await;
    assert_eq!(report.undelivered, 0, "{report:?}");
    let got = uuids(&server);
    let unique: HashSet<_> = got.iter().cloned().collect();
    assert_eq!(got.len(), 10_000, "no duplicates");
    assert_eq!(unique, sent, "none lost");
    assert!(errors.all().is_empty());
    let stats = client.stats();
    assert_eq!(
        (stats.captured, stats.sent, stats.failed, stats.dropped),
        (10_000, 10_000, 0, 0)
    );
    assert!(stats.retried > 0);
}

/// A 20,000-event burst at default settings (a 10,000-event queue): every capture is either
/// accepted and delivered, or counted as dropped and reported.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn burst_at_default_settings_loses_nothing_it_accepted() {
    let server = FakePostHog::start().await;
    let (b, _) = builder(&server);
    let client = b.build().unwrap();
    let mut accepted = 0u64;
    for i in 0..20_000 {
        if client
            .capture(Event::new("burst", "u").property("i", i))
            .is_some()
        {
            accepted += 1;
        }
    }
    let report = client.shutdown(Duration::from_secs(60)).await;
    let stats = client.stats();
    assert_eq!(report.undelivered, 0);
    assert_eq!(stats.sent, accepted);
    assert_eq!(
        stats.dropped + accepted,
        20_000,
        "every capture is either accepted or counted as dropped"
    );
    assert_eq!(server.events().len() as u64, accepted);
}

/// C-BATCHER.4/C-CAPTURE.7 under a stalled server: while both sending slots hang, the batches
/// waiting for a slot are kept compressed, so a `max_pending_bytes` far below the events' JSON
/// (~800 KB) still holds every one of them (without it the worker would stop taking events at
/// 256 KiB, the channel would fill and captures would be dropped). Once the server answers, each event is
/// delivered exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_server_holds_compressed_batches_and_loses_nothing() {
    const N: usize = 4_000;
    let server = FakePostHog::start().await;
    let stall = Duration::from_secs(4);
    server.script([Reply::ok().delay(stall), Reply::ok().delay(stall)]);
    let (b, errors) = builder(&server);
    let client = b
        .flush_at(20)
        .max_queue_size(1_000)
        .max_batch_bytes(16 * 1024)
        .max_event_bytes(8 * 1024)
        .max_pending_bytes(256 * 1024)
        .build()
        .unwrap();
    let started = Instant::now();
    let mut sent = HashSet::new();
    for i in 0..N {
        let event = Event::new("stalled", "user-123")
            .property("i", i)
            .property("plan", "pro");
        let uuid = client.capture(event).expect("accepted, not dropped");
        sent.insert(uuid.to_string());
        if i % 20 == 19 {
            // Paced so the worker can take the events in as they come (the channel holds
            // 1,000; without compression the worker would stop at ~1,300 held).
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
    assert!(
        started.elapsed() < stall,
        "every event was captured while the server stalled"
    );
    let report = client.shutdown(Duration::from_secs(30)).await;
    assert_eq!((report.undelivered, report.timed_out), (0, false));
    assert_eq!(client.stats().dropped, 0);
    let got = uuids(&server);
    assert_eq!(got.len(), N, "no event twice");
    assert_eq!(got.into_iter().collect::<HashSet<_>>(), sent);
    assert!(errors.all().is_empty());
}

#[path = "support/chaos.rs"]
mod chaos;

/// Issue 14's fault run, short form (the long one is `cargo bench --bench faults`): 100,000
/// events from 8 producer threads at default settings, a third of requests failed (500, 502,
/// 503, 429 with `Retry-After`, resets, answers cut off after storing, 413) and one 10 s
/// outage. Nothing is lost or refused, a duplicate is only ever the same uuid stored twice,
/// and the client's counters agree with the server (C-RETRY-QUEUE.1–.6, C-BATCHER.7).
#[test]
fn chaos_short_form_loses_nothing_at_defaults() {
    let report = chaos::run(&chaos::ChaosRun {
        producers: 8,
        events: 100_000,
        failures_per_mille: 333,
        outage: (Duration::from_millis(300), Duration::from_secs(10)),
        shutdown: Duration::from_secs(55),
    });
    eprintln!("chaos (short form): {report}");
    assert!(report.failed_requests * 4 > report.requests, "{report}");
    assert_eq!(report.refused, 0, "{report}");
    assert_eq!(report.lost, 0, "{report}");
    assert_eq!(report.reported, 0, "{report}");
    assert_eq!(
        report.stored_unique, report.sent,
        "no event the client did not send"
    );
    let stats = report.stats;
    assert_eq!(
        (
            stats.captured,
            stats.sent,
            stats.failed,
            stats.dropped,
            stats.pending
        ),
        (report.sent, report.stored_unique, 0, 0, 0),
        "{stats:?}"
    );
}
