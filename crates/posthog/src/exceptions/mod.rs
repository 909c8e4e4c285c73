//! Error tracking (C-CAPTURE-EXCEPTION, C-EXCEPTION-META): errors and panics as `$exception`
//! events through the normal pipeline.

mod frames;

use std::collections::VecDeque;
use std::error::Error as StdError;
use std::panic::PanicHookInfo;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use posthog_core::Event;
use posthog_core::exception::{Exception, ExceptionList, Level, Mechanism, Stacktrace};
use uuid::Uuid;

use crate::Client;

/// The most entries of one `$exception_list` (the outermost plus the first 49 causes).
pub const MAX_CHAIN: usize = 50;

/// How long a panic waits for its event to be delivered before the process goes on.
pub const PANIC_FLUSH_DEADLINE: Duration = Duration::from_secs(2);

/// Options of [`Client::capture_exception`].
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
    pub fn property(mut self, key: impl Into<String>, value: impl Into<serde_json::Value>) -> Self {
        self.properties.insert(key.into(), value.into());
        self
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

/// The `$exception_list` of an error and its `source()` chain: outermost first, nested
/// entries `chained` with `parent_id` and `source: cause`, at most [`MAX_CHAIN`] entries,
/// cycles stopped (C-EXCEPTION-META.2–.6). Frames go on the outermost entry.
pub(crate) fn exception_list(
    error: &(dyn StdError + 'static),
    type_name: &str,
    mechanism_kind: &str,
    handled: bool,
    frames: Vec<posthog_core::exception::Frame>,
) -> Vec<Exception> {
    let (module, kind) = split_type_name(type_name);
    let stacktrace = (!frames.is_empty()).then(|| Stacktrace {
        kind: "raw".into(),
        frames,
    });
    let mut list = vec![Exception {
        kind,
        value: error.to_string(),
        module,
        mechanism: Mechanism {
            kind: Some(mechanism_kind.into()),
            handled: Some(handled),
            exception_id: 0,
            ..Mechanism::default()
        },
        stacktrace,
    }];
    let mut seen: Vec<*const ()> = vec![error as *const dyn StdError as *const ()];
    let mut current = error.source();
    while let Some(cause) = current {
        let address = cause as *const dyn StdError as *const ();
        if list.len() >= MAX_CHAIN || seen.contains(&address) {
            break;
        }
        seen.push(address);
        let id = list.len() as u32;
        list.push(Exception {
            // The concrete type of a `source()` is erased behind `dyn Error`.
            kind: "Error".into(),
            value: cause.to_string(),
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
        current = cause.source();
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
fn identity(error: &(dyn StdError + 'static), address: usize, type_name: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    (address, type_name).hash(&mut hasher);
    let mut current = Some(error);
    let mut depth = 0;
    while let (Some(e), true) = (current, depth < MAX_CHAIN) {
        e.to_string().hash(&mut hasher);
        current = e.source();
        depth += 1;
    }
    hasher.finish()
}

impl Client {
    /// Captures an `anyhow::Error` (feature `anyhow`): its context messages and causes in order,
    /// outermost first.
    #[cfg(feature = "anyhow")]
    pub fn capture_anyhow(
        &self,
        error: &anyhow::Error,
        distinct_id: &str,
        opts: &ExceptionOptions,
    ) -> Option<Uuid> {
        self.capture_exception_dyn(error.as_ref(), "anyhow::Error", distinct_id, opts)
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
    pub fn capture_exception_dyn(
        &self,
        error: &(dyn StdError + 'static),
        type_name: &str,
        distinct_id: &str,
        opts: &ExceptionOptions,
    ) -> Option<Uuid> {
        if !self.is_enabled() || self.is_opted_out() {
            return None;
        }
        let address = error as *const dyn StdError as *const () as usize;
        if !self
            .exceptions()
            .first_time(identity(error, address, type_name))
        {
            return None;
        }
        let frames = frames::capture(&self.options().project_root);
        let list = ExceptionList {
            exceptions: exception_list(error, type_name, "generic", true, frames),
            level: opts.level.unwrap_or(Level::Error),
            fingerprint: opts.fingerprint.clone(),
        };
        if self.options().log_captured_exceptions {
            tracing::error!(target: "posthog", error = %error, "exception captured");
        }
        let event = self.exception_event_for(distinct_id, &list, opts.properties.clone())?;
        self.capture(event)
    }

    /// Captures panics from now on (C-CAPTURE-EXCEPTION, opt-in): each panic becomes an
    /// unhandled `$exception` (mechanism `panic`, level `fatal`) with its message, location and
    /// stack, sent before the panic goes on (at most [`PANIC_FLUSH_DEADLINE`]); the panic hook
    /// that was installed before is kept and called afterwards.
    pub fn enable_exception_autocapture(&self) {
        let client = self.clone();
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            client.capture_panic(info);
            previous(info);
        }));
    }

    fn capture_panic(&self, info: &PanicHookInfo<'_>) {
        if !self.is_enabled() || self.is_opted_out() {
            return;
        }
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "panic".to_owned());
        let frames = frames::capture(&self.options().project_root);
        let stacktrace = (!frames.is_empty()).then(|| Stacktrace {
            kind: "raw".into(),
            frames,
        });
        let list = ExceptionList {
            exceptions: vec![Exception {
                kind: "panic".into(),
                value: message,
                module: None,
                mechanism: Mechanism {
                    kind: Some("panic".into()),
                    handled: Some(false),
                    exception_id: 0,
                    ..Mechanism::default()
                },
                stacktrace,
            }],
            level: Level::Fatal,
            fingerprint: None,
        };
        let mut extra = posthog_core::Properties::new();
        if let Some(location) = info.location() {
            extra.insert("$exception_panic_file".into(), location.file().into());
            extra.insert("$exception_panic_line".into(), location.line().into());
            extra.insert("$exception_panic_column".into(), location.column().into());
        }
        let Some(mut event) = self.exception_event_for("", &list, posthog_core::Properties::new())
        else {
            return;
        };
        for (k, v) in extra {
            event.set_default(&k, v);
        }
        event.set_default("$exception_source", "rust.panic_hook");
        // Deliver now, on a thread of our own: the panicking thread may be a runtime worker,
        // and the process may be about to abort.
        let client = self.clone();
        let sender = std::thread::Builder::new()
            .name("posthog-panic".into())
            .spawn(move || {
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
