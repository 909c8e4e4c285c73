//! C-CAPTURE-EXCEPTION: a panic on the main thread is delivered before the process exits.
//!
//! A `harness = false` test, so `main` is the process's main thread. The parent starts a
//! FakePostHog and runs this same executable as a child (env `POSTHOG_PANIC_CHILD_HOST`); the
//! child enables panic autocapture and panics on its main thread; the parent then checks that
//! the child failed and that the server received the panic.

use std::process::Command;
use std::time::Duration;

fn child(host: &str) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let client = runtime
        .block_on(async { posthog::Client::builder("phc").host(host).build() })
        .expect("client");
    let _entered = runtime.enter();
    client.enable_exception_autocapture();
    panic!("main thread exploded");
}

fn main() {
    if let Ok(host) = std::env::var("POSTHOG_PANIC_CHILD_HOST") {
        child(&host);
        return;
    }
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let server = runtime.block_on(posthog::test_util::FakePostHog::start());
    let status = Command::new(std::env::current_exe().expect("test executable"))
        .env("POSTHOG_PANIC_CHILD_HOST", server.url())
        .env("RUST_BACKTRACE", "0")
        .status()
        .expect("run the child");
    let events = server.events();
    let delivered = events.iter().any(|e| {
        e["event"] == "$exception"
            && e["properties"]["$exception_list"][0]["value"] == "main thread exploded"
            && e["properties"]["$exception_level"] == "fatal"
    });
    std::thread::sleep(Duration::from_millis(10));
    if !status.success() && delivered {
        println!("test panic_on_the_main_thread_is_delivered_before_exit ... ok");
        println!("test result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out");
    } else {
        println!("test panic_on_the_main_thread_is_delivered_before_exit ... FAILED");
        println!("child status {status}, delivered {delivered}, events {events:?}");
        println!("test result: FAILED. 0 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out");
        std::process::exit(1);
    }
}
