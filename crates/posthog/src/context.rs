//! Request- or task-scoped analytics context (C-TRACING-HEADERS, C-GET-DISTINCT-ID): a
//! distinct id, a session id and tags that events captured inside the scope pick up.
//!
//! In async code a context lives in a tokio task-local for the duration of a future
//! ([`Context::scope`]); spawned tasks do not inherit it, so wrap them in a scope of their
//! own. In blocking code [`Context::enter`] sets it for the current thread until the guard is
//! dropped. Nothing here is process-wide: outside any scope there is no context.

use std::cell::RefCell;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use posthog_core::{GroupProperties, Properties, PropertyValue};

/// The longest header value a context keeps (C-TRACING-HEADERS.2).
pub const MAX_HEADER_VALUE_CHARS: usize = 1000;

/// A distinct id, a session id and tags for the events captured inside a scope, plus the
/// person and group properties flag evaluations in the scope use (C-SET-PERSON-PROPS).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = posthog::test_util::FakePostHog::start().await;
/// # let client = posthog::Client::builder("phc_project_token").host(server.url()).build()?;
/// use posthog::context::Context;
/// // Events captured inside take its distinct id, session and tags.
/// Context::new()
///     .distinct_id("user-123")
///     .session_id("session-9")
///     .tag("tenant", "acme")
///     .scope(async {
///         client.capture(posthog::Event::new("page_viewed", ""));
///     })
///     .await;
/// # client.flush().await;
/// # assert_eq!(server.events()[0]["distinct_id"], "user-123");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default)]
pub struct Context {
    distinct_id: Option<String>,
    session_id: Option<String>,
    tags: Properties,
    /// Shared by nested scopes made with [`Context::inherit`]; a new context has its own.
    flag_properties: Arc<Mutex<FlagProperties>>,
}

/// Property overrides for flag evaluation inside one scope.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct FlagProperties {
    pub(crate) person: Properties,
    pub(crate) groups: GroupProperties,
    /// The device id flag reads use when the call passes none (Python's
    /// `set_context_device_id`).
    pub(crate) device_id: Option<String>,
}

impl FlagProperties {
    /// No person or group overrides and no device id.
    fn is_empty(&self) -> bool {
        self.person.is_empty() && self.groups.is_empty() && self.device_id.is_none()
    }
}

impl PartialEq for Context {
    fn eq(&self, other: &Self) -> bool {
        self.distinct_id == other.distinct_id
            && self.session_id == other.session_id
            && self.tags == other.tags
    }
}

