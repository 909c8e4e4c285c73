//! [`Event`]: one analytics event and its envelope (uuid, timestamp, distinct id, properties).

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::error::EventError;
use crate::value::PropertyValue;
use crate::{Properties, time};

/// One analytics event as it travels in a `/batch/` body.
///
/// Build it with [`Event::new`] and the chained setters; the special events ($identify,
/// $create_alias, $groupidentify, …) have their own constructors in [`crate::builders`].
///
/// ```
/// use posthog_core::Event;
/// let event = Event::new("order_placed", "user-123")
///     .property("amount", 42)
///     .group("company", "acme");
/// assert_eq!(event.properties()["$groups"]["company"], "acme");
/// event.validate()?;
/// # Ok::<(), posthog_core::EventError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    uuid: Option<Uuid>,
    event: String,
    distinct_id: String,
    #[serde(
        default,
        with = "time::serde_utc",
        skip_serializing_if = "Option::is_none"
    )]
    timestamp: Option<DateTime<Utc>>,
    #[serde(default)]
    properties: Properties,
}

/// Property set on personless events so PostHog creates no person profile.
pub const PROCESS_PERSON_PROFILE: &str = "$process_person_profile";

impl Event {
    /// A new event named `name` for `distinct_id`, with no properties yet.
    pub fn new(name: impl Into<String>, distinct_id: impl Into<String>) -> Self {
        Self {
            uuid: None,
            event: name.into(),
            distinct_id: distinct_id.into(),
            timestamp: None,
            properties: Properties::new(),
        }
    }

    /// A personless event: a fresh UUIDv7 as distinct id and `$process_person_profile: false`.
    pub fn anonymous(name: impl Into<String>) -> Self {
        Self::new(name, crate::ids::new_uuid().to_string()).property(PROCESS_PERSON_PROFILE, false)
    }

    /// Sets one property (replacing an earlier value of the same key).
    pub fn property(mut self, key: impl Into<String>, value: impl PropertyValue) -> Self {
        self.properties.insert(key.into(), value.into_value());
        self
    }

    /// Merges the fields of any value that serialises to a JSON object into the properties.
    pub fn properties_from<T: Serialize + ?Sized>(mut self, props: &T) -> Result<Self, EventError> {
        self.properties.extend(crate::to_object(props)?);
        Ok(self)
    }

    /// Adds the group `group_type = group_key` to `$groups`.
    pub fn group(mut self, group_type: impl Into<String>, group_key: impl Into<String>) -> Self {
        let groups = self
            .properties
            .entry("$groups")
            .or_insert_with(|| Value::Object(Properties::new()));
        if !groups.is_object() {
            *groups = Value::Object(Properties::new());
        }
        if let Value::Object(map) = groups {
            map.insert(group_type.into(), Value::String(group_key.into()));
        }
        self
    }

    /// Sets the time the event happened; any offset is accepted and kept as the same instant.
    pub fn timestamp<Tz: TimeZone>(mut self, at: DateTime<Tz>) -> Self {
        self.timestamp = Some(at.with_timezone(&Utc));
        self
    }

    /// Sets the time from RFC 3339 text with an offset.
    pub fn timestamp_rfc3339(self, text: &str) -> Result<Self, EventError> {
        Ok(self.timestamp(time::parse_timestamp(text)?))
    }

    /// Sets the event id (PostHog de-duplicates on it; by default a UUIDv7 is stamped).
    pub fn uuid(mut self, uuid: Uuid) -> Self {
        self.uuid = Some(uuid);
        self
    }

    /// Replaces the distinct id.
    pub fn distinct_id(mut self, distinct_id: impl Into<String>) -> Self {
        self.distinct_id = distinct_id.into();
        self
    }

    /// Replaces the distinct id in place.
    pub fn set_distinct_id(&mut self, distinct_id: impl Into<String>) {
        self.distinct_id = distinct_id.into();
    }

    /// The event name.
    pub fn name(&self) -> &str {
        &self.event
    }

    /// The distinct id.
    pub fn get_distinct_id(&self) -> &str {
        &self.distinct_id
    }

