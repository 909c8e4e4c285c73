//! Constructors for PostHog's special events: `$identify`, `$create_alias`, `$groupidentify`,
//! `$set` / `$set_once`, `$pageview`, `$screen` and `$exception`.

use crate::error::{EventError, non_blank};
use crate::exception::ExceptionList;
use crate::value::PropertyValue;
use crate::{Event, Properties};

/// Person properties for `$identify` and `$set` events: `$set` overwrites, `$set_once` only
/// fills properties the person does not have yet.
///
/// ```
/// let person = posthog_core::PersonProperties::new()
///     .set("plan", "pro")
///     .set_once("first_seen", "2026-12-01");
/// let identify = posthog_core::Event::identify("user-123", person)?;
/// assert_eq!(identify.name(), "$identify");
/// # Ok::<(), posthog_core::EventError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PersonProperties {
    /// Properties written on every call.
    pub set: Properties,
    /// Properties written only when absent on the person.
    pub set_once: Properties,
}

impl PersonProperties {
    /// Empty `$set` and `$set_once`.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a `$set` property.
    pub fn set(mut self, key: impl Into<String>, value: impl PropertyValue) -> Self {
        self.set.insert(key.into(), value.into_value());
        self
    }

    /// Adds a `$set_once` property.
    pub fn set_once(mut self, key: impl Into<String>, value: impl PropertyValue) -> Self {
        self.set_once.insert(key.into(), value.into_value());
        self
    }
}

impl Event {
    /// `$identify` for `distinct_id`, carrying `$set` and (when non-empty) `$set_once` inside
    /// `properties` (C-IDENTIFY.1).
    ///
    /// ```
    /// use posthog_core::{Event, PersonProperties};
    /// let e = Event::identify("user-123", PersonProperties::new().set("email", "a@b.c"))?;
    /// assert_eq!(e.properties()["$set"]["email"], "a@b.c");
    /// # Ok::<(), posthog_core::EventError>(())
    /// ```
    pub fn identify(
        distinct_id: impl Into<String>,
        person: PersonProperties,
    ) -> Result<Self, EventError> {
        let distinct_id = distinct_id.into();
        non_blank(&distinct_id, "distinct id")?;
        let mut event = Event::new("$identify", distinct_id).property("$set", person.set);
        if !person.set_once.is_empty() {
            event = event.property("$set_once", person.set_once);
        }
        Ok(event)
    }

    /// `$set`: overwrite person properties (C-IDENTIFY.5).
    pub fn set_person(distinct_id: impl Into<String>, set: Properties) -> Result<Self, EventError> {
        let distinct_id = distinct_id.into();
        non_blank(&distinct_id, "distinct id")?;
        Ok(Event::new("$set", distinct_id).property("$set", set))
    }

    /// `$set_once`: fill person properties that are still unset (C-IDENTIFY.5).
    pub fn set_person_once(
        distinct_id: impl Into<String>,
        set_once: Properties,
    ) -> Result<Self, EventError> {
        let distinct_id = distinct_id.into();
        non_blank(&distinct_id, "distinct id")?;
        Ok(Event::new("$set_once", distinct_id).property("$set_once", set_once))
    }

    /// `$create_alias`: the event's distinct id is `previous_id`, `properties.alias` is `new_id`
    /// (C-ALIAS.1).
    pub fn alias(
        previous_id: impl Into<String>,
        new_id: impl Into<String>,
    ) -> Result<Self, EventError> {
        let (previous_id, new_id) = (previous_id.into(), new_id.into());
        non_blank(&previous_id, "previous id")?;
        non_blank(&new_id, "new id")?;
        Ok(Event::new("$create_alias", previous_id.clone())
            .property("alias", new_id)
            .property("distinct_id", previous_id))
    }

    /// `$groupidentify` for `group_type`/`group_key` with `$group_set` (C-GROUP-IDENTIFY.2).
    /// The distinct id is `$<type>_<key>`; replace it with [`Event::distinct_id`] when the caller
    /// gives one (C-GROUP-IDENTIFY.3).
    pub fn group_identify(
        group_type: impl Into<String>,
        group_key: impl Into<String>,
        properties: Properties,
    ) -> Result<Self, EventError> {
        let (group_type, group_key) = (group_type.into(), group_key.into());
        non_blank(&group_type, "group type")?;
        non_blank(&group_key, "group key")?;
        Ok(
            Event::new("$groupidentify", format!("${group_type}_{group_key}"))
                .property("$group_type", group_type)
                .property("$group_key", group_key)
                .property("$group_set", properties),
        )
    }

    /// `$pageview` with `$current_url`.
    pub fn pageview(distinct_id: impl Into<String>, url: impl Into<String>) -> Self {
        Event::new("$pageview", distinct_id).property("$current_url", url.into())
    }

    /// `$screen` with `$screen_name`.
    pub fn screen(distinct_id: impl Into<String>, screen_name: impl Into<String>) -> Self {
        Event::new("$screen", distinct_id).property("$screen_name", screen_name.into())
    }

    /// `$exception` with `$exception_list`, `$exception_level` (C-EXCEPTION-META.1) and the
    /// outermost entry flat as `$exception_type` / `$exception_message` (C-CAPTURE-EXCEPTION.4).
    pub fn exception(
        distinct_id: impl Into<String>,
        list: &ExceptionList,
    ) -> Result<Self, EventError> {
        let mut event = Event::new("$exception", distinct_id)
            .property("$exception_list", crate::to_value(&list.exceptions)?)
            .property("$exception_level", list.level.as_str());
        // C-CAPTURE-EXCEPTION.4: the outermost entry, flat.
        if let Some(outer) = list.exceptions.first() {
            event = event
                .property("$exception_type", outer.kind.as_str())
                .property("$exception_message", outer.value.as_str());
        }
        if let Some(fingerprint) = list.fingerprint.as_deref().filter(|f| !f.is_empty()) {
            event = event.property("$exception_fingerprint", fingerprint);
        }
        Ok(event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identify_needs_an_id() {
        assert_eq!(
            Event::identify(" ", PersonProperties::new()),
            Err(EventError::EmptyField("distinct id"))
        );
    }

    #[test]
    fn alias_needs_both_ids() {
        assert!(Event::alias("", "b").is_err());
        assert!(Event::alias("a", "").is_err());
        let e = Event::alias("anon-123", "user-123").unwrap();
        assert_eq!(e.get_distinct_id(), "anon-123");
        assert_eq!(e.properties()["alias"], "user-123");
    }

    #[test]
    fn group_identify_uses_synthetic_id() {
        let e = Event::group_identify("company", "acme", Properties::new()).unwrap();
        assert_eq!(e.get_distinct_id(), "$company_acme");
        assert_eq!(e.properties()["$group_set"], serde_json::json!({}));
        assert!(Event::group_identify("company", " ", Properties::new()).is_err());
    }
}
