//! [`EvalContext`]: whom to evaluate for, with borrowed properties.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use posthog_core::Properties;
use serde_json::Value;

use crate::{GroupProperties, Groups};

/// The subject of an evaluation: distinct id, groups, properties and device id, all borrowed.
///
/// Following flags.md §4, person properties see `distinct_id` (unless the caller set that
/// key) and each passed group's properties see `$group_key`, without copying any map.
///
/// ```
/// use posthog_flags::EvalContext;
/// let props: posthog_core::Properties = serde_json::from_str(r#"{"plan": "pro"}"#).unwrap();
/// let ctx = EvalContext::new("user-123").person_properties(&props);
/// assert_eq!(ctx.distinct_id(), "user-123");
/// ```
#[derive(Debug, Clone, Copy)]
pub struct EvalContext<'a> {
    distinct_id: &'a str,
    device_id: Option<&'a str>,
    groups: Option<&'a Groups>,
    person_properties: Option<&'a Properties>,
    group_properties: Option<&'a GroupProperties>,
    now: Option<DateTime<Utc>>,
}

impl<'a> EvalContext<'a> {
    /// A context for `distinct_id` with no properties, groups or device id.
    pub fn new(distinct_id: &'a str) -> Self {
        Self {
            distinct_id,
            device_id: None,
            groups: None,
            person_properties: None,
            group_properties: None,
            now: None,
        }
    }

    /// The person's properties as the caller knows them.
    pub fn person_properties(mut self, props: &'a Properties) -> Self {
        self.person_properties = Some(props);
        self
    }

    /// The groups the subject belongs to: group type → group key.
    pub fn groups(mut self, groups: &'a Groups) -> Self {
        self.groups = Some(groups);
        self
    }

    /// Group properties by group type (types not in [`EvalContext::groups`] are ignored).
    pub fn group_properties(mut self, props: &'a GroupProperties) -> Self {
        self.group_properties = Some(props);
        self
    }

    /// The device id, for flags bucketed by device.
    pub fn device_id(mut self, device_id: &'a str) -> Self {
        self.device_id = Some(device_id);
        self
    }

    /// Pins "now" for relative date filters (default: the clock at evaluation).
    pub fn at(mut self, now: DateTime<Utc>) -> Self {
        self.now = Some(now);
        self
    }

    /// The distinct id.
    pub fn distinct_id(&self) -> &'a str {
        self.distinct_id
    }

    pub(crate) fn get_device_id(&self) -> Option<&'a str> {
        self.device_id.filter(|d| !d.is_empty())
    }

    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.now.unwrap_or_else(Utc::now)
    }

    pub(crate) fn group_key(&self, group_type: &str) -> Option<&'a str> {
        self.groups?.get(group_type).map(String::as_str)
    }

    pub(crate) fn person_view(&self) -> PropertyView<'a> {
        PropertyView {
            map: self.person_properties,
            injected_key: PERSON_KEY,
            injected: self.distinct_id,
        }
    }

    pub(crate) fn group_view(&self, group_type: &str, group_key: &'a str) -> PropertyView<'a> {
        let map = self.group_properties.and_then(|g| g.get(group_type));
        PropertyView {
            map,
            injected_key: GROUP_KEY,
            injected: group_key,
        }
    }
}

const PERSON_KEY: &str = "distinct_id";
const GROUP_KEY: &str = "$group_key";

/// A property map plus one injected key that the caller's own value overrides.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PropertyView<'a> {
    map: Option<&'a Properties>,
    injected_key: &'static str,
    injected: &'a str,
}

impl<'a> PropertyView<'a> {
    pub(crate) fn get(&self, key: &str) -> Option<Cow<'a, Value>> {
        self.resolve(key, self.lookup(key))
    }

    /// The caller's own value for `key`, without the injected fallback.
    pub(crate) fn lookup(&self, key: &str) -> Option<&'a Value> {
        self.map.and_then(|m| m.get(key))
    }

    /// Applies the injected fallback to a looked-up value.
    pub(crate) fn resolve(&self, key: &str, found: Option<&'a Value>) -> Option<Cow<'a, Value>> {
        match found {
            Some(v) => Some(Cow::Borrowed(v)),
            None => (key == self.injected_key)
                .then(|| Cow::Owned(Value::String(self.injected.to_owned()))),
        }
    }

    /// The person's map (the same for every flag of an evaluation, so lookups may be cached).
    /// Derived from the injected key rather than stored: a `bool` at the end of this struct
    /// made copies of `Subject` stall on store forwarding in the evaluation loop. The two
    /// injected keys differ in length, so the length alone tells them apart (no `memcmp` on
    /// every property filter).
    pub(crate) fn is_person(&self) -> bool {
        const _: () = assert!(PERSON_KEY.len() != GROUP_KEY.len());
        self.injected_key.len() == PERSON_KEY.len()
    }
}
