//! C-CAPTURE-EXCEPTION / C-EXCEPTION-META through the client, against FakePostHog.

mod support;

use std::fmt;
use std::time::Duration;

use insta::assert_json_snapshot;
use posthog::test_util::FakePostHog;
use posthog::{Client, ExceptionOptions, Level};

#[derive(Debug)]
struct Layer {
    message: &'static str,
    source: Option<Box<Layer>>,
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message)
    }
}

impl std::error::Error for Layer {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|s| s as &(dyn std::error::Error + 'static))
    }
}

fn three_levels() -> Layer {
    Layer {
        message: "checkout failed",
        source: Some(Box::new(Layer {
            message: "payment service unavailable",
            source: Some(Box::new(Layer {
                message: "connection refused",
                source: None,
            })),
        })),
    }
}

/// C-EXCEPTION-META acceptance (manual capture): level error, no source, generic, handled,
/// exception_id 0; frames outermost first with this test's frame in-app.
#[tokio::test]
async fn c_capture_exception_plain_error() {
    let server = FakePostHog::start().await;
    let client = Client::builder("phc").host(server.url()).build().unwrap();
    let err = std::io::Error::new(std::io::ErrorKind::NotFound, "config.toml not found");
    assert!(
        client
            .capture_exception(&err, "user-123", &ExceptionOptions::new())
            .is_some()
    );
    client.flush().await;
    let events = support::exception_events(&server);
    assert_eq!(events.len(), 1);
    let p = &events[0]["properties"];
    let frames = p["$exception_list"][0]["stacktrace"]["frames"]
        .as_array()
        .unwrap();
    assert!(!frames.is_empty());
    let here = frames
        .iter()
        .rev()
        .find(|f| f["in_app"] == true)
        .expect("an in-app frame");
    assert!(
        here["filename"]
            .as_str()
            .unwrap()
            .ends_with("exceptions.rs"),
        "{here}"
    );
    assert!(p.get("$exception_source").is_none());
    assert_json_snapshot!("plain_error", events[0], {
        ".uuid" => "[uuid]", ".timestamp" => "[timestamp]",
        ".properties[\"$exception_list\"][0].stacktrace" => "[frames]",
        ".properties[\"$lib_version\"]" => "[version]",
    });
}

/// C-BEFORE-SEND.1 for exceptions: without hooks the worker resolves the stack off the
/// calling thread, but a `before_send` hook sees the event whole, frames included (it can
/// drop them: what it returns is what is sent).
#[tokio::test]
async fn c_before_send_1_hooks_see_exception_frames() {
    let server = FakePostHog::start().await;
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = seen.clone();
    let client = Client::builder("phc")
        .host(server.url())
        .before_send(move |mut e| {
            let list = &e.properties()["$exception_list"][0];
            let frames = list["stacktrace"]["frames"].as_array().map_or(0, Vec::len);
            record.lock().unwrap().push(frames);
            e.properties_mut().remove("$exception_list");
            Some(e)
        })
        .build()
        .unwrap();
    let err = std::io::Error::other("disk full");
    client.capture_exception(&err, "user-123", &ExceptionOptions::new());
    client.capture_exception_message("Timeout", "no answer", "user-123", &ExceptionOptions::new());
    client.flush().await;
    let frames = seen.lock().unwrap().clone();
    assert_eq!(frames.len(), 2);
    assert!(
        frames.iter().all(|&n| n > 0),
        "the hook saw frames: {frames:?}"
    );
    let events = support::exception_events(&server);
    assert_eq!(events.len(), 2);
    assert!(
        events
            .iter()
            .all(|e| e["properties"].get("$exception_list").is_none()),
        "the worker adds nothing back after the hook"
    );
}

