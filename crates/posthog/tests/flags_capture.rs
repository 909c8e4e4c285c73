//! `capture_with_flags`: the Python SDK's `capture(..., send_feature_flags=True)` — the
//! event carries `$feature/<key>` and `$active_feature_flags` (C-EVALUATE-FLAGS.12 through
//! capture), against FakePostHog.

use std::time::Duration;

use posthog::test_util::FakePostHog;
use posthog::{Client, Event, FlagOptions};
use serde_json::json;

#[tokio::test]
async fn local_flags_ride_along_using_the_events_groups() {
    let server = FakePostHog::start().await;
    server.set_definitions(json!({
        "flags": [
            {"id": 1, "key": "everyone", "active": true, "filters": {"groups": [{"rollout_percentage": 100}]}},
            {"id": 2, "key": "nobody", "active": true, "filters": {"groups": [{"rollout_percentage": 0}]}},
            {"id": 3, "key": "company-beta", "active": true,
             "filters": {"aggregation_group_type_index": 0, "groups": [{"rollout_percentage": 100}]}}
        ],
        "group_type_mapping": {"0": "company"}
    }));
    let client = Client::builder("phc")
        .host(server.url())
        .personal_api_key("phx_key")
        .build()
        .unwrap();
    assert!(client.wait_for_flags(Duration::from_secs(5)).await);
    let event = Event::new("order_placed", "user-1").group("company", "acme");
    assert!(
        client
            .capture_with_flags(event, &FlagOptions::new())
            .await
            .is_some()
    );
    client.flush().await;
    assert!(server.requests_to("/flags/").is_empty(), "decided locally");
    let events = server.events();
    assert_eq!(events.len(), 1, "no $feature_flag_called: {events:?}");
    let p = &events[0]["properties"];
    assert_eq!(p["$feature/everyone"], true);
    assert_eq!(p["$feature/nobody"], false);
    assert_eq!(
        p["$feature/company-beta"], true,
        "evaluated with the event's group"
    );
    assert_eq!(
        p["$active_feature_flags"],
        json!(["company-beta", "everyone"])
    );
}

#[tokio::test]
async fn remote_flags_ride_along_and_explicit_properties_win() {
    let server = FakePostHog::start().await;
    server.set_flags(json!({"flags": {
        "checkout": {"key": "checkout", "enabled": true, "variant": "blue"},
        "off": {"key": "off", "enabled": false}
    }}));
    let client = Client::builder("phc").host(server.url()).build().unwrap();
    let event = Event::new("viewed", "user-2").property("$feature/off", "overridden");
    client.capture_with_flags(event, &FlagOptions::new()).await;
    client.flush().await;
    let p = &server.events()[0]["properties"];
    assert_eq!(p["$feature/checkout"], "blue");
    assert_eq!(p["$feature/off"], "overridden");
    assert_eq!(p["$active_feature_flags"], json!(["checkout"]));
    assert_eq!(server.requests_to("/flags/").len(), 1);
}
