//! PostHog traces on the wire (C-TRACES): OTLP/HTTP JSON spans, W3C `traceparent`, and the
//! one-resource, one-scope export body. No OpenTelemetry runtime: the JSON is built here.

use serde_json::{Map, Value};

use crate::logs::{write_key_values, write_str};

/// A span's kind (C-TRACES.8; OTLP numbers).
///
/// ```
/// use posthog_core::traces::SpanKind;
/// assert_eq!(SpanKind::Server.otlp(), 2); // OTLP's SPAN_KIND_SERVER
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SpanKind {
    /// 1, the default.
    #[default]
    Internal,
    /// 2: handles a request.
    Server,
    /// 3: makes a request.
    Client,
    /// 4: sends a message.
    Producer,
    /// 5: receives a message.
    Consumer,
}

impl SpanKind {
    /// The OTLP number.
    pub fn otlp(self) -> u8 {
        match self {
            SpanKind::Internal => 1,
            SpanKind::Server => 2,
            SpanKind::Client => 3,
            SpanKind::Producer => 4,
            SpanKind::Consumer => 5,
        }
    }
}

/// A span's status (C-TRACES.8): unset (0), ok (1) or error (2) with a message.
///
/// ```
/// use posthog_core::traces::SpanStatus;
/// let status = SpanStatus::Error("card declined".into());
/// assert_ne!(status, SpanStatus::Ok);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum SpanStatus {
    /// Not set.
    #[default]
    Unset,
    /// Succeeded.
    Ok,
    /// Failed, with a message.
    Error(String),
}

/// An event inside a span.
///
/// ```
/// use posthog_core::traces::{SpanEvent, SpanKind, SpanRecord, SpanStatus};
/// let span = SpanRecord {
///     trace_id: [7; 16],
///     span_id: [9; 8],
///     parent_span_id: None,
///     trace_state: None,
///     name: "charge card".into(),
///     kind: SpanKind::Client,
///     start_unix_nano: 1_000,
///     end_unix_nano: 2_000,
///     attributes: serde_json::Map::new(),
///     events: vec![SpanEvent { name: "retry".into(), time_unix_nano: 1_500, attributes: serde_json::Map::new() }],
///     status: SpanStatus::Error("declined".into()),
///     dropped_attributes: 0,
///     dropped_events: 0,
/// };
/// let mut otlp = Vec::new();
/// span.write_otlp(&mut otlp);
/// assert_eq!(span.events[0].name, "retry");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct SpanEvent {
    /// Its name.
    pub name: String,
    /// When, in nanoseconds since the epoch.
    pub time_unix_nano: u64,
    /// Its attributes.
    pub attributes: Map<String, Value>,
}

/// A finished span.
///
/// ```
/// use posthog_core::traces::{SpanEvent, SpanKind, SpanRecord, SpanStatus};
/// let span = SpanRecord {
///     trace_id: [7; 16],
///     span_id: [9; 8],
///     parent_span_id: None,
///     trace_state: None,
///     name: "charge card".into(),
///     kind: SpanKind::Client,
///     start_unix_nano: 1_000,
///     end_unix_nano: 2_000,
///     attributes: serde_json::Map::new(),
///     events: vec![SpanEvent { name: "retry".into(), time_unix_nano: 1_500, attributes: serde_json::Map::new() }],
///     status: SpanStatus::Error("declined".into()),
///     dropped_attributes: 0,
///     dropped_events: 0,
/// };
/// let mut otlp = Vec::new();
/// span.write_otlp(&mut otlp);
/// assert!(String::from_utf8(otlp).unwrap().contains("charge card"));
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SpanRecord {
    /// 16 bytes, never all zero.
    pub trace_id: [u8; 16],
    /// 8 bytes, never all zero.
    pub span_id: [u8; 8],
    /// The parent's span id.
    pub parent_span_id: Option<[u8; 8]>,
    /// The W3C `tracestate`, verbatim.
    pub trace_state: Option<String>,
    /// The name.
    pub name: String,
    /// The kind.
    pub kind: SpanKind,
    /// Start, nanoseconds since the epoch.
    pub start_unix_nano: u64,
    /// End, nanoseconds since the epoch (never before the start).
    pub end_unix_nano: u64,
    /// Attributes.
    pub attributes: Map<String, Value>,
    /// Events.
    pub events: Vec<SpanEvent>,
    /// Status.
    pub status: SpanStatus,
    /// Attributes over the cap, not sent.
    pub dropped_attributes: u32,
    /// Events over the cap, not sent.
    pub dropped_events: u32,
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 15)] as char);
    }
    out
}

