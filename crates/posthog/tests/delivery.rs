//! Delivery you can trust (issue 14): what hooks remove stays removed, `flush_at` wakes the
//! worker however a burst is split, and the immediate path admits events like `capture`.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use posthog::test_util::FakePostHog;
use posthog::{DeliveryErrorKind, Event, HookError};
use support::builder;

const SDK_KEYS: [&str; 5] = [
    "$lib",
    "$lib_version",
    "$is_server",
    "$geoip_disable",
    "tenant",
];

/// C-BEFORE-SEND.6: a hook that removes the SDK-owned properties and a super property sees
/// the final event, and the event is sent without them, on every capture path.
#[tokio::test]
async fn c_before_send_6_removed_properties_stay_removed() {
    let server = FakePostHog::start().await;
    let (b, errors) = builder(&server);
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = seen.clone();
    let client = b
        .super_property("tenant", "acme")
        .before_send(move |mut event| {
            // The hook sees the fully assembled event (C-BEFORE-SEND.1).
            if SDK_KEYS.iter().all(|k| event.properties().contains_key(*k)) {
                counter.fetch_add(1, Ordering::SeqCst);
            }
            for key in SDK_KEYS {
                event.properties_mut().remove(key);
            }
            Some(event)
        })
        .build()
        .unwrap();
    client.capture(Event::new("plain", "u1"));
    client.identify("u1", posthog::PersonProperties::new().set("plan", "pro"));
    client.capture_exception(
        &std::io::Error::other("boom"),
        "u1",
        &posthog::ExceptionOptions::new(),
    );
    client
        .capture_immediate(Event::new("immediate", "u1"))
        .await
        .unwrap();
    client.flush().await;
    let events = server.events();
    assert_eq!(events.len(), 4, "{events:#?}");
    for event in &events {
        for key in SDK_KEYS {
            assert!(
                event["properties"].get(key).is_none(),
                "{key} came back on {}",
                event["event"]
            );
        }
    }
    assert_eq!(seen.load(Ordering::SeqCst), 4);
    assert!(errors.all().is_empty());
}

