//! C-CAPTURE-AI: LLM analytics events on their own lane to `/i/v0/ai/batch/`, against
//! FakePostHog over real HTTP. Each test names the rows it proves.

mod support;

use std::time::Duration;

use posthog::test_util::{FakePostHog, Reply};
use posthog::{AiEvent, DeliveryErrorKind, Event};
use uuid::Uuid;

fn names(events: &[serde_json::Value]) -> Vec<&str> {
    events
        .iter()
        .map(|e| e["event"].as_str().unwrap_or_default())
        .collect()
}

/// C-CAPTURE-AI.1/.2/.9 (acceptance 1): `capture_ai` returns the uuid of the event it queued
/// on the AI route, stamped with a timestamp and the SDK's `$lib`, its properties passed
/// through untouched.
#[tokio::test]
async fn c_capture_ai_1_queues_on_the_ai_route_and_returns_the_uuid() {
    let server = FakePostHog::start().await;
    let (builder, errors) = support::builder(&server);
    let client = builder.build().unwrap();
    let long_input = "x".repeat(100_000);
    let uuid = client
        .capture_ai(
            Event::new("$ai_generation", "user-123")
                .property("$ai_model", "gpt-4o")
                .property("$ai_input", long_input.clone()),
        )
        .expect("queued");
    client.flush().await;
    let ai = server.ai_events();
    assert_eq!(ai.len(), 1);
    assert_eq!(ai[0]["uuid"], uuid.to_string());
    assert_eq!(ai[0]["distinct_id"], "user-123");
    assert!(
        ai[0]["timestamp"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );
    assert_eq!(ai[0]["properties"]["$lib"], "posthog-rust");
    assert_eq!(
        ai[0]["properties"]["$ai_input"], long_input,
        "no truncation"
    );
    let body = server.requests_to(posthog::AI_PATH)[0].json();
    assert_eq!(body["api_key"], "phc_test_token", "the /batch/ body shape");
    assert!(errors.all().is_empty());
    assert_eq!(client.stats().sent, 1);
}

/// C-CAPTURE-AI.4/.7 (acceptance 2 and 3): analytics events go to `/batch/` only, AI events
/// to the AI endpoint only, and `capture` never reroutes an `$ai_*` event.
#[tokio::test]
async fn c_capture_ai_7_the_routes_stay_apart() {
    let server = FakePostHog::start().await;
    let client = support::builder(&server).0.build().unwrap();
    client.capture(Event::new("button_clicked", "user-123"));
    client.capture_ai(Event::new("$ai_generation", "user-123").property("via", "ai"));
    client.capture(Event::new("$ai_generation", "user-123").property("via", "capture"));
    client.flush().await;
    let analytics = server.events();
    assert_eq!(names(&analytics), ["button_clicked", "$ai_generation"]);
    assert_eq!(analytics[1]["properties"]["via"], "capture");
    let ai = server.ai_events();
    assert_eq!(names(&ai), ["$ai_generation"]);
    assert_eq!(ai[0]["properties"]["via"], "ai");
}

/// C-CAPTURE-AI.3 (acceptance 4): a generated uuid without one, the caller's when given.
#[tokio::test]
async fn c_capture_ai_3_uuids_are_generated_or_kept() {
    let server = FakePostHog::start().await;
    let client = support::builder(&server).0.build().unwrap();
    let generated = client
        .capture_ai(Event::new("$ai_span", "u"))
        .expect("queued");
    let mine = Uuid::now_v7();
    let kept = client.capture_ai(Event::new("$ai_trace", "u").uuid(mine));
    assert_eq!(kept, Some(mine));
    client.flush().await;
    let ids: Vec<String> = server
        .ai_events()
        .iter()
        .map(|e| e["uuid"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, [generated.to_string(), mine.to_string()]);
}

/// C-CAPTURE-AI.5 (acceptance 5): an event over 8 MiB never reaches the endpoint; the log
/// names the event and its size, never its content, and `on_error` hears of it.
#[tokio::test(flavor = "current_thread")]
async fn c_capture_ai_5_an_oversized_event_is_dropped_by_name_and_size() {
    let server = FakePostHog::start().await;
    let (builder, errors) = support::builder(&server);
    let client = builder.build().unwrap();
    let log = support::log::Log::default();
    let _guard = log.on_this_thread();
    let secret = format!("SECRET-{}", "y".repeat(9 * 1024 * 1024));
    let uuid = client
        .capture_ai(Event::new("$ai_generation", "u").property("$ai_input", secret))
        .expect("admitted");
    client.flush().await;
    assert!(server.ai_events().is_empty());
    let text = log.text();
    assert!(
        text.contains("$ai_generation"),
        "{}",
        &text[..text.len().min(500)]
    );
    assert!(text.contains("bytes="), "{}", &text[..text.len().min(500)]);
    assert!(!text.contains("SECRET"), "no property content in the log");
    let reports = errors.all();
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].kind, DeliveryErrorKind::EventTooLarge);
    assert_eq!(reports[0].uuids, [uuid]);
    assert!(!reports[0].message.contains("SECRET"));
}