fn unhex<const N: usize>(text: &str) -> Option<[u8; N]> {
    if text.len() != N * 2
        || !text
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    {
        return None;
    }
    let mut out = [0u8; N];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[i * 2..i * 2 + 2], 16).ok()?;
    }
    Some(out)
}

/// `00-<trace id>-<span id>-01` (C-TRACES.7).
pub fn traceparent(trace_id: &[u8; 16], span_id: &[u8; 8]) -> String {
    format!("00-{}-{}-01", hex(trace_id), hex(span_id))
}

/// The trace id and parent span id of a W3C `traceparent`; `None` when it is not valid
/// (version `ff`, wrong lengths or characters, all-zero ids). Flags `00` still continue the
/// trace.
pub fn parse_traceparent(text: &str) -> Option<([u8; 16], [u8; 8])> {
    let mut parts = text.trim().split('-');
    let (version, trace, span, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if version.len() != 2
        || version == "ff"
        || unhex::<1>(version).is_none()
        || unhex::<1>(flags).is_none()
    {
        return None;
    }
    if version == "00" && parts.next().is_some() {
        return None;
    }
    let (trace, span) = (unhex::<16>(trace)?, unhex::<8>(span)?);
    (trace != [0; 16] && span != [0; 8]).then_some((trace, span))
}

/// Whether a W3C `tracestate` is acceptable to keep: at most 32 comma-separated
/// `key=value` members of printable ASCII, 512 characters in all.
pub fn valid_tracestate(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 512
        && text.split(',').count() <= 32
        && text.split(',').all(|member| {
            let member = member.trim();
            member.is_empty()
                || member.split_once('=').is_some_and(|(k, v)| {
                    !k.is_empty()
                        && !v.is_empty()
                        && member.bytes().all(|b| (0x20..0x7f).contains(&b))
                })
        })
}

impl SpanRecord {
    /// The OTLP `span` JSON (C-TRACES.8), written straight to bytes.
    pub fn write_otlp(&self, out: &mut Vec<u8>) {
        let push = |out: &mut Vec<u8>, s: &str| out.extend_from_slice(s.as_bytes());
        push(out, "{\"traceId\":\"");
        push(out, &hex(&self.trace_id));
        push(out, "\",\"spanId\":\"");
        push(out, &hex(&self.span_id));
        push(out, "\"");
        if let Some(parent) = &self.parent_span_id {
            push(out, ",\"parentSpanId\":\"");
            push(out, &hex(parent));
            push(out, "\"");
        }
        if let Some(state) = &self.trace_state {
            push(out, ",\"traceState\":");
            write_str(out, state);
        }
        push(out, ",\"name\":");
        write_str(out, &self.name);
        push(
            out,
            &format!(
                ",\"kind\":{},\"startTimeUnixNano\":\"{}\",\"endTimeUnixNano\":\"{}\",\"attributes\":",
                self.kind.otlp(),
                self.start_unix_nano,
                self.end_unix_nano
            ),
        );
        write_key_values(out, &self.attributes);
        push(out, ",\"events\":[");
        for (i, event) in self.events.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            push(out, "{\"name\":");
            write_str(out, &event.name);
            push(
                out,
                &format!(
                    ",\"timeUnixNano\":\"{}\",\"attributes\":",
                    event.time_unix_nano
                ),
            );
            write_key_values(out, &event.attributes);
            out.push(b'}');
        }
        push(out, "],\"status\":");
        match &self.status {
            SpanStatus::Unset => push(out, "{\"code\":0}"),
            SpanStatus::Ok => push(out, "{\"code\":1}"),
            SpanStatus::Error(message) => {
                push(out, "{\"code\":2,\"message\":");
                write_str(out, message);
                out.push(b'}');
            }
        }
        if self.dropped_attributes > 0 {
            push(
                out,
                &format!(",\"droppedAttributesCount\":{}", self.dropped_attributes),
            );
        }
        if self.dropped_events > 0 {
            push(
                out,
                &format!(",\"droppedEventsCount\":{}", self.dropped_events),
            );
        }
        push(out, ",\"flags\":1}");
    }
}

