//! Panic autocapture (C-CAPTURE-EXCEPTION, opt-in): a panic hook that delivers an unhandled,
//! fatal `$exception` before the panic goes on.

use std::any::Any;
use std::cell::Cell;
use std::panic::PanicHookInfo;
use std::time::Duration;

use posthog_core::Properties;
use posthog_core::exception::{ExceptionList, Level};

use super::{Stack, outermost};
use crate::Client;

/// How long a panic waits for its event to be delivered before the process goes on.
pub const PANIC_FLUSH_DEADLINE: Duration = Duration::from_secs(2);

thread_local! {
    /// Set by the hook when it captured the panic now unwinding this thread, so an error
    /// scope that catches the same panic does not send it twice.
    static HOOK_CAPTURED: Cell<bool> = const { Cell::new(false) };
}

/// Whether the panic hook already captured the panic unwinding this thread; clears the mark.
pub(crate) fn take_hook_captured() -> bool {
    HOOK_CAPTURED.with(|c| c.replace(false))
}

/// A panic payload's message: a `&str` or `String` payload, else `"panic"`.
pub(crate) fn message(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".to_owned())
}

/// The `$exception_list` of a panic: one unhandled `panic` entry, level fatal.
pub(crate) fn panic_list(message: String, stack: Stack) -> ExceptionList {
    ExceptionList {
        exceptions: vec![outermost(
            "panic".into(),
            message,
            None,
            "panic",
            false,
            stack,
        )],
        level: Level::Fatal,
        fingerprint: None,
    }
}

impl Client {
    /// Captures panics from now on (C-CAPTURE-EXCEPTION, opt-in): each panic becomes an
    /// unhandled `$exception` (mechanism `panic`, level `fatal`) with its message, location and
    /// stack, sent before the panic goes on (at most [`PANIC_FLUSH_DEADLINE`]); the panic hook
    /// that was installed before is kept and called afterwards. A panic inside a
    /// [`Context`](crate::context::Context) scope carries its distinct id, session and tags.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = posthog::test_util::FakePostHog::start().await;
    /// # let client = posthog::Client::builder("phc_project_token").host(server.url()).build()?;
    /// // Panics on any thread are captured as `$exception` (and the previous hook still runs).
    /// client.enable_exception_autocapture();
    /// # Ok(()) }
    /// ```
    pub fn enable_exception_autocapture(&self) {
        let client = self.clone();
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            client.capture_panic(info);
            previous(info);
        }));
    }

    fn capture_panic(&self, info: &PanicHookInfo<'_>) {
        HOOK_CAPTURED.with(|c| c.set(false));
        // A panic raised by user code the SDK runs (a `before_send` hook, `on_error`), or on
        // the SDK's own panic path, is the SDK's to report: capturing it would run the same
        // code again, and panic again.
        if crate::hooks::in_sdk_callback() || !self.is_enabled() || self.is_opted_out() {
            return;
        }
        let _marked = crate::hooks::CallbackGuard::enter();
        if self.autocapture_limited("panic") {
            // Handled: a scope that catches this panic must not capture it either.
            HOOK_CAPTURED.with(|c| c.set(true));
            return;
        }
        // The hook runs where the panic happened: this stack is the panic's own.
        let stack = Stack::here(&self.options().in_app, false);
        let list = panic_list(message(info.payload()), stack);
        let Some(mut event) = self.exception_event_for("", &list, Properties::new()) else {
            return;
        };
        if let Some(location) = info.location() {
            event.set_default("$exception_panic_file", location.file());
            event.set_default("$exception_panic_line", location.line());
            event.set_default("$exception_panic_column", location.column());
        }
        event.set_default("$exception_source", "rust.panic_hook");
        // The event is sent from another thread: give it this thread's context now.
        crate::context::apply(&mut event);
        HOOK_CAPTURED.with(|c| c.set(true));
        // Deliver now, on a thread of our own: the panicking thread may be a runtime worker,
        // and the process may be about to abort.
        let client = self.clone();
        let sender = std::thread::Builder::new()
            .name("posthog-panic".into())
            .spawn(move || {
                let _marked = crate::hooks::CallbackGuard::enter();
                let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                else {
                    return;
                };
                runtime.block_on(async move {
                    let _ =
                        tokio::time::timeout(PANIC_FLUSH_DEADLINE, client.capture_immediate(event))
                            .await;
                });
            });
        if let Ok(sender) = sender {
            let _ = sender.join();
        }
    }
}
