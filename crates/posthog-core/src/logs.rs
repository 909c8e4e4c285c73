//! PostHog Logs on the wire (C-LOGS): OTLP/HTTP JSON log records, their severities and
//! AnyValue encoding, and the one-resource, one-scope envelope a request carries. No
//! OpenTelemetry runtime: the JSON is built here.

use serde_json::{Map, Value, json};

/// A log's level.
///
/// ```
/// use posthog_core::logs::LogLevel;
/// assert_eq!(LogLevel::from_name("warning"), LogLevel::Warn);
/// assert_eq!((LogLevel::Warn.severity_number(), LogLevel::Warn.severity_text()), (13, "WARN"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum LogLevel {
    /// Severity 1.
    Trace,
    /// Severity 5.
    Debug,
    /// Severity 9 (the default).
    #[default]
    Info,
    /// Severity 13.
    Warn,
    /// Severity 17.
    Error,
    /// Severity 21.
    Fatal,
}

impl LogLevel {
    /// OTLP's severity number (C-LOGS.3).
    pub fn severity_number(self) -> u8 {
        match self {
            LogLevel::Trace => 1,
            LogLevel::Debug => 5,
            LogLevel::Info => 9,
            LogLevel::Warn => 13,
            LogLevel::Error => 17,
            LogLevel::Fatal => 21,
        }
    }

    /// The severity text, upper case.
    pub fn severity_text(self) -> &'static str {
        match self {
            LogLevel::Trace => "TRACE",
            LogLevel::Debug => "DEBUG",
            LogLevel::Info => "INFO",
            LogLevel::Warn => "WARN",
            LogLevel::Error => "ERROR",
            LogLevel::Fatal => "FATAL",
        }
    }

    /// A level by name, case-insensitively (`warning` and `critical` too); unknown names are
    /// `Info` (C-LOGS.3).
    pub fn from_name(name: &str) -> Self {
        match name.trim().to_ascii_lowercase().as_str() {
            "trace" => LogLevel::Trace,
            "debug" => LogLevel::Debug,
            "warn" | "warning" => LogLevel::Warn,
            "error" => LogLevel::Error,
            "fatal" | "critical" => LogLevel::Fatal,
            _ => LogLevel::Info,
        }
    }
}

/// An OTLP AnyValue for a JSON value (C-LOGS.5): strings, booleans, integers (as decimal
/// strings), floats (non-finite ones as the strings `NaN`, `Infinity`, `-Infinity`), arrays
/// and maps recursively. `None` for `null`, whose key is then left out.
pub fn any_value(value: &Value) -> Option<Value> {
    Some(match value {
        Value::Null => return None,
        Value::Bool(b) => json!({"boolValue": b}),
        Value::String(s) => json!({"stringValue": s}),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => json!({"intValue": i.to_string()}),
            // Past i64 (OTLP's `intValue`): the decimal text (C-TRACES.11).
            (_, Some(u), _) => json!({"stringValue": u.to_string()}),
            (_, _, Some(f)) => double(f),
            _ => json!({"stringValue": n.to_string()}),
        },
        Value::Array(items) => json!({"arrayValue": {"values":
            items.iter().filter_map(any_value).collect::<Vec<_>>()}}),
        Value::Object(map) => json!({"kvlistValue": {"values": key_values(map)}}),
    })
}

/// A float as an AnyValue: `doubleValue`, or a string for NaN and the infinities.
pub fn double(f: f64) -> Value {
    if f.is_nan() {
        json!({"stringValue": "NaN"})
    } else if f.is_infinite() {
        json!({"stringValue": if f > 0.0 { "Infinity" } else { "-Infinity" }})
    } else {
        json!({"doubleValue": f})
    }
}

/// A map as OTLP key/value pairs, keys in order, null values left out.
pub fn key_values(map: &Map<String, Value>) -> Vec<Value> {
    map.iter()
        .filter_map(|(k, v)| Some(json!({"key": k, "value": any_value(v)?})))
        .collect()
}