/// The export body for spans already encoded: one `resourceSpans` → one `scopeSpans` → the
/// spans (C-TRACES.14).
pub fn envelope<'a>(
    resource_attributes: &Map<String, Value>,
    scope: (&str, &str),
    spans: impl Iterator<Item = &'a [u8]>,
) -> Vec<u8> {
    crate::logs::otlp_envelope(
        ("resourceSpans", "scopeSpans", "spans"),
        resource_attributes,
        scope,
        spans,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// C-TRACES.7: traceparent out and in; invalid ones refused; flags 00 still continue.
    #[test]
    fn c_traces_7_traceparent() {
        let (trace, span) = ([0xab; 16], [0x01; 8]);
        let text = traceparent(&trace, &span);
        assert_eq!(
            text,
            format!("00-{}-{}-01", "ab".repeat(16), "01".repeat(8))
        );
        assert_eq!(parse_traceparent(&text), Some((trace, span)));
        let unsampled = format!("00-{}-{}-00", "ab".repeat(16), "01".repeat(8));
        assert_eq!(parse_traceparent(&unsampled), Some((trace, span)));
        for bad in [
            "garbage",
            &format!("ff-{}-{}-01", "ab".repeat(16), "01".repeat(8)),
            &format!("00-{}-{}-01", "00".repeat(16), "01".repeat(8)),
            &format!("00-{}-{}-01", "AB".repeat(16), "01".repeat(8)),
            &format!("00-{}-{}-01", "ab".repeat(15), "01".repeat(8)),
        ] {
            assert_eq!(parse_traceparent(bad), None, "{bad}");
        }
        assert!(valid_tracestate("vendor=abc,other=1"));
        assert!(!valid_tracestate("no-equals"));
    }

    /// C-TRACES.8/.14: the span record and the export body.
    #[test]
    fn c_traces_8_span_record() {
        let record = SpanRecord {
            trace_id: [1; 16],
            span_id: [2; 8],
            parent_span_id: Some([3; 8]),
            trace_state: Some("v=1".into()),
            name: "GET /orders/{id}".into(),
            kind: SpanKind::Server,
            start_unix_nano: 10,
            end_unix_nano: 20,
            attributes: serde_json::from_value(json!({"n": 1})).unwrap(),
            events: vec![SpanEvent {
                name: "exception".into(),
                time_unix_nano: 15,
                attributes: serde_json::from_value(json!({"exception.type": "E"})).unwrap(),
            }],
            status: SpanStatus::Error("boom".into()),
            dropped_attributes: 2,
            dropped_events: 0,
        };
        let mut out = Vec::new();
        record.write_otlp(&mut out);
        let span: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(span["traceId"], "01".repeat(16));
        assert_eq!(span["parentSpanId"], "03".repeat(8));
        assert_eq!(span["traceState"], "v=1");
        assert_eq!(
            (span["kind"].clone(), span["startTimeUnixNano"].clone()),
            (json!(2), json!("10"))
        );
        assert_eq!(span["status"], json!({"code": 2, "message": "boom"}));
        assert_eq!(span["events"][0]["timeUnixNano"], "15");
        assert_eq!(span["droppedAttributesCount"], 2);
        assert!(span.get("droppedEventsCount").is_none());
        let body: Value =
            serde_json::from_slice(&envelope(&Map::new(), ("s", "1"), [&out[..]].into_iter()))
                .unwrap();
        assert_eq!(body["resourceSpans"][0]["scopeSpans"][0]["spans"][0], span);
    }
}
