//! Captures, identifies, aliases and group-identifies through a real `Client`, then evaluates
//! feature flags through it (locally, from definitions the server provides).
//!
//! ```text
//! cargo run -p posthog-sdk --features test-util --example quickstart
//! ```
//!
//! With `POSTHOG_API_KEY` set (and optionally `POSTHOG_HOST`) the events go to that PostHog.
//! Without it, an in-process fake PostHog on 127.0.0.1 receives them and the example prints
//! what it got.

use std::time::Duration;

use posthog::context::Context;
use posthog::test_util::FakePostHog;
use posthog::{Client, ClientBuilder, Event, FlagOptions, PersonProperties, Properties};
use serde_json::json;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let real_key = std::env::var("POSTHOG_API_KEY")
        .ok()
        .filter(|k| !k.trim().is_empty());
    let fake = match real_key {
        Some(_) => None,
        None => Some(FakePostHog::start().await),
    };
    let builder = match &fake {
        Some(server) => {
            println!(
                "No POSTHOG_API_KEY: sending to a local fake PostHog at {}",
                server.url()
            );
            ClientBuilder::new("phc_quickstart").host(server.url())
        }
        None => ClientBuilder::from_env(),
    };
    let client: Client = builder
        .super_property("app", "quickstart")
        .on_error(|e| eprintln!("lost {} event(s): {}", e.count, e.message))
        .build()?;

    // Events and identity.
    client.capture(
        Event::new("signed_up", "user-123")
            .property("plan", "pro")
            .group("company", "acme"),
    );
    client.identify(
        "user-123",
        PersonProperties::new()
            .set("email", "ada@example.com")
            .set_once("first_seen", "2026-11-24"),
    );
    client.alias("anon-42", "user-123");
    let props: Properties = serde_json::from_value(json!({"name": "Acme", "employees": 250}))?;
    client.group_identify("company", "acme", props);

    // Events captured inside a request scope pick up its distinct id and session id.
    Context::new()
        .distinct_id("user-123")
        .session_id("session-9")
        .scope(async {
            client.capture(Event::new("report_exported", "").property("format", "csv"));
        })
        .await;

    // An LLM call, on the AI lane (its own endpoint, /i/v0/ai/batch/).
    let generation = posthog::AiEvent::generation("user-123", "trace-1", "gpt-4o-mini", "openai")
        .tokens(42, 17)
        .latency(Duration::from_millis(830));
    client.capture_ai(generation.into_event());

    // A log line for PostHog Logs (OTLP, its own lane).
    let mut attributes = serde_json::Map::new();
    attributes.insert("region".into(), json!("eu"));
    client.logger().info("quickstart ran", attributes);

    let report = client.shutdown(Duration::from_secs(10)).await;
    println!(
        "delivered {} events, {} undelivered; stats: {:?}",
        report.sent,
        report.undelivered,
        client.stats()
    );

    if let Some(server) = &fake {
        println!(
            "\nThe fake PostHog received {} request(s):",
            server.batches().len()
        );
        for event in server.events() {
            println!(
                "  {:<16} distinct_id={:<10} properties={}",
                event["event"].as_str().unwrap_or("?"),
                event["distinct_id"].as_str().unwrap_or("?"),
                event["properties"]
            );
        }
        for record in server.log_records() {
            println!(
                "  log {:<12} {}",
                record["severityText"].as_str().unwrap_or("?"),
                record["body"]["stringValue"]
            );
        }
        for event in server.ai_events() {
            println!(
                "  {:<16} distinct_id={:<10} (AI endpoint) model={}",
                event["event"].as_str().unwrap_or("?"),
                event["distinct_id"].as_str().unwrap_or("?"),
                event["properties"]["$ai_model"]
            );
        }
    }

    // Feature flags: with a personal API key the client loads the definitions and evaluates
    // locally; flags it cannot decide go to /flags.
    let flags_client = match &fake {
        Some(server) => {
            server.set_definitions(json!({"flags": [
                {"key": "new-dashboard", "active": true, "filters": {"groups": [{"rollout_percentage": 50}]}},
                {"key": "pricing-test", "active": true, "filters": {
                    "groups": [{"properties": [{"key": "plan", "operator": "exact", "value": "pro"}], "rollout_percentage": 100}],
                    "multivariate": {"variants": [{"key": "control", "rollout_percentage": 50}, {"key": "annual-first", "rollout_percentage": 50}]},
                    "payloads": {"annual-first": "{\"discount\": 20}", "control": "{\"discount\": 0}"}}}
            ]}));
            ClientBuilder::new("phc_quickstart")
                .host(server.url())
                .personal_api_key("phx_quickstart")
                .build()?
        }
        None => ClientBuilder::from_env().build()?,
    };
    let loaded = flags_client.wait_for_flags(Duration::from_secs(5)).await;
    println!("\nFeature flags for user-123 (definitions loaded locally: {loaded}):");
    let opts = FlagOptions::new().person_property("plan", "pro");
    for key in ["new-dashboard", "pricing-test"] {
        let value = flags_client.get_feature_flag(key, "user-123", &opts).await;
        let payload = flags_client
            .get_feature_flag_payload(key, "user-123", &opts)
            .await;
        println!("  {key:<14} = {value:?} (payload {payload:?})");
    }
    let report = flags_client.shutdown(Duration::from_secs(10)).await;
    if let Some(server) = &fake {
        let called = server
            .events()
            .into_iter()
            .filter(|e| e["event"] == "$feature_flag_called")
            .count();
        println!(
            "  {} /flags request(s); {} $feature_flag_called event(s) delivered ({} undelivered)",
            server.requests_to("/flags/").len(),
            called,
            report.undelivered
        );
    }
    Ok(())
}
