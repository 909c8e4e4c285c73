//! The `$exception_list` payload of an `$exception` event (C-EXCEPTION-META).

use serde::{Deserialize, Serialize};

/// What an `$exception` event carries: the entries (outermost first), a level and an optional
/// fingerprint.
///
/// ```
/// use posthog_core::exception::{Exception, ExceptionList, Level, Mechanism};
/// let list = ExceptionList {
///     exceptions: vec![Exception {
///         kind: "PaymentDeclined".into(),
///         value: "card declined".into(),
///         module: None,
///         mechanism: Mechanism { handled: Some(true), ..Mechanism::default() },
///         stacktrace: None,
///     }],
///     level: Level::Error,
///     fingerprint: None,
/// };
/// let event = posthog_core::Event::exception("user-123", &list)?;
/// assert_eq!(event.name(), "$exception");
/// # Ok::<(), posthog_core::EventError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ExceptionList {
    /// Outermost (caught) exception first, then its causes, root cause last.
    pub exceptions: Vec<Exception>,
    /// `$exception_level`.
    pub level: Level,
    /// `$exception_fingerprint`, a caller-chosen grouping key.
    pub fingerprint: Option<String>,
}

/// One entry of `$exception_list`.
///
/// ```
/// use posthog_core::exception::{Exception, ExceptionList, Level, Mechanism};
/// let list = ExceptionList {
///     exceptions: vec![Exception {
///         kind: "PaymentDeclined".into(),
///         value: "card declined".into(),
///         module: None,
///         mechanism: Mechanism { handled: Some(true), ..Mechanism::default() },
///         stacktrace: None,
///     }],
///     level: Level::Error,
///     fingerprint: None,
/// };
/// assert_eq!(list.exceptions[0].kind, "PaymentDeclined");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Exception {
    /// The error's type name; never empty.
    #[serde(rename = "type")]
    pub kind: String,
    /// The error's message; may be empty.
    pub value: String,
    /// The module the error type lives in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module: Option<String>,
    /// How the error was caught and how it relates to the other entries.
    pub mechanism: Mechanism,
    /// Stack frames, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stacktrace: Option<Stacktrace>,
}

/// `mechanism`: every unknown field is omitted, never sent as `null` (C-EXCEPTION-META.3).
///
/// ```
/// let mechanism = posthog_core::exception::Mechanism {
///     kind: Some("generic".into()),
///     handled: Some(false),
///     ..Default::default()
/// };
/// assert_eq!(mechanism.exception_id, 0);
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Mechanism {
    /// `generic`, `panic`, `chained`, or an integration's category.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Whether the application handled the error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handled: Option<bool>,
    /// Whether the entry was made up by the SDK rather than raised by the program.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub synthetic: Option<bool>,
    /// 0 for the outermost entry, unique in the event.
    pub exception_id: u32,
    /// The entry this one is nested in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<u32>,
    /// How it is nested: `cause`, `context`, `unwrap`, `member`, `suppressed` or `inner`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// `stacktrace` of an entry.
///
/// ```
/// use posthog_core::exception::{Frame, Stacktrace};
/// let trace = Stacktrace {
///     kind: "raw".into(),
///     frames: vec![Frame { function: Some("checkout::pay".into()), lineno: Some(42), ..Frame::default() }],
/// };
/// assert_eq!(trace.frames.len(), 1);
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Stacktrace {
    /// Always `raw` from an SDK.
    #[serde(rename = "type")]
    pub kind: String,
    /// Outermost call first, crash site last.
    pub frames: Vec<Frame>,
}

/// One stack frame.
///
/// ```
/// let frame = posthog_core::exception::Frame {
///     platform: "native".into(),
///     function: Some("checkout::pay".into()),
///     filename: Some("src/pay.rs".into()),
///     lineno: Some(42),
///     in_app: Some(true),
///     ..Default::default()
/// };
/// assert!(frame.in_app.unwrap());
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Frame {
    /// `native` for Rust frames.
    pub platform: String,
    /// `rust`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
    /// Demangled function name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<String>,
    /// Source file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    /// Module path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module: Option<String>,
    /// 1-based line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lineno: Option<u32>,
    /// 1-based column.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub colno: Option<u32>,
    /// Whether the frame is the application's own code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_app: Option<bool>,
    /// Instruction address as `0x…` hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instruction_addr: Option<String>,
    /// Whether the SDK resolved the symbol itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_resolved: Option<bool>,
}

/// `$exception_level` (C-EXCEPTION-META.8).
///
/// ```
/// use posthog_core::exception::Level;
/// assert_eq!(Level::parse("warn"), Some(Level::Warning));
/// assert_eq!(Level::Warning.as_str(), "warning");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Level {
    /// The process is expected to terminate.
    Fatal,
    /// The default for manual capture.
    #[default]
    Error,
    /// `warning`.
    Warning,
    /// `log`.
    Log,
    /// `info`.
    Info,
    /// `debug`.
    Debug,
}

impl Level {
    /// The wire text.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Fatal => "fatal",
            Level::Error => "error",
            Level::Warning => "warning",
            Level::Log => "log",
            Level::Info => "info",
            Level::Debug => "debug",
        }
    }

    /// Normalises a level name (any case): `critical`/`alert`/`emergency` → fatal, `warn` →
    /// warning, `notice` → info, `trace` → debug. Unknown names give `None`.
    pub fn parse(name: &str) -> Option<Level> {
        Some(match name.to_ascii_lowercase().as_str() {
            "fatal" | "critical" | "alert" | "emergency" => Level::Fatal,
            "error" => Level::Error,
            "warning" | "warn" => Level::Warning,
            "log" => Level::Log,
            "info" | "notice" => Level::Info,
            "debug" | "trace" => Level::Debug,
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_normalise() {
        assert_eq!(Level::parse("CRITICAL"), Some(Level::Fatal));
        assert_eq!(Level::parse("warn"), Some(Level::Warning));
        assert_eq!(Level::parse("notice"), Some(Level::Info));
        assert_eq!(Level::parse("trace"), Some(Level::Debug));
        assert_eq!(Level::parse("loud"), None);
    }

    #[test]
    fn unknown_mechanism_fields_are_omitted() {
        let m = Mechanism {
            exception_id: 0,
            ..Default::default()
        };
        assert_eq!(serde_json::to_string(&m).unwrap(), r#"{"exception_id":0}"#);
    }
}
