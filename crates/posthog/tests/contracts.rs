//! Acceptance scenarios of the client's contracts, against FakePostHog on 127.0.0.1.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use posthog::context::{self, Context};
use posthog::test_util::{FakePostHog, Reply};
use posthog::{Client, DeliveryErrorKind, Error, Event, PersonProperties, Properties};
use serde_json::json;
use support::{SECOND, builder, names};

fn props(v: serde_json::Value) -> Properties {
    serde_json::from_value(v).unwrap()
}

#[tokio::test]
async fn c_setup_1_builds_an_enabled_client() {
    let server = FakePostHog::start().await;
    let client = Client::builder(" phc_test ")
        .host(format!("{}/", server.url()))
        .build()
        .unwrap();
    assert!(client.is_enabled());
    assert!(client.capture(Event::new("e", "u")).is_some());
}

#[tokio::test]
async fn c_setup_2_blank_token_gives_a_disabled_client() {
    let server = FakePostHog::start().await;
    let client = Client::builder("  ").host(server.url()).build().unwrap();
    assert!(!client.is_enabled());
    assert_eq!(client.capture(Event::new("e", "u")), None);
    client.flush().await;
    client.shutdown(SECOND).await;
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn c_setup_2_invalid_options_are_typed_errors() {
    let cases = [
        Client::builder("phc").flush_at(0).build(),
        Client::builder("phc").max_queue_size(0).build(),
        Client::builder("phc")
            .flush_at(50)
            .max_queue_size(10)
            .build(),
        Client::builder("phc")
            .flush_interval(Duration::ZERO)
            .build(),
        Client::builder("phc").host("ftp://nope").build(),
        Client::builder("phc").max_event_bytes(10).build(),
    ];
    for result in cases {
        assert!(
            matches!(result, Err(Error::InvalidOption { .. })),
            "{result:?}"
        );
    }
}

#[test]
fn c_setup_async_client_needs_a_runtime() {
    assert!(matches!(
        Client::builder("phc").build(),
        Err(Error::NoRuntime)
    ));
}

/// C-CAPTURE acceptance: one event with distinct id, properties, `$lib` and a uuid.
#[tokio::test]
async fn c_capture_1_4_event_envelope() {
    let server = FakePostHog::start().await;
    let (b, _) = builder(&server);
    let client = b.build().unwrap();
    let uuid = client
        .capture(Event::new("Signed Up", "user-123").property("source", "api"))
        .unwrap();
    assert_eq!(uuid.get_version_num(), 7);
    client.flush().await;
    let events = server.events();
    assert_eq!(events.len(), 1);
    let e = &events[0];
    assert_eq!(e["event"], "Signed Up");
    assert_eq!(e["distinct_id"], "user-123");
    assert_eq!(e["uuid"], uuid.to_string());
    assert_eq!(e["properties"]["source"], "api");
    assert_eq!(e["properties"]["$lib"], "posthog-rust");
    assert_eq!(e["properties"]["$is_server"], true);
    assert_eq!(e["properties"]["$geoip_disable"], true);
    assert!(e["timestamp"].as_str().unwrap().ends_with('Z'));
    assert_eq!(server.batches()[0]["api_key"], "phc_test_token");
}

/// C-CAPTURE.4/.5: caller values win over SDK-owned keys; timestamps keep their instant.
#[tokio::test]
async fn c_capture_5_caller_values_win() {
    let server = FakePostHog::start().await;
    let (b, _) = builder(&server);
    let client = b
        .super_property("env", "prod")
        .super_property("team", "core")
        .build()
        .unwrap();
    let event = Event::new("e", "u")
        .property("$lib", "custom")
        .property("env", "dev");
    client.capture(
        event
            .timestamp_rfc3339("2025-01-02T08:34:05+05:30")
            .unwrap(),
    );
    client.flush().await;
    let e = &server.events()[0];
    assert_eq!(e["properties"]["$lib"], "custom");
    assert_eq!(e["properties"]["env"], "dev");
    assert_eq!(e["properties"]["team"], "core");
    assert_eq!(e["timestamp"], "2025-01-02T03:04:05.000Z");
}

/// C-CAPTURE.5, C-BATCHER.3: a capture serialises its own event when a batch's worth is
/// already waiting (with `flush_at = 1`, every capture but the first in a tight loop), else
/// the worker does; either way the SDK-owned keys, super properties and the caller's own
/// values arrive the same, in capture order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_capture_5_events_arrive_the_same_whichever_thread_serialises_them() {
    let server = FakePostHog::start().await;
    let (b, _) = builder(&server);
    let client = b
        .flush_at(1)
        .max_in_flight(1) // one batch at a time, so batches arrive in order too
        .super_property("env", "prod")
        .disable_geoip(true)
        .build()
        .unwrap();
    for i in 0..500 {
        let mut event = Event::new("e", "u").property("i", i);
        if i % 2 == 1 {
            event = event.property("env", "dev").property("$lib", "custom");
        }
        client.capture(event);
    }
    client.flush().await;
    let events = server.events();
    assert_eq!(events.len(), 500);
    for (i, e) in events.iter().enumerate() {
        let p = &e["properties"];
        assert_eq!(p["i"], i, "capture order");
        let mine = i % 2 == 1;
        assert_eq!(p["env"], if mine { "dev" } else { "prod" });
        assert_eq!(p["$lib"], if mine { "custom" } else { "posthog-rust" });
        assert_eq!(p["$lib_version"], posthog::core::LIB_VERSION);
        assert_eq!(p["$is_server"], true);
        assert_eq!(p["$geoip_disable"], true);
        assert!(e["uuid"].is_string() && e["timestamp"].is_string());
    }
}

