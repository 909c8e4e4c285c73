//! The `/batch/` request body (protocol.md §1.2).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::Event;

/// The `/batch/` envelope: project token, events, and the send time used for clock-skew
/// correction. `sent_at` is set per attempt, just before the request is written.
///
/// ```
/// use posthog_core::{BatchRequest, Event};
/// let events = [Event::new("e", "u")];
/// let body = BatchRequest::new("phc_x", &events, chrono::Utc::now());
/// let json = serde_json::to_value(&body).unwrap();
/// assert_eq!(json["api_key"], "phc_x");
/// assert_eq!(json["historical_migration"], false);
/// ```
#[derive(Debug, Clone, Serialize)]
pub struct BatchRequest<'a> {
    /// The project token.
    pub api_key: &'a str,
    /// `true` routes the batch to the historical-import pipeline.
    pub historical_migration: bool,
    /// When the request left the client.
    #[serde(serialize_with = "serialize_sent_at")]
    pub sent_at: DateTime<Utc>,
    /// The events.
    pub batch: &'a [Event],
}

impl<'a> BatchRequest<'a> {
    /// A realtime batch sent at `sent_at`.
    pub fn new(api_key: &'a str, batch: &'a [Event], sent_at: DateTime<Utc>) -> Self {
        Self {
            api_key,
            historical_migration: false,
            sent_at,
            batch,
        }
    }
}

/// A `/batch/` body as a server receives it (used by test servers and tools).
///
/// ```
/// // A `/batch/` body as a server (or a test) reads it.
/// let body = r#"{"api_key": "phc_x", "batch": [{"event": "order_placed", "distinct_id": "user-1", "properties": {}}]}"#;
/// let received: posthog_core::ReceivedBatch = serde_json::from_str(body)?;
/// assert_eq!(received.batch[0].name(), "order_placed");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ReceivedBatch {
    /// The project token.
    pub api_key: String,
    /// Historical import flag (absent = false).
    #[serde(default)]
    pub historical_migration: bool,
    /// The client's send time, as text.
    #[serde(default)]
    pub sent_at: Option<String>,
    /// The events.
    pub batch: Vec<Event>,
}

fn serialize_sent_at<S: serde::Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&crate::time::format_timestamp(t))
}