/// C-BATCHER.1: `flush_at` events captured right after `build()` are sent at once, whatever
/// part of them the worker had already taken in: never after the 5 s interval.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_batcher_1_flush_at_right_after_build_is_sent_at_once() {
    let server = FakePostHog::start().await;
    for round in 0..50 {
        let (b, _) = builder(&server);
        let client = b.flush_at(20).build().unwrap();
        let started = Instant::now();
        for i in 0..20 {
            client.capture(Event::new("burst", "u").property("i", i));
            if i % 7 == 3 {
                // Give the worker a chance to take part of the burst in.
                tokio::task::yield_now().await;
            }
        }
        while server.events().len() < 20 * (round + 1) {
            assert!(
                started.elapsed() < Duration::from_secs(1),
                "round {round}: {} of 20 events after {:?}",
                server.events().len() - 20 * round,
                started.elapsed()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        client.shutdown(Duration::from_secs(1)).await;
    }
}

/// C-BEFORE-SEND.5/.7: the immediate path admits events like `capture`: a failing hook drops
/// the event, is counted and reported, and is not an error to the caller; a hook's drop and
/// opt-out are `Ok(None)` too.
#[tokio::test]
async fn c_before_send_7_immediate_path_with_a_failing_hook_is_not_an_error() {
    let server = FakePostHog::start().await;
    let (b, errors) = builder(&server);
    let client = b
        .before_send_fallible(|event| {
            if event.name() == "fails" {
                Err(HookError::from("no"))
            } else if event.name() == "dropped" {
                Ok(None)
            } else {
                Ok(Some(event))
            }
        })
        .build()
        .unwrap();
    assert_eq!(
        client
            .capture_immediate(Event::new("fails", "u"))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        client
            .capture_immediate(Event::new("dropped", "u"))
            .await
            .unwrap(),
        None
    );
    let kept = client
        .capture_immediate(Event::new("kept", "u"))
        .await
        .unwrap();
    assert!(kept.is_some());
    client.opt_out();
    assert_eq!(
        client
            .capture_immediate(Event::new("kept", "u"))
            .await
            .unwrap(),
        None
    );
    let reported = errors.all();
    assert_eq!(reported.len(), 1, "{reported:?}");
    assert_eq!(reported[0].kind, DeliveryErrorKind::HookFailed);
    let stats = client.stats();
    assert_eq!((stats.dropped, stats.filtered, stats.sent), (1, 2, 1));
    assert_eq!(support::names(&server), vec!["kept"]);
}

/// Makes every request to `server` wait an hour for its answer.
fn never_answer(server: &FakePostHog) {
    server.server().set_handler(Arc::new(|_| {
        Some(posthog::test_util::Reply::ok().delay(Duration::from_secs(3600)))
    }));
}

/// Sums what `on_error` reported of one kind.
fn reported(errors: &support::Errors, kind: DeliveryErrorKind) -> usize {
    errors
        .all()
        .iter()
        .filter(|e| e.kind == kind)
        .map(|e| e.count)
        .sum()
}

/// C-SHUTDOWN.1/.5/.7: with the queue full and a server that never answers, `shutdown(2 s)`
/// returns by its deadline (plus the documented slack) and every event it did not deliver is
/// in its report, in the failed counter and in `on_error` before it returns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_shutdown_7_a_full_queue_and_a_silent_server_cannot_stretch_shutdown() {
    let server = FakePostHog::start().await;
    never_answer(&server);
    let (b, errors) = builder(&server);
    let client = b
        .max_queue_size(2_000)
        .flush_at(50)
        .max_batch_bytes(64 * 1024)
        .max_event_bytes(8 * 1024)
        .max_pending_bytes(64 * 1024)
        .build()
        .unwrap();
    let mut dropped = 0;
    for i in 0..20_000 {
        if client
            .capture(
                Event::new("stuck", "u")
                    .property("i", i)
                    .property("pad", "x".repeat(200)),
            )
            .is_none()
        {
            dropped += 1;
        }
        if i % 500 == 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    assert!(dropped > 0, "the queue filled up");
    let started = Instant::now();
    let report = client.shutdown(Duration::from_secs(2)).await;
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(2) + posthog::SHUTDOWN_SLACK,
        "shutdown took {took:?}"
    );
    let stats = client.stats();
    assert!(report.timed_out);
    assert_eq!(stats.sent, 0);
    assert_eq!(report.undelivered, stats.captured, "{report:?} {stats:?}");
    assert_eq!(stats.failed, stats.captured);
    assert_eq!(stats.pending, 0);
    assert_eq!(
        reported(&errors, DeliveryErrorKind::ShutdownTimeout) as u64,
        report.undelivered
    );
    assert_eq!(
        reported(&errors, DeliveryErrorKind::QueueFull) as u64,
        stats.dropped
    );
}

/// Dropping every handle without `shutdown` drains within the configured `shutdown_timeout`
/// (here 1 s, not a fixed 5 s), then reports what was not delivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_client_drains_within_shutdown_timeout() {
    let server = FakePostHog::start().await;
    never_answer(&server);
    let (b, errors) = builder(&server);
    let client = b.shutdown_timeout(Duration::from_secs(1)).build().unwrap();
    for i in 0..10 {
        client.capture(Event::new("left", "u").property("i", i));
    }
    let started = Instant::now();
    drop(client);
    while reported(&errors, DeliveryErrorKind::ShutdownTimeout) < 10 {
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "no report after {:?}",
            started.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(started.elapsed() >= Duration::from_millis(900));
}