/// C-CAPTURE.2: an empty name or blank distinct id is dropped with a warning and counted.
#[tokio::test]
async fn c_capture_2_invalid_events_are_dropped_and_reported() {
    let server = FakePostHog::start().await;
    let (b, errors) = builder(&server);
    let client = b.build().unwrap();
    assert_eq!(client.capture(Event::new("", "u")), None);
    assert_eq!(client.capture(Event::new("e", "  ")), None);
    client.flush().await;
    assert!(server.requests().is_empty());
    assert_eq!(client.stats().dropped, 2);
    let kinds: Vec<_> = errors.all().into_iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        vec![DeliveryErrorKind::Invalid, DeliveryErrorKind::Invalid]
    );
}

/// C-CAPTURE.3: opted out → nothing queued and no request; opting in resumes.
#[tokio::test]
async fn c_capture_3_runtime_opt_out() {
    let server = FakePostHog::start().await;
    let client = Client::builder("phc").host(server.url()).build().unwrap();
    client.opt_out();
    assert!(client.is_opted_out());
    assert_eq!(client.capture(Event::new("e", "u")), None);
    assert_eq!(client.identify("u", PersonProperties::new()), None);
    client.flush().await;
    assert!(server.requests().is_empty());
    client.opt_in();
    assert!(client.capture(Event::new("after", "u")).is_some());
    client.flush().await;
    assert_eq!(names(&server), vec!["after"]);
}

