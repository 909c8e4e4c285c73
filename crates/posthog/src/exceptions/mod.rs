//! Error tracking (C-CAPTURE-EXCEPTION, C-EXCEPTION-META): errors and panics as `$exception`
//! events through the normal pipeline.

mod frames;
mod panic;
pub(crate) mod rate_limit;
mod scope;

pub(crate) use frames::InApp;
pub use panic::PANIC_FLUSH_DEADLINE;
pub(crate) use panic::message as panic_message;
pub use scope::ERROR_SCOPE_SOURCE;
pub(crate) use scope::catching;

use std::backtrace::{Backtrace, BacktraceStatus};
use std::collections::VecDeque;
use std::error::Error as StdError;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use posthog_core::Event;
use posthog_core::exception::{Exception, ExceptionList, Level, Mechanism, Stacktrace};
use uuid::Uuid;

use crate::Client;

/// The most entries of one `$exception_list` (the outermost plus the first 49 causes).
pub const MAX_CHAIN: usize = 50;

/// Options of [`Client::capture_exception`].
///
/// ```
/// use posthog::{ExceptionOptions, Level};
/// let opts = ExceptionOptions::new()
///     .level(Level::Warning)
///     .fingerprint("payment-declined")
///     .property("order_id", 42);
/// # let _ = opts;
/// ```
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ExceptionOptions {
    /// `$exception_level` (default `error`).
    pub level: Option<Level>,
    /// `$exception_fingerprint`: your grouping key (C-EXCEPTION-META.12).
    pub fingerprint: Option<String>,
    /// Extra properties (they cannot override `$exception_*` keys, C-EXCEPTION-META.10).
    pub properties: posthog_core::Properties,
}

impl ExceptionOptions {
    /// Empty options.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the level.
    pub fn level(mut self, level: Level) -> Self {
        self.level = Some(level);
        self
    }

    /// Sets the fingerprint.
    pub fn fingerprint(mut self, fingerprint: impl Into<String>) -> Self {
        self.fingerprint = Some(fingerprint.into());
        self
    }

    /// Adds a property.
    pub fn property(
        mut self,
        key: impl Into<String>,
        value: impl posthog_core::PropertyValue,
    ) -> Self {
        self.properties.insert(key.into(), value.into_value());
        self
    }
}

/// The frames of an exception and whether the SDK made them up (C-EXCEPTION-META.7).
pub(crate) struct Stack {
    frames: Vec<posthog_core::exception::Frame>,
    synthetic: bool,
    /// A stack captured but not resolved yet: symbol resolution is what costs (tens of µs,
    /// far more the first time), so it is left to the worker when nothing on the calling
    /// thread needs to see the frames (see [`Stack::take_pending`]).
    pending: Option<Backtrace>,
}

impl Stack {
    /// The error's own stack when it carries a captured one (resolved now: it is borrowed);
    /// otherwise the current stack, captured unresolved and marked synthetic
    /// (C-CAPTURE-EXCEPTION.6).
    pub(crate) fn of(own: Option<&Backtrace>, in_app: &frames::InApp) -> Self {
        match own {
            Some(trace) if trace.status() == BacktraceStatus::Captured => Self {
                frames: frames::parse(&trace.to_string(), in_app),
                synthetic: false,
                pending: None,
            },
            _ => Self::pending(true),
        }
    }

    /// The current stack, resolved now; `synthetic` says whether it stands in for a missing
    /// one.
    pub(crate) fn here(in_app: &frames::InApp, synthetic: bool) -> Self {
        Self {
            frames: frames::capture(in_app),
            synthetic,
            pending: None,
        }
    }

    /// The current stack, captured but not resolved.
    pub(crate) fn pending(synthetic: bool) -> Self {
        Self {
            frames: Vec::new(),
            synthetic,
            pending: Some(Backtrace::force_capture()),
        }
    }

    /// Takes the unresolved trace out, for [`Client::capture_exception_event`]; the stack
    /// keeps its synthetic mark.
    pub(crate) fn take_pending(&mut self) -> Option<Backtrace> {
        self.pending.take()
    }

    fn into_stacktrace(self) -> Option<Stacktrace> {
        (!self.frames.is_empty()).then(|| Stacktrace {
            kind: "raw".into(),
            frames: self.frames,
        })
    }
}

/// Where an exception was captured: the boundary defaults of C-EXCEPTION-META.4/.6/.8/.9.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Boundary {
    pub(crate) mechanism: &'static str,
    pub(crate) handled: bool,
    pub(crate) level: Level,
    pub(crate) source: Option<&'static str>,
}

/// Manual capture: generic, handled, level error, no `$exception_source`.
pub(crate) const MANUAL: Boundary = Boundary {
    mechanism: "generic",
    handled: true,
    level: Level::Error,
    source: None,
};

