//! One chat completion as a `$ai_generation` event: PostHog's property names, read from the
//! request and the response as JSON (so every field async-openai adds is seen the same way).

use std::time::Duration;

use posthog_core::Event;
use posthog_core::ai::AiEvent;
use serde_json::{Map, Value, json};

use super::{AiCall, media};

/// The request parameters PostHog records as `$ai_model_parameters`.
const MODEL_PARAMETERS: [&str; 9] = [
    "temperature",
    "max_tokens",
    "max_completion_tokens",
    "top_p",
    "frequency_penalty",
    "presence_penalty",
    "n",
    "stop",
    "stream",
];

/// How the call ended.
pub(super) enum Outcome<'a> {
    /// The provider answered with this completion.
    Answered(&'a Value),
    /// It failed: the provider's HTTP status (0 when there was none) and `$ai_error`.
    Failed { status: u16, error: String },
}

/// What decides how content is captured.
#[derive(Debug, Clone, Copy)]
pub(super) struct Capture {
    /// Neither prompts nor outputs are sent.
    pub(super) privacy: bool,
    /// Media passes through unredacted.
    pub(super) full: bool,
}

/// The `$ai_generation` event for one call.
pub(super) fn event(
    request: &Value,
    outcome: Outcome<'_>,
    latency: Duration,
    base_url: &str,
    call: &AiCall,
    capture: Capture,
) -> Event {
    let trace_id = call
        .trace_id
        .clone()
        .unwrap_or_else(|| posthog_core::ids::new_uuid().to_string());
    let person = call
        .distinct_id
        .clone()
        .or_else(crate::context::current_distinct_id);
    let distinct_id = person.clone().unwrap_or_else(|| trace_id.clone());
    let response = match &outcome {
        Outcome::Answered(response) => Some(*response),
        Outcome::Failed { .. } => None,
    };
    let model = request
        .get("model")
        .and_then(Value::as_str)
        .or_else(|| {
            response
                .and_then(|r| r.get("model"))
                .and_then(Value::as_str)
        })
        .unwrap_or_default();
    let mut ai = AiEvent::generation(distinct_id, trace_id, model, "openai")
        .latency(latency)
        .base_url(base_url.trim_end_matches('/'))
        .with("$ai_model_parameters", model_parameters(request, response));
    let content = |value: Value| {
        if capture.privacy {
            Value::Null
        } else if capture.full {
            value
        } else {
            media::redact(value)
        }
    };
    ai = ai.input(content(
        request.get("messages").cloned().unwrap_or(Value::Null),
    ));
    if let Some(tools) = request.get("tools").filter(|t| !t.is_null()) {
        ai = ai.tools(tools.clone());
    }
    match outcome {
        Outcome::Answered(response) => {
            ai = ai
                .http_status(200)
                .output_choices(content(output_choices(response)));
            ai = usage(ai, response.get("usage"));
            if let Some(reason) = response
                .pointer("/choices/0/finish_reason")
                .and_then(Value::as_str)
            {
                ai = ai.with("$ai_stop_reason", reason);
            }
            if let Some(tier) = response.get("service_tier").and_then(Value::as_str) {
                ai = ai.with("$ai_service_tier", tier);
            }
        }
        Outcome::Failed { status, error } => {
            ai = ai
                .http_status(status)
                .output_choices(content(Value::Array(Vec::new())))
                .error(error);
        }
    }
    if person.is_none() {
        // No person to attach it to: the trace stands in for one, without a profile.
        ai = ai.with("$process_person_profile", false);
    }
    for (key, value) in &call.properties {
        ai = ai.with(key.clone(), value.clone());
    }
    let mut event = ai.into_event();
    for (group_type, key) in &call.groups {
        event = event.group(group_type.clone(), key.clone());
    }
    event
}

/// `$ai_model_parameters`: the sampling settings the request set (and the tier it was served
/// on).
fn model_parameters(request: &Value, response: Option<&Value>) -> Value {
    let mut params: Map<String, Value> = MODEL_PARAMETERS
        .iter()
        .filter_map(|k| {
            request
                .get(*k)
                .filter(|v| !v.is_null())
                .map(|v| ((*k).to_owned(), v.clone()))
        })
        .collect();
    if let Some(tier) = response
        .and_then(|r| r.get("service_tier"))
        .filter(|t| !t.is_null())
    {
        params.insert("service_tier".into(), tier.clone());
    }
    Value::Object(params)
}

/// `$ai_output_choices`: one assistant message whose content lists each choice's text and
/// tool calls.
fn output_choices(response: &Value) -> Value {
    let mut role = "assistant";
    let mut content = Vec::new();
    for choice in response
        .get("choices")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(message) = choice.get("message") else {
            continue;
        };
        if let Some(r) = message.get("role").and_then(Value::as_str) {
            role = r;
        }
        if let Some(text) = message.get("content").and_then(Value::as_str) {
            content.push(json!({"type": "text", "text": text}));
        }
        if let Some(refusal) = message.get("refusal").and_then(Value::as_str) {
            content.push(json!({"type": "text", "text": refusal}));
        }
        for call in message
            .get("tool_calls")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            content.push(json!({
                "type": "function",
                "id": call.get("id"),
                "function": call.get("function"),
            }));
        }
    }
    if content.is_empty() {
        return Value::Array(Vec::new());
    }
    json!([{"role": role, "content": content}])
}

/// Token counts as the provider reported them (absent ones stay absent: unknown is not 0).
fn usage(mut ai: AiEvent, usage: Option<&Value>) -> AiEvent {
    let Some(usage) = usage.filter(|u| u.is_object()) else {
        return ai;
    };
    let count = |pointer: &str| usage.pointer(pointer).and_then(Value::as_u64);
    if let Some(input) = count("/prompt_tokens") {
        ai = ai.with("$ai_input_tokens", input);
    }
    if let Some(output) = count("/completion_tokens") {
        ai = ai.with("$ai_output_tokens", output);
    }
    if let Some(cached) = count("/prompt_tokens_details/cached_tokens").filter(|n| *n > 0) {
        ai = ai.with("$ai_cache_read_input_tokens", cached);
    }
    if let Some(reasoning) = count("/completion_tokens_details/reasoning_tokens").filter(|n| *n > 0)
    {
        ai = ai.with("$ai_reasoning_tokens", reasoning);
    }
    ai
}