/// C-CAPTURE.9: concurrent captures all arrive, FIFO per producer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_capture_9_concurrent_captures() {
    let server = FakePostHog::start().await;
    let client = Client::builder("phc").host(server.url()).build().unwrap();
    let mut tasks = Vec::new();
    for t in 0..4 {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..250 {
                client.capture(Event::new("e", format!("t{t}")).property("i", i));
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    client.flush().await;
    assert_eq!(server.events().len(), 1000);
    // Batches may be in flight together, so requests can arrive out of order; inside each
    // batch every producer's events keep their order (C-BATCHER.3), and none is missing.
    for t in 0..4 {
        let id = format!("t{t}");
        let mut all: Vec<i64> = Vec::new();
        for batch in server.batches() {
            let seq: Vec<i64> = batch["batch"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| e["distinct_id"] == id.as_str())
                .map(|e| e["properties"]["i"].as_i64().unwrap())
                .collect();
            assert!(seq.windows(2).all(|w| w[0] < w[1]), "{id}: {seq:?}");
            all.extend(seq);
        }
        all.sort_unstable();
        assert_eq!(all, (0..250).collect::<Vec<_>>());
    }
}

/// C-CAPTURE.10: the immediate variant reports delivery.
#[tokio::test]
async fn c_capture_10_immediate_reports_the_outcome() {
    let server = FakePostHog::start().await;
    let client = Client::builder("phc").host(server.url()).build().unwrap();
    client
        .capture_immediate(Event::new("now", "u"))
        .await
        .unwrap();
    assert_eq!(names(&server), vec!["now"]);
    server.script([Reply::status(400)]);
    assert!(matches!(
        client.capture_immediate(Event::new("bad", "u")).await,
        Err(Error::Transport(_))
    ));
}

/// C-BEFORE-SEND acceptance: edit, drop, and fail closed.
#[tokio::test]
async fn c_before_send_hooks_edit_drop_and_fail_closed() {
    let server = FakePostHog::start().await;
    let (b, errors) = builder(&server);
    let third_ran = Arc::new(AtomicUsize::new(0));
    let counter = third_ran.clone();
    let client = b
        .before_send(|e| Some(e.property("privacy", "filtered")))
        .before_send(|e| {
            if e.name() == "Secret Event" {
                None
            } else {
                Some(e)
            }
        })
        .before_send_fallible(|e| {
            if e.name() == "Safe Event" {
                Err("boom".into())
            } else {
                Ok(Some(e))
            }
        })
        .before_send(move |e| {
            counter.fetch_add(1, Ordering::SeqCst);
            Some(e)
        })
        .build()
        .unwrap();
    client.capture(Event::new("Checkout Started", "u"));
    client.capture(Event::new("Secret Event", "u"));
    client.capture(Event::new("Safe Event", "u"));
    client.flush().await;
    let events = server.events();
    assert_eq!(names(&server), vec!["Checkout Started"]);
    assert_eq!(events[0]["properties"]["privacy"], "filtered");
    assert_eq!(
        third_ran.load(Ordering::SeqCst),
        1,
        "the chain stops at the failing hook"
    );
    assert_eq!(client.stats().filtered, 1);
    assert_eq!(
        errors
            .all()
            .iter()
            .filter(|e| e.kind == DeliveryErrorKind::HookFailed)
            .count(),
        1
    );
}

/// C-BEFORE-SEND.4: a panicking hook drops the event, and the caller carries on.
#[tokio::test]
async fn c_before_send_4_panicking_hook_fails_closed() {
    let server = FakePostHog::start().await;
    let client = Client::builder("phc")
        .host(server.url())
        .before_send(|e| {
            if e.name() == "bad" {
                panic!("hook bug")
            } else {
                Some(e)
            }
        })
        .build()
        .unwrap();
    assert_eq!(client.capture(Event::new("bad", "u")), None);
    assert!(client.capture(Event::new("good", "u")).is_some());
    client.flush().await;
    assert_eq!(names(&server), vec!["good"]);
    assert_eq!(client.stats().dropped, 1);
}

/// C-BEFORE-SEND.5: hooks see identify, alias and group identify too.
#[tokio::test]
async fn c_before_send_5_applies_to_every_event() {
    let server = FakePostHog::start().await;
    let client = Client::builder("phc")
        .host(server.url())
        .before_send(|e| Some(e.property("hooked", true)))
        .build()
        .unwrap();
    client.identify("u", PersonProperties::new());
    client.alias("a", "b");
    client.group_identify("company", "acme", Properties::new());
    client.flush().await;
    let events = server.events();
    assert_eq!(events.len(), 3);
    assert!(events.iter().all(|e| e["properties"]["hooked"] == true));
}

#[tokio::test]
async fn c_identify_1_3_profile_updates() {
    let server = FakePostHog::start().await;
    let client = Client::builder("phc").host(server.url()).build().unwrap();
    client.identify(
        "user-123",
        PersonProperties::new().set("email", "user@test.test"),
    );
    assert_eq!(client.identify("", PersonProperties::new()), None);
    client.set("user-123", props(json!({"plan": "pro"})));
    client.set_once("user-123", props(json!({"first": "web"})));
    client.flush().await;
    let events = server.events();
    assert_eq!(names(&server), vec!["$identify", "$set", "$set_once"]);
    assert_eq!(events[0]["distinct_id"], "user-123");
    assert_eq!(events[0]["properties"]["$set"]["email"], "user@test.test");
    assert_eq!(events[1]["properties"]["$set"]["plan"], "pro");
    assert_eq!(events[2]["properties"]["$set_once"]["first"], "web");
}

#[tokio::test]
async fn c_alias_1_2_links_ids() {
    let server = FakePostHog::start().await;
    let (b, errors) = builder(&server);
    let client = b.build().unwrap();
    client.alias("anon-123", "user-123");
    assert_eq!(client.alias("", "user-123"), None);
    client.flush().await;
    let e = &server.events()[0];
    assert_eq!(
        (e["event"].as_str(), e["distinct_id"].as_str()),
        (Some("$create_alias"), Some("anon-123"))
    );
    assert_eq!(e["properties"]["alias"], "user-123");
    assert_eq!(errors.all().len(), 1);
}

#[tokio::test]
async fn c_group_identify_1_4_group_profiles() {
    let server = FakePostHog::start().await;
    let client = Client::builder("phc").host(server.url()).build().unwrap();
    client.group_identify("company", "company-123", props(json!({"plan": "pro"})));
    client.group_identify_as("user-9", "company", "c2", Properties::new());
    assert_eq!(
        client.group_identify("company", " ", Properties::new()),
        None
    );
    client.flush().await;
    let events = server.events();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0]["distinct_id"], "$company_company-123");
    assert_eq!(events[0]["properties"]["$group_type"], "company");
    assert_eq!(events[0]["properties"]["$group_key"], "company-123");
    assert_eq!(events[0]["properties"]["$group_set"]["plan"], "pro");
    assert_eq!(events[1]["distinct_id"], "user-9");
    assert_eq!(events[1]["properties"]["$group_set"], json!({}));
}