/// One log record as it was captured.
///
/// ```
/// use posthog_core::logs::{LogLevel, LogRecord};
/// let record = LogRecord {
///     body: "payment failed".into(),
///     level: LogLevel::Error,
///     attributes: serde_json::Map::new(),
///     time_unix_nano: 1_764_800_000_000_000_000,
///     trace_id: None,
///     span_id: None,
///     trace_flags: None,
/// };
/// assert_eq!(record.to_otlp()["severityText"], "ERROR");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct LogRecord {
    /// The message.
    pub body: String,
    /// The level.
    pub level: LogLevel,
    /// Attributes (the caller's and the frozen context's; the caller's win).
    pub attributes: Map<String, Value>,
    /// When it was captured, in nanoseconds since the epoch.
    pub time_unix_nano: u128,
    /// The trace id (32 hex digits), if known.
    pub trace_id: Option<String>,
    /// The span id (16 hex digits), if known.
    pub span_id: Option<String>,
    /// The trace flags, if given (`0` kept).
    pub trace_flags: Option<u32>,
}

impl LogRecord {
    /// The OTLP `logRecord` JSON (C-LOGS.4): times as decimal strings (observed = time),
    /// severity number and text, the body as an AnyValue, attributes, and `traceId`, `spanId`
    /// and `flags` only when present.
    pub fn to_otlp(&self) -> Value {
        let time = self.time_unix_nano.to_string();
        let mut record = json!({
            "timeUnixNano": time,
            "observedTimeUnixNano": time,
            "severityNumber": self.level.severity_number(),
            "severityText": self.level.severity_text(),
            "body": {"stringValue": self.body},
            "attributes": key_values(&self.attributes),
        });
        if let Some(trace_id) = &self.trace_id {
            record["traceId"] = json!(trace_id);
        }
        if let Some(span_id) = &self.span_id {
            record["spanId"] = json!(span_id);
        }
        if let Some(flags) = self.trace_flags {
            record["flags"] = json!(flags);
        }
        record
    }
}

impl LogRecord {
    /// [`LogRecord::to_otlp`] written straight to bytes, without building a JSON tree (the
    /// same document, key for key).
    pub fn write_otlp(&self, out: &mut Vec<u8>) {
        let time = self.time_unix_nano.to_string();
        out.extend_from_slice(b"{\"timeUnixNano\":\"");
        out.extend_from_slice(time.as_bytes());
        out.extend_from_slice(b"\",\"observedTimeUnixNano\":\"");
        out.extend_from_slice(time.as_bytes());
        out.extend_from_slice(b"\",\"severityNumber\":");
        out.extend_from_slice(self.level.severity_number().to_string().as_bytes());
        out.extend_from_slice(b",\"severityText\":\"");
        out.extend_from_slice(self.level.severity_text().as_bytes());
        out.extend_from_slice(b"\",\"body\":{\"stringValue\":");
        write_str(out, &self.body);
        out.extend_from_slice(b"},\"attributes\":");
        write_key_values(out, &self.attributes);
        for (key, value) in [("traceId", &self.trace_id), ("spanId", &self.span_id)] {
            if let Some(value) = value {
                out.extend_from_slice(b",\"");
                out.extend_from_slice(key.as_bytes());
                out.extend_from_slice(b"\":");
                write_str(out, value);
            }
        }
        if let Some(flags) = self.trace_flags {
            out.extend_from_slice(b",\"flags\":");
            out.extend_from_slice(flags.to_string().as_bytes());
        }
        out.push(b'}');
    }
}

/// A JSON string, escaped.
pub(crate) fn write_str(out: &mut Vec<u8>, text: &str) {
    // Writing a `&str` into a `Vec` cannot fail.
    let _ = serde_json::to_writer(&mut *out, text);
}

