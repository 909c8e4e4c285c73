//! Request- or task-scoped analytics context (C-TRACING-HEADERS, C-GET-DISTINCT-ID): a
//! distinct id, a session id and tags that events captured inside the scope pick up.
//!
//! In async code a context lives in a tokio task-local for the duration of a future
//! ([`Context::scope`]); spawned tasks do not inherit it, so wrap them in a scope of their
//! own. In blocking code [`Context::enter`] sets it for the current thread until the guard is
//! dropped. Nothing here is process-wide: outside any scope there is no context.

use std::cell::RefCell;
use std::future::Future;

use posthog_core::Properties;
use serde_json::Value;

/// The longest header value a context keeps (C-TRACING-HEADERS.2).
pub const MAX_HEADER_VALUE_CHARS: usize = 1000;

/// A distinct id, a session id and tags for the events captured inside a scope.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Context {
    distinct_id: Option<String>,
    session_id: Option<String>,
    tags: Properties,
}

tokio::task_local! {
    static TASK_CONTEXT: Context;
}

thread_local! {
    static THREAD_CONTEXT: RefCell<Vec<Context>> = const { RefCell::new(Vec::new()) };
}

impl Context {
    /// An empty context.
    pub fn new() -> Self {
        Self::default()
    }

    /// A copy of the active context (or an empty one), to extend in a nested scope.
    pub fn inherit() -> Self {
        current().unwrap_or_default()
    }

    /// Sets the distinct id events use when the call gives none.
    pub fn distinct_id(mut self, id: impl Into<String>) -> Self {
        self.distinct_id = sanitize(&id.into());
        self
    }

    /// Sets the session id (sent as `$session_id`).
    pub fn session_id(mut self, id: impl Into<String>) -> Self {
        self.session_id = sanitize(&id.into());
        self
    }

    /// Adds a tag: a property on every event captured inside the scope (the call's own
    /// properties win).
    pub fn tag(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.tags.insert(key.into(), value.into());
        self
    }

    /// The context's distinct id.
    pub fn get_distinct_id(&self) -> Option<&str> {
        self.distinct_id.as_deref()
    }

    /// The context's session id.
    pub fn get_session_id(&self) -> Option<&str> {
        self.session_id.as_deref()
    }

    /// The context's tags.
    pub fn tags(&self) -> &Properties {
        &self.tags
    }

    /// Runs `future` with this context active (for everything it awaits, not for tasks it
    /// spawns).
    pub async fn scope<F: Future>(self, future: F) -> F::Output {
        TASK_CONTEXT.scope(self, future).await
    }

    /// Makes this context active on the current thread until the guard is dropped (blocking
    /// code).
    pub fn enter(self) -> ContextGuard {
        THREAD_CONTEXT.with(|stack| stack.borrow_mut().push(self));
        ContextGuard {
            _not_send: std::marker::PhantomData,
        }
    }
}

/// Keeps a [`Context`] active on this thread; dropping it restores the previous one.
#[derive(Debug)]
pub struct ContextGuard {
    _not_send: std::marker::PhantomData<*const ()>,
}

impl Drop for ContextGuard {
    fn drop(&mut self) {
        THREAD_CONTEXT.with(|stack| {
            stack.borrow_mut().pop();
        });
    }
}

/// Runs `f` with the active context: the task's, else the thread's, else `None`.
pub(crate) fn with_current<R>(mut f: impl FnMut(Option<&Context>) -> R) -> R {
    match TASK_CONTEXT.try_with(|ctx| f(Some(ctx))) {
        Ok(out) => out,
        Err(_) => THREAD_CONTEXT.with(|stack| f(stack.borrow().last())),
    }
}

/// A copy of the active context, if any (C-GET-DISTINCT-ID: no side effects, no I/O).
pub fn current() -> Option<Context> {
    with_current(|ctx| ctx.cloned())
}

/// The active context's distinct id, if any (C-GET-DISTINCT-ID.2).
pub fn current_distinct_id() -> Option<String> {
    with_current(|ctx| ctx.and_then(|c| c.distinct_id.clone()))
}

/// Cleans an untrusted value (C-TRACING-HEADERS.2): control characters removed, white space
/// trimmed, at most [`MAX_HEADER_VALUE_CHARS`] characters; empty means absent.
pub fn sanitize(value: &str) -> Option<String> {
    let cleaned: String = value.chars().filter(|c| !c.is_control()).collect();
    let trimmed: String = cleaned
        .trim()
        .chars()
        .take(MAX_HEADER_VALUE_CHARS)
        .collect();
    (!trimmed.is_empty()).then_some(trimmed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitizes_values() {
        assert_eq!(sanitize("  user-1\u{0}\n "), Some("user-1".into()));
        assert_eq!(sanitize(" \t "), None);
        assert_eq!(sanitize(&"x".repeat(5000)).map(|s| s.len()), Some(1000));
    }

    #[test]
    fn thread_guards_nest_and_restore() {
        assert_eq!(current(), None);
        {
            let _outer = Context::new().distinct_id("a").enter();
            assert_eq!(current_distinct_id().as_deref(), Some("a"));
            {
                let _inner = Context::inherit().session_id("s").enter();
                let ctx = current().unwrap();
                assert_eq!(
                    (ctx.get_distinct_id(), ctx.get_session_id()),
                    (Some("a"), Some("s"))
                );
            }
            assert_eq!(current().unwrap().get_session_id(), None);
        }
        assert_eq!(current(), None);
    }

    #[tokio::test]
    async fn task_scopes_are_isolated() {
        let a = Context::new().distinct_id("a").scope(async {
            tokio::task::yield_now().await;
            current_distinct_id()
        });
        let b = Context::new().distinct_id("b").scope(async {
            tokio::task::yield_now().await;
            current_distinct_id()
        });
        let (a, b) = tokio::join!(a, b);
        assert_eq!((a.as_deref(), b.as_deref()), (Some("a"), Some("b")));
        assert_eq!(current_distinct_id(), None);
    }
}