/// A runtime that shuts down before `shutdown` cancels the worker: what it held is reported
/// (kind `Abandoned`, with every uuid), never lost silently.
#[test]
fn a_worker_cancelled_by_its_runtime_reports_what_it_held() {
    let host = tokio::runtime::Runtime::new().unwrap();
    let server = host.block_on(FakePostHog::start());
    never_answer(&server);
    let (b, errors) = builder(&server);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = runtime.block_on(async {
        let client = b.flush_at(5).build().unwrap();
        for i in 0..12 {
            client.capture(Event::new("left", "u").property("i", i));
        }
        tokio::time::sleep(Duration::from_millis(100)).await; // some are in flight
        client
    });
    drop(runtime);
    let lost = errors.all();
    assert_eq!(
        reported(&errors, DeliveryErrorKind::Abandoned),
        12,
        "{lost:?}"
    );
    let uuids: std::collections::HashSet<_> = lost.iter().flat_map(|e| e.uuids.clone()).collect();
    assert_eq!(uuids.len(), 12);
    assert_eq!(client.stats().failed, 12);
    drop(client);
}

/// Capture v1: a 2xx answer whose verdicts ask to retry some events and that carries
/// `Retry-After: 2` resends those events no sooner than 2 s later (C-RETRY-QUEUE.2).
#[tokio::test]
async fn c_retry_queue_2_retry_after_on_a_partial_v1_answer_is_honoured() {
    let server = FakePostHog::start().await;
    let (b, errors) = builder(&server);
    let client = b.capture_mode(posthog::CaptureMode::V1).build().unwrap();
    let ids: Vec<uuid::Uuid> = (1..=2).map(uuid::Uuid::from_u128).collect();
    server.script([posthog::test_util::Reply::json(
        200,
        &serde_json::json!({"results": {
            ids[0].to_string(): {"result": "ok"},
            ids[1].to_string(): {"result": "retry", "details": "not_persisted"}
        }}),
    )
    .header("retry-after", "2")]);
    for id in &ids {
        client.capture(Event::new("v1", "u").uuid(*id));
    }
    client.flush().await;
    client.shutdown(Duration::from_secs(10)).await;
    let requests = server.requests_to("/i/v1/analytics/events");
    assert_eq!(requests.len(), 2);
    let gap = requests[1].at - requests[0].at;
    assert!(gap >= Duration::from_millis(1990), "resent after {gap:?}");
    assert_eq!(client.stats().sent, 2);
    assert!(errors.all().is_empty());
}

/// C-RETRY-QUEUE.6 at defaults: a batch is retried for `retry_for` (2 minutes), not for a
/// few attempts, so a server failing for 3 s loses nothing.
#[tokio::test]
async fn c_retry_queue_6_defaults_retry_through_a_short_outage() {
    let server = FakePostHog::start().await;
    let until = Instant::now() + Duration::from_secs(3);
    server.server().set_handler(Arc::new(move |_| {
        Some(if Instant::now() < until {
            posthog::test_util::Reply::status(503)
        } else {
            posthog::test_util::Reply::ok()
        })
    }));
    let (b, errors) = builder(&server);
    let client = b.build().unwrap();
    let id = client.capture(Event::new("outage", "u")).unwrap();
    client.flush().await;
    let report = client.shutdown(Duration::from_secs(20)).await;
    assert_eq!((report.sent, report.undelivered), (1, 0), "{report:?}");
    assert_eq!(server.events()[0]["uuid"], id.to_string());
    assert!(server.ingestion_requests().len() > 4, "more than 3 retries");
    assert!(errors.all().is_empty());
}