/// `[{"key":…,"value":…},…]`, null values left out.
pub(crate) fn write_key_values(out: &mut Vec<u8>, map: &Map<String, Value>) {
    out.push(b'[');
    let mut first = true;
    for (key, value) in map {
        if value.is_null() {
            continue;
        }
        if !first {
            out.push(b',');
        }
        first = false;
        out.extend_from_slice(b"{\"key\":");
        write_str(out, key);
        out.extend_from_slice(b",\"value\":");
        write_any(out, value);
        out.push(b'}');
    }
    out.push(b']');
}

/// An AnyValue for a non-null JSON value (see [`any_value`]).
fn write_any(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Null => out.extend_from_slice(b"{}"),
        Value::Bool(b) => out.extend_from_slice(if *b {
            b"{\"boolValue\":true}"
        } else {
            b"{\"boolValue\":false}"
        }),
        Value::String(s) => {
            out.extend_from_slice(b"{\"stringValue\":");
            write_str(out, s);
            out.push(b'}');
        }
        Value::Number(_) | Value::Array(_) => {
            let encoded = any_value(value).unwrap_or(Value::Null);
            let _ = serde_json::to_writer(&mut *out, &encoded);
        }
        Value::Object(map) => {
            out.extend_from_slice(b"{\"kvlistValue\":{\"values\":");
            write_key_values(out, map);
            out.extend_from_slice(b"}}");
        }
    }
}

/// The request body for log records already encoded (each a `logRecord` JSON): one
/// `resourceLogs` with `resource_attributes`, one `scopeLogs` with the SDK's scope (C-LOGS.9).
pub fn envelope<'a>(
    resource_attributes: &Map<String, Value>,
    scope: (&str, &str),
    records: impl Iterator<Item = &'a [u8]>,
) -> Vec<u8> {
    otlp_envelope(
        ("resourceLogs", "scopeLogs", "logRecords"),
        resource_attributes,
        scope,
        records,
    )
}

