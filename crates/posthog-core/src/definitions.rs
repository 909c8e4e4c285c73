//! The local-evaluation definitions document served by `GET /flags/definitions`
//! (protocol.md §3.2, flags.md §2), as typed values for building and inspecting it.
//!
//! The evaluator in `posthog-flags` compiles the raw JSON (so one malformed flag degrades alone);
//! these types serialise to exactly that JSON and are what tests and fake servers build.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The whole document.
///
/// ```
/// let doc = r#"{"flags": [{"key": "beta", "active": true, "filters": {"groups": [
///     {"properties": [{"key": "plan", "type": "person", "value": ["pro"], "operator": "exact"}],
///      "rollout_percentage": 50}]}}]}"#;
/// let definitions: posthog_core::FlagDefinitions = serde_json::from_str(doc)?;
/// assert_eq!(definitions.flags[0].key, "beta");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct FlagDefinitions {
    /// Flag definitions.
    #[serde(default)]
    pub flags: Vec<FlagDefinition>,
    /// Group type index (as decimal text) → group type name.
    #[serde(default)]
    pub group_type_mapping: BTreeMap<String, String>,
    /// Cohort id → property group `{type: AND|OR, values: [...]}`.
    #[serde(default)]
    pub cohorts: BTreeMap<String, Value>,
    /// `2` selects the newer `exact`/`is_not` rules; absent means 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub property_matching_version: Option<i64>,
    /// The server allows trimmed `$feature_flag_called` events.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub minimal_flag_called_events: bool,
}

/// One flag.
///
/// ```
/// let doc = r#"{"flags": [{"key": "beta", "active": true, "filters": {"groups": [
///     {"properties": [{"key": "plan", "type": "person", "value": ["pro"], "operator": "exact"}],
///      "rollout_percentage": 50}]}}]}"#;
/// let definitions: posthog_core::FlagDefinitions = serde_json::from_str(doc)?;
/// let flag: &posthog_core::definitions::FlagDefinition = &definitions.flags[0];
/// assert!(flag.active && !flag.ensure_experience_continuity);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct FlagDefinition {
    /// Numeric id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    /// The flag key.
    pub key: String,
    /// Active flags evaluate; inactive ones are `false`.
    #[serde(default)]
    pub active: bool,
    /// Experience continuity cannot be evaluated locally.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ensure_experience_continuity: bool,
    /// Version, copied into `$feature_flag_called`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
    /// Whether the flag backs an experiment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub has_experiment: Option<bool>,
    /// `device_id` buckets on the device id instead of the distinct id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucketing_identifier: Option<String>,
    /// The rules.
    #[serde(default)]
    pub filters: FlagFilters,
}

/// `filters` of a flag.
///
/// ```
/// let doc = r#"{"flags": [{"key": "beta", "active": true, "filters": {"groups": [
///     {"properties": [{"key": "plan", "type": "person", "value": ["pro"], "operator": "exact"}],
///      "rollout_percentage": 50}]}}]}"#;
/// let definitions: posthog_core::FlagDefinitions = serde_json::from_str(doc)?;
/// let filters = &definitions.flags[0].filters;
/// assert_eq!(filters.groups.len(), 1);
/// assert!(filters.multivariate.is_none());
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct FlagFilters {
    /// Conditions, OR-ed in order.
    #[serde(default)]
    pub groups: Vec<Condition>,
    /// The variant table of a multivariate flag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multivariate: Option<Multivariate>,
    /// `"true"` / `"false"` / variant key → payload (usually JSON text).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub payloads: BTreeMap<String, Value>,
    /// Set for group flags: the group type index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aggregation_group_type_index: Option<i64>,
    /// Stop at the first condition that fails only on its rollout.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub early_exit: bool,
    /// A holdout group excluded before any condition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holdout: Option<Holdout>,
    /// The flag's value is the person's `$feature_enrollment/<key>` property.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feature_enrollment: Option<bool>,
}

/// One condition (`filters.groups[i]`).
///
/// ```
/// let doc = r#"{"flags": [{"key": "beta", "active": true, "filters": {"groups": [
///     {"properties": [{"key": "plan", "type": "person", "value": ["pro"], "operator": "exact"}],
///      "rollout_percentage": 50}]}}]}"#;
/// let definitions: posthog_core::FlagDefinitions = serde_json::from_str(doc)?;
/// let condition = &definitions.flags[0].filters.groups[0];
/// assert_eq!(condition.rollout_percentage, Some(50.0));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Condition {
    /// Property filters, AND-ed.
    #[serde(default)]
    pub properties: Vec<PropertyFilter>,
    /// Share of subjects admitted (0–100, a float); absent = everyone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout_percentage: Option<f64>,
    /// Forces this variant when the condition matches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// Per-condition aggregation: absent = as the flag; `Some(None)` = person;
    /// `Some(Some(i))` = group type `i`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present_or_null"
    )]
    pub aggregation_group_type_index: Option<Option<i64>>,
}

