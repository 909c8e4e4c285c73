//! The remote flags endpoint: `POST /flags/?v=2` request and its response (protocol.md §2).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Properties;

/// A flag's value: on/off, or the key of the variant a subject gets.
///
/// ```
/// use posthog_core::FlagValue;
/// assert!(FlagValue::Variant("blue".into()).is_enabled());
/// assert!(!FlagValue::Bool(false).is_enabled());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FlagValue {
    /// A boolean flag's answer (also `false` for a disabled multivariate flag).
    Bool(bool),
    /// The variant key of an enabled multivariate flag.
    Variant(String),
}

impl FlagValue {
    /// `true` for `Bool(true)` and for any variant.
    pub fn is_enabled(&self) -> bool {
        !matches!(self, FlagValue::Bool(false))
    }

    /// The key of `filters.payloads` that holds this value's payload.
    pub fn payload_key(&self) -> &str {
        match self {
            FlagValue::Bool(true) => "true",
            FlagValue::Bool(false) => "false",
            FlagValue::Variant(v) => v,
        }
    }
}

impl From<bool> for FlagValue {
    fn from(on: bool) -> Self {
        FlagValue::Bool(on)
    }
}

impl From<&str> for FlagValue {
    /// A variant key.
    fn from(variant: &str) -> Self {
        FlagValue::Variant(variant.to_owned())
    }
}

impl From<String> for FlagValue {
    /// A variant key.
    fn from(variant: String) -> Self {
        FlagValue::Variant(variant)
    }
}

/// The `/flags` request body. The token is in the body; no `Authorization` header is sent.
///
/// ```
/// let request = posthog_core::FlagsRequest {
///     api_key: "phc_project_token".into(),
///     distinct_id: "user-123".into(),
///     flag_keys_to_evaluate: Some(vec!["beta".into()]),
///     ..Default::default()
/// };
/// let body = serde_json::to_value(&request)?;
/// assert_eq!(body["flag_keys_to_evaluate"][0], "beta");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FlagsRequest {
    /// The project token.
    pub api_key: String,
    /// Whom to evaluate for.
    pub distinct_id: String,
    /// `{group type: group key}`; `{}` when none.
    pub groups: crate::Groups,
    /// Person property overrides (the caller's map, unchanged).
    pub person_properties: Properties,
    /// Group property overrides by group type.
    pub group_properties: crate::GroupProperties,
    /// Turns GeoIP enrichment off for this evaluation.
    pub geoip_disable: bool,
    /// Only these flags, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flag_keys_to_evaluate: Option<Vec<String>>,
    /// Device id for flags bucketed by device.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
}

/// Why the server gave a flag its value.
///
/// ```
/// let answer = posthog_core::FlagsResponse::from_slice(br#"{"flags": {"checkout": {
///     "key": "checkout", "enabled": true, "variant": "blue",
///     "reason": {"code": "condition_match", "condition_index": 0},
///     "metadata": {"id": 3, "version": 2, "payload": "{\"cta\": \"Buy\"}"}}}}"#)?;
/// let detail = &answer.flags["checkout"];
/// let reason = detail.reason.as_ref().expect("a reason");
/// assert_eq!((reason.code.as_str(), reason.condition_index), ("condition_match", Some(0)));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct FlagReason {
    /// `condition_match`, `no_condition_match`, `out_of_rollout_bound`, … (an open set).
    #[serde(default)]
    pub code: String,
    /// The matched condition, when one matched.
    #[serde(default)]
    pub condition_index: Option<u32>,
    /// Human-readable text, e.g. "Matched condition set 1".
    #[serde(default)]
    pub description: Option<String>,
}

/// Per-flag metadata in a `/flags` answer.
///
/// ```
/// let answer = posthog_core::FlagsResponse::from_slice(br#"{"flags": {"checkout": {
///     "key": "checkout", "enabled": true, "variant": "blue",
///     "reason": {"code": "condition_match", "condition_index": 0},
///     "metadata": {"id": 3, "version": 2, "payload": "{\"cta\": \"Buy\"}"}}}}"#)?;
/// let detail = &answer.flags["checkout"];
/// assert_eq!((detail.metadata.id, detail.metadata.version), (Some(3), Some(2)));
/// assert_eq!(detail.metadata.payload, Some(serde_json::json!({"cta": "Buy"})));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FlagMetadata {
    /// The flag's id.
    pub id: Option<i64>,
    /// The flag's version.
    pub version: Option<i64>,
    /// The payload, decoded from its JSON text when it is one.
    pub payload: Option<Value>,
    /// Whether the flag backs an experiment (unknown on older servers).
    pub has_experiment: Option<bool>,
}