    /// The event id, if stamped or set.
    pub fn get_uuid(&self) -> Option<Uuid> {
        self.uuid
    }

    /// The timestamp, if stamped or set.
    pub fn get_timestamp(&self) -> Option<DateTime<Utc>> {
        self.timestamp
    }

    /// The properties.
    pub fn properties(&self) -> &Properties {
        &self.properties
    }

    /// The properties, for editing (e.g. in a before-send hook).
    pub fn properties_mut(&mut self) -> &mut Properties {
        &mut self.properties
    }

    /// Inserts `key` only when the caller left it unset (how SDK-owned keys are added).
    pub fn set_default(&mut self, key: &str, value: impl PropertyValue) {
        if !self.properties.contains_key(key) {
            self.properties.insert(key.to_owned(), value.into_value());
        }
    }

    /// Fills the envelope: a UUIDv7 when no uuid was set and `now` when no timestamp was set.
    /// Returns the event id.
    pub fn stamp(&mut self, now: DateTime<Utc>) -> Uuid {
        self.timestamp.get_or_insert(now);
        *self.uuid.get_or_insert_with(|| {
            crate::ids::uuid_at_millis(u64::try_from(now.timestamp_millis()).unwrap_or(0))
        })
    }

    /// Checks what PostHog would reject: an empty name or a blank distinct id.
    pub fn validate(&self) -> Result<(), EventError> {
        if self.event.is_empty() {
            return Err(EventError::EmptyName);
        }
        if self.distinct_id.trim().is_empty() {
            return Err(EventError::EmptyDistinctId);
        }
        crate::depth::check(&self.properties)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn blank_names_and_ids_are_invalid() {
        assert_eq!(Event::new("", "u").validate(), Err(EventError::EmptyName));
        assert_eq!(
            Event::new("e", " \t").validate(),
            Err(EventError::EmptyDistinctId)
        );
        assert_eq!(Event::new("e", "u").validate(), Ok(()));
    }

    #[test]
    fn stamp_keeps_caller_values() {
        let id = Uuid::nil();
        let at = time::parse_timestamp("2025-01-02T08:34:05+05:30").unwrap();
        let mut event = Event::new("e", "u").uuid(id).timestamp(at);
        assert_eq!(event.stamp(Utc::now()), id);
        assert_eq!(event.get_timestamp(), Some(at));
    }

    #[test]
    fn stamp_fills_v7_and_now() {
        let now = Utc::now();
        let mut event = Event::new("e", "u");
        let id = event.stamp(now);
        assert_eq!(id.get_version_num(), 7);
        assert_eq!(event.get_timestamp(), Some(now));
    }

    #[test]
    fn stamp_takes_the_uuid_time_from_now_not_from_the_clock() {
        let now = time::parse_timestamp("2025-01-02T08:34:05.123Z").unwrap();
        let id = Event::new("e", "u").stamp(now);
        let (secs, nanos) = id.get_timestamp().expect("a v7 timestamp").to_unix();
        assert_eq!((secs, nanos / 1_000_000), (1_735_806_845, 123));
    }

    #[test]
    fn set_default_never_overwrites() {
        let mut event = Event::new("e", "u").property("$lib", "mine");
        event.set_default("$lib", "posthog-rs");
        event.set_default("$is_server", true);
        assert_eq!(event.properties()["$lib"], "mine");
        assert_eq!(event.properties()["$is_server"], true);
    }

    #[test]
    fn properties_from_rejects_non_objects() {
        let err = Event::new("e", "u")
            .properties_from(&json!([1, 2]))
            .unwrap_err();
        assert_eq!(err, EventError::PropertiesNotObject("an array"));
    }

    #[test]
    fn round_trips_through_json() {
        let mut event = Event::new("e", "u")
            .property("k", json!({"a": [1, 2.5]}))
            .group("org", "x");
        event.stamp(Utc::now());
        let text = serde_json::to_string(&event).unwrap();
        let back: Event = serde_json::from_str(&text).unwrap();
        assert_eq!(back, event);
    }
}