/// C-CAPTURE-AI.6: a retry resends the envelope exactly as it was stamped.
#[tokio::test]
async fn c_capture_ai_6_retries_resend_the_stamped_envelope() {
    let server = FakePostHog::start().await;
    let client = support::builder(&server).0.build().unwrap();
    client.capture_ai(Event::new("$ai_generation", "u").property("$ai_model", "m"));
    server.script([Reply::status(503)]);
    let report = client.shutdown(Duration::from_secs(10)).await;
    assert_eq!(report.undelivered, 0);
    let attempts = server.requests_to(posthog::AI_PATH);
    assert_eq!(attempts.len(), 2);
    let event = |i: usize| attempts[i].json()["batch"][0].clone();
    assert_eq!(
        event(0),
        event(1),
        "timestamp, distinct id, name and uuid unchanged"
    );
    assert_eq!(server.ai_events().len(), 1);
}

/// C-CAPTURE-AI.8 (acceptance 6): an unreachable AI endpoint is no error for the caller; the
/// loss goes to `on_error`.
#[tokio::test]
async fn c_capture_ai_8_an_unreachable_endpoint_is_not_the_callers_error() {
    let (builder, errors) = {
        let errors = support::Errors::default();
        let sink = errors.clone();
        let builder = posthog::ClientBuilder::new("phc_test_token")
            .host("http://127.0.0.1:9")
            .max_retries(0)
            .on_error(move |e| sink.0.lock().unwrap().push(e.clone()));
        (builder, errors)
    };
    let client = builder.build().unwrap();
    let uuid = client
        .capture_ai(Event::new("$ai_generation", "u"))
        .expect("queued");
    let report = client.flush().await;
    assert_eq!(report.sent, 0);
    // The report names the lost event, as for analytics events.
    assert!(
        errors
            .all()
            .iter()
            .any(|e| e.kind == DeliveryErrorKind::RetriesExhausted && e.uuids == [uuid]),
        "{:?}",
        errors.all()
    );
}

/// C-CAPTURE-AI.2/.1: admission is `capture`'s: a `before_send` hook drops, a disabled or
/// shut-down client admits nothing, and an invalid event is refused.
#[tokio::test]
async fn c_capture_ai_2_admission_is_captures() {
    let server = FakePostHog::start().await;
    let client = support::builder(&server)
        .0
        .before_send(|event| (event.name() != "$ai_secret").then_some(event))
        .build()
        .unwrap();
    assert_eq!(client.capture_ai(Event::new("$ai_secret", "u")), None);
    assert_eq!(client.capture_ai(Event::new("", "u")), None, "no name");
    let disabled = support::builder(&server).0.disabled(true).build().unwrap();
    assert_eq!(disabled.capture_ai(Event::new("$ai_generation", "u")), None);
    client.shutdown(Duration::from_secs(5)).await;
    assert_eq!(
        client.capture_ai(Event::new("$ai_generation", "u")),
        None,
        "after shutdown"
    );
    assert!(server.ai_events().is_empty());
}

/// The AI lane's body: the `/batch/` shape (`api_key`, `historical_migration`, `sent_at`,
/// `batch`), one `$ai_generation` built with the typed builder.
#[tokio::test]
async fn an_ai_batch_body_snapshot() {
    let server = FakePostHog::start().await;
    let client = support::builder(&server).0.build().unwrap();
    let generation = AiEvent::generation("user-123", "trace-42", "gpt-4o", "openai")
        .input(serde_json::json!([{"role": "user", "content": "Hi"}]))
        .output_choices(serde_json::json!([{"role": "assistant", "content": "Hello!"}]))
        .tokens(12, 3)
        .latency(Duration::from_millis(1_420))
        .http_status(200)
        .into_event();
    client.capture_ai(generation);
    client.flush().await;
    let body = server.requests_to(posthog::AI_PATH)[0].json();
    insta::assert_json_snapshot!("ai_batch_body", body, {
        ".sent_at" => "[sent_at]",
        ".batch[].uuid" => "[uuid]",
        ".batch[].timestamp" => "[timestamp]",
        ".batch[].properties[\"$lib_version\"]" => "[version]",
    });
}

/// C-CAPTURE-AI.1: the immediate variant, because `capture` has one: one request to the AI
/// endpoint, the outcome returned.
#[tokio::test]
async fn c_capture_ai_1_the_immediate_variant_returns_the_outcome() {
    let server = FakePostHog::start().await;
    let (builder, errors) = support::builder(&server);
    let client = builder.build().unwrap();
    let uuid = client
        .capture_ai_immediate(Event::new("$ai_generation", "u"))
        .await
        .expect("delivered")
        .expect("admitted");
    assert_eq!(server.ai_events()[0]["uuid"], uuid.to_string());
    assert!(server.events().is_empty(), "never /batch/");
    server.script([Reply::status(400)]);
    let failed = client
        .capture_ai_immediate(Event::new("$ai_generation", "u"))
        .await;
    assert!(failed.is_err());
    assert_eq!(errors.all().len(), 1);
    assert_eq!(errors.all()[0].kind, DeliveryErrorKind::Rejected);
    let stats = client.stats();
    assert_eq!((stats.sent, stats.failed), (1, 1));
}
