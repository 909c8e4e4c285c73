//! C-CAPTURE-EXCEPTION / C-EXCEPTION-META through the client, against FakePostHog.

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

async fn exceptions(server: &FakePostHog) -> Vec<serde_json::Value> {
    server
        .events()
        .into_iter()
        .filter(|e| e["event"] == "$exception")
        .collect()
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
    let events = exceptions(&server).await;
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
    let events = exceptions(&server).await;
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
    let events = exceptions(&server).await;
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
    client.enable_exception_autocapture();
    let joined = std::thread::spawn(|| panic!("worker exploded: {}", 42)).join();
    assert!(joined.is_err());
    // Delivered synchronously by the hook: it is there without a flush.
    let events = exceptions(&server).await;
    assert_eq!(events.len(), 1, "{events:?}");
    let p = &events[0]["properties"];
    assert_eq!(p["$exception_level"], "fatal");
    assert_eq!(p["$exception_source"], "rust.panic_hook");
    assert_eq!(p["$exception_list"][0]["value"], "worker exploded: 42");
    assert_eq!(p["$exception_list"][0]["mechanism"]["type"], "panic");
    assert_eq!(p["$exception_list"][0]["mechanism"]["handled"], false);
    assert!(
        p["$exception_panic_file"]
            .as_str()
            .unwrap()
            .ends_with("exceptions.rs")
    );
    // A panicking tokio task is delivered the same way.
    let task = tokio::spawn(async { panic!("task exploded") });
    assert!(task.await.is_err());
    assert_eq!(exceptions(&server).await.len(), 2);
    let _ = std::panic::take_hook(); // leave the default hook for the other tests in this binary
    client.shutdown(Duration::from_secs(5)).await;
}

/// An `anyhow::Error` with context: the context messages first, then the cause.
#[cfg(feature = "anyhow")]
#[tokio::test]
async fn c_capture_exception_anyhow_with_context() {
    use anyhow::Context as _;
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
    let events = exceptions(&server).await;
    assert_json_snapshot!("anyhow_with_context", events[0], {
        ".uuid" => "[uuid]", ".timestamp" => "[timestamp]",
        ".properties[\"$exception_list\"][0].stacktrace" => "[frames]",
        ".properties[\"$lib_version\"]" => "[version]",
    });
}
