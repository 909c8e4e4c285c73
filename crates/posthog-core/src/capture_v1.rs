//! Capture v1 (`POST /i/v1/analytics/events`, protocol.md §1.4): the event shape, the batch
//! body and the per-event verdicts of the answer.
//!
//! Per event, `$process_person_profile`, `$ignore_sent_at`, `$cookieless_mode` and
//! `$product_tour_id` are lifted out of the properties into `options` (coerced, or dropped
//! when they do not coerce), `$session_id` / `$window_id` become top-level `session_id` /
//! `window_id`, and `$lib` / `$lib_version` are left out (the `PostHog-Sdk-Info` header carries
//! them). The timestamp is written in UTC with three fractional digits.

use std::collections::HashMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;
use uuid::Uuid;

use crate::{Event, EventError, Properties};

/// The endpoint's path.
pub const V1_PATH: &str = "/i/v1/analytics/events";

/// Properties that become `options` (property, option key, is a boolean).
const OPTIONS: &[(&str, &str, bool)] = &[
    ("$process_person_profile", "process_person_profile", true),
    ("$ignore_sent_at", "disable_skew_correction", true),
    ("$cookieless_mode", "cookieless_mode", true),
    ("$product_tour_id", "product_tour_id", false),
];

/// Properties never sent in v1 properties.
const LEFT_OUT: &[&str] = &["$lib", "$lib_version"];

/// A v1 timestamp: UTC, RFC 3339, exactly three fractional digits and `Z`.
pub fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A boolean option's value: a JSON bool, `"true"`/`"1"`/`"false"`/`"0"` in any case, or a
/// number (≠ 0 is true); anything else does not coerce.
fn coerce_bool(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => n.as_f64().map(|f| f != 0.0),
        Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "true" | "1" => Some(true),
            "false" | "0" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// The properties without what v1 moves elsewhere or leaves out.
struct Remaining<'a> {
    properties: &'a Properties,
    moved_session: bool,
    moved_window: bool,
}

impl Serialize for Remaining<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        for (key, value) in self.properties {
            let k = key.as_str();
            let skip = LEFT_OUT.contains(&k)
                || OPTIONS.iter().any(|(p, _, _)| *p == k)
                || (self.moved_session && k == "$session_id")
                || (self.moved_window && k == "$window_id");
            if !skip {
                map.serialize_entry(key, value)?;
            }
        }
        map.end()
    }
}

#[derive(Serialize)]
struct V1Event<'a> {
    event: &'a str,
    uuid: Uuid,
    distinct_id: &'a str,
    timestamp: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    session_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    window_id: Option<&'a str>,
    #[serde(skip_serializing_if = "serde_json::Map::is_empty")]
    options: serde_json::Map<String, Value>,
    properties: Remaining<'a>,
}

/// One event as v1 JSON. An event without a uuid or timestamp gets a new one / now.
pub fn event_json(event: &Event) -> Result<Vec<u8>, EventError> {
    let mut json = Vec::new();
    write_event_json(event, &mut json)?;
    Ok(json)
}

/// [`event_json`], written to `writer` (e.g. straight into a shared buffer).
pub fn write_event_json<W: std::io::Write>(event: &Event, writer: W) -> Result<(), EventError> {
    let props = event.properties();
    let mut options = serde_json::Map::new();
    for (property, option, boolean) in OPTIONS {
        let Some(value) = props.get(*property) else {
            continue;
        };
        let coerced = if *boolean {
            coerce_bool(value).map(Value::Bool)
        } else {
            value.as_str().map(|s| Value::String(s.to_owned()))
        };
        if let Some(coerced) = coerced {
            options.insert((*option).to_owned(), coerced);
        }
    }
    let session_id = props.get("$session_id").and_then(Value::as_str);
    let window_id = props.get("$window_id").and_then(Value::as_str);
    let timestamp = timestamp(event.get_timestamp().unwrap_or_else(Utc::now));
    let body = V1Event {
        event: event.name(),
        uuid: event.get_uuid().unwrap_or_else(crate::ids::new_uuid),
        distinct_id: event.get_distinct_id(),
        timestamp,
        session_id,
        window_id,
        options,
        properties: Remaining {
            properties: props,
            moved_session: session_id.is_some(),
            moved_window: window_id.is_some(),
        },
    };
    serde_json::to_writer(writer, &body).map_err(|e| EventError::Serialize(e.to_string()))
}

/// The batch body around events already written by [`event_json`]: `created_at` is fixed per
/// logical batch (kept on retries); `historical_migration` appears only when true.
pub fn batch_body<E: AsRef<[u8]>>(
    created_at: &str,
    historical_migration: bool,
    events: &[E],
) -> Vec<u8> {
    let size: usize = events.iter().map(|e| e.as_ref().len() + 1).sum();
    let mut out = Vec::with_capacity(size + created_at.len() + 64);
    out.extend_from_slice(b"{\"created_at\":\"");
    out.extend_from_slice(created_at.as_bytes());
    out.extend_from_slice(b"\",");
    if historical_migration {
        out.extend_from_slice(b"\"historical_migration\":true,");
    }
    out.extend_from_slice(b"\"batch\":[");
    for (i, event) in events.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(event.as_ref());
    }
    out.extend_from_slice(b"]}");
    out
}

