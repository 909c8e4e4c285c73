//! Error scopes (issue: error-capturing context scopes; C-CAPTURE-EXCEPTION,
//! C-EXCEPTION-META.6/.9): an `Err` or panic escaping a scope is captured with the scope's
//! distinct id and tags, against FakePostHog.
//!
//! The panic cases share one test function: the panic hook is process-wide, and another test
//! panicking while it is installed would be captured by it.

mod support;

use std::time::Duration;

use posthog::context::Context;
use posthog::test_util::FakePostHog;
use posthog::{Client, ERROR_SCOPE_SOURCE};

#[tokio::test]
async fn an_err_escaping_an_async_scope_is_captured_with_the_scope() {
    let server = FakePostHog::start().await;
    let client = Client::builder("phc").host(server.url()).build().unwrap();
    let scope = Context::new()
        .distinct_id("user-7")
        .session_id("session-1")
        .tag("route", "/checkout");
    let answer: Result<u32, std::io::Error> = client
        .error_scope(scope.clone(), async {
            tokio::task::yield_now().await;
            Err(std::io::Error::other("card declined"))
        })
        .await;
    assert_eq!(answer.unwrap_err().to_string(), "card declined");
    // An Ok passes through and sends nothing.
    let fine: Result<u32, std::io::Error> = client.error_scope(scope, async { Ok(7) }).await;
    assert_eq!(fine.unwrap(), 7);
    client.flush().await;
    let events = support::exception_events(&server);
    assert_eq!(events.len(), 1, "{events:?}");
    let event = &events[0];
    assert_eq!(event["distinct_id"], "user-7");
    let p = &event["properties"];
    assert_eq!(p["route"], "/checkout");
    assert_eq!(p["$session_id"], "session-1");
    assert_eq!(p["$exception_source"], ERROR_SCOPE_SOURCE);
    assert_eq!(p["$exception_level"], "error");
    assert_eq!(p["$exception_message"], "card declined");
    let mechanism = &p["$exception_list"][0]["mechanism"];
    assert_eq!(mechanism["handled"], false, "it escaped the scope");
    assert_eq!(mechanism["type"], "scope");
}

#[tokio::test]
async fn an_err_escaping_a_blocking_scope_is_captured_with_the_scope() {
    let server = FakePostHog::start().await;
    let client = Client::builder("phc").host(server.url()).build().unwrap();
    let answer: Result<(), std::fmt::Error> = client
        .error_scope_blocking(Context::new().distinct_id("job-runner"), || {
            Err(std::fmt::Error)
        });
    assert!(answer.is_err());
    client.flush().await;
    let events = support::exception_events(&server);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["distinct_id"], "job-runner");
    assert_eq!(events[0]["properties"]["$exception_type"], "Error");
    assert_eq!(
        events[0]["properties"]["$exception_list"][0]["module"],
        "core::fmt"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_escaping_a_scope_is_captured_once_and_resumed() {
    let server = FakePostHog::start().await;
    let client = Client::builder("phc").host(server.url()).build().unwrap();
    std::panic::set_hook(Box::new(|_| {})); // keep the test output quiet

    // Without autocapture the scope captures the panic itself, then resumes it.
    let c = client.clone();
    let task = tokio::spawn(async move {
        c.error_scope(
            Context::new().distinct_id("user-1").tag("job", "a"),
            async {
                if true {
                    panic!("scope exploded");
                }
                Ok::<(), std::io::Error>(())
            },
        )
        .await
    });
    assert!(task.await.unwrap_err().is_panic(), "the panic is resumed");
    let resumed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        client.error_scope_blocking(Context::new().distinct_id("user-2"), || {
            if true {
                panic!("blocking scope exploded");
            }
            Ok::<(), std::io::Error>(())
        })
    }));
    assert!(resumed.is_err(), "the panic is resumed");
    client.flush().await;
    let events = support::exception_events(&server);
    assert_eq!(events.len(), 2, "{events:?}");
    for (event, (id, message)) in events.iter().zip([
        ("user-1", "scope exploded"),
        ("user-2", "blocking scope exploded"),
    ]) {
        let p = &event["properties"];
        assert_eq!(event["distinct_id"], id);
        assert_eq!(p["$exception_message"], message);
        assert_eq!(p["$exception_level"], "fatal");
        assert_eq!(p["$exception_source"], ERROR_SCOPE_SOURCE);
        let mechanism = &p["$exception_list"][0]["mechanism"];
        assert_eq!(mechanism["type"], "panic");
        assert_eq!(mechanism["handled"], false);
        assert_eq!(mechanism["synthetic"], true, "caught after unwinding");
    }
    assert_eq!(events[0]["properties"]["job"], "a");

    // With autocapture the hook sends it (with the scope's context), the scope does not again.
    client.enable_exception_autocapture();
    let c = client.clone();
    let task = tokio::spawn(async move {
        c.error_scope(
            Context::new().distinct_id("user-3").tag("job", "b"),
            async {
                if true {
                    panic!("hooked scope exploded");
                }
                Ok::<(), std::io::Error>(())
            },
        )
        .await
    });
    assert!(task.await.unwrap_err().is_panic());
    client.flush().await;
    let events = support::exception_events(&server);
    assert_eq!(events.len(), 3, "{events:?}");
    let hooked = &events[2];
    assert_eq!(hooked["distinct_id"], "user-3");
    assert_eq!(hooked["properties"]["job"], "b");
    assert_eq!(hooked["properties"]["$exception_source"], "rust.panic_hook");
    let _ = std::panic::take_hook();
    client.shutdown(Duration::from_secs(5)).await;
}
