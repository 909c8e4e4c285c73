//! Capture v1 (`POST /i/v1/analytics/events`, protocol.md §1.4) through the client, against
//! FakePostHog: headers, body shape, per-event verdicts (retry only what the server asks for,
//! report drops), statuses, and the body encodings.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use posthog::test_util::{FakePostHog, Reply};
use posthog::{CaptureMode, Client, ContentEncoding, Event};
use serde_json::json;
use uuid::Uuid;

const V1: &str = "/i/v1/analytics/events";

fn client(
    server: &FakePostHog,
    encoding: Option<ContentEncoding>,
) -> (Client, Arc<Mutex<Vec<String>>>) {
    let errors: Arc<Mutex<Vec<String>>> = Arc::default();
    let log = errors.clone();
    let mut builder = Client::builder("phc_v1_token")
        .host(server.url())
        .capture_mode(CaptureMode::V1)
        .max_retries(2)
        .on_error(move |e| {
            log.lock()
                .unwrap()
                .push(format!("{:?} {} {}", e.kind, e.count, e.message))
        });
    if let Some(encoding) = encoding {
        builder = builder.content_encoding(encoding);
    }
    (builder.build().unwrap(), errors)
}

#[tokio::test]
async fn headers_and_body_follow_the_protocol() {
    let server = FakePostHog::start().await;
    let (client, errors) = client(&server, None);
    client.capture(
        Event::new("order_placed", "user-123")
            .property("amount", 42)
            .property("$session_id", "s-1")
            .property("$process_person_profile", false),
    );
    client.flush().await;
    let requests = server.requests_to(V1);
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!(r.header("authorization"), Some("Bearer phc_v1_token"));
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    assert!(
        r.header("posthog-sdk-info")
            .unwrap()
            .starts_with("posthog-rust/")
    );
    assert_eq!(r.header("posthog-attempt"), Some("1"));
    assert!(
        r.header("posthog-request-id")
            .unwrap()
            .parse::<Uuid>()
            .is_ok()
    );
    assert!(
        r.header("posthog-request-timestamp")
            .unwrap()
            .ends_with('Z')
    );
    let body = r.json();
    assert!(body.get("api_key").is_none() && body.get("sent_at").is_none());
    assert!(body["created_at"].as_str().unwrap().ends_with('Z'));
    let event = &body["batch"][0];
    assert_eq!(event["session_id"], "s-1");
    assert_eq!(event["options"], json!({"process_person_profile": false}));
    assert_eq!(event["properties"]["amount"], 42);
    assert!(
        event["properties"].get("$lib").is_none(),
        "the header carries the SDK"
    );
    assert_eq!(event["properties"]["$is_server"], true);
    assert_eq!(
        event["timestamp"].as_str().unwrap().len(),
        24,
        "millisecond precision"
    );
    assert_eq!(client.stats().sent, 1);
    assert!(errors.lock().unwrap().is_empty());
}

/// `retry` verdicts are resent alone, with the same request id and `created_at` and the next
/// attempt number; `drop` verdicts are reported and never resent.
#[tokio::test]
async fn verdicts_decide_per_event() {
    let server = FakePostHog::start().await;
    let (client, errors) = client(&server, None);
    let ids: Vec<Uuid> = (1..=3).map(Uuid::from_u128).collect();
    server.script([Reply::json(
        200,
        &json!({"results": {
            ids[0].to_string(): {"result": "ok"},
            ids[1].to_string(): {"result": "retry", "details": "not_persisted"},
            ids[2].to_string(): {"result": "drop", "details": "invalid_options"}
        }}),
    )]);
    for (i, id) in ids.iter().enumerate() {
        client.capture(Event::new(format!("e{i}"), "u").uuid(*id));
    }
    client.flush().await;
    client.shutdown(Duration::from_secs(10)).await;
    let requests = server.requests_to(V1);
    assert_eq!(requests.len(), 2, "one retry");
    let (first, second) = (&requests[0], &requests[1]);
    assert_eq!(
        first.header("posthog-request-id"),
        second.header("posthog-request-id")
    );
    assert_eq!(second.header("posthog-attempt"), Some("2"));
    assert_eq!(first.json()["created_at"], second.json()["created_at"]);
    let resent: Vec<_> = second.json()["batch"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["uuid"].clone())
        .collect();
    assert_eq!(resent, [json!(ids[1].to_string())]);
    let stats = client.stats();
    assert_eq!((stats.sent, stats.failed), (2, 1));
    let errors = errors.lock().unwrap();
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].contains("Rejected 1") && errors[0].contains("invalid_options"),
        "{errors:?}"
    );
}

/// 503 is retried; 429 is final on v1; a 2xx that does not parse is final, never a loop.
#[tokio::test]
async fn statuses_on_v1() {
    let server = FakePostHog::start().await;
    let (client, errors) = client(&server, None);
    server.script([Reply::status(503)]);
    client.capture(Event::new("retried", "u"));
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while client.stats().sent < 1 {
        assert!(
            std::time::Instant::now() < deadline,
            "{:?}",
            errors.lock().unwrap()
        );
        client.flush().await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    server.script([Reply::json(429, &json!({"error": "rate_limited"})).header("retry-after", "1")]);
    client.capture(Event::new("limited", "u"));
    client.flush().await;
    server.script([Reply::status(200).body("not json")]);
    client.capture(Event::new("garbled", "u"));
    client.flush().await;
    let stats = client.stats();
    assert_eq!((stats.sent, stats.failed), (1, 2));
    assert_eq!(
        server.requests_to(V1).len(),
        4,
        "neither 429 nor a garbled 2xx was resent"
    );
}

#[tokio::test]
async fn bodies_in_every_encoding_decode_to_the_same_events() {
    let mut encodings = vec![
        ContentEncoding::Identity,
        ContentEncoding::Gzip,
        ContentEncoding::Deflate,
    ];
    #[cfg(feature = "br")]
    encodings.push(ContentEncoding::Brotli);
    #[cfg(feature = "zstd")]
    encodings.push(ContentEncoding::Zstd);
    for encoding in encodings {
        let server = FakePostHog::start().await;
        let (client, _) = client(&server, Some(encoding));
        client.capture(Event::new("encoded", "u").property("text", "x".repeat(500)));
        client.flush().await;
        let r = &server.requests_to(V1)[0];
        assert_eq!(
            r.header("content-encoding"),
            encoding.header_value(),
            "{encoding:?}"
        );
        if encoding != ContentEncoding::Identity {
            assert!(r.raw_body.len() < r.body.len(), "{encoding:?} compressed");
        }
        assert_eq!(
            server.events()[0]["properties"]["text"],
            "x".repeat(500),
            "{encoding:?}"
        );
    }
}

#[tokio::test]
async fn batch_mode_refuses_encodings_it_cannot_send() {
    let result = Client::builder("phc")
        .content_encoding(ContentEncoding::Deflate)
        .build();
    assert!(matches!(
        result,
        Err(posthog::Error::InvalidOption {
            option: "content_encoding",
            ..
        })
    ));
}