/// A 2xx answer: a verdict per event uuid.
///
/// ```
/// use posthog_core::capture_v1::{V1Response, Verdict};
/// let uuid = posthog_core::ids::new_uuid();
/// let body = format!(r#"{{"results": {{"{uuid}": {{"result": "retry", "details": "overloaded"}}}}}}"#);
/// let answer: V1Response = serde_json::from_str(&body)?;
/// assert_eq!(answer.verdict(&uuid), Verdict::Retry(Some("overloaded".into())));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct V1Response {
    /// Verdicts by event uuid.
    #[serde(default)]
    pub results: HashMap<String, V1Result>,
}

/// One event's verdict as sent.
///
/// ```
/// let result: posthog_core::capture_v1::V1Result = serde_json::from_str(r#"{"result": "drop", "details": "too large"}"#)?;
/// assert_eq!(result.result, "drop");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct V1Result {
    /// `ok`, `warning`, `drop`, `retry`, …
    pub result: String,
    /// Why, when the server says.
    #[serde(default)]
    pub details: Option<String>,
}

/// What to do with one event after a 2xx answer.
///
/// ```
/// use posthog_core::capture_v1::{V1Response, Verdict};
/// let answer = V1Response::default(); // an event the answer does not name was accepted
/// assert_eq!(answer.verdict(&posthog_core::ids::new_uuid()), Verdict::Accepted);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Stored (`ok`, `warning`), or final for want of a known verdict.
    Accepted,
    /// Rejected for good (`drop`): report it, never resend.
    Dropped(Option<String>),
    /// Not stored (`retry`): resend it on the next attempt.
    Retry(Option<String>),
}

impl V1Response {
    /// The verdict for event `uuid`; a uuid missing from the map, or an unknown result, is
    /// final (accepted).
    pub fn verdict(&self, uuid: &Uuid) -> Verdict {
        let Some(result) = self.results.get(&uuid.to_string()) else {
            return Verdict::Accepted;
        };
        match result.result.as_str() {
            "drop" => Verdict::Dropped(result.details.clone()),
            "retry" => Verdict::Retry(result.details.clone()),
            _ => Verdict::Accepted,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_lifted_and_coerced_and_sdk_properties_left_out() {
        let event = Event::new("order_placed", "user-123")
            .uuid(Uuid::nil())
            .timestamp_rfc3339("2026-03-01T13:00:04.981234+01:00")
            .unwrap()
            .property("amount", 42)
            .property("$process_person_profile", "FALSE")
            .property("$ignore_sent_at", 1)
            .property("$cookieless_mode", "maybe")
            .property("$product_tour_id", 7)
            .property("$session_id", "s-1")
            .property("$window_id", 9)
            .property("$lib", "posthog-rs")
            .property("$lib_version", "0.1.0");
        let json: Value = serde_json::from_slice(&event_json(&event).unwrap()).unwrap();
        assert_eq!(json["timestamp"], "2026-03-01T12:00:04.981Z");
        assert_eq!(
            json["options"],
            serde_json::json!({"process_person_profile": false, "disable_skew_correction": true})
        );
        assert_eq!(json["session_id"], "s-1");
        assert!(
            json.get("window_id").is_none(),
            "not a string: stays a property"
        );
        assert_eq!(
            json["properties"],
            serde_json::json!({"amount": 42, "$window_id": 9})
        );
        let plain = event_json(&Event::new("e", "u")).unwrap();
        let plain: Value = serde_json::from_slice(&plain).unwrap();
        assert!(plain.get("options").is_none());
        assert!(plain["uuid"].as_str().is_some());
    }

    #[test]
    fn batch_body_and_verdicts() {
        let body = batch_body(
            "2026-03-01T12:00:05.120Z",
            false,
            &[b"{\"a\":1}".as_slice()],
        );
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["created_at"], "2026-03-01T12:00:05.120Z");
        assert!(v.get("historical_migration").is_none());
        assert_eq!(v["batch"][0]["a"], 1);
        let with = batch_body("t", true, &[b"{}".as_slice(), b"{}".as_slice()]);
        let v: Value = serde_json::from_slice(&with).unwrap();
        assert_eq!(v["historical_migration"], true);

        let (a, b, c, d) = (
            Uuid::from_u128(1),
            Uuid::from_u128(2),
            Uuid::from_u128(3),
            Uuid::from_u128(4),
        );
        let answer: V1Response = serde_json::from_value(serde_json::json!({"results": {
            a.to_string(): {"result": "ok"},
            b.to_string(): {"result": "retry", "details": "not_persisted"},
            c.to_string(): {"result": "drop", "details": "invalid_options"},
            d.to_string(): {"result": "limited"}
        }}))
        .unwrap();
        assert_eq!(answer.verdict(&a), Verdict::Accepted);
        assert_eq!(
            answer.verdict(&b),
            Verdict::Retry(Some("not_persisted".into()))
        );
        assert_eq!(
            answer.verdict(&c),
            Verdict::Dropped(Some("invalid_options".into()))
        );
        assert_eq!(
            answer.verdict(&d),
            Verdict::Accepted,
            "unknown results are final"
        );
        assert_eq!(
            answer.verdict(&Uuid::from_u128(9)),
            Verdict::Accepted,
            "missing is final"
        );
    }
}
