//! Errors raised while building events.

/// Why an event could not be built or would be rejected by PostHog.
///
/// ```
/// let refused = posthog_core::Event::group_identify("", "acme", posthog_core::Properties::new());
/// assert!(matches!(refused, Err(posthog_core::EventError::EmptyField(_))));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EventError {
    /// The event name is empty.
    #[error("event name is empty")]
    EmptyName,
    /// The distinct id is empty or only white space.
    #[error("distinct id is empty")]
    EmptyDistinctId,
    /// An identity argument (alias id, group type or group key) is empty or white space.
    #[error("{0} is empty")]
    EmptyField(&'static str),
    /// Properties did not serialise to a JSON object.
    #[error("properties must serialise to a JSON object, got {0}")]
    PropertiesNotObject(&'static str),
    /// Properties could not be serialised at all.
    #[error("properties could not be serialised: {0}")]
    Serialize(String),
    /// A property value nests deeper than `limit` levels of arrays and objects
    /// ([`crate::depth::MAX_PROPERTY_DEPTH`]): PostHog would reject the whole request.
    #[error("a property value nests deeper than {limit} levels")]
    TooDeep {
        /// The deepest nesting allowed.
        limit: usize,
    },
    /// A timestamp text was not RFC 3339 with an offset.
    #[error(transparent)]
    Timestamp(#[from] crate::time::TimestampError),
}

pub(crate) fn non_blank(value: &str, field: &'static str) -> Result<(), EventError> {
    if value.trim().is_empty() {
        Err(EventError::EmptyField(field))
    } else {
        Ok(())
    }
}
