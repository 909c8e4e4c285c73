//! C-LOGS (Rust): `PostHogLogger` ships `log` records as PostHog log records, from its level
//! up, never the SDK's own targets.

use posthog::test_util::FakePostHog;
use serde_json::json;

#[tokio::test(flavor = "current_thread")]
async fn log_records_become_posthog_logs() {
    let server = FakePostHog::start().await;
    let client = posthog::Client::builder("phc_test_token")
        .host(server.url())
        .build()
        .unwrap();
    posthog::logs::PostHogLogger::new(client.clone())
        .level(log::LevelFilter::Warn)
        .install()
        .expect("the only logger");
    log::warn!(target: "billing", "card declined");
    log::info!("below the level");
    log::error!(target: "posthog::pipeline", "the SDK's own");
    client.flush().await;
    let records = server.log_records();
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0]["body"]["stringValue"], "card declined");
    assert_eq!(records[0]["severityNumber"], 13);
    let target = records[0]["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|kv| kv["key"] == "target")
        .map(|kv| kv["value"].clone());
    assert_eq!(target, Some(json!({"stringValue": "billing"})));
}
