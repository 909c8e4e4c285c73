//! `before_send` hooks (C-BEFORE-SEND): run in order on the assembled event; `None` drops it;
//! a hook that fails (returns an error or panics) drops the event too — fail closed.

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

/// Runs the hooks in order; stops at the first drop or failure.
pub(crate) fn run(hooks: &[BeforeSend], mut event: Event) -> HookOutcome {
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
