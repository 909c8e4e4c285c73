//! The async-openai wrapper (feature `openai`): chat completions made through a fake of
//! OpenAI's HTTP API on 127.0.0.1, captured as `$ai_generation` events that FakePostHog
//! receives over real HTTP. C-CAPTURE-AI.10 covers the full-capture option.

mod support;

use std::time::Duration;

use posthog::openai::async_openai;
use posthog::openai::{AiCall, OpenAI};
use posthog::test_util::{FakePostHog, Reply};
use posthog::transport::test_util::TestServer;
use serde_json::{Value, json};

use async_openai::config::OpenAIConfig;
use async_openai::types::chat::CreateChatCompletionRequest;

const IMAGE: &str =
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk";

fn completion() -> Value {
    json!({
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1_764_800_000u32,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": "Hello there!"},
            "finish_reason": "stop"
        }],
        "usage": {
            "prompt_tokens": 12,
            "completion_tokens": 3,
            "total_tokens": 15,
            "prompt_tokens_details": {"cached_tokens": 4},
            "completion_tokens_details": {"reasoning_tokens": 0}
        }
    })
}

fn request() -> CreateChatCompletionRequest {
    serde_json::from_value(json!({
        "model": "gpt-4o-mini",
        "temperature": 0.2,
        "max_completion_tokens": 64,
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": [
                {"type": "text", "text": "Say hi about this picture"},
                {"type": "image_url", "image_url": {"url": IMAGE}}
            ]}
        ]
    }))
    .unwrap()
}

/// A fake OpenAI answering with `replies`, and the wrapper pointed at it.
async fn provider(
    replies: impl IntoIterator<Item = Reply>,
    posthog: posthog::Client,
) -> (TestServer, OpenAI) {
    let fake = TestServer::start().await.unwrap();
    fake.script(replies);
    let config = OpenAIConfig::new()
        .with_api_key("sk-test-secret")
        .with_api_base(format!("{}/v1", fake.url()));
    let openai = OpenAI::new(async_openai::Client::with_config(config), posthog);
    (fake, openai)
}

fn generations(server: &FakePostHog) -> Vec<Value> {
    server
        .events()
        .into_iter()
        .filter(|e| e["event"] == "$ai_generation")
        .collect()
}

/// An answered call is returned unchanged and captured on `/batch/` with PostHog's
/// properties; the provider got the request as made; media in the prompt is redacted.
#[tokio::test]
async fn an_answered_call_is_captured_as_a_generation() {
    let server = FakePostHog::start().await;
    let (builder, errors) = support::builder(&server);
    let client = builder.build().unwrap();
    let (fake, openai) = provider([Reply::json(200, &completion())], client.clone()).await;

    let answer = openai
        .chat(
            request(),
            AiCall::new()
                .distinct_id("user-123")
                .trace_id("conversation-9")
                .property("plan", "pro")
                .group("company", "acme"),
        )
        .await
        .unwrap();
    assert_eq!(
        answer.choices[0].message.content.as_deref(),
        Some("Hello there!")
    );
    client.flush().await;

    let sent = fake.requests_to("/v1/chat/completions");
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].json()["messages"][1]["content"][1]["image_url"]["url"],
        IMAGE
    );
    assert_eq!(
        sent[0].header("authorization"),
        Some("Bearer sk-test-secret")
    );

    let events = generations(&server);
    assert_eq!(events.len(), 1);
    let event = &events[0];
    let p = &event["properties"];
    assert_eq!(event["distinct_id"], "user-123");
    assert_eq!(p["$ai_trace_id"], "conversation-9");
    assert_eq!(p["$ai_model"], "gpt-4o-mini");
    assert_eq!(p["$ai_provider"], "openai");
    assert_eq!(p["$ai_http_status"], 200);
    assert_eq!(p["$ai_base_url"], format!("{}/v1", fake.url()));
    assert_eq!(p["$ai_input_tokens"], 12);
    assert_eq!(p["$ai_output_tokens"], 3);
    assert_eq!(p["$ai_cache_read_input_tokens"], 4);
    assert!(
        p.get("$ai_reasoning_tokens").is_none(),
        "0 reasoning tokens is left out"
    );
    assert_eq!(p["$ai_stop_reason"], "stop");
    assert!(p["$ai_latency"].as_f64().unwrap() > 0.0);
    assert_eq!(
        p["$ai_model_parameters"],
        json!({"temperature": 0.2, "max_completion_tokens": 64})
    );
    assert_eq!(p["$ai_input"][0]["content"], "Be brief.");
    assert_eq!(
        p["$ai_input"][1]["content"][1]["image_url"]["url"],
        "[base64 image redacted]"
    );
    assert_eq!(
        p["$ai_output_choices"],
        json!([{"role": "assistant", "content": [{"type": "text", "text": "Hello there!"}]}])
    );
    assert_eq!(p["plan"], "pro");
    assert_eq!(p["$groups"]["company"], "acme");
    assert!(p.get("$ai_is_error").is_none());
    assert!(p.get("$process_person_profile").is_none());
    assert!(
        server.ai_events().is_empty(),
        "the AI lane is for full capture"
    );
    assert!(
        !server
            .requests()
            .iter()
            .any(|r| String::from_utf8_lossy(&r.body).contains("sk-test-secret")),
        "the provider's key never reaches PostHog"
    );
    assert!(!format!("{openai:?}").contains("sk-test-secret"));
    assert!(errors.all().is_empty());
}