/// A three-level `source()` chain: outermost first, nested entries chained with parent ids.
#[tokio::test]
async fn c_exception_meta_5_three_level_chain() {
    let server = FakePostHog::start().await;
    let client = Client::builder("phc").host(server.url()).build().unwrap();
    let opts = ExceptionOptions::new()
        .level(Level::Warning)
        .fingerprint("checkout-payments")
        .property("$exception_level", "ignored");
    client.capture_exception(&three_levels(), "user-123", &opts);
    client.flush().await;
    let events = support::exception_events(&server);
    assert_json_snapshot!("three_level_chain", events[0], {
        ".uuid" => "[uuid]", ".timestamp" => "[timestamp]",
        ".properties[\"$exception_list\"][0].stacktrace" => "[frames]",
        ".properties[\"$lib_version\"]" => "[version]",
    });
}

/// The same error instance is captured once; a personless event without any distinct id.
#[tokio::test]
async fn c_capture_exception_same_instance_once_and_personless() {
    let server = FakePostHog::start().await;
    let client = Client::builder("phc").host(server.url()).build().unwrap();
    let err = three_levels();
    assert!(
        client
            .capture_exception(&err, "", &ExceptionOptions::new())
            .is_some()
    );
    assert!(
        client
            .capture_exception(&err, "", &ExceptionOptions::new())
            .is_none()
    );
    client.flush().await;
    let events = support::exception_events(&server);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["properties"]["$process_person_profile"], false);

    // Different errors made in the same stack slot (same address) are all captured.
    for i in 0..3 {
        let err = std::io::Error::other(format!("attempt {i} failed"));
        assert!(
            client
                .capture_exception(&err, "u", &ExceptionOptions::new())
                .is_some(),
            "attempt {i}"
        );
    }
}

/// A panic in a spawned thread is delivered before the thread's unwinding finishes; the
/// previous hook still runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_capture_exception_panics_are_delivered() {
    let server = FakePostHog::start().await;
    let client = Client::builder("phc").host(server.url()).build().unwrap();
    static PREVIOUS_HOOK_CALLS: std::sync::atomic::AtomicUsize =
        std::sync::atomic::AtomicUsize::new(0);
    std::panic::set_hook(Box::new(|_| {
        PREVIOUS_HOOK_CALLS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }));
    client.enable_exception_autocapture();
    let joined = std::thread::spawn(|| panic!("worker exploded: {}", 42)).join();
    assert!(joined.is_err());
    // Delivered synchronously by the hook: it is there without a flush.
    let events = support::exception_events(&server);
    assert_eq!(events.len(), 1, "{events:?}");
    let p = &events[0]["properties"];
    assert_eq!(p["$exception_level"], "fatal");
    assert_eq!(p["$exception_source"], "rust.panic_hook");
    assert_eq!(p["$exception_list"][0]["value"], "worker exploded: 42");
    assert_eq!(p["$exception_list"][0]["mechanism"]["type"], "panic");
    assert_eq!(p["$exception_list"][0]["mechanism"]["handled"], false);
    // The hook runs where the panic happened: the stack is the panic's own.
    assert_eq!(p["$exception_list"][0]["mechanism"]["synthetic"], false);
    assert_eq!(
        PREVIOUS_HOOK_CALLS.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "the hook installed before is still called"
    );
    assert_json_snapshot!("panic", events[0], {
        ".uuid" => "[uuid]", ".timestamp" => "[timestamp]", ".distinct_id" => "[personless]",
        ".properties[\"$exception_list\"][0].stacktrace" => "[frames]",
        ".properties[\"$exception_panic_line\"]" => "[line]",
        ".properties[\"$exception_panic_column\"]" => "[column]",
        ".properties[\"$lib_version\"]" => "[version]",
    });
    assert!(
        p["$exception_panic_file"]
            .as_str()
            .unwrap()
            .ends_with("exceptions.rs")
    );
    // A panicking tokio task is delivered the same way.
    let task = tokio::spawn(async { panic!("task exploded") });
    assert!(task.await.is_err());
    assert_eq!(support::exception_events(&server).len(), 2);
    assert_eq!(
        PREVIOUS_HOOK_CALLS.load(std::sync::atomic::Ordering::SeqCst),
        2
    );
    let _ = std::panic::take_hook(); // leave the default hook for the other tests in this binary
    client.shutdown(Duration::from_secs(5)).await;
}