/// An OTLP export body: one resource with `resource_attributes`, one scope, the items already
/// encoded. `keys` names the signal's three levels (`resourceLogs`/`scopeLogs`/`logRecords`,
/// `resourceSpans`/`scopeSpans`/`spans`).
pub(crate) fn otlp_envelope<'a>(
    (resources, scopes, items_key): (&str, &str, &str),
    resource_attributes: &Map<String, Value>,
    (scope_name, scope_version): (&str, &str),
    items: impl Iterator<Item = &'a [u8]>,
) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(
        format!("{{\"{resources}\":[{{\"resource\":{{\"attributes\":").as_bytes(),
    );
    write_key_values(&mut out, resource_attributes);
    out.extend_from_slice(format!("}},\"{scopes}\":[{{\"scope\":{{\"name\":").as_bytes());
    write_str(&mut out, scope_name);
    out.extend_from_slice(b",\"version\":");
    write_str(&mut out, scope_version);
    out.extend_from_slice(format!("}},\"{items_key}\":[").as_bytes());
    for (i, item) in items.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(item);
    }
    out.extend_from_slice(b"]}]}]}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// C-LOGS.3: severities, text in upper case, unknown names are info.
    #[test]
    fn c_logs_3_severities() {
        let numbers: Vec<u8> = ["trace", "debug", "info", "warn", "error", "fatal", "loud"]
            .iter()
            .map(|n| LogLevel::from_name(n).severity_number())
            .collect();
        assert_eq!(numbers, [1, 5, 9, 13, 17, 21, 9]);
        assert_eq!(LogLevel::from_name("WARNING").severity_text(), "WARN");
        assert_eq!(LogLevel::default(), LogLevel::Info);
    }

    /// C-LOGS.5: AnyValue encoding.
    #[test]
    fn c_logs_5_any_values() {
        assert_eq!(any_value(&json!(4999)), Some(json!({"intValue": "4999"})));
        assert_eq!(
            any_value(&json!({"inner": 1})),
            Some(
                json!({"kvlistValue": {"values": [{"key": "inner", "value": {"intValue": "1"}}]}})
            )
        );
        assert_eq!(double(f64::NAN), json!({"stringValue": "NaN"}));
        assert_eq!(
            double(f64::NEG_INFINITY),
            json!({"stringValue": "-Infinity"})
        );
        assert_eq!(any_value(&json!(1.5)), Some(json!({"doubleValue": 1.5})));
        assert_eq!(any_value(&json!(true)), Some(json!({"boolValue": true})));
        assert_eq!(
            any_value(&json!(["a", null])),
            Some(json!({"arrayValue": {"values": [{"stringValue": "a"}]}}))
        );
        let map: Map<String, Value> = serde_json::from_value(json!({"a": null, "b": "x"})).unwrap();
        assert_eq!(
            key_values(&map),
            [json!({"key": "b", "value": {"stringValue": "x"}})]
        );
    }

    /// C-LOGS.4: the record's fields, optional ones only when present, `flags: 0` kept.
    #[test]
    fn c_logs_4_record_shape() {
        let mut record = LogRecord {
            body: "checkout failed".into(),
            level: LogLevel::Error,
            attributes: Map::new(),
            time_unix_nano: 1_700_000_000_123_000_000,
            trace_id: None,
            span_id: None,
            trace_flags: Some(0),
        };
        let otlp = record.to_otlp();
        assert_eq!(otlp["timeUnixNano"], "1700000000123000000");
        assert_eq!(otlp["observedTimeUnixNano"], otlp["timeUnixNano"]);
        assert_eq!(
            (otlp["severityNumber"].clone(), otlp["severityText"].clone()),
            (json!(17), json!("ERROR"))
        );
        assert_eq!(otlp["flags"], 0);
        assert!(otlp.get("traceId").is_none() && otlp.get("spanId").is_none());
        record.trace_flags = None;
        assert!(record.to_otlp().get("flags").is_none());
    }

    /// The direct writer produces the same document as `to_otlp`.
    #[test]
    fn write_otlp_matches_to_otlp() {
        let attributes: Map<String, Value> = serde_json::from_value(json!({
            "s": "quote \" and \n", "i": -5, "u": 7, "f": 1.25, "b": false, "n": null,
            "a": [1, "x", null, {"k": true}], "o": {"inner": {"deep": 2}}
        }))
        .unwrap();
        for (trace, flags) in [(None, None), (Some("4bf9"), Some(1))] {
            let record = LogRecord {
                body: "ünïcode \"body\"".into(),
                level: LogLevel::Warn,
                attributes: attributes.clone(),
                time_unix_nano: 1_700_000_000_000_000_001,
                trace_id: trace.map(str::to_owned),
                span_id: trace.map(|_| "00f0".to_owned()),
                trace_flags: flags,
            };
            let mut out = Vec::new();
            record.write_otlp(&mut out);
            let written: Value = serde_json::from_slice(&out).unwrap();
            assert_eq!(written, record.to_otlp());
        }
    }

    /// C-LOGS.9: one resource, one scope, N records.
    #[test]
    fn c_logs_9_one_envelope() {
        let attrs: Map<String, Value> =
            serde_json::from_value(json!({"service.name": "api"})).unwrap();
        let records = [br#"{"a":1}"#.as_slice(), br#"{"b":2}"#.as_slice()];
        let body: Value = serde_json::from_slice(&envelope(
            &attrs,
            ("posthog-rust", "0.1.0"),
            records.into_iter(),
        ))
        .unwrap();
        let rl = &body["resourceLogs"];
        assert_eq!(rl.as_array().unwrap().len(), 1);
        assert_eq!(rl[0]["scopeLogs"].as_array().unwrap().len(), 1);
        assert_eq!(
            rl[0]["scopeLogs"][0]["logRecords"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
        assert_eq!(rl[0]["scopeLogs"][0]["scope"]["name"], "posthog-rust");
        assert_eq!(rl[0]["resource"]["attributes"][0]["key"], "service.name");
    }
}
