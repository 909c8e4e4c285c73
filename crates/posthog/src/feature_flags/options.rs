//! [`FlagOptions`]: per-call inputs of the flag methods.

use posthog_core::{GroupProperties, Groups, Properties};

/// What a flag read evaluates for, and how.
///
/// ```
/// use posthog::FlagOptions;
/// let opts = FlagOptions::new()
///     .person_property("plan", "pro")
///     .group("company", "acme")
///     .group_property("company", "employees", 250)
///     .only_evaluate_locally(true);
/// # let _ = opts;
/// ```
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct FlagOptions {
    /// Group type → group key.
    pub groups: Groups,
    /// Person properties known to the caller (used locally, and sent to `/flags`).
    pub person_properties: Properties,
    /// Group properties by group type.
    pub group_properties: GroupProperties,
    /// Never ask the server: an undecidable flag is absent (a group flag without its group is
    /// `false`).
    pub only_evaluate_locally: bool,
    /// Emit `$feature_flag_called` (default: on for single reads, off for payloads and
    /// all-flags reads).
    pub send_feature_flag_events: Option<bool>,
    /// The device id, for flags bucketed by device.
    pub device_id: Option<String>,
    /// The value `is_feature_enabled` answers when the flag has none.
    pub default_value: Option<bool>,
    /// Only these flags (for `evaluate_flags` and the all-flags reads).
    pub flag_keys: Option<Vec<String>>,
    /// For `get_feature_flag_payload`: the payload of this value, without evaluating the flag
    /// (C-GET-FLAG-PAYLOAD.2).
    pub match_value: Option<posthog_core::FlagValue>,
    /// GeoIP for this call's `/flags` request, overriding the client's `disable_geoip` in
    /// either direction: `Some(true)` asks PostHog not to geolocate, `Some(false)` lets it
    /// (C-EVALUATE-FLAGS.1, C-GET-FLAG.1).
    pub disable_geoip: Option<bool>,
}

impl FlagOptions {
    /// Empty options.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a group.
    pub fn group(mut self, group_type: impl Into<String>, group_key: impl Into<String>) -> Self {
        self.groups.insert(group_type.into(), group_key.into());
        self
    }

    /// Adds a person property.
    pub fn person_property(
        mut self,
        key: impl Into<String>,
        value: impl posthog_core::PropertyValue,
    ) -> Self {
        self.person_properties
            .insert(key.into(), value.into_value());
        self
    }

    /// Adds a group property for `group_type`.
    pub fn group_property(
        mut self,
        group_type: impl Into<String>,
        key: impl Into<String>,
        value: impl posthog_core::PropertyValue,
    ) -> Self {
        self.group_properties
            .entry(group_type.into())
            .or_default()
            .insert(key.into(), value.into_value());
        self
    }

    /// Sets every person property at once, moving a map the caller already has (no copy per
    /// key; replaces what was set before).
    pub fn person_properties(mut self, properties: Properties) -> Self {
        self.person_properties = properties;
        self
    }

    /// Sets every group at once (group type → key), replacing what was set before.
    pub fn groups(mut self, groups: Groups) -> Self {
        self.groups = groups;
        self
    }

    /// Sets every group's properties at once (group type → properties), replacing what was
    /// set before.
    pub fn group_properties(mut self, properties: GroupProperties) -> Self {
        self.group_properties = properties;
        self
    }

    /// Evaluate only with local definitions.
    pub fn only_evaluate_locally(mut self, on: bool) -> Self {
        self.only_evaluate_locally = on;
        self
    }

    /// `get_feature_flag_payload` returns the payload of `value` without evaluating the flag
    /// (`true` reads the payload stored under `"true"`; `false` has none).
    pub fn match_value(mut self, value: impl Into<posthog_core::FlagValue>) -> Self {
        self.match_value = Some(value.into());
        self
    }

    /// Turn `$feature_flag_called` on or off for this call.
    pub fn send_feature_flag_events(mut self, on: bool) -> Self {
        self.send_feature_flag_events = Some(on);
        self
    }

    /// The device id for device-bucketed flags.
    pub fn device_id(mut self, device_id: impl Into<String>) -> Self {
        self.device_id = Some(device_id.into());
        self
    }

    /// Evaluate only these flags (`evaluate_flags` and the all-flags reads).
    pub fn flag_keys<I: IntoIterator<Item = S>, S: Into<String>>(mut self, keys: I) -> Self {
        self.flag_keys = Some(keys.into_iter().map(Into::into).collect());
        self
    }

    /// Whether PostHog may geolocate this call's `/flags` request (`true`: it may not),
    /// whatever the client's `disable_geoip` says; local evaluation does not use GeoIP.
    pub fn disable_geoip(mut self, disable: bool) -> Self {
        self.disable_geoip = Some(disable);
        self
    }

    /// What `is_feature_enabled` answers when the flag has no value (C-IS-ENABLED.1).
    pub fn default_value(mut self, value: bool) -> Self {
        self.default_value = Some(value);
        self
    }
}

impl FlagOptions {
    /// The local evaluator's view of these options for `distinct_id`: properties, groups and
    /// device id, all borrowed.
    pub(crate) fn eval_context<'a>(
        &'a self,
        distinct_id: &'a str,
    ) -> posthog_flags::EvalContext<'a> {
        let ctx = posthog_flags::EvalContext::new(distinct_id)
            .person_properties(&self.person_properties)
            .groups(&self.groups)
            .group_properties(&self.group_properties);
        match &self.device_id {
            Some(device) => ctx.device_id(device),
            None => ctx,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn whole_maps_replace_what_was_set() {
        let mut person = Properties::new();
        person.insert("plan".into(), json!("pro"));
        let mut groups = Groups::new();
        groups.insert("company".into(), "acme".into());
        let mut group_props = GroupProperties::new();
        group_props.insert("company".into(), person.clone());
        let opts = FlagOptions::new()
            .person_property("old", 1)
            .person_properties(person.clone())
            .groups(groups.clone())
            .group_properties(group_props.clone());
        assert_eq!(opts.person_properties, person);
        assert_eq!(opts.groups, groups);
        assert_eq!(opts.group_properties, group_props);
    }
}