/// An `anyhow::Error` with context: the context messages first, then the cause.
#[cfg(feature = "anyhow")]
#[tokio::test]
#[allow(unsafe_code)] // `set_var`, before any thread of this test reads the environment
async fn c_capture_exception_anyhow_with_context() {
    use anyhow::Context as _;
    // anyhow captures a backtrace when this is set; no other test in this binary asks std
    // for an environment-controlled backtrace, so setting it here is seen on first use.
    // SAFETY: no other thread of this test binary reads or writes this variable.
    unsafe { std::env::set_var("RUST_LIB_BACKTRACE", "1") };
    let server = FakePostHog::start().await;
    let client = Client::builder("phc").host(server.url()).build().unwrap();
    let err = std::fs::read("/definitely/not/here.toml")
        .context("reading the settings file")
        .context("starting the billing worker")
        .unwrap_err();
    assert!(
        client
            .capture_anyhow(&err, "user-123", &ExceptionOptions::new())
            .is_some()
    );
    client.flush().await;
    let events = support::exception_events(&server);
    // C-CAPTURE-EXCEPTION.6: anyhow's own backtrace is used, not a synthesised one: its
    // innermost in-app frame is this test, where the error was created.
    let outer = &events[0]["properties"]["$exception_list"][0];
    assert_eq!(outer["mechanism"]["synthetic"], false);
    let frames = outer["stacktrace"]["frames"].as_array().unwrap();
    assert!(
        frames.iter().any(|f| f["function"]
            .as_str()
            .is_some_and(|name| name.contains("c_capture_exception_anyhow_with_context"))),
        "{frames:?}"
    );
    assert_json_snapshot!("anyhow_with_context", events[0], {
        ".uuid" => "[uuid]", ".timestamp" => "[timestamp]",
        ".properties[\"$exception_list\"][0].stacktrace" => "[frames]",
        ".properties[\"$lib_version\"]" => "[version]",
    });
}

/// An `eyre::Report` with wrapped context: the wrap messages first, then the cause; eyre
/// exposes no backtrace on stable, so the stack is synthesised and marked so.
#[cfg(feature = "eyre")]
#[tokio::test]
async fn c_capture_exception_eyre_with_context() {
    use eyre::WrapErr as _;
    let server = FakePostHog::start().await;
    let client = Client::builder("phc").host(server.url()).build().unwrap();
    let err = std::fs::read("/definitely/not/here.toml")
        .wrap_err("reading the settings file")
        .unwrap_err();
    assert!(
        client
            .capture_eyre(&err, "user-123", &ExceptionOptions::new())
            .is_some()
    );
    client.flush().await;
    let events = support::exception_events(&server);
    let list = events[0]["properties"]["$exception_list"]
        .as_array()
        .unwrap();
    assert_eq!(list.len(), 2, "{list:?}");
    assert_eq!(list[0]["type"], "Report");
    assert_eq!(list[0]["value"], "reading the settings file");
    assert_eq!(list[0]["mechanism"]["synthetic"], true);
    assert!(
        list[1]["value"]
            .as_str()
            .unwrap()
            .contains("No such file or directory")
    );
    assert_eq!(list[1]["mechanism"]["source"], "cause");
    assert_eq!(list[1]["mechanism"]["parent_id"], 0);
}

