//! The delivery contracts' MUST rows that `contracts.rs` and `delivery.rs` do not already
//! name: C-BEFORE-SEND.2, C-BATCHER.5/.6, C-RETRY-QUEUE.1/.3/.8, C-FLUSH.1/.4/.5,
//! C-SHUTDOWN.1/.3/.4/.8 and C-SETUP.4, each against FakePostHog over real HTTP.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use posthog::feature_flags::cache::{BoxFuture, CacheError, CachedDefinitions, DefinitionsCache};
use posthog::test_util::{FakePostHog, Reply};
use posthog::{Client, DeliveryErrorKind, Event};
use support::{builder, names};

const HOUR: Duration = Duration::from_secs(3600);

/// C-BEFORE-SEND.2: hooks run in registration order, each seeing the previous one's output,
/// and the chain stops at the first `None`.
#[tokio::test]
async fn c_before_send_2_hooks_run_in_order_and_stop_at_the_first_drop() {
    let server = FakePostHog::start().await;
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let (first, second, third) = (seen.clone(), seen.clone(), seen.clone());
    let (b, _) = builder(&server);
    let client = b
        .before_send(move |event| {
            first.lock().unwrap().push(format!("1:{}", event.name()));
            Some(event.property("trail", "1"))
        })
        .before_send(move |event| {
            let trail = event.properties()["trail"].as_str().unwrap().to_owned();
            second
                .lock()
                .unwrap()
                .push(format!("2:{}:{trail}", event.name()));
            (event.name() != "dropped").then(|| event.property("trail", format!("{trail}2")))
        })
        .before_send(move |event| {
            third.lock().unwrap().push(format!("3:{}", event.name()));
            Some(event)
        })
        .build()
        .unwrap();
    client.capture(Event::new("kept", "u"));
    client.capture(Event::new("dropped", "u"));
    client.flush().await;
    assert_eq!(
        *seen.lock().unwrap(),
        ["1:kept", "2:kept:1", "3:kept", "1:dropped", "2:dropped:1"]
    );
    assert_eq!(server.events()[0]["properties"]["trail"], "12");
    assert_eq!(client.stats().filtered, 1);
}

/// C-BATCHER.5: `flush` and `shutdown` ignore `flush_at` and the interval and drain
/// everything.
#[tokio::test]
async fn c_batcher_5_flush_and_shutdown_bypass_both_thresholds() {
    let server = FakePostHog::start().await;
    let (b, _) = builder(&server);
    let client = b.flush_at(1_000).flush_interval(HOUR).build().unwrap();
    client.capture(Event::new("by_flush", "u"));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(server.events().is_empty(), "neither threshold was reached");
    client.flush().await;
    assert_eq!(names(&server), ["by_flush"]);
    client.capture(Event::new("by_shutdown", "u"));
    client.shutdown(Duration::from_secs(5)).await;
    assert_eq!(names(&server), ["by_flush", "by_shutdown"]);
}

/// C-BATCHER.6 / C-FLUSH.5: capture never waits on the network (a server that takes 2 s to
/// answer costs a capture nothing), and flushes called together are joined: each answers
/// once the events before it were attempted, with no extra request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_batcher_6_c_flush_5_capture_never_waits_and_flushes_are_joined() {
    let server = FakePostHog::start().await;
    server.script([Reply::ok().delay(Duration::from_secs(2))]);
    let (b, _) = builder(&server);
    let client = b.flush_at(1).build().unwrap();
    client.capture(Event::new("slow", "u"));
    tokio::time::sleep(Duration::from_millis(50)).await;
    let started = Instant::now();
    for i in 0..1_000 {
        client.capture(Event::new("fast", "u").property("i", i));
    }
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "{:?}",
        started.elapsed()
    );
    let flushes: Vec<_> = (0..4)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.flush().await })
        })
        .collect();
    for flush in flushes {
        let report = flush.await.unwrap();
        assert_eq!(report.pending, 0, "{report:?}");
    }
    assert_eq!(server.events().len(), 1_001);
    assert_eq!(client.stats().sent, 1_001);
}

