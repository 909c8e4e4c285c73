//! The JSON of every event kind and request body, pinned with insta (ids and times redacted).

use chrono::Utc;
use insta::assert_json_snapshot;
use posthog_core::exception::{Exception, Frame, Level, Mechanism, Stacktrace};
use posthog_core::{
    BatchRequest, Event, ExceptionList, FlagsRequest, PersonProperties, Properties,
};
use serde_json::json;

fn stamped(mut event: Event) -> Event {
    event.stamp(Utc::now());
    event
}

fn props(v: serde_json::Value) -> Properties {
    serde_json::from_value(v).unwrap()
}

macro_rules! snapshot_event {
    ($name:literal, $event:expr) => {
        assert_json_snapshot!($name, stamped($event), {
            ".uuid" => "[uuid]",
            ".timestamp" => "[timestamp]",
        });
    };
}

#[test]
fn capture_event() {
    snapshot_event!(
        "capture",
        Event::new("order_placed", "user-123")
            .property("amount", 42)
            .group("company", "acme")
    );
}

#[test]
fn anonymous_event() {
    assert_json_snapshot!("anonymous", stamped(Event::anonymous("page_loaded")), {
        ".uuid" => "[uuid]", ".timestamp" => "[timestamp]", ".distinct_id" => "[uuid]",
    });
}

#[test]
fn identify_event() {
    let person = PersonProperties::new()
        .set("email", "user@test.test")
        .set_once("first_seen", "2026-01-01");
    snapshot_event!("identify", Event::identify("user-123", person).unwrap());
}

#[test]
fn set_and_set_once_events() {
    snapshot_event!(
        "set",
        Event::set_person("user-123", props(json!({"plan": "pro"}))).unwrap()
    );
    snapshot_event!(
        "set_once",
        Event::set_person_once("user-123", props(json!({"signup": "web"}))).unwrap()
    );
}

#[test]
fn alias_event() {
    snapshot_event!("alias", Event::alias("anon-123", "user-123").unwrap());
}

#[test]
fn group_identify_event() {
    snapshot_event!(
        "group_identify",
        Event::group_identify("company", "company-123", props(json!({"plan": "pro"}))).unwrap()
    );
}

#[test]
fn pageview_and_screen_events() {
    snapshot_event!(
        "pageview",
        Event::pageview("user-123", "https://example.com/pricing")
    );
    snapshot_event!("screen", Event::screen("user-123", "Settings"));
}

#[test]
fn exception_event() {
    let list = ExceptionList {
        exceptions: vec![
            Exception {
                kind: "ConnectionError".into(),
                value: "database unavailable".into(),
                module: Some("app::db".into()),
                mechanism: Mechanism {
                    kind: Some("generic".into()),
                    handled: Some(true),
                    exception_id: 0,
                    ..Default::default()
                },
                stacktrace: Some(Stacktrace {
                    kind: "raw".into(),
                    frames: vec![Frame {
                        platform: "native".into(),
                        lang: Some("rust".into()),
                        function: Some("app::db::connect".into()),
                        filename: Some("src/db.rs".into()),
                        lineno: Some(42),
                        colno: Some(9),
                        in_app: Some(true),
                        ..Default::default()
                    }],
                }),
            },
            Exception {
                kind: "Error".into(),
                value: "connection refused".into(),
                module: None,
                mechanism: Mechanism {
                    kind: Some("chained".into()),
                    exception_id: 1,
                    parent_id: Some(0),
                    source: Some("cause".into()),
                    ..Default::default()
                },
                stacktrace: None,
            },
        ],
        level: Level::Error,
        fingerprint: Some("db-down".into()),
    };
    snapshot_event!("exception", Event::exception("user-123", &list).unwrap());
}

#[test]
fn batch_body() {
    let events = [
        stamped(Event::new("a", "u1")),
        stamped(Event::new("b", "u2").property("k", true)),
    ];
    let body = BatchRequest::new("phc_test", &events, Utc::now());
    assert_json_snapshot!("batch", body, {
        ".sent_at" => "[timestamp]",
        ".batch[].uuid" => "[uuid]",
        ".batch[].timestamp" => "[timestamp]",
    });
}

#[test]
fn flags_request_body() {
    let req = FlagsRequest {
        api_key: "phc_test".into(),
        distinct_id: "user-123".into(),
        groups: [("company".to_owned(), "acme".to_owned())].into(),
        person_properties: props(json!({"plan": "pro"})),
        group_properties: [("company".to_owned(), props(json!({"size": 10})))].into(),
        geoip_disable: true,
        flag_keys_to_evaluate: Some(vec!["beta-ui".into()]),
        device_id: None,
    };
    assert_json_snapshot!("flags_request", req);
}

/// The redacted fields have the wire shape: a lower-case UUIDv7 and a UTC `Z` timestamp.
#[test]
fn ids_and_times_have_the_wire_shape() {
    let at = posthog_core::time::parse_timestamp("2025-01-02T08:34:05.5+05:30").unwrap();
    let value = serde_json::to_value(stamped(Event::new("e", "u").timestamp(at))).unwrap();
    assert_eq!(value["timestamp"], "2025-01-02T03:04:05.500Z");
    let uuid = value["uuid"].as_str().unwrap();
    assert_eq!(uuid.len(), 36);
    assert_eq!(&uuid[14..15], "7");
    assert_eq!(uuid, uuid.to_lowercase());
}

/// Serialised events parse back to the same value.
#[test]
fn events_round_trip() {
    let events = [
        stamped(
            Event::new("order_placed", "user-123").property("nested", json!({"a": [1, 2.5, null]})),
        ),
        stamped(Event::alias("a", "b").unwrap()),
        stamped(Event::group_identify("company", "acme", Properties::new()).unwrap()),
    ];
    for event in events {
        let text = serde_json::to_string(&event).unwrap();
        assert_eq!(serde_json::from_str::<Event>(&text).unwrap(), event);
    }
}