/// C-CAPTURE-EXCEPTION.8: a value that is not an error becomes one entry with a normalised
/// type and message, synthetic, handled; a disabled client does nothing.
#[tokio::test]
async fn c_capture_exception_8_non_error_input() {
    let server = FakePostHog::start().await;
    let client = Client::builder("phc").host(server.url()).build().unwrap();
    assert!(
        client
            .capture_exception_message("", "quota exceeded", "user-1", &ExceptionOptions::new())
            .is_some()
    );
    client.flush().await;
    let events = support::exception_events(&server);
    let entry = &events[0]["properties"]["$exception_list"][0];
    assert_eq!(entry["type"], "Error");
    assert_eq!(entry["value"], "quota exceeded");
    assert_eq!(entry["mechanism"]["synthetic"], true);
    assert_eq!(entry["mechanism"]["handled"], true);
    assert_eq!(
        events[0]["properties"]["$exception_message"],
        "quota exceeded"
    );
    let frames = entry["stacktrace"]["frames"].as_array().expect("frames");
    assert!(
        frames.iter().any(|f| f["function"]
            .as_str()
            .is_some_and(|f| f.contains("c_capture_exception_8_non_error_input"))),
        "the worker attached the capture site's stack: {frames:?}"
    );

    let disabled = Client::builder("phc")
        .host(server.url())
        .disabled(true)
        .build()
        .unwrap();
    assert!(
        disabled
            .capture_exception_message("Boom", "x", "user-1", &ExceptionOptions::new())
            .is_none()
    );
}

/// An error whose `source()` is itself: a cycle.
#[derive(Debug)]
struct Ouroboros;

impl fmt::Display for Ouroboros {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("eats its own tail")
    }
}

impl std::error::Error for Ouroboros {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(self)
    }
}

/// A chain `depth` deep.
fn deep(depth: usize) -> Layer {
    let mut error = Layer {
        message: "root",
        source: None,
    };
    for _ in 1..depth {
        error = Layer {
            message: "wrapper",
            source: Some(Box::new(error)),
        };
    }
    error
}

/// C-CAPTURE-EXCEPTION.5 / C-EXCEPTION-META.10: caller properties ride along, reserved keys
/// stay the SDK's. C-EXCEPTION-META.5: a cycle gives no entry twice; a 60-deep chain is cut
/// to 50 entries, the earliest first, ids unique.
#[tokio::test]
async fn c_exception_meta_5_10_properties_cycles_and_the_cap() {
    let server = FakePostHog::start().await;
    let client = Client::builder("phc").host(server.url()).build().unwrap();
    let opts = ExceptionOptions::new()
        .property("handled", true)
        .property("area", "checkout")
        .property("$exception_list", "not yours")
        .property("$exception_source", "not yours either");
    client.capture_exception(&Ouroboros, "u1", &opts);
    client.capture_exception(&deep(60), "u2", &ExceptionOptions::new());
    client.flush().await;
    let events = support::exception_events(&server);
    assert_eq!(events.len(), 2);
    let cyclic = &events[0]["properties"];
    assert_eq!(cyclic["handled"], true);
    assert_eq!(cyclic["area"], "checkout");
    assert!(cyclic.get("$exception_source").is_none());
    assert_eq!(cyclic["$exception_level"], "error");
    let list = cyclic["$exception_list"].as_array().unwrap();
    assert_eq!(list.len(), 1, "the cycle is stopped: {list:?}");
    assert_eq!(list[0]["value"], "eats its own tail");

    let list = events[1]["properties"]["$exception_list"]
        .as_array()
        .unwrap();
    assert_eq!(list.len(), posthog::exceptions::MAX_CHAIN);
    for (i, entry) in list.iter().enumerate() {
        assert_eq!(entry["mechanism"]["exception_id"], i);
        if i > 0 {
            assert_eq!(entry["mechanism"]["parent_id"], i - 1);
            assert_eq!(entry["mechanism"]["type"], "chained");
            assert!(entry["mechanism"].get("handled").is_none());
        }
    }
    assert_eq!(
        list[49]["value"], "wrapper",
        "the earliest 50, not the root"
    );
}
