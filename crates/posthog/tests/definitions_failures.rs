//! Issue 15 item 5 / C-FLAG-DEFS.6/.7: a definitions load that fails reaches `on_error`
//! (`DeliveryErrorKind::FlagDefinitions`, no event counted), and an unparsable body keeps the
//! last good definitions. Against FakePostHog over real HTTP.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use posthog::test_util::{FAKE_PERSONAL_API_KEY, FakePostHog, Reply};
use posthog::{Client, DeliveryError, DeliveryErrorKind, FlagOptions, FlagValue};
use serde_json::json;

fn reporting_client(server: &FakePostHog) -> (Client, Arc<Mutex<Vec<DeliveryError>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let client = Client::builder("phc")
        .host(server.url())
        .personal_api_key(FAKE_PERSONAL_API_KEY)
        .on_error(move |e| sink.lock().unwrap().push(e.clone()))
        .build()
        .unwrap();
    (client, seen)
}

fn definitions() -> serde_json::Value {
    json!({"flags": [{"id": 1, "key": "beta-ui", "active": true,
        "filters": {"groups": [{"properties": [], "rollout_percentage": 100}]}}]})
}

/// Every kind of failed load is reported once, with its status; the key never appears.
#[tokio::test]
async fn c_flag_defs_6_failed_loads_reach_on_error() {
    let server = FakePostHog::start().await;
    server.set_definitions(definitions());
    let (client, seen) = reporting_client(&server);
    assert!(client.wait_for_flags(Duration::from_secs(5)).await);
    assert!(
        seen.lock().unwrap().is_empty(),
        "a good load reports nothing"
    );

    for (reply, status) in [
        (Reply::status(500), Some(500)),
        (Reply::Close, None),
        (Reply::status(403), Some(403)),
        (Reply::status(401), Some(401)),
    ] {
        server.script([reply.clone()]);
        client.load_feature_flags().await;
        let reports = std::mem::take(&mut *seen.lock().unwrap());
        assert_eq!(reports.len(), 1, "{reply:?}: {reports:?}");
        let report = &reports[0];
        assert_eq!(report.kind, DeliveryErrorKind::FlagDefinitions);
        assert_eq!((report.count, report.status), (0, status), "{reply:?}");
        assert!(!report.message.contains(FAKE_PERSONAL_API_KEY));
    }
    assert_eq!(client.stats().failed + client.stats().dropped, 0);
}

/// An answer that is not a definitions document: reported, and the last good set stays.
#[tokio::test]
async fn c_flag_defs_6_an_unparsable_body_keeps_the_last_good_set() {
    let server = FakePostHog::start().await;
    server.set_definitions(definitions());
    let (client, seen) = reporting_client(&server);
    assert!(client.wait_for_flags(Duration::from_secs(5)).await);
    let loaded_at = client.feature_flag_definitions_loaded_at();
    for body in ["{\"flags\": [", "<html>oops</html>", "[1, 2]"] {
        server.script([Reply::status(200).body(body)]);
        client.load_feature_flags().await;
        assert_eq!(
            client.feature_flag_definitions_loaded_at(),
            loaded_at,
            "{body}"
        );
        let local = FlagOptions::new().only_evaluate_locally(true);
        assert_eq!(
            client.get_feature_flag("beta-ui", "u", &local).await,
            Some(FlagValue::Bool(true)),
            "{body}"
        );
        let reports = std::mem::take(&mut *seen.lock().unwrap());
        assert_eq!(reports.len(), 1, "{body}: {reports:?}");
        assert_eq!(reports[0].kind, DeliveryErrorKind::FlagDefinitions);
        assert_eq!(reports[0].status, None);
    }
}
