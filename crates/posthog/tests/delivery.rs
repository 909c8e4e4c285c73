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
