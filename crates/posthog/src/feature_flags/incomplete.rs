//! Why a bulk flag read is incomplete, typed (C-GET-FLAGS.4, C-GET-FLAGS-PAYLOADS.5): the
//! caller can tell "no flags" from "the request failed" and still use what was decided.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use posthog_core::FlagValue;
use serde_json::Value;

/// Flag key → value, as the bulk reads return it.
pub type FlagValues = BTreeMap<String, FlagValue>;

/// Flag key → payload, for the flags that have one.
pub type FlagPayloads = BTreeMap<String, Value>;

/// What kept a flag read from deciding every flag.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = posthog::test_util::FakePostHog::start().await;
/// # let client = posthog::Client::builder("phc_project_token").host(server.url()).build()?;
/// # server.script([posthog::test_util::Reply::status(500), posthog::test_util::Reply::status(500)]);
/// match client.get_all_flags("user-123", &posthog::FlagOptions::new()).await {
///     Ok(flags) => println!("{} flags", flags.len()),
///     Err(incomplete) => {
///         // PostHog's `$feature_flag_error` code, e.g. "api_error_500"
///         eprintln!("flags incomplete: {}", incomplete.error.code());
///         let decided = incomplete.into_partial();
/// #       assert!(decided.is_empty());
///     }
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FlagsError {
    /// The client is disabled or opted out: nothing was evaluated.
    Disabled,
    /// PostHog answered that the project is over its feature-flag quota; no values are used.
    QuotaLimited,
    /// PostHog answered, but could not compute some flags (`errorsWhileComputingFlags`); the
    /// values it did compute are kept.
    ErrorsWhileComputing,
    /// The `/flags` request took longer than the flag timeout.
    Timeout,
    /// PostHog answered with this HTTP status.
    Status(u16),
    /// No answer: the connection failed.
    Connection,
    /// The request failed some other way (an unreadable answer, a transport error).
    Unknown,
}

impl FlagsError {
    /// PostHog's `$feature_flag_error` code: `quota_limited`, `errors_while_computing_flags`,
    /// `timeout`, `api_error_<status>`, `connection_error`, `unknown_error`, or
    /// `client_disabled` (ours; PostHog's SDKs send nothing then).
    pub fn code(&self) -> Cow<'static, str> {
        Cow::Borrowed(match self {
            Self::Disabled => "client_disabled",
            Self::QuotaLimited => "quota_limited",
            Self::ErrorsWhileComputing => "errors_while_computing_flags",
            Self::Timeout => "timeout",
            Self::Status(status) => return Cow::Owned(format!("api_error_{status}")),
            Self::Connection => "connection_error",
            Self::Unknown => "unknown_error",
        })
    }

    /// The error of a failed `/flags` request.
    pub(crate) fn of_request(err: &posthog_transport::TransportError) -> Self {
        if err.is_timeout() {
            Self::Timeout
        } else if let Some(status) = err.status_code() {
            Self::Status(status.as_u16())
        } else if err.is_no_response() {
            Self::Connection
        } else {
            Self::Unknown
        }
    }
}

impl fmt::Display for FlagsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self {
            Self::Disabled => "the client is disabled",
            Self::QuotaLimited => "feature flags are over quota",
            Self::ErrorsWhileComputing => "PostHog could not compute some flags",
            Self::Timeout => "the flags request timed out",
            Self::Status(status) => {
                return write!(f, "the flags request failed with HTTP {status}");
            }
            Self::Connection => "the flags request could not connect",
            Self::Unknown => "the flags request failed",
        };
        f.write_str(what)
    }
}

impl std::error::Error for FlagsError {}

/// A bulk read that could not decide every flag: the error, and what it did decide
/// (`partial`: values decided locally, or the ones PostHog computed).
///
/// ```
/// # async fn run(client: &posthog::Client) {
/// use posthog::FlagOptions;
/// let flags = match client.get_all_flags("user-1", &FlagOptions::new()).await {
///     Ok(flags) => flags,
///     Err(incomplete) => {
///         eprintln!("some flags are missing: {}", incomplete.error);
///         incomplete.partial
///     }
/// };
/// # let _ = flags;
/// # }
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct IncompleteFlags<T> {
    /// Why the read is incomplete.
    pub error: FlagsError,
    /// What the read decided anyway (empty when quota-limited or disabled).
    pub partial: T,
}

impl<T> IncompleteFlags<T> {
    pub(crate) fn new(error: FlagsError, partial: T) -> Self {
        Self { error, partial }
    }

    /// What the read decided, dropping the error.
    pub fn into_partial(self) -> T {
        self.partial
    }
}

impl<T> fmt::Display for IncompleteFlags<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "flags incomplete: {}", self.error)
    }
}

impl<T: fmt::Debug> std::error::Error for IncompleteFlags<T> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}