/// C-GROUP-IDENTIFY.5: later captures get `$groups` only from their own option.
#[tokio::test]
async fn c_group_identify_5_no_implied_membership() {
    let server = FakePostHog::start().await;
    let client = Client::builder("phc").host(server.url()).build().unwrap();
    client.group_identify("company", "acme", Properties::new());
    client.capture(Event::new("e", "u"));
    client.flush().await;
    assert!(server.events()[1]["properties"].get("$groups").is_none());
}

#[tokio::test]
async fn c_batcher_1_flush_at_sends_a_batch() {
    let server = FakePostHog::start().await;
    let client = Client::builder("phc")
        .host(server.url())
        .flush_at(2)
        .flush_interval(Duration::from_secs(3600))
        .build()
        .unwrap();
    client.capture(Event::new("First", "u"));
    client.capture(Event::new("Second", "u"));
    for _ in 0..50 {
        if !server.batches().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(server.batches().len(), 1);
    assert_eq!(names(&server), vec!["First", "Second"]);
    assert_eq!(client.stats().pending, 0);
}

#[tokio::test]
async fn c_batcher_1_interval_sends_a_partial_batch() {
    let server = FakePostHog::start().await;
    let client = Client::builder("phc")
        .host(server.url())
        .flush_interval(Duration::from_millis(200))
        .build()
        .unwrap();
    client.capture(Event::new("Delayed", "u"));
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(names(&server), vec!["Delayed"]);
}

#[tokio::test]
async fn c_batcher_2_3_batches_are_cut_in_order() {
    let server = FakePostHog::start().await;
    let client = Client::builder("phc")
        .host(server.url())
        .flush_at(3)
        .max_in_flight(1)
        .flush_interval(Duration::from_secs(3600))
        .build()
        .unwrap();
    for name in ["First", "Second", "Third", "Fourth", "Fifth"] {
        client.capture(Event::new(name, "u"));
    }
    client.flush().await;
    let sizes: Vec<usize> = server
        .batches()
        .iter()
        .map(|b| b["batch"].as_array().unwrap().len())
        .collect();
    assert_eq!(sizes, vec![3, 2]);
    assert_eq!(
        names(&server),
        vec!["First", "Second", "Third", "Fourth", "Fifth"]
    );
}

/// C-BATCHER.4: batches close before the byte limit; an oversized event fails alone.
#[tokio::test]
async fn c_batcher_4_byte_limits() {
    let server = FakePostHog::start().await;
    let (b, errors) = builder(&server);
    let client = b
        .max_batch_bytes(4096)
        .max_event_bytes(2048)
        .build()
        .unwrap();
    let blob = "x".repeat(1500);
    for i in 0..6 {
        client.capture(
            Event::new("e", "u")
                .property("i", i)
                .property("blob", blob.as_str()),
        );
    }
    client.capture(Event::new("huge", "u").property("blob", "y".repeat(5000)));
    client.flush().await;
    let batches = server.batches();
    assert!(
        batches.len() >= 3,
        "6 events of ~1.7 KiB need several 4 KiB batches"
    );
    assert!(batches.iter().all(|b| b.to_string().len() <= 4096 + 200));
    assert_eq!(server.events().len(), 6);
    let too_large: Vec<_> = errors
        .all()
        .into_iter()
        .filter(|e| e.kind == DeliveryErrorKind::EventTooLarge)
        .collect();
    assert_eq!(too_large.len(), 1);
    assert_eq!(client.stats().failed, 1);
}

/// C-BATCHER.7: a 413 halves the batch and resends the same events.
#[tokio::test]
async fn c_batcher_7_413_splits_the_batch() {
    let server = FakePostHog::start().await;
    server.script([Reply::status(413)]);
    let client = Client::builder("phc").host(server.url()).build().unwrap();
    for i in 0..4 {
        client.capture(Event::new(format!("e{i}"), "u"));
    }
    client.flush().await;
    client.flush().await;
    let sizes: Vec<usize> = server
        .batches()
        .iter()
        .map(|b| b["batch"].as_array().unwrap().len())
        .collect();
    assert_eq!(sizes, vec![2, 2]);
    assert_eq!(names(&server), vec!["e0", "e1", "e2", "e3"]);
}

#[tokio::test]
async fn c_flush_2_empty_queue_sends_nothing() {
    let server = FakePostHog::start().await;
    let client = Client::builder("phc").host(server.url()).build().unwrap();
    let report = client.flush().await;
    assert_eq!(report.sent, 0);
    assert!(server.requests().is_empty());
}

/// C-FLUSH.3 / C-RETRY-QUEUE acceptance: a 503 leaves "Retry Me" queued; it is delivered later.
#[tokio::test]
async fn c_flush_3_retryable_failure_stays_queued() {
    let server = FakePostHog::start().await;
    server.script([Reply::status(503)]);
    let client = Client::builder("phc").host(server.url()).build().unwrap();
    client.capture(Event::new("Retry Me", "u"));
    let report = client.flush().await;
    assert_eq!((report.sent, report.pending), (0, 1));
    assert!(server.events().is_empty());
    assert_eq!(client.stats().pending, 1);
    tokio::time::sleep(Duration::from_millis(600)).await; // first retry after ~200–250 ms
    assert_eq!(names(&server), vec!["Retry Me"]);
    assert_eq!(client.stats().pending, 0);
    assert_eq!(client.stats().retried, 1);
}

/// C-RETRY-QUEUE.4: events captured while a batch is in flight stay queued and go later.
#[tokio::test]
async fn c_retry_queue_4_in_flight_batches_do_not_crowd_out_new_events() {
    let server = FakePostHog::start().await;
    server.script([Reply::ok().delay(Duration::from_millis(300))]);
    let client = Client::builder("phc")
        .host(server.url())
        .max_queue_size(3)
        .flush_at(3)
        .build()
        .unwrap();
    for name in ["a1", "a2", "a3"] {
        client.capture(Event::new(name, "u"));
    }
    tokio::time::sleep(Duration::from_millis(100)).await; // the first batch is in flight
    for name in ["b1", "b2", "b3"] {
        assert!(
            client.capture(Event::new(name, "u")).is_some(),
            "{name} must fit"
        );
    }
    client.flush().await;
    let batches: Vec<Vec<String>> = server
        .batches()
        .iter()
        .map(|b| {
            b["batch"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["event"].as_str().unwrap().to_owned())
                .collect()
        })
        .collect();
    assert_eq!(
        batches,
        vec![vec!["a1", "a2", "a3"], vec!["b1", "b2", "b3"]]
    );
}

/// C-RETRY-QUEUE.5 / C-CAPTURE.7: memory is bounded: once the channel (`max_queue_size`) is
/// full and the serialised events held reach `max_pending_bytes`, the newest event is dropped,
/// with a warning and a report.
#[tokio::test]
async fn c_retry_queue_5_full_queue_drops_and_reports() {
    let server = FakePostHog::start().await;
    server.script([Reply::ok().delay(Duration::from_millis(500))]);
    let (b, errors) = builder(&server);
    let client = b
        .max_queue_size(2)
        .flush_at(1)
        .max_event_bytes(1024)
        .max_batch_bytes(1024)
        .max_pending_bytes(1024)
        .build()
        .unwrap();
    let event = |name: &str| Event::new(name, "u").property("pad", "x".repeat(400));
    client.capture(event("in-flight"));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(client.capture(event("q1")).is_some());
    assert!(client.capture(event("q2")).is_some());
    // The channel is full; ~600 bytes are in flight: 600 more would pass 1 KiB.
    assert_eq!(client.capture(event("overflow")), None);
    let full: Vec<_> = errors
        .all()
        .into_iter()
        .filter(|e| e.kind == DeliveryErrorKind::QueueFull)
        .collect();
    assert_eq!(full.len(), 1);
    client.shutdown(Duration::from_secs(5)).await;
    assert_eq!(names(&server), vec!["in-flight", "q1", "q2"]);
    assert_eq!(client.stats().dropped, 1);
}

/// C-RETRY-QUEUE.5: with the channel full but bytes to spare, events wait serialised in the
/// overflow rather than being dropped, and keep their order (C-BATCHER.3).
#[tokio::test]
async fn c_retry_queue_5_a_full_channel_overflows_within_the_byte_budget() {
    let server = FakePostHog::start().await;
    server.script([Reply::ok().delay(Duration::from_millis(300))]);
    let (b, errors) = builder(&server);
    let client = b.max_queue_size(2).flush_at(1).build().unwrap();
    client.capture(Event::new("in-flight", "u"));
    tokio::time::sleep(Duration::from_millis(100)).await;
    for i in 0..10 {
        assert!(client.capture(Event::new(format!("q{i}"), "u")).is_some());
    }
    client.shutdown(Duration::from_secs(5)).await;
    let expected: Vec<String> = std::iter::once("in-flight".to_owned())
        .chain((0..10).map(|i| format!("q{i}")))
        .collect();
    assert_eq!(names(&server), expected);
    assert!(errors.all().is_empty());
    assert_eq!(client.stats().dropped, 0);
}

#[tokio::test]
async fn c_shutdown_1_3_delivers_then_stops() {
    let server = FakePostHog::start().await;
    let client = Client::builder("phc").host(server.url()).build().unwrap();
    client.capture(Event::new("Save", "u"));
    let report = client.shutdown(Duration::from_secs(5)).await;
    assert_eq!(
        (report.sent, report.undelivered, report.timed_out),
        (1, 0, false)
    );
    assert_eq!(names(&server), vec!["Save"]);
    assert_eq!(client.capture(Event::new("After Shutdown", "u")), None);
    assert!(!client.is_enabled());
    // C-SHUTDOWN.4: idempotent.
    assert_eq!(client.shutdown(Duration::from_secs(5)).await, report);
    client.flush().await;
    assert_eq!(names(&server), vec!["Save"]);
}

/// C-SHUTDOWN.5/.7: a server that keeps failing; shutdown returns at its deadline and reports.
#[tokio::test]
async fn c_shutdown_5_7_deadline_is_honoured_and_reported() {
    let server = FakePostHog::start().await;
    support::answer_always(&server, Reply::status(503));
    let (b, errors) = builder(&server);
    let client = b.build().unwrap();
    for i in 0..5 {
        client.capture(Event::new(format!("e{i}"), "u"));
    }
    let started = std::time::Instant::now();
    let report = client.shutdown(Duration::from_millis(800)).await;
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "{:?}",
        started.elapsed()
    );
    assert!(report.timed_out);
    assert_eq!(report.undelivered, 5);
    assert_eq!(client.stats().failed, 5);
    assert!(
        errors
            .all()
            .iter()
            .any(|e| e.kind == DeliveryErrorKind::ShutdownTimeout && e.count == 5)
    );
}