/// The outermost entry of an `$exception_list` (`exception_id` 0): the capture boundary's
/// mechanism type and handling, and the stack with its synthetic mark.
pub(crate) fn outermost(
    kind: String,
    value: String,
    module: Option<String>,
    mechanism_kind: &str,
    handled: bool,
    stack: Stack,
) -> Exception {
    Exception {
        kind,
        value,
        module,
        mechanism: Mechanism {
            kind: Some(mechanism_kind.into()),
            handled: Some(handled),
            synthetic: Some(stack.synthetic),
            exception_id: 0,
            ..Mechanism::default()
        },
        stacktrace: stack.into_stacktrace(),
    }
}

/// Splits `std::any::type_name` into (module, short type name).
fn split_type_name(full: &str) -> (Option<String>, String) {
    let base = full.split('<').next().unwrap_or(full);
    match base.rsplit_once("::") {
        // The short name keeps its generic arguments (`Vec<u8>`); the module is the path before it.
        Some((module, _)) => (Some(module.to_owned()), full[module.len() + 2..].to_owned()),
        None => (None, base.to_owned()),
    }
}

/// The messages of an error and its `source()` chain, outermost first: at most
/// [`MAX_CHAIN`], a cycle stopped where it closes (C-EXCEPTION-META.5).
fn chain_messages(error: &(dyn StdError + 'static)) -> Vec<String> {
    let mut seen: Vec<*const ()> = Vec::new();
    let mut messages = Vec::new();
    let mut current = Some(error);
    while let Some(e) = current {
        let address = e as *const dyn StdError as *const ();
        if messages.len() >= MAX_CHAIN || seen.contains(&address) {
            break;
        }
        seen.push(address);
        messages.push(e.to_string());
        current = e.source();
    }
    messages
}

/// The `$exception_list` of an error whose chain says `messages` (from [`chain_messages`]):
/// outermost first, nested entries `chained` with `parent_id` and `source: cause`
/// (C-EXCEPTION-META.2–.6). Frames go on the outermost entry.
pub(crate) fn exception_list(
    messages: Vec<String>,
    type_name: &str,
    mechanism_kind: &str,
    handled: bool,
    stack: Stack,
) -> Vec<Exception> {
    let (module, kind) = split_type_name(type_name);
    let mut messages = messages.into_iter();
    let outer = messages.next().unwrap_or_default();
    let mut list = vec![outermost(
        kind,
        outer,
        module,
        mechanism_kind,
        handled,
        stack,
    )];
    for value in messages {
        let id = list.len() as u32;
        list.push(Exception {
            // The concrete type of a `source()` is erased behind `dyn Error`.
            kind: "Error".into(),
            value,
            module: None,
            mechanism: Mechanism {
                kind: Some("chained".into()),
                exception_id: id,
                parent_id: Some(id - 1),
                source: Some("cause".into()),
                ..Mechanism::default()
            },
            stacktrace: None,
        });
    }
    list
}

/// How long a captured error instance is remembered.
const SAME_INSTANCE_WINDOW: Duration = Duration::from_secs(1);

/// Remembers recently captured errors (C-CAPTURE-EXCEPTION: once per instance). Rust errors
/// carry no identity, so an instance is recognised by its address, type and the text of its
/// whole chain, within [`SAME_INSTANCE_WINDOW`]: an address alone is reused by every error
/// created in the same stack slot (e.g. in a loop).
#[derive(Debug, Default)]
pub(crate) struct RecentErrors(Mutex<VecDeque<(u64, Instant)>>);

impl RecentErrors {
    fn first_time(&self, identity: u64) -> bool {
        let Ok(mut recent) = self.0.lock() else {
            return true;
        };
        let now = Instant::now();
        recent.retain(|(_, at)| now.duration_since(*at) < SAME_INSTANCE_WINDOW);
        if recent.iter().any(|(id, _)| *id == identity) {
            return false;
        }
        if recent.len() >= 256 {
            recent.pop_front();
        }
        recent.push_back((identity, now));
        true
    }
}

/// Address, type and chain text of an error, hashed.
fn identity(address: usize, type_name: &str, messages: &[String]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    (address, type_name, messages).hash(&mut hasher);
    hasher.finish()
}

impl Client {
    /// Captures an `anyhow::Error` (feature `anyhow`): its context messages and causes in order,
    /// outermost first, with the backtrace anyhow captured when there is one (else the current
    /// stack, marked synthetic).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = posthog::test_util::FakePostHog::start().await;
    /// # let client = posthog::Client::builder("phc_project_token").host(server.url()).build()?;
    /// let error = anyhow::anyhow!("connection refused").context("loading the order");
    /// client.capture_anyhow(&error, "user-123", &posthog::ExceptionOptions::default());
    /// # client.flush().await;
    /// # assert_eq!(server.events()[0]["event"], "$exception");
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "anyhow")]
    pub fn capture_anyhow(
        &self,
        error: &anyhow::Error,
        distinct_id: &str,
        opts: &ExceptionOptions,
    ) -> Option<Uuid> {
        self.capture_error_at(
            error.as_ref(),
            "anyhow::Error",
            distinct_id,
            opts,
            MANUAL,
            Some(error.backtrace()),
        )
    }

    /// Captures an `eyre::Report` (feature `eyre`): its wrap messages and causes in order,
    /// outermost first. eyre's default handler exposes no backtrace on stable Rust, so the
    /// stack is the capture site's, marked synthetic.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = posthog::test_util::FakePostHog::start().await;
    /// # let client = posthog::Client::builder("phc_project_token").host(server.url()).build()?;
    /// let report = eyre::eyre!("connection refused").wrap_err("loading the order");
    /// client.capture_eyre(&report, "user-123", &posthog::ExceptionOptions::default());
    /// # client.flush().await;
    /// # assert_eq!(server.events()[0]["event"], "$exception");
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "eyre")]
    pub fn capture_eyre(
        &self,
        error: &eyre::Report,
        distinct_id: &str,
        opts: &ExceptionOptions,
    ) -> Option<Uuid> {
        let error: &(dyn StdError + Send + Sync + 'static) = error.as_ref();
        self.capture_error_at(error, "eyre::Report", distinct_id, opts, MANUAL, None)
    }

    /// Captures something that is not an error (C-CAPTURE-EXCEPTION.8): `kind` becomes the
    /// exception's type and `message` its value; the stack is the capture site's, marked
    /// synthetic.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = posthog::test_util::FakePostHog::start().await;
    /// # let client = posthog::Client::builder("phc_project_token").host(server.url()).build()?;
    /// use posthog::ExceptionOptions;
    /// client.capture_exception_message("PaymentDeclined", "card declined", "user-123", &ExceptionOptions::default());
    /// # client.flush().await;
    /// # assert_eq!(server.events()[0]["properties"]["$exception_list"][0]["type"], "PaymentDeclined");
    /// # Ok(()) }
    /// ```
    pub fn capture_exception_message(
        &self,
        kind: &str,
        message: &str,
        distinct_id: &str,
        opts: &ExceptionOptions,
    ) -> Option<Uuid> {
        if !self.is_enabled() || self.is_opted_out() {
            return None;
        }
        let kind = if kind.trim().is_empty() {
            "Error"
        } else {
            kind
        };
        let mut stack = Stack::pending(true);
        let pending = stack.take_pending();
        let list = ExceptionList {
            exceptions: vec![outermost(
                kind.to_owned(),
                message.to_owned(),
                None,
                MANUAL.mechanism,
                MANUAL.handled,
                stack,
            )],
            level: opts.level.unwrap_or(Level::Error),
            fingerprint: opts.fingerprint.clone(),
        };
        if self.options().log_captured_exceptions {
            tracing::error!(target: "posthog", kind, message, "exception captured");
        }
        let event = self.exception_event_for(distinct_id, &list, opts.properties.clone())?;
        self.capture_exception_event(event, pending)
    }

    /// An `$exception` event for `distinct_id` (or the active context's; with neither, a
    /// personless event) with the SDK's list and properties.
    pub(crate) fn exception_event_for(
        &self,
        distinct_id: &str,
        list: &ExceptionList,
        mut extra: posthog_core::Properties,
    ) -> Option<Event> {
        let mut id = distinct_id.to_owned();
        let mut personless = false;
        if id.trim().is_empty() {
            match crate::context::current_distinct_id() {
                Some(ctx) => id = ctx,
                None => {
                    id = posthog_core::ids::new_uuid().to_string();
                    personless = true;
                }
            }
        }
        let mut event = Event::exception(id, list).ok()?;
        extra.retain(|k, _| !k.starts_with("$exception_"));
        for (k, v) in extra {
            event.set_default(&k, v);
        }
        if personless {
            event.set_default(posthog_core::event::PROCESS_PERSON_PROFILE, false);
        }
        Some(event)
    }

    /// Captures `error` and its `source()` chain as an `$exception` event (handled, level
    /// `error` unless set) with the current stack, through the normal pipeline. The same error
    /// instance is captured once. Returns the event's uuid when it was queued.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), posthog::Error> {
    /// # let server = posthog::test_util::FakePostHog::start().await;
    /// let client = posthog::Client::builder("phc_project_token")
    /// #   .host(server.url())
    ///     .build()?;
    /// if let Err(err) = std::fs::read("/no/such/file") {
    ///     client.capture_exception(&err, "user-123", &posthog::ExceptionOptions::new());
    /// }
    /// # client.flush().await;
    /// # assert_eq!(server.events()[0]["event"], "$exception");
    /// # Ok(()) }
    /// ```
    pub fn capture_exception<E: StdError + 'static>(
        &self,
        error: &E,
        distinct_id: &str,
        opts: &ExceptionOptions,
    ) -> Option<Uuid> {
        self.capture_exception_dyn(error, std::any::type_name::<E>(), distinct_id, opts)
    }

    /// [`Client::capture_exception`] for an error behind `dyn Error` (an `anyhow::Error`'s
    /// `as_ref()`, a boxed error, …): `type_name` names it (its concrete type is erased).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = posthog::test_util::FakePostHog::start().await;
    /// # let client = posthog::Client::builder("phc_project_token").host(server.url()).build()?;
    /// use posthog::ExceptionOptions;
    /// let error: Box<dyn std::error::Error> = Box::new(std::io::Error::other("disk full"));
    /// client.capture_exception_dyn(error.as_ref(), "std::io::Error", "user-123", &ExceptionOptions::default());
    /// # client.flush().await;
    /// # assert_eq!(server.events()[0]["event"], "$exception");
    /// # Ok(()) }
    /// ```
    pub fn capture_exception_dyn(
        &self,
        error: &(dyn StdError + 'static),
        type_name: &str,
        distinct_id: &str,
        opts: &ExceptionOptions,
    ) -> Option<Uuid> {
        self.capture_error_at(error, type_name, distinct_id, opts, MANUAL, None)
    }

    /// Whether an autocaptured exception of `kind` is over the rate limit (and is logged so);
    /// `false` when no limit is set.
    pub(crate) fn autocapture_limited(&self, kind: &str) -> bool {
        let Some(limiter) = self.autocapture_limiter() else {
            return false;
        };
        let limited = limiter.limited(kind, Instant::now());
        if limited {
            tracing::info!(target: "posthog", "skipping an autocaptured exception over the rate limit: {kind}");
        }
        limited
    }

    /// Captures `error` at `boundary`, with its own stack when it has one.
    pub(crate) fn capture_error_at(
        &self,
        error: &(dyn StdError + 'static),
        type_name: &str,
        distinct_id: &str,
        opts: &ExceptionOptions,
        boundary: Boundary,
        own_stack: Option<&Backtrace>,
    ) -> Option<Uuid> {
        if !self.is_enabled() || self.is_opted_out() {
            return None;
        }
        if boundary.mechanism != MANUAL.mechanism && self.autocapture_limited(type_name) {
            return None;
        }
        let address = error as *const dyn StdError as *const () as usize;
        let messages = chain_messages(error);
        if !self
            .exceptions()
            .first_time(identity(address, type_name, &messages))
        {
            return None;
        }
        let mut stack = Stack::of(own_stack, &self.options().in_app);
        let pending = stack.take_pending();
        let list = ExceptionList {
            exceptions: exception_list(
                messages,
                type_name,
                boundary.mechanism,
                boundary.handled,
                stack,
            ),
            level: opts.level.unwrap_or(boundary.level),
            fingerprint: opts.fingerprint.clone(),
        };
        if self.options().log_captured_exceptions {
            tracing::error!(target: "posthog", error = %error, "exception captured");
        }
        let mut event = self.exception_event_for(distinct_id, &list, opts.properties.clone())?;
        if let Some(source) = boundary.source {
            event.set_default("$exception_source", source);
        }
        self.capture_exception_event(event, pending)
    }

    /// Captures an `$exception` event whose outermost entry may still need its frames
    /// (`pending`). `before_send` hooks must see the whole event (C-BEFORE-SEND.1), so with
    /// hooks the frames are resolved here; without, the worker resolves them, off the
    /// calling thread.
    pub(crate) fn capture_exception_event(
        &self,
        mut event: Event,
        pending: Option<Backtrace>,
    ) -> Option<Uuid> {
        match pending {
            None => self.capture(event),
            Some(trace) if self.options().before_send.is_empty() => {
                self.capture_with_trace(event, trace)
            }
            Some(trace) => {
                attach_frames(&mut event, &trace, &self.options().in_app);
                self.capture(event)
            }
        }
    }
}

/// Resolves `trace` and puts its frames on the outermost entry of the event's
/// `$exception_list` (none when every frame is the SDK's own).
pub(crate) fn attach_frames(event: &mut Event, trace: &Backtrace, in_app: &frames::InApp) {
    let frames = frames::parse(&trace.to_string(), in_app);
    if frames.is_empty() {
        return;
    }
    let stacktrace = Stacktrace {
        kind: "raw".into(),
        frames,
    };
    let (Some(serde_json::Value::Array(list)), Ok(value)) = (
        event.properties_mut().get_mut("$exception_list"),
        serde_json::to_value(&stacktrace),
    ) else {
        return;
    };
    if let Some(serde_json::Value::Object(outermost)) = list.first_mut() {
        outermost.insert("stacktrace".into(), value);
    }
}