/// One flag of a `/flags` answer.
///
/// ```
/// let answer = posthog_core::FlagsResponse::from_slice(br#"{"flags": {"checkout": {
///     "key": "checkout", "enabled": true, "variant": "blue",
///     "reason": {"code": "condition_match", "condition_index": 0},
///     "metadata": {"id": 3, "version": 2, "payload": "{\"cta\": \"Buy\"}"}}}}"#)?;
/// let detail = &answer.flags["checkout"];
/// assert_eq!(detail.value(), posthog_core::FlagValue::Variant("blue".into()));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FlagDetail {
    /// The flag key.
    pub key: String,
    /// On or off.
    pub enabled: bool,
    /// The variant, for an enabled multivariate flag.
    pub variant: Option<String>,
    /// The server could not evaluate this flag; `enabled` is not authoritative.
    pub failed: bool,
    /// Why (absent in the legacy answer shape).
    pub reason: Option<FlagReason>,
    /// Id, version, payload, experiment.
    pub metadata: FlagMetadata,
}

impl FlagDetail {
    /// The value: the variant when present, else `enabled`.
    pub fn value(&self) -> FlagValue {
        match &self.variant {
            Some(v) if self.enabled => FlagValue::Variant(v.clone()),
            _ => FlagValue::Bool(self.enabled),
        }
    }
}

/// A `/flags` answer in one model, whichever shape (v2 `flags` map or legacy
/// `featureFlags`/`featureFlagPayloads`) the server used.
///
/// ```
/// use posthog_core::{FlagsResponse, FlagValue};
/// let r = FlagsResponse::from_slice(br#"{"featureFlags":{"a":true,"b":"test"},
///     "featureFlagPayloads":{"b":"{\"x\":1}"},"quotaLimited":["feature_flags"]}"#)?;
/// assert_eq!(r.flags["b"].value(), FlagValue::Variant("test".into()));
/// assert_eq!(r.flags["b"].metadata.payload, Some(serde_json::json!({"x": 1})));
/// assert!(r.quota_limited);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FlagsResponse {
    /// Flags by key.
    pub flags: BTreeMap<String, FlagDetail>,
    /// Some flags failed or are missing; absent flags are not a definitive `false`.
    pub errors_while_computing_flags: bool,
    /// Flags are over quota: no values were computed.
    pub quota_limited: bool,
    /// The server's request id.
    pub request_id: Option<String>,
    /// Evaluation time in milliseconds since the epoch.
    pub evaluated_at: Option<i64>,
    /// The server allows trimmed `$feature_flag_called` events.
    pub minimal_flag_called_events: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawResponse {
    #[serde(default)]
    flags: Option<BTreeMap<String, RawDetail>>,
    #[serde(default)]
    feature_flags: Option<BTreeMap<String, Value>>,
    #[serde(default)]
    feature_flag_payloads: Option<BTreeMap<String, Value>>,
    #[serde(default)]
    errors_while_computing_flags: bool,
    #[serde(default)]
    quota_limited: Option<Value>,
    #[serde(default)]
    request_id: Option<String>,
    #[serde(default)]
    evaluated_at: Option<i64>,
    #[serde(default)]
    minimal_flag_called_events: bool,
}

#[derive(Deserialize)]
struct RawDetail {
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    enabled: bool,
    #[serde(default)]
    variant: Option<String>,
    #[serde(default)]
    failed: bool,
    #[serde(default)]
    reason: Option<FlagReason>,
    #[serde(default)]
    metadata: Option<RawMetadata>,
}

#[derive(Deserialize)]
struct RawMetadata {
    #[serde(default)]
    id: Option<i64>,
    #[serde(default)]
    version: Option<i64>,
    #[serde(default)]
    payload: Option<Value>,
    #[serde(default)]
    has_experiment: Option<bool>,
}

/// Decodes a stored payload: a JSON text is parsed, other text kept as a string, `""` and
/// `null` mean none, and any other JSON value is kept as is.
pub fn decode_remote_payload(raw: Option<Value>) -> Option<Value> {
    match raw? {
        Value::Null => None,
        Value::String(s) if s.is_empty() => None,
        Value::String(s) => Some(serde_json::from_str(&s).unwrap_or(Value::String(s))),
        other => Some(other),
    }
}