/// C-RETRY-QUEUE.6 exhaustion: with `retry_for`, a batch that keeps failing is dropped once
/// that long has passed since its first failure, and reported with its events and cause;
/// an explicit `max_retries` caps attempts exactly.
#[tokio::test]
async fn c_retry_queue_6_exhausted_retries_drop_and_report_the_batch() {
    let server = FakePostHog::start().await;
    support::answer_always(&server, posthog::test_util::Reply::status(503));
    let (b, errors) = builder(&server);
    let client = b.retry_for(Duration::from_secs(1)).build().unwrap();
    let id = client.capture(Event::new("doomed", "u")).unwrap();
    let started = Instant::now();
    client.flush().await;
    while reported(&errors, DeliveryErrorKind::RetriesExhausted) == 0 {
        assert!(started.elapsed() < Duration::from_secs(5));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(started.elapsed() >= Duration::from_secs(1));
    let error = &errors.all()[0];
    assert_eq!((error.count, error.status), (1, Some(503)));
    assert_eq!(error.uuids, vec![id]);
    assert!(error.message.contains("retry_for"), "{}", error.message);
    assert_eq!(client.stats().failed, 1);

    server.clear();
    let (b, errors) = builder(&server);
    let client = b.max_retries(2).build().unwrap();
    client.capture(Event::new("doomed", "u"));
    client.flush().await;
    let report = client.shutdown(Duration::from_secs(10)).await;
    assert_eq!(report.undelivered, 1);
    assert_eq!(
        server.ingestion_requests().len(),
        3,
        "1 + max_retries attempts"
    );
    assert_eq!(reported(&errors, DeliveryErrorKind::RetriesExhausted), 1);
}

/// C-RETRY-QUEUE.5 at defaults: a 200,000-event burst from 8 producer threads is taken in
/// whole (memory stays bounded by `max_pending_bytes`), and each event is delivered once.
#[test]
fn a_burst_from_eight_threads_loses_nothing_at_defaults() {
    const THREADS: usize = 8;
    const PER_THREAD: usize = 25_000;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let server = runtime.block_on(FakePostHog::start());
    server.server().set_recording(true);
    let (b, errors) = builder(&server);
    let client = {
        let _entered = runtime.enter();
        b.build().unwrap()
    };
    let producers: Vec<_> = (0..THREADS)
        .map(|t| {
            let client = client.clone();
            std::thread::spawn(move || {
                (0..PER_THREAD)
                    .filter(|i| {
                        client
                            .capture(
                                Event::new("burst", format!("user-{t}"))
                                    .property("i", *i)
                                    .property("plan", "pro"),
                            )
                            .is_none()
                    })
                    .count()
            })
        })
        .collect();
    let refused: usize = producers.into_iter().map(|p| p.join().unwrap()).sum();
    let report = runtime.block_on(client.shutdown(Duration::from_secs(60)));
    let stats = client.stats();
    assert_eq!(refused, 0, "{stats:?} {:?}", errors.all().first());
    assert_eq!(report.undelivered, 0);
    assert_eq!(stats.sent, (THREADS * PER_THREAD) as u64);
    let events = server.events();
    let unique: std::collections::HashSet<_> =
        events.iter().map(|e| e["uuid"].as_str().unwrap()).collect();
    assert_eq!(unique.len(), THREADS * PER_THREAD);
}

/// A property value nested `depth` levels, built without recursion.
fn nested(depth: usize) -> serde_json::Value {
    let mut value = serde_json::json!(1);
    for _ in 0..depth {
        value = serde_json::Value::Array(vec![value]);
    }
    value
}

/// C-BATCHER.8 / C-CAPTURE.2: an event nested deeper than PostHog reads is refused at
/// capture with a report, and the events around it are delivered; a 30,000-level property
/// on a runtime thread neither overflows the stack nor sinks the batch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_batcher_8_events_nested_too_deep_are_refused_alone() {
    let server = FakePostHog::start().await;
    let (b, errors) = builder(&server);
    let client = b.build().unwrap();
    let limit = posthog::core::depth::MAX_PROPERTY_DEPTH;
    assert!(client.capture(Event::new("before", "u")).is_some());
    assert!(
        client
            .capture(Event::new("deepest", "u").property("v", nested(limit)))
            .is_some()
    );
    assert!(
        client
            .capture(Event::new("too-deep", "u").property("v", nested(limit + 1)))
            .is_none()
    );
    let c = client.clone();
    tokio::spawn(async move {
        let event = Event::new("abyss", "u").property("v", nested(30_000));
        assert!(c.capture(event).is_none());
    })
    .await
    .unwrap();
    assert!(client.capture(Event::new("after", "u")).is_some());
    client.flush().await;
    assert_eq!(support::names(&server), vec!["before", "deepest", "after"]);
    let refused = errors.all();
    assert_eq!(refused.len(), 2, "{refused:?}");
    assert!(refused.iter().all(|e| e.kind == DeliveryErrorKind::Invalid
        && e.message.contains(&format!("deeper than {limit} levels"))));
}