/// A failed call returns the provider's error unchanged and is captured with its status and
/// message; with no distinct id, the trace id stands in without a person profile.
#[tokio::test]
async fn a_failed_call_is_captured_as_an_error() {
    let server = FakePostHog::start().await;
    let client = support::builder(&server).0.build().unwrap();
    let error = json!({"error": {
        "message": "The model `gpt-5-nano` does not exist",
        "type": "invalid_request_error",
        "param": null,
        "code": "model_not_found"
    }});
    let (_fake, openai) = provider([Reply::json(404, &error)], client.clone()).await;

    let err = openai.chat(request(), AiCall::new()).await.unwrap_err();
    assert!(
        matches!(err, async_openai::error::OpenAIError::ApiError(_)),
        "{err:?}"
    );
    client.flush().await;

    let events = generations(&server);
    assert_eq!(events.len(), 1);
    let p = &events[0]["properties"];
    assert_eq!(p["$ai_is_error"], true);
    assert_eq!(p["$ai_http_status"], 404);
    assert!(p["$ai_error"].as_str().unwrap().contains("does not exist"));
    let trace = p["$ai_trace_id"].as_str().unwrap();
    assert!(
        uuid::Uuid::parse_str(trace).is_ok(),
        "a new trace id per call"
    );
    assert_eq!(events[0]["distinct_id"], trace);
    assert_eq!(p["$process_person_profile"], false);
    assert_eq!(p["$ai_output_choices"], json!([]));
}

