//! PostHog's wire types for Rust, with no I/O, no async runtime and no global state.
//!
//! - [`Event`] and the special-event constructors ([`builders`]): `$identify`, `$create_alias`,
//!   `$groupidentify`, `$set`/`$set_once`, `$pageview`, `$screen`, `$exception`;
//! - the `/batch/` body ([`BatchRequest`]), the `/flags` request and answer ([`FlagsRequest`],
//!   [`FlagsResponse`]), the local-evaluation document ([`definitions`]), the exception list
//!   ([`exception`]);
//! - UUIDv7 ids ([`ids`]), UTC timestamps ([`time`]) and the flag hash ([`hash`]).
//!
//! ```
//! use posthog_core::{Event, PersonProperties};
//! let mut event = Event::identify("user-123", PersonProperties::new().set("plan", "pro"))?;
//! let id = event.stamp(chrono::Utc::now());
//! assert_eq!(id.get_version_num(), 7);
//! assert_eq!(serde_json::to_value(&event).unwrap()["event"], "$identify");
//! # Ok::<(), posthog_core::EventError>(())
//! ```

#![cfg_attr(docsrs, feature(doc_cfg))]
#![cfg_attr(
    not(test),
    warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod ai;
pub mod batch;
pub mod builders;
pub mod capture_v1;
pub mod definitions;
pub mod depth;
mod error;
pub mod event;
pub mod exception;
pub mod flags_api;
pub mod hash;
pub mod ids;
pub mod logs;
pub mod time;
pub mod traces;
pub mod value;
pub mod with_defaults;
pub mod words;

pub use batch::{BatchRequest, ReceivedBatch};
pub use builders::PersonProperties;
pub use definitions::FlagDefinitions;
pub use error::EventError;
pub use event::Event;
pub use exception::{Exception, ExceptionList};
pub use flags_api::{FlagDetail, FlagValue, FlagsRequest, FlagsResponse};
pub use value::PropertyValue;
pub use with_defaults::WithDefaults;

/// A JSON object of properties.
pub type Properties = serde_json::Map<String, serde_json::Value>;

/// Groups of a subject: group type → group key.
pub type Groups = std::collections::BTreeMap<String, String>;

/// Group properties by group type.
pub type GroupProperties = std::collections::BTreeMap<String, Properties>;

/// The one place the SDK's name is written (literal, so [`USER_AGENT`] can be built from it).
macro_rules! lib_name {
    () => {
        "posthog-rust"
    };
}

/// The SDK's name, sent as `$lib` on every event and in the `User-Agent` and
/// `PostHog-Sdk-Info` headers: `posthog-rust`, after PostHog's own `posthog-python`,
/// `posthog-node` and so on, and distinct from the official Rust crate's `posthog-rs` (whose
/// old releases our events would otherwise be counted as).
pub const LIB_NAME: &str = lib_name!();

/// The SDK's version (every crate of the workspace shares it), sent as `$lib_version`.
pub const LIB_VERSION: &str = env!("CARGO_PKG_VERSION");

/// `posthog-rust/<version>`: the `User-Agent` of every request.
pub const USER_AGENT: &str = concat!(lib_name!(), "/", env!("CARGO_PKG_VERSION"));

pub(crate) fn to_value<T: serde::Serialize + ?Sized>(
    value: &T,
) -> Result<serde_json::Value, EventError> {
    serde_json::to_value(value).map_err(|e| EventError::Serialize(e.to_string()))
}

pub(crate) fn to_object<T: serde::Serialize + ?Sized>(value: &T) -> Result<Properties, EventError> {
    match to_value(value)? {
        serde_json::Value::Object(map) => Ok(map),
        serde_json::Value::Null => Err(EventError::PropertiesNotObject("null")),
        serde_json::Value::Array(_) => Err(EventError::PropertiesNotObject("an array")),
        serde_json::Value::String(_) => Err(EventError::PropertiesNotObject("a string")),
        serde_json::Value::Number(_) => Err(EventError::PropertiesNotObject("a number")),
        serde_json::Value::Bool(_) => Err(EventError::PropertiesNotObject("a bool")),
    }
}