impl FlagsResponse {
    /// Parses either answer shape. `quotaLimited` may be a bool or a list.
    pub fn from_slice(body: &[u8]) -> Result<Self, serde_json::Error> {
        let raw: RawResponse = serde_json::from_slice(body)?;
        let quota_limited = match &raw.quota_limited {
            Some(Value::Bool(b)) => *b,
            Some(Value::Array(items)) => items.iter().any(|i| i == "feature_flags"),
            _ => false,
        };
        let mut flags = BTreeMap::new();
        if let Some(v2) = raw.flags {
            for (key, d) in v2 {
                let metadata = d
                    .metadata
                    .map_or_else(FlagMetadata::default, |m| FlagMetadata {
                        id: m.id,
                        version: m.version,
                        payload: decode_remote_payload(m.payload),
                        has_experiment: m.has_experiment,
                    });
                let detail = FlagDetail {
                    key: d.key.unwrap_or_else(|| key.clone()),
                    enabled: d.enabled,
                    variant: d.variant,
                    failed: d.failed,
                    reason: d.reason,
                    metadata,
                };
                flags.insert(key, detail);
            }
        } else if let Some(legacy) = raw.feature_flags {
            let mut payloads = raw.feature_flag_payloads.unwrap_or_default();
            for (key, value) in legacy {
                let (enabled, variant) = match value {
                    Value::String(s) => (true, Some(s)),
                    Value::Bool(b) => (b, None),
                    _ => (false, None),
                };
                let payload = decode_remote_payload(payloads.remove(&key));
                let metadata = FlagMetadata {
                    payload,
                    ..FlagMetadata::default()
                };
                flags.insert(
                    key.clone(),
                    FlagDetail {
                        key,
                        enabled,
                        variant,
                        metadata,
                        ..FlagDetail::default()
                    },
                );
            }
        }
        Ok(FlagsResponse {
            flags,
            errors_while_computing_flags: raw.errors_while_computing_flags,
            quota_limited,
            request_id: raw.request_id,
            evaluated_at: raw.evaluated_at,
            minimal_flag_called_events: raw.minimal_flag_called_events,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_v2_shape() {
        let body = json!({
            "flags": {
                "beta": {"key": "beta", "enabled": true, "variant": "test",
                    "reason": {"code": "condition_match", "condition_index": 0},
                    "metadata": {"id": 42, "version": 7, "payload": "{\"color\":\"blue\"}", "has_experiment": false}},
                "broken": {"key": "broken", "enabled": false, "failed": true,
                    "reason": {"code": "timeout", "condition_index": null}}
            },
            "errorsWhileComputingFlags": true, "requestId": "r1", "evaluatedAt": 1767268800000_i64
        });
        let r = FlagsResponse::from_slice(body.to_string().as_bytes()).unwrap();
        assert_eq!(r.flags["beta"].value(), FlagValue::Variant("test".into()));
        assert_eq!(
            r.flags["beta"].metadata.payload,
            Some(json!({"color": "blue"}))
        );
        assert!(r.flags["broken"].failed);
        assert!(r.errors_while_computing_flags);
        assert!(!r.quota_limited);
        assert_eq!(r.request_id.as_deref(), Some("r1"));
    }

    /// C-FLAG-CACHE.3: the legacy shape (`featureFlags` / `featureFlagPayloads`) becomes the
    /// same model as v2, string payloads decoded from their JSON text.
    #[test]
    fn c_flag_cache_3_legacy_and_v2_answers_normalise_alike() {
        let legacy = json!({
            "featureFlags": {"beta": "test", "on": true, "off": false},
            "featureFlagPayloads": {"beta": "{\"color\":\"blue\"}", "on": "plain"},
            "errorsWhileComputingFlags": false, "requestId": "r2"
        });
        let r = FlagsResponse::from_slice(legacy.to_string().as_bytes()).unwrap();
        assert_eq!(r.flags["beta"].value(), FlagValue::Variant("test".into()));
        assert_eq!(r.flags["on"].value(), FlagValue::Bool(true));
        assert_eq!(r.flags["off"].value(), FlagValue::Bool(false));
        assert_eq!(
            r.flags["beta"].metadata.payload,
            Some(json!({"color": "blue"}))
        );
        assert_eq!(r.flags["on"].metadata.payload, Some(json!("plain")));
        assert_eq!(r.flags["beta"].key, "beta");
        assert_eq!(r.request_id.as_deref(), Some("r2"));
    }

    #[test]
    fn quota_limited_accepts_bool_and_list() {
        let r = FlagsResponse::from_slice(br#"{"flags":{},"quotaLimited":true}"#).unwrap();
        assert!(r.quota_limited);
        let r =
            FlagsResponse::from_slice(br#"{"flags":{},"quotaLimited":["recordings"]}"#).unwrap();
        assert!(!r.quota_limited);
    }

    #[test]
    fn payload_text_that_is_not_json_stays_text() {
        assert_eq!(
            decode_remote_payload(Some(json!("hello"))),
            Some(json!("hello"))
        );
        assert_eq!(decode_remote_payload(Some(json!(""))), None);
        assert_eq!(decode_remote_payload(Some(json!(5))), Some(json!(5)));
    }

    #[test]
    fn request_omits_unknowns() {
        let req = FlagsRequest {
            api_key: "phc".into(),
            distinct_id: "u".into(),
            ..Default::default()
        };
        let v = serde_json::to_value(&req).unwrap();
        assert_eq!(v["groups"], json!({}));
        assert!(v.get("device_id").is_none());
        assert!(v.get("flag_keys_to_evaluate").is_none());
    }
}