fn present_or_null<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<i64>>, D::Error> {
    Option::<i64>::deserialize(d).map(Some)
}

/// One property, cohort or flag-dependency filter.
///
/// ```
/// let doc = r#"{"flags": [{"key": "beta", "active": true, "filters": {"groups": [
///     {"properties": [{"key": "plan", "type": "person", "value": ["pro"], "operator": "exact"}],
///      "rollout_percentage": 50}]}}]}"#;
/// let definitions: posthog_core::FlagDefinitions = serde_json::from_str(doc)?;
/// let filter = &definitions.flags[0].filters.groups[0].properties[0];
/// assert_eq!((filter.key.as_str(), filter.kind.as_deref()), ("plan", Some("person")));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PropertyFilter {
    /// Property name (flag key for dependencies).
    pub key: String,
    /// The value compared against.
    #[serde(default)]
    pub value: Value,
    /// `exact` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<String>,
    /// `person`, `group`, `cohort` or `flag`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Inverts the filter inside cohort property groups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub negation: Option<bool>,
    /// For `flag` filters: the flags to evaluate first, in order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dependency_chain: Option<Vec<String>>,
}

/// `filters.multivariate`.
///
/// ```
/// let variants: posthog_core::definitions::Multivariate = serde_json::from_str(
///     r#"{"variants": [{"key": "control", "rollout_percentage": 50}, {"key": "test", "rollout_percentage": 50}]}"#,
/// )?;
/// assert_eq!(variants.variants.len(), 2);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Multivariate {
    /// Variants in table order.
    pub variants: Vec<Variant>,
}

/// One variant.
///
/// ```
/// let variant: posthog_core::definitions::Variant =
///     serde_json::from_str(r#"{"key": "test", "name": "New layout", "rollout_percentage": 50}"#)?;
/// assert_eq!(variant.rollout_percentage, 50.0);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Variant {
    /// The value subjects get.
    pub key: String,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Share of subjects (0–100).
    pub rollout_percentage: f64,
}

/// `filters.holdout`.
///
/// ```
/// let holdout: posthog_core::definitions::Holdout = serde_json::from_str(r#"{"id": 7, "exclusion_percentage": 10}"#)?;
/// assert_eq!(holdout.exclusion_percentage, 10.0);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Holdout {
    /// Holdout id; held-out subjects get `holdout-<id>`.
    pub id: i64,
    /// Share of subjects held out (0–100).
    pub exclusion_percentage: f64,
}

impl FlagDefinition {
    /// An active flag with one condition admitting `rollout_percentage` % of everyone.
    pub fn rollout(key: impl Into<String>, rollout_percentage: f64) -> Self {
        FlagDefinition {
            key: key.into(),
            active: true,
            filters: FlagFilters {
                groups: vec![Condition {
                    rollout_percentage: Some(rollout_percentage),
                    ..Condition::default()
                }],
                ..FlagFilters::default()
            },
            ..FlagDefinition::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn condition_aggregation_keeps_absent_and_null_apart() {
        let c: Condition =
            serde_json::from_value(json!({"aggregation_group_type_index": null})).unwrap();
        assert_eq!(c.aggregation_group_type_index, Some(None));
        let c: Condition = serde_json::from_value(json!({})).unwrap();
        assert_eq!(c.aggregation_group_type_index, None);
        assert_eq!(serde_json::to_value(&c).unwrap(), json!({"properties": []}));
    }

    #[test]
    fn document_round_trips() {
        let doc = json!({
            "flags": [{"id": 1, "key": "f", "active": true, "filters": {"groups": [
                {"properties": [{"key": "email", "value": "@x", "operator": "icontains", "type": "person"}],
                 "rollout_percentage": 50.0}],
                "multivariate": {"variants": [{"key": "a", "rollout_percentage": 100.0}]},
                "aggregation_group_type_index": 0}}],
            "group_type_mapping": {"0": "company"},
            "cohorts": {"7": {"type": "OR", "values": []}},
            "property_matching_version": 2
        });
        let parsed: FlagDefinitions = serde_json::from_value(doc.clone()).unwrap();
        assert_eq!(serde_json::to_value(&parsed).unwrap(), doc);
    }
}
