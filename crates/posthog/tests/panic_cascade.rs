//! Panics inside the SDK's own panic path (issue 14, defect 12). One test in this file: panic
//! hooks are process-wide, so no other test may run beside it.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use posthog::test_util::FakePostHog;
use posthog::{DeliveryErrorKind, Event};
use support::builder;

/// With panic autocapture on and a `before_send` that panics on `$exception`, one panic is
/// one panic: the hook's own panic is reported (HookFailed), not captured again. And a
/// capture made from a user's panic hook, whose `before_send` panics too, neither aborts the
/// process nor cascades (C-BEFORE-SEND.4/.7).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_hook_on_the_panic_path_does_not_cascade_or_abort() {
    let server = FakePostHog::start().await;
    let panics = Arc::new(AtomicUsize::new(0));
    let counted = panics.clone();
    // Counts every panic the process sees; the SDK's hook will call it after its own work.
    std::panic::set_hook(Box::new(move |_| {
        counted.fetch_add(1, Ordering::SeqCst);
    }));
    let (b, errors) = builder(&server);
    let client = b
        .before_send(|event| {
            if event.name() == "$exception" || event.name() == "from-panic-hook" {
                panic!("the hook cannot take it");
            }
            Some(event)
        })
        .build()
        .unwrap();
    client.enable_exception_autocapture();

    let thread = std::thread::spawn(|| panic!("the application panics"));
    assert!(thread.join().is_err());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let seen = panics.load(Ordering::SeqCst);
    assert_eq!(seen, 2, "the application's panic and the hook's: {seen}");
    let failed: Vec<_> = errors
        .all()
        .into_iter()
        .filter(|e| e.kind == DeliveryErrorKind::HookFailed)
        .collect();
    assert_eq!(failed.len(), 1, "{failed:?}");

    // A user's panic hook that captures, with a hook that panics on what it captures: a
    // panic inside a panic hook aborts the process unless the SDK moves it elsewhere.
    let previous = std::panic::take_hook();
    let from_hook = client.clone();
    std::panic::set_hook(Box::new(move |info| {
        from_hook.capture(Event::new("from-panic-hook", "u"));
        previous(info);
    }));
    let thread = std::thread::spawn(|| panic!("again"));
    assert!(thread.join().is_err());
    let _ = std::panic::take_hook();
    // The application's second panic: the user's hook captures (its `before_send` panics on
    // a helper thread: reported), and from inside that panic captures again (dropped without
    // running the hooks, counted, `on_error` not called for it); then autocapture captures
    // the panic, whose `$exception` meets the panicking hook too (reported; the capture the
    // user's hook makes inside that panic is dropped like the first).
    let failed = errors
        .all()
        .into_iter()
        .filter(|e| e.kind == DeliveryErrorKind::HookFailed)
        .count();
    assert_eq!(failed, 3);
    assert_eq!(client.stats().dropped, 5);
    assert_eq!(
        panics.load(Ordering::SeqCst),
        5,
        "three more panics, and no more"
    );
    client.flush().await;
    assert!(
        server.events().is_empty(),
        "nothing got past the failing hook"
    );
}