/// C-RETRY-QUEUE.1: no response, 408, 429 and 5xx are retried; 400, 401, 402 and 403 are
/// final and reported with their status.
#[tokio::test]
async fn c_retry_queue_1_failures_are_classified() {
    let retryable = [
        Reply::Close,
        Reply::status(408),
        Reply::status(429),
        Reply::status(500),
        Reply::status(503),
    ];
    for reply in retryable {
        let server = FakePostHog::start().await;
        server.script([reply.clone()]);
        let (b, errors) = builder(&server);
        let client = b.build().unwrap();
        client.capture(Event::new("e", "u"));
        let report = client.shutdown(Duration::from_secs(10)).await;
        assert_eq!((report.sent, report.undelivered), (1, 0), "{reply:?}");
        assert_eq!(server.ingestion_requests().len(), 2, "{reply:?}");
        assert!(errors.all().is_empty(), "{reply:?}");
    }
    for status in [400, 401, 402, 403] {
        let server = FakePostHog::start().await;
        server.script([Reply::status(status)]);
        let (b, errors) = builder(&server);
        let client = b.build().unwrap();
        client.capture(Event::new("e", "u"));
        let report = client.shutdown(Duration::from_secs(10)).await;
        assert_eq!(report.undelivered, 1, "{status}");
        assert_eq!(server.ingestion_requests().len(), 1, "{status}");
        let reported = errors.all();
        assert_eq!(reported[0].kind, DeliveryErrorKind::Rejected);
        assert_eq!(reported[0].status, Some(status));
    }
}

/// C-RETRY-QUEUE.3 / .8: a failed flush leaves its events queued for a later, separate
/// attempt (one request per flush, no tight loop inside it), and nothing surfaces through
/// `capture`.
#[tokio::test]
async fn c_retry_queue_3_8_a_failed_flush_leaves_events_queued() {
    let server = FakePostHog::start().await;
    support::answer_always(&server, Reply::status(503));
    let (b, errors) = builder(&server);
    let client = b.build().unwrap();
    assert!(client.capture(Event::new("Retry Me", "u")).is_some());
    let report = client.flush().await;
    assert_eq!((report.sent, report.failed, report.pending), (0, 0, 1));
    assert_eq!(server.ingestion_requests().len(), 1, "no tight loop");
    assert!(client.capture(Event::new("still fine", "u")).is_some());
    assert!(errors.all().is_empty());
    support::answer_always(&server, Reply::ok());
    let report = client.shutdown(Duration::from_secs(10)).await;
    assert_eq!(report.undelivered, 0);
    assert_eq!(names(&server).len(), 2);
}

/// C-FLUSH.1: a flush delivers every event queued before it, across as many batches as
/// needed.
#[tokio::test]
async fn c_flush_1_flush_delivers_everything_across_batches() {
    let server = FakePostHog::start().await;
    let (b, _) = builder(&server);
    let client = b.flush_at(10).flush_interval(HOUR).build().unwrap();
    for i in 0..95 {
        client.capture(Event::new("e", "u").property("i", i));
    }
    let report = client.flush().await;
    assert_eq!((report.sent, report.pending), (95, 0));
    assert_eq!(server.events().len(), 95);
    assert_eq!(
        server.ingestion_requests().len(),
        10,
        "batches of at most 10"
    );
}

/// C-FLUSH.4: the deadline variant says whether everything drained in time.
#[tokio::test]
async fn c_flush_4_flush_timeout_reports_whether_it_drained() {
    let server = FakePostHog::start().await;
    server.script([Reply::ok().delay(Duration::from_millis(800))]);
    let (b, _) = builder(&server);
    let client = b.build().unwrap();
    client.capture(Event::new("slow", "u"));
    assert!(matches!(
        client.flush_timeout(Duration::from_millis(100)).await,
        Err(posthog::Error::FlushTimeout(_))
    ));
    let drained = client.flush_timeout(Duration::from_secs(5)).await.unwrap();
    assert_eq!(drained.pending, 0);
    assert_eq!(server.events().len(), 1);
}

/// C-SHUTDOWN.1/.3/.4: concurrent shutdowns share one finalisation and report the same; the
/// queue is delivered first; afterwards captures are silent no-ops.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_shutdown_1_3_4_concurrent_shutdowns_share_one_finalisation() {
    let server = FakePostHog::start().await;
    server.script([Reply::ok().delay(Duration::from_millis(200))]);
    let (b, errors) = builder(&server);
    let client = b.flush_interval(HOUR).build().unwrap();
    client.capture(Event::new("Save", "u"));
    let calls: Vec<_> = (0..3)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.shutdown(Duration::from_secs(5)).await })
        })
        .collect();
    let mut reports = Vec::new();
    for call in calls {
        reports.push(call.await.unwrap());
    }
    assert!(reports.iter().all(|r| *r == reports[0]), "{reports:?}");
    assert_eq!((reports[0].sent, reports[0].undelivered), (1, 0));
    assert_eq!(names(&server), ["Save"]);
    assert_eq!(client.capture(Event::new("After Shutdown", "u")), None);
    assert!(!client.is_enabled());
    client.flush().await;
    assert_eq!(server.ingestion_requests().len(), 1);
    assert!(errors.all().is_empty());
}