tokio::task_local! {
    // A `RefCell` so the scope's own code can change it (`identify_context`, `tag`, …); only
    // the task that owns the scope ever touches it.
    static TASK_CONTEXT: RefCell<Context>;
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
    pub fn tag(mut self, key: impl Into<String>, value: impl PropertyValue) -> Self {
        self.tags.insert(key.into(), value.into_value());
        self
    }

    /// Sets the device id flag reads in the scope use when the call passes none (flags
    /// bucketed by device, `device_id` on `/flags`). Shared with nested scopes made with
    /// [`Context::inherit`].
    pub fn device_id(self, id: impl Into<String>) -> Self {
        if let Ok(mut props) = self.flag_properties.lock() {
            props.device_id = Some(id.into());
            FLAG_OVERRIDES_USED.store(true, Ordering::Relaxed);
        }
        self
    }

    /// The context's device id.
    pub fn get_device_id(&self) -> Option<String> {
        self.flag_properties.lock().ok()?.device_id.clone()
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
        TASK_CONTEXT.scope(RefCell::new(self), future).await
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
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = posthog::test_util::FakePostHog::start().await;
/// # let client = posthog::Client::builder("phc_project_token").host(server.url()).build()?;
/// use posthog::context::Context;
/// {
///     let _guard = Context::new().distinct_id("worker-7").enter(); // this thread, until dropped
///     client.capture(posthog::Event::new("job_started", ""));
/// }
/// # client.flush().await;
/// # assert_eq!(server.events()[0]["distinct_id"], "worker-7");
/// # Ok(()) }
/// ```
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

/// Gives `event` the active context's distinct id (when it has none; personless inside a
/// context without one, C-TRACING-HEADERS.5), session id and tags (the event's own win).
pub(crate) fn apply(event: &mut posthog_core::Event) {
    with_current(|ctx| {
        if event.get_distinct_id().trim().is_empty() {
            match ctx {
                Some(c) if c.get_distinct_id().is_some() => {
                    event.set_distinct_id(c.get_distinct_id().unwrap_or_default());
                }
                Some(_) => {
                    // C-TRACING-HEADERS.5: inside a context without an id, personless.
                    event.set_distinct_id(posthog_core::ids::new_uuid().to_string());
                    event.set_default(posthog_core::event::PROCESS_PERSON_PROFILE, false);
                }
                None => {}
            }
        }
        if let Some(c) = ctx {
            if let Some(session) = c.get_session_id() {
                event.set_default("$session_id", session);
            }
            for (k, v) in c.tags() {
                event.set_default(k, v.clone());
            }
        }
    });
}

/// Runs `f` with the active context: the task's, else the thread's, else `None`.
pub(crate) fn with_current<R>(mut f: impl FnMut(Option<&Context>) -> R) -> R {
    let in_task = TASK_CONTEXT.try_with(|ctx| match ctx.try_borrow() {
        Ok(ctx) => Some(f(Some(&ctx))),
        Err(_) => None,
    });
    match in_task {
        Ok(Some(out)) => out,
        Ok(None) => f(None),
        Err(_) => THREAD_CONTEXT.with(|stack| match stack.try_borrow() {
            Ok(stack) => f(stack.last()),
            Err(_) => f(None),
        }),
    }
}

/// Changes the active context in place (the task's, else the innermost of this thread);
/// `false` when there is none.
fn change_current(f: impl FnOnce(&mut Context)) -> bool {
    let mut f = Some(f);
    let in_task = TASK_CONTEXT.try_with(|ctx| match (ctx.try_borrow_mut(), f.take()) {
        (Ok(mut ctx), Some(f)) => {
            f(&mut ctx);
            true
        }
        _ => false,
    });
    let changed = match in_task {
        Ok(changed) => changed,
        Err(_) => THREAD_CONTEXT.with(|stack| match (stack.try_borrow_mut(), f.take()) {
            (Ok(mut stack), Some(f)) => match stack.last_mut() {
                Some(ctx) => {
                    f(ctx);
                    true
                }
                None => false,
            },
            _ => false,
        }),
    };
    if !changed {
        tracing::debug!(target: "posthog", "no active context scope; the change is ignored");
    }
    changed
}

/// Sets the distinct id of the active context (the Python SDK's `identify_context`): events
/// captured in the rest of the scope without an id of their own use it. Nested scopes opened
/// before the call keep their copy. `false` (and nothing changes) outside any scope or when
/// the id is empty once sanitised.
pub fn identify_context(distinct_id: impl Into<String>) -> bool {
    let Some(id) = sanitize(&distinct_id.into()) else {
        return false;
    };
    change_current(|ctx| ctx.distinct_id = Some(id))
}

/// Sets the session id (`$session_id`) of the active context (`set_context_session`).
/// `false` outside any scope or for an empty id.
pub fn set_context_session(session_id: impl Into<String>) -> bool {
    let Some(id) = sanitize(&session_id.into()) else {
        return false;
    };
    change_current(|ctx| ctx.session_id = Some(id))
}

/// Adds a tag to the active context: a property on every event captured in the rest of the
/// scope (the event's own properties win). `false` outside any scope.
pub fn tag(key: impl Into<String>, value: impl PropertyValue) -> bool {
    let (key, value) = (key.into(), value.into_value());
    change_current(|ctx| {
        ctx.tags.insert(key, value);
    })
}

/// Merges `properties` into the person properties every flag evaluation in the active scope
/// uses (C-SET-PERSON-PROPS); per-call properties still win. Outside any scope it does nothing
/// (a server keeps no process-wide person), and it never sends an event.
pub fn set_person_properties_for_flags(properties: Properties) {
    with_flag_properties(|p| p.person.extend(properties.clone()));
}

/// Sets the device id flag reads in the active scope use when the call passes none (Python's
/// `set_context_device_id`). Outside any scope it does nothing.
pub fn set_context_device_id(device_id: impl Into<String>) {
    let device_id = device_id.into();
    with_flag_properties(|p| p.device_id = Some(device_id.clone()));
}

/// The active scope's device id, if any.
pub fn current_device_id() -> Option<String> {
    with_current(|ctx| ctx?.flag_properties.lock().ok()?.device_id.clone())
}

/// Clears the person-property overrides of the active scope (C-RESET-PERSON-PROPS).
pub fn reset_person_properties_for_flags() {
    with_flag_properties(|p| p.person.clear());
}

/// Merges `properties` into the overrides for `group_type` in the active scope
/// (C-SET-GROUP-PROPS).
pub fn set_group_properties_for_flags(group_type: &str, properties: Properties) {
    with_flag_properties(|p| {
        p.groups
            .entry(group_type.to_owned())
            .or_default()
            .extend(properties.clone())
    });
}

/// Clears the group-property overrides of `group_type`, or of every type with `None`
/// (C-RESET-GROUP-PROPS).
pub fn reset_group_properties_for_flags(group_type: Option<&str>) {
    with_flag_properties(|p| match group_type {
        Some(t) => {
            p.groups.remove(t);
        }
        None => p.groups.clear(),
    });
}

/// Set once any scope of the process has been given flag property overrides: until then, a
/// flag read need not look at the active scope for them (one relaxed load on the hot path).
static FLAG_OVERRIDES_USED: AtomicBool = AtomicBool::new(false);

fn with_flag_properties(mut f: impl FnMut(&mut FlagProperties)) {
    let applied = with_current(|ctx| match ctx.map(|c| c.flag_properties.lock()) {
        Some(Ok(mut props)) => {
            FLAG_OVERRIDES_USED.store(true, Ordering::Relaxed);
            f(&mut props);
            true
        }
        _ => false,
    });
    if !applied {
        tracing::debug!(target: "posthog", "flag property overrides need an active context scope; ignored");
    }
}

/// The active scope's flag property overrides (empty outside a scope).
pub(crate) fn flag_properties() -> Option<FlagProperties> {
    with_current(|ctx| {
        let props = ctx?.flag_properties.lock().ok()?;
        (!props.is_empty()).then(|| props.clone())
    })
}

/// Whether the active scope holds flag property overrides (what [`flag_properties`] would
/// return), without copying them.
#[inline]
pub(crate) fn has_flag_properties() -> bool {
    FLAG_OVERRIDES_USED.load(Ordering::Relaxed) && scope_has_flag_properties()
}

/// [`has_flag_properties`] once some scope has set overrides: the active scope is asked.
#[cold]
fn scope_has_flag_properties() -> bool {
    with_current(|ctx| ctx.is_some_and(|c| c.flag_properties.lock().is_ok_and(|p| !p.is_empty())))
}

/// A copy of the active context, if any (C-GET-DISTINCT-ID: no side effects, no I/O).
pub fn current() -> Option<Context> {
    with_current(|ctx| ctx.cloned())
}

/// The active context's distinct id and session id, without copying the rest of it.
pub(crate) fn current_ids() -> (Option<String>, Option<String>) {
    with_current(|ctx| {
        ctx.map_or((None, None), |c| {
            (c.distinct_id.clone(), c.session_id.clone())
        })
    })
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
