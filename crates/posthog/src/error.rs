//! [`Error`]: what the facade's fallible calls return.

use std::time::Duration;

/// An error from building or using the client.
///
/// ```
/// let refused = posthog::Client::builder("phx_a_personal_key").build();
/// assert!(matches!(refused, Err(posthog::Error::InvalidOption { .. })));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An option is out of range or inconsistent; the message names it.
    #[error("invalid option `{option}`: {reason}")]
    InvalidOption {
        /// The option's name.
        option: &'static str,
        /// Why it was rejected.
        reason: String,
    },
    /// The client was built outside a tokio runtime (use `posthog::blocking::Client`, or build
    /// it inside one).
    #[error("the async client must be built inside a tokio runtime")]
    NoRuntime,
    /// The global client was initialised already.
    #[error("the global PostHog client is already initialised")]
    AlreadyInitialized,
    /// The client has been shut down.
    #[error("the client has been shut down")]
    Shutdown,
    /// The event was not accepted (invalid, dropped by a hook, opted out, or queue full).
    #[error("event not accepted: {0}")]
    NotAccepted(String),
    /// A flush did not finish within its deadline.
    #[error("flush did not finish within {0:?}")]
    FlushTimeout(Duration),
    /// An event could not be built.
    #[error(transparent)]
    Event(#[from] posthog_core::EventError),
    /// The HTTP transport failed.
    #[error(transparent)]
    Transport(#[from] posthog_transport::TransportError),
    /// Flag definitions could not be read.
    #[error(transparent)]
    Definitions(#[from] posthog_flags::DefinitionsError),
}

pub(crate) fn invalid(option: &'static str, reason: impl Into<String>) -> Error {
    Error::InvalidOption {
        option,
        reason: reason.into(),
    }
}
