//! Typed builders for PostHog's LLM analytics events (`$ai_generation`, `$ai_span`,
//! `$ai_trace`, `$ai_embedding`) with PostHog's property names. Each builds an ordinary
//! [`Event`], to send with the client's `capture_ai`.
//!
//! ```
//! use std::time::Duration;
//! use posthog_core::ai::AiEvent;
//! use serde_json::json;
//!
//! let event = AiEvent::generation("user-123", "trace-42", "gpt-4o", "openai")
//!     .input(json!([{"role": "user", "content": "Hi"}]))
//!     .output_choices(json!([{"role": "assistant", "content": "Hello!"}]))
//!     .tokens(12, 3)
//!     .latency(Duration::from_millis(1_420))
//!     .http_status(200)
//!     .into_event();
//! assert_eq!(event.name(), "$ai_generation");
//! assert_eq!(event.properties()["$ai_input_tokens"], 12);
//! assert_eq!(event.properties()["$ai_latency"], 1.42);
//! ```

use std::time::Duration;

use serde_json::Value;

use crate::Event;
use crate::value::PropertyValue;

/// One LLM analytics event being built. The constructors name the kind and set its required
/// properties; the setters add PostHog's optional ones.
///
/// ```
/// use posthog_core::ai::AiEvent;
/// let event: posthog_core::Event = AiEvent::generation("user-123", "trace-1", "gpt-4o-mini", "openai")
///     .tokens(120, 48)
///     .latency(std::time::Duration::from_millis(850))
///     .into();
/// assert_eq!(event.name(), "$ai_generation");
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct AiEvent {
    event: Event,
}

impl AiEvent {
    fn of(name: &str, distinct_id: impl Into<String>, trace_id: impl Into<String>) -> Self {
        Self {
            event: Event::new(name, distinct_id).property("$ai_trace_id", trace_id.into()),
        }
    }

    /// `$ai_generation`: one call to an LLM (`$ai_trace_id`, `$ai_model`, `$ai_provider`).
    pub fn generation(
        distinct_id: impl Into<String>,
        trace_id: impl Into<String>,
        model: impl Into<String>,
        provider: impl Into<String>,
    ) -> Self {
        Self::of("$ai_generation", distinct_id, trace_id)
            .property("$ai_model", model.into())
            .property("$ai_provider", provider.into())
    }

    /// `$ai_embedding`: one embedding call (`$ai_trace_id`, `$ai_model`, `$ai_provider`).
    pub fn embedding(
        distinct_id: impl Into<String>,
        trace_id: impl Into<String>,
        model: impl Into<String>,
        provider: impl Into<String>,
    ) -> Self {
        Self::of("$ai_embedding", distinct_id, trace_id)
            .property("$ai_model", model.into())
            .property("$ai_provider", provider.into())
    }

    /// `$ai_span`: one unit of work inside a trace (a tool call, a retrieval step).
    pub fn span(distinct_id: impl Into<String>, trace_id: impl Into<String>) -> Self {
        Self::of("$ai_span", distinct_id, trace_id)
    }

    /// `$ai_trace`: the trace itself (optional: spans sharing `$ai_trace_id` are grouped
    /// anyway).
    pub fn trace(distinct_id: impl Into<String>, trace_id: impl Into<String>) -> Self {
        Self::of("$ai_trace", distinct_id, trace_id)
    }

    fn property(mut self, key: &str, value: impl PropertyValue) -> Self {
        self.event = self.event.property(key, value);
        self
    }

    /// `$ai_session_id`: groups related traces (a conversation, a workflow).
    pub fn session_id(self, id: impl Into<String>) -> Self {
        self.property("$ai_session_id", id.into())
    }

    /// `$ai_span_id`: this event's own id in the trace tree.
    pub fn span_id(self, id: impl Into<String>) -> Self {
        self.property("$ai_span_id", id.into())
    }

    /// `$ai_span_name`: its name (e.g. `summarize_text`).
    pub fn span_name(self, name: impl Into<String>) -> Self {
        self.property("$ai_span_name", name.into())
    }

    /// `$ai_parent_id`: the span (or trace) this one belongs under.
    pub fn parent_id(self, id: impl Into<String>) -> Self {
        self.property("$ai_parent_id", id.into())
    }

    /// `$ai_input`: the messages sent (a JSON array of `{role, content}`).
    pub fn input(self, messages: Value) -> Self {
        self.property("$ai_input", messages)
    }

    /// `$ai_output_choices`: the choices returned (a JSON array of `{role, content}`).
    pub fn output_choices(self, choices: Value) -> Self {
        self.property("$ai_output_choices", choices)
    }

    /// `$ai_input_state` / `$ai_output_state`: what a span or trace started and ended with.
    pub fn state(self, input: Value, output: Value) -> Self {
        self.property("$ai_input_state", input)
            .property("$ai_output_state", output)
    }