#[tokio::test]
async fn c_get_distinct_id_without_context_is_none() {
    assert_eq!(context::current_distinct_id(), None);
    let inside = Context::new()
        .distinct_id("user-1")
        .scope(async { context::current_distinct_id() })
        .await;
    assert_eq!(inside.as_deref(), Some("user-1"));
}

/// C-TRACING-HEADERS.3/.4/.5: context ids fill in, explicit values win, personless without an id.
#[tokio::test]
async fn c_tracing_headers_context_fills_in_and_explicit_wins() {
    let server = FakePostHog::start().await;
    let client = Client::builder("phc").host(server.url()).build().unwrap();
    Context::new()
        .distinct_id("user-123")
        .session_id("session-123")
        .scope(async {
            client.capture(Event::new("Backend Work", ""));
            client.capture(
                Event::new("Explicit", "explicit-user").property("$session_id", "explicit-session"),
            );
        })
        .await;
    Context::new()
        .session_id("  session-only\u{7} ")
        .scope(async {
            client.capture(Event::new("Anonymous Work", ""));
        })
        .await;
    client.capture(Event::new("Outside", ""));
    client.flush().await;
    let events = server.events();
    assert_eq!(
        events.len(),
        3,
        "the capture outside any context has no id and is dropped"
    );
    assert_eq!(events[0]["distinct_id"], "user-123");
    assert_eq!(events[0]["properties"]["$session_id"], "session-123");
    assert_eq!(events[1]["distinct_id"], "explicit-user");
    assert_eq!(events[1]["properties"]["$session_id"], "explicit-session");
    assert_eq!(events[2]["properties"]["$session_id"], "session-only");
    assert_eq!(events[2]["properties"]["$process_person_profile"], false);
    assert_eq!(events[2]["distinct_id"].as_str().unwrap().len(), 36);
}
