//! Captures, identifies, aliases and group-identifies through a real `Client`, then evaluates
//! feature flags locally.
//!
//! ```text
//! cargo run -p posthog --features test-util --example quickstart
//! ```
//!
//! With `POSTHOG_API_KEY` set (and optionally `POSTHOG_HOST`) the events go to that PostHog.
//! Without it, an in-process fake PostHog on 127.0.0.1 receives them and the example prints
//! what it got.

use std::time::Duration;

use posthog::context::Context;
use posthog::flags::{EvalContext, FlagSet};
use posthog::test_util::FakePostHog;
use posthog::{Client, ClientBuilder, Event, PersonProperties, Properties};
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
    }

    // Local feature-flag evaluation (no network): a 50 % rollout and a targeted variant.
    let flags = FlagSet::from_slice(
        br#"{"flags": [
          {"key": "new-dashboard", "active": true, "filters": {"groups": [{"rollout_percentage": 50}]}},
          {"key": "pricing-test", "active": true, "filters": {
            "groups": [{"properties": [{"key": "plan", "operator": "exact", "value": "pro"}], "rollout_percentage": 100}],
            "multivariate": {"variants": [{"key": "control", "rollout_percentage": 50}, {"key": "annual-first", "rollout_percentage": 50}]},
            "payloads": {"annual-first": "{\"discount\": 20}"}}}
        ]}"#,
    )?;
    let person: Properties = serde_json::from_value(json!({"plan": "pro"}))?;
    println!("\nFlags for user-123:");
    for (key, answer) in
        flags.evaluate_all(&EvalContext::new("user-123").person_properties(&person))
    {
        match answer.as_match() {
            Some(m) => println!("  {key:<14} = {} (payload {:?})", m.value, m.payload),
            None => println!("  {key:<14} needs the server: {answer:?}"),
        }
    }
    Ok(())
}
