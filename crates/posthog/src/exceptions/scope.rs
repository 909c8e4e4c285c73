//! Error scopes: a [`Context`] scope whose escaping errors and panics are captured (the role
//! of the Python SDK's `new_context(capture_exceptions=True)`).

use std::error::Error as StdError;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::task::Poll;

use posthog_core::Properties;
use posthog_core::exception::Level;

use super::{Boundary, ExceptionOptions, Stack, panic};
use crate::Client;
use crate::context::Context;

/// `$exception_source` of errors and panics that escaped an error scope.
pub const ERROR_SCOPE_SOURCE: &str = "posthog.error_scope";

/// An error escaping a scope: unhandled, level error (C-EXCEPTION-META.6/.8).
const SCOPE: Boundary = Boundary {
    mechanism: "scope",
    handled: false,
    level: Level::Error,
    source: Some(ERROR_SCOPE_SOURCE),
};

impl Client {
    /// Runs `future` with `context` active (as [`Context::scope`]). An `Err` it returns is
    /// captured as an unhandled `$exception` with the scope's distinct id, session and tags,
    /// then returned unchanged; a panic escaping it is captured (unless
    /// [`Client::enable_exception_autocapture`]'s hook already sent it) and resumed.
    ///
    /// ```
    /// use posthog::context::Context;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), posthog::Error> {
    /// # let server = posthog::test_util::FakePostHog::start().await;
    /// let client = posthog::Client::builder("phc_project_token")
    /// #   .host(server.url())
    ///     .build()?;
    /// let request = Context::new().distinct_id("user-123").tag("route", "/checkout");
    /// let answer: Result<(), std::io::Error> = client
    ///     .error_scope(request, async { Err(std::io::Error::other("card declined")) })
    ///     .await;
    /// assert!(answer.is_err());
    /// # client.flush().await;
    /// # assert_eq!(server.events()[0]["properties"]["route"], "/checkout");
    /// # Ok(()) }
    /// ```
    pub async fn error_scope<T, E, F>(&self, context: Context, future: F) -> Result<T, E>
    where
        F: Future<Output = Result<T, E>>,
        E: StdError + 'static,
    {
        context
            .scope(async {
                let outcome = catching(future).await;
                self.settle(outcome, SCOPE)
            })
            .await
    }

    /// [`Client::error_scope`] for blocking code: runs `f` with `context` active on this
    /// thread (as [`Context::enter`]) and captures the `Err` or panic that escapes it.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = posthog::test_util::FakePostHog::start().await;
    /// # let client = posthog::Client::builder("phc_project_token").host(server.url()).build()?;
    /// use posthog::context::Context;
    /// let result: Result<u32, std::io::Error> = client
    ///     .error_scope_blocking(Context::new().distinct_id("user-123"), || {
    ///         Err(std::io::Error::other("disk full"))
    ///     });
    /// assert!(result.is_err()); // handed back unchanged, and captured
    /// # client.flush().await;
    /// # assert_eq!(server.events()[0]["distinct_id"], "user-123");
    /// # Ok(()) }
    /// ```
    pub fn error_scope_blocking<T, E, F>(&self, context: Context, f: F) -> Result<T, E>
    where
        F: FnOnce() -> Result<T, E>,
        E: StdError + 'static,
    {
        let _active = context.enter();
        let outcome = catch_unwind(AssertUnwindSafe(f));
        self.settle(outcome, SCOPE)
    }

    /// Captures what escaped a boundary (still inside the caller's scope, so the context
    /// applies) and hands it on: the error returned, the panic resumed.
    pub(crate) fn settle<T, E: StdError + 'static>(
        &self,
        outcome: std::thread::Result<Result<T, E>>,
        boundary: Boundary,
    ) -> Result<T, E> {
        match outcome {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => {
                self.capture_error_at(
                    &error,
                    std::any::type_name::<E>(),
                    "",
                    &ExceptionOptions::new(),
                    boundary,
                    None,
                );
                Err(error)
            }
            Err(payload) => {
                if !panic::take_hook_captured()
                    && self.is_enabled()
                    && !self.is_opted_out()
                    && !self.autocapture_limited("panic")
                {
                    // Caught after unwinding: the panic's own stack is gone, this one stands in.
                    let mut stack = Stack::pending(true);
                    let pending = stack.take_pending();
                    let list = panic::panic_list(panic::message(&*payload), stack);
                    if let Some(mut event) = self.exception_event_for("", &list, Properties::new())
                    {
                        if let Some(source) = boundary.source {
                            event.set_default("$exception_source", source);
                        }
                        self.capture_exception_event(event, pending);
                    }
                }
                resume_unwind(payload)
            }
        }
    }
}

/// Runs `future`, turning a panic in any of its polls into an `Err` carrying the payload.
pub(crate) async fn catching<F: Future>(future: F) -> std::thread::Result<F::Output> {
    let mut future = std::pin::pin!(future);
    std::future::poll_fn(
        |cx| match catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(cx))) {
            Ok(Poll::Ready(out)) => Poll::Ready(Ok(out)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(payload) => Poll::Ready(Err(payload)),
        },
    )
    .await
}