    /// `$ai_input_tokens` and `$ai_output_tokens`.
    pub fn tokens(self, input: u64, output: u64) -> Self {
        self.property("$ai_input_tokens", input)
            .property("$ai_output_tokens", output)
    }

    /// `$ai_latency`, in seconds.
    pub fn latency(self, latency: Duration) -> Self {
        self.property("$ai_latency", latency.as_secs_f64())
    }

    /// `$ai_stream` and `$ai_time_to_first_token` (seconds), for a streamed answer.
    pub fn streamed(self, time_to_first_token: Duration) -> Self {
        self.property("$ai_stream", true)
            .property("$ai_time_to_first_token", time_to_first_token.as_secs_f64())
    }

    /// `$ai_tools`: the tools the model could call.
    pub fn tools(self, tools: Value) -> Self {
        self.property("$ai_tools", tools)
    }

    /// `$ai_http_status`: the provider's HTTP status.
    pub fn http_status(self, status: u16) -> Self {
        self.property("$ai_http_status", status)
    }

    /// `$ai_base_url` (e.g. `https://api.openai.com/v1`).
    pub fn base_url(self, url: impl Into<String>) -> Self {
        self.property("$ai_base_url", url.into())
    }

    /// `$ai_request_url`: the full URL of the request.
    pub fn request_url(self, url: impl Into<String>) -> Self {
        self.property("$ai_request_url", url.into())
    }

    /// `$ai_is_error: true` and `$ai_error` (a message or an object).
    pub fn error(self, error: impl PropertyValue) -> Self {
        self.property("$ai_is_error", true)
            .property("$ai_error", error)
    }

    /// `$ai_input_cost_usd`, `$ai_output_cost_usd` and their sum as `$ai_total_cost_usd`
    /// (PostHog computes costs from tokens when these are absent).
    pub fn costs_usd(self, input: f64, output: f64) -> Self {
        self.property("$ai_input_cost_usd", input)
            .property("$ai_output_cost_usd", output)
            .property("$ai_total_cost_usd", input + output)
    }

    /// Any other property (`$ai_*` or your own).
    pub fn with(self, key: impl Into<String>, value: impl PropertyValue) -> Self {
        Self {
            event: self.event.property(key, value),
        }
    }

    /// The event, for `capture_ai`.
    pub fn into_event(self) -> Event {
        self.event
    }
}

impl From<AiEvent> for Event {
    fn from(ai: AiEvent) -> Event {
        ai.event
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn each_kind_has_its_name_and_required_properties() {
        let cases = [
            (
                AiEvent::generation("u", "t", "m", "p"),
                "$ai_generation",
                true,
            ),
            (
                AiEvent::embedding("u", "t", "m", "p"),
                "$ai_embedding",
                true,
            ),
            (AiEvent::span("u", "t"), "$ai_span", false),
            (AiEvent::trace("u", "t"), "$ai_trace", false),
        ];
        for (ai, name, has_model) in cases {
            let event = ai.into_event();
            assert_eq!(event.name(), name);
            assert_eq!(event.properties()["$ai_trace_id"], "t");
            assert_eq!(
                event.properties().contains_key("$ai_model"),
                has_model,
                "{name}"
            );
        }
    }

    #[test]
    fn setters_use_posthogs_property_names() {
        let event: Event = AiEvent::span("u", "t")
            .session_id("s")
            .span_id("sp")
            .span_name("retrieve")
            .parent_id("t")
            .state(json!({"q": 1}), json!({"docs": 3}))
            .streamed(Duration::from_millis(250))
            .error("timeout")
            .costs_usd(0.25, 0.5)
            .base_url("https://api.example/v1")
            .request_url("https://api.example/v1/chat")
            .tools(json!([]))
            .with("team", "search")
            .into();
        let p = event.properties();
        for (key, value) in [
            ("$ai_session_id", json!("s")),
            ("$ai_span_id", json!("sp")),
            ("$ai_span_name", json!("retrieve")),
            ("$ai_parent_id", json!("t")),
            ("$ai_input_state", json!({"q": 1})),
            ("$ai_output_state", json!({"docs": 3})),
            ("$ai_stream", json!(true)),
            ("$ai_time_to_first_token", json!(0.25)),
            ("$ai_is_error", json!(true)),
            ("$ai_error", json!("timeout")),
            ("$ai_total_cost_usd", json!(0.75)),
            ("$ai_base_url", json!("https://api.example/v1")),
            ("$ai_request_url", json!("https://api.example/v1/chat")),
            ("$ai_tools", json!([])),
            ("team", json!("search")),
        ] {
            assert_eq!(p[key], value, "{key}");
        }
    }
}
