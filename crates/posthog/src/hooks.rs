//! `before_send` hooks (C-BEFORE-SEND): run in order on the assembled event; `None` drops it;
//! a hook that fails (returns an error or panics) drops the event too — fail closed.
//!
//! User code the SDK calls (hooks, and `on_error` through [`contain`]) is contained:
//! - its panic is caught and reported, never passed on to the caller;
//! - it is marked as running, so the SDK's own panic hook does not capture a panic it raises
//!   (capturing it would run the same hooks again: one panicking hook became thousands of
//!   nested panics on as many threads);
//! - on a thread that is already panicking (inside a panic hook, or a drop during unwinding),
//!   where a second panic aborts the process whatever catches it, it runs on a helper thread;
//! - while a panic raised by such user code unwinds (a panic hook that captures, run for a
//!   panicking hook), it is not run at all: the event is dropped as a failed hook, counted and
//!   logged, and `on_error` is not called for it (it could panic the same way).

use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use posthog_core::Event;

/// An error a hook may return.
pub type HookError = Box<dyn std::error::Error + Send + Sync>;

/// One `before_send` hook.
pub type BeforeSend = Arc<dyn Fn(Event) -> Result<Option<Event>, HookError> + Send + Sync>;

/// What the chain decided.
pub(crate) enum HookOutcome {
    Keep(Event),
    Dropped,
    Failed(String),
}

thread_local! {
    /// Set while this thread runs user code for the SDK, or is one of the SDK's own panic
    /// threads: a panic here is the SDK's to report, not its panic hook's to capture.
    static IN_SDK_CALLBACK: Cell<bool> = const { Cell::new(false) };
}

/// Whether a panic on this thread now comes from user code the SDK is running (or from the
/// SDK's own panic path): the panic hook must not capture it.
pub(crate) fn in_sdk_callback() -> bool {
    IN_SDK_CALLBACK.with(Cell::get)
}

/// Marks this thread as the SDK's for as long as the guard lives.
pub(crate) struct CallbackGuard(bool);

impl CallbackGuard {
    pub(crate) fn enter() -> Self {
        CallbackGuard(IN_SDK_CALLBACK.with(|c| c.replace(true)))
    }
}

impl Drop for CallbackGuard {
    fn drop(&mut self) {
        let before = self.0;
        IN_SDK_CALLBACK.with(|c| c.set(before));
    }
}

/// Runs `f` (user code) contained (see the module docs); `None` when it panicked, or when
/// no helper thread could be started for it on a panicking thread.
pub(crate) fn contain<R: Send>(f: impl FnOnce() -> R + Send) -> Option<R> {
    let run = move || {
        let _marked = CallbackGuard::enter();
        catch_unwind(AssertUnwindSafe(f)).ok()
    };
    if !std::thread::panicking() {
        return run();
    }
    if in_sdk_callback() {
        // A panic raised by user code the SDK ran is unwinding here (say, a panic hook that
        // captures runs for a panicking `before_send`): running user code again could panic
        // again, without end.
        return None;
    }
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("posthog-callback".into())
            .spawn_scoped(scope, run)
            .ok()
            .and_then(|helper| helper.join().ok().flatten())
    })
}

/// Runs the hooks in order; stops at the first drop or failure.
pub(crate) fn run(hooks: &[BeforeSend], event: Event) -> HookOutcome {
    if hooks.is_empty() {
        return HookOutcome::Keep(event);
    }
    contain(move || run_contained(hooks, event)).unwrap_or_else(|| {
        HookOutcome::Failed("before_send hooks could not run on a panicking thread".into())
    })
}

fn run_contained(hooks: &[BeforeSend], mut event: Event) -> HookOutcome {
    for (i, hook) in hooks.iter().enumerate() {
        match catch_unwind(AssertUnwindSafe(|| hook(event))) {
            Ok(Ok(Some(next))) => event = next,
            Ok(Ok(None)) => return HookOutcome::Dropped,
            Ok(Err(err)) => {
                return HookOutcome::Failed(format!("before_send hook #{i} failed: {err}"));
            }
            Err(_) => return HookOutcome::Failed(format!("before_send hook #{i} panicked")),
        }
    }
    HookOutcome::Keep(event)
}