/// C-SETUP.2 / C-HTTP.2: a personal key given as the project token is refused (it would go
/// into every batch body), as is a token or key with white space inside; a personal key
/// bound for plain http:// on another host gets one warning. Surrounding white space is
/// trimmed (C-SETUP.1).
#[tokio::test(flavor = "current_thread")]
async fn c_setup_2_keys_are_checked_at_build() {
    let refused = |builder: posthog::ClientBuilder| match builder.build() {
        Err(posthog::Error::InvalidOption { option, .. }) => option,
        other => panic!("expected a refusal, got {other:?}"),
    };
    assert_eq!(
        refused(posthog::Client::builder("phx_personal_secret")),
        "api_key"
    );
    assert_eq!(
        refused(posthog::Client::builder("phc_two words")),
        "api_key"
    );
    assert_eq!(
        refused(posthog::Client::builder("phc_line\nbreak")),
        "api_key"
    );
    assert_eq!(
        refused(posthog::Client::builder("phc_ok").personal_api_key("phx_a b")),
        "personal_api_key"
    );
    assert!(posthog::Client::builder("  phc_padded\n").build().is_ok());

    let log = support::log::Log::default();
    let _guard = log.on_this_thread();
    let remote = posthog::Client::builder("phc_ok")
        .host("http://posthog.example.internal")
        .personal_api_key("phx_secret_value")
        .local_evaluation(false)
        .build()
        .unwrap();
    let local = posthog::Client::builder("phc_ok")
        .host("http://127.0.0.1:9")
        .personal_api_key("phx_secret_value")
        .local_evaluation(false)
        .build()
        .unwrap();
    let text = log.text();
    assert_eq!(text.matches("plain http://").count(), 1, "{text}");
    assert!(!text.contains("phx_secret_value"), "{text}");
    drop((remote, local));
}

/// `$lib`, `$lib_version` and the `User-Agent` name this SDK the same way, and not as the
/// official crate (`posthog-rs`).
#[tokio::test]
async fn lib_and_user_agent_name_this_sdk() {
    let server = FakePostHog::start().await;
    let (b, _) = builder(&server);
    let client = b.build().unwrap();
    client.capture(Event::new("named", "u"));
    client.flush().await;
    let event = &server.events()[0];
    let lib = event["properties"]["$lib"].as_str().unwrap().to_owned();
    let version = event["properties"]["$lib_version"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(lib, "posthog-rust");
    assert_ne!(lib, "posthog-rs");
    assert_eq!(version, env!("CARGO_PKG_VERSION"));
    let agent = server.ingestion_requests()[0]
        .header("user-agent")
        .unwrap()
        .to_owned();
    assert_eq!(agent, format!("{lib}/{version}"));
}

/// NaN and ±Inf reach PostHog as the strings "NaN", "Infinity" and "-Infinity" (the logs
/// pipeline's rule, for the whole SDK), not as a silent `null`: event, person and super
/// properties alike.
#[tokio::test]
async fn non_finite_floats_are_sent_as_strings() {
    let server = FakePostHog::start().await;
    let (b, _) = builder(&server);
    let client = b.super_property("budget", f64::INFINITY).build().unwrap();
    client.capture(
        Event::new("measured", "u")
            .property("ratio", f64::NAN)
            .property("floor", f32::NEG_INFINITY)
            .property("series", vec![0.5, f64::NAN]),
    );
    client.identify(
        "u",
        posthog::PersonProperties::new().set("score", f64::INFINITY),
    );
    client.flush().await;
    let events = server.events();
    let p = &events[0]["properties"];
    assert_eq!(p["ratio"], "NaN");
    assert_eq!(p["floor"], "-Infinity");
    assert_eq!(p["series"], serde_json::json!([0.5, "NaN"]));
    assert_eq!(p["budget"], "Infinity");
    assert_eq!(events[1]["properties"]["$set"]["score"], "Infinity");
}