/// A definitions cache whose shutdown fails.
#[derive(Debug, Default)]
struct FailingCache {
    shutdowns: AtomicUsize,
}

impl DefinitionsCache for FailingCache {
    fn should_fetch(&self) -> BoxFuture<'_, Result<bool, CacheError>> {
        Box::pin(async { Ok(true) })
    }

    fn get(&self) -> BoxFuture<'_, Result<Option<CachedDefinitions>, CacheError>> {
        Box::pin(async { Ok(None) })
    }

    fn put<'a>(&'a self, _: &'a CachedDefinitions) -> BoxFuture<'a, Result<(), CacheError>> {
        Box::pin(async { Ok(()) })
    }

    fn shutdown(&self) -> BoxFuture<'_, Result<(), CacheError>> {
        self.shutdowns.fetch_add(1, Ordering::SeqCst);
        Box::pin(async { Err(CacheError::from("the cache is on fire")) })
    }
}

/// C-SHUTDOWN.2/.8: a cache provider whose shutdown fails is still called, and does not stop
/// the rest of shutdown: the queue is delivered.
#[tokio::test]
async fn c_shutdown_8_a_failing_cache_provider_does_not_stop_shutdown() {
    let server = FakePostHog::start().await;
    let cache = Arc::new(FailingCache::default());
    let (b, _) = builder(&server);
    let client = b
        .personal_api_key(posthog::test_util::FAKE_PERSONAL_API_KEY)
        .definitions_cache(cache.clone())
        .build()
        .unwrap();
    client.capture(Event::new("Save", "u"));
    let report = client.shutdown(Duration::from_secs(5)).await;
    assert_eq!((report.sent, report.undelivered), (1, 0));
    assert_eq!(cache.shutdowns.load(Ordering::SeqCst), 1);
}

/// C-SETUP.4 / C-FLAG-DEFS.1: construction creates the queue, worker and transport; with local evaluation
/// and a personal key it starts the definitions poller; asked for without the key, it warns
/// once and flags are evaluated remotely.
#[tokio::test(flavor = "current_thread")]
async fn c_setup_4_construction_starts_the_pipeline_and_the_poller() {
    let server = FakePostHog::start().await;
    server.set_definitions(serde_json::json!({"flags": [], "group_type_mapping": {}}));
    let with_key = Client::builder("phc")
        .host(server.url())
        .personal_api_key(posthog::test_util::FAKE_PERSONAL_API_KEY)
        .build()
        .unwrap();
    assert!(with_key.is_enabled());
    assert!(with_key.wait_for_flags(Duration::from_secs(5)).await);
    assert_eq!(server.requests_to("/flags/definitions").len(), 1);

    let log = support::log::Log::default();
    let guard = log.on_this_thread();
    let without_key = Client::builder("phc")
        .host(server.url())
        .local_evaluation(true)
        .build()
        .unwrap();
    let quiet = Client::builder("phc").host(server.url()).build().unwrap();
    drop(guard);
    assert_eq!(log.text().matches("needs a personal API key").count(), 1);
    server.clear();
    without_key
        .get_feature_flag("beta", "u", &posthog::FlagOptions::new())
        .await;
    let paths: Vec<String> = server.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(
        paths,
        ["/flags/"],
        "evaluated remotely, no definitions fetched"
    );
    drop(quiet);
}

/// C-SETUP.6: a failing sub-component degrades with a warning instead of failing the client:
/// flag definitions that cannot be loaded (here the server answers 404) leave the client
/// working, with flags evaluated remotely.
#[tokio::test(flavor = "current_thread")]
async fn c_setup_6_a_failing_poller_degrades_to_remote_flags_with_a_warning() {
    let server = FakePostHog::start().await; // no definitions: the endpoint answers 404
    let log = support::log::Log::default();
    let guard = log.on_this_thread();
    let client = Client::builder("phc")
        .host(server.url())
        .personal_api_key(posthog::test_util::FAKE_PERSONAL_API_KEY)
        .build()
        .unwrap();
    assert!(!client.wait_for_flags(Duration::from_millis(300)).await);
    client
        .get_feature_flag("beta", "u", &posthog::FlagOptions::new())
        .await;
    assert!(client.capture(Event::new("still_capturing", "u")).is_some());
    client.flush().await;
    drop(guard);
    assert!(
        log.text().contains("flag definitions not refreshed"),
        "{}",
        log.text()
    );
    assert_eq!(server.requests_to("/flags/").len(), 1, "evaluated remotely");
    assert!(names(&server).contains(&"still_capturing".to_owned()));
}