/// Privacy mode, from the client or the call, sends no prompt or output, and summarises
/// errors without their message; usage is still captured.
#[tokio::test]
async fn privacy_mode_strips_content_and_error_messages() {
    let server = FakePostHog::start().await;
    let client = support::builder(&server).0.build().unwrap();
    let error = json!({"error": {
        "message": "Your prompt 'my secret plan' was flagged",
        "type": "invalid_request_error",
        "param": "messages",
        "code": "content_filter"
    }});
    let (_fake, openai) = provider(
        [Reply::json(200, &completion()), Reply::json(400, &error)],
        client.clone(),
    )
    .await;
    openai
        .chat(request(), AiCall::new().distinct_id("u").privacy_mode(true))
        .await
        .unwrap();
    openai
        .chat(request(), AiCall::new().distinct_id("u").privacy_mode(true))
        .await
        .unwrap_err();
    client.flush().await;

    let events = generations(&server);
    assert_eq!(events.len(), 2);
    for event in &events {
        let p = &event["properties"];
        assert_eq!(p["$ai_input"], Value::Null);
        assert_eq!(p["$ai_output_choices"], Value::Null);
        let text = event.to_string();
        assert!(
            !text.contains("Say hi") && !text.contains("Hello there") && !text.contains("secret")
        );
    }
    assert_eq!(events[0]["properties"]["$ai_input_tokens"], 12);
    assert_eq!(
        events[1]["properties"]["$ai_error"],
        "ApiError: 400 content_filter invalid_request_error param=messages"
    );

    // The client's setting applies to every call, whatever the call says.
    let server = FakePostHog::start().await;
    let client = support::builder(&server)
        .0
        .privacy_mode(true)
        .build()
        .unwrap();
    let (_fake, openai) = provider([Reply::json(200, &completion())], client.clone()).await;
    openai
        .chat(request(), AiCall::new().privacy_mode(false))
        .await
        .unwrap();
    client.flush().await;
    let events = generations(&server);
    assert_eq!(events[0]["properties"]["$ai_input"], Value::Null);
}

/// C-CAPTURE-AI.10: with `enable_full_ai_capture`, wrapper events go to the AI lane with
/// media passed through; privacy mode still wins; events sent with `capture_ai` by hand are
/// never altered by either option.
#[tokio::test]
async fn c_capture_ai_10_full_capture_routes_to_the_ai_lane_and_privacy_still_wins() {
    let server = FakePostHog::start().await;
    let client = support::builder(&server)
        .0
        .enable_full_ai_capture(true)
        .build()
        .unwrap();
    let (_fake, openai) = provider(
        [
            Reply::json(200, &completion()),
            Reply::json(200, &completion()),
        ],
        client.clone(),
    )
    .await;
    openai
        .chat(request(), AiCall::new().distinct_id("u"))
        .await
        .unwrap();
    openai
        .chat(request(), AiCall::new().distinct_id("u").privacy_mode(true))
        .await
        .unwrap();
    client.flush().await;
    assert!(generations(&server).is_empty(), "nothing on /batch/");
    let ai = server.ai_events();
    assert_eq!(ai.len(), 2);
    assert_eq!(
        ai[0]["properties"]["$ai_input"][1]["content"][1]["image_url"]["url"], IMAGE,
        "media passes through"
    );
    assert_eq!(
        ai[1]["properties"]["$ai_input"],
        Value::Null,
        "privacy wins"
    );

    // Manual payloads are a pipe, whatever the options say.
    let server = FakePostHog::start().await;
    let client = support::builder(&server)
        .0
        .enable_full_ai_capture(true)
        .privacy_mode(true)
        .build()
        .unwrap();
    client.capture_ai(
        posthog::AiEvent::generation("u", "t", "m", "p")
            .input(json!([{"role": "user", "content": IMAGE}]))
            .into_event(),
    );
    client.flush().await;
    let ai = server.ai_events();
    assert_eq!(ai[0]["properties"]["$ai_input"][0]["content"], IMAGE);
}

/// A call whose future is dropped before the provider answers is captured as cancelled.
#[tokio::test]
async fn a_cancelled_call_is_captured() {
    let server = FakePostHog::start().await;
    let client = support::builder(&server).0.build().unwrap();
    let (_fake, openai) = provider(
        [Reply::json(200, &completion()).delay(Duration::from_secs(10))],
        client.clone(),
    )
    .await;
    let cut_short = tokio::time::timeout(
        Duration::from_millis(200),
        openai.chat(request(), AiCall::new().distinct_id("u")),
    )
    .await;
    assert!(cut_short.is_err());
    client.flush().await;
    let events = generations(&server);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["properties"]["$ai_error"], "cancelled");
    assert_eq!(events[0]["properties"]["$ai_http_status"], 0);
}
