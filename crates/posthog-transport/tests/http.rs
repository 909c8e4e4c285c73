//! The transport against a real HTTP server on 127.0.0.1 (C-HTTP, C-RETRY-QUEUE).

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use posthog_core::{BatchRequest, Event, FlagsRequest};
use posthog_transport::test_util::{Reply, TestServer};
use posthog_transport::{Definitions, ErrorKind, HttpClient, Transport, TransportBuilder};

const KEY: &str = "phx_personal_secret_key_123";

/// No jitter, so waits are exactly the documented minimums.
fn builder(server: &TestServer) -> TransportBuilder {
    Transport::builder("phc_test_token")
        .host(server.url())
        .jitter(Arc::new(|| 0.0))
}

fn batch_json(n: usize) -> Bytes {
    let events: Vec<Event> = (0..n)
        .map(|i| Event::new("order_placed", format!("user-{i}")).property("i", i))
        .collect();
    Bytes::from(
        serde_json::to_vec(&BatchRequest::new(
            "phc_test_token",
            &events,
            chrono::Utc::now(),
        ))
        .unwrap(),
    )
}

#[tokio::test]
async fn gzip_bodies_decode_to_the_same_json() {
    let server = TestServer::start().await.unwrap();
    let transport = builder(&server).build().unwrap();
    let json = batch_json(50);
    transport.send_batch(json.clone()).await.unwrap();
    let req = &server.requests()[0];
    assert_eq!(req.path, "/batch/");
    assert_eq!(req.query.as_deref(), Some("compression=gzip"));
    assert_eq!(req.header("content-encoding"), Some("gzip"));
    assert_eq!(req.header("content-type"), Some("application/json"));
    assert_eq!(req.header("user-agent"), Some(posthog_core::USER_AGENT));
    assert!(posthog_core::USER_AGENT.starts_with("posthog-rust/"));
    assert_eq!(&req.raw_body[..2], &[0x1f, 0x8b], "gzip magic");
    assert!(req.raw_body.len() < json.len());
    let sent: serde_json::Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(req.json(), sent);
}

#[tokio::test]
async fn gzip_can_be_switched_off() {
    let server = TestServer::start().await.unwrap();
    let transport = builder(&server).gzip(false).build().unwrap();
    transport.send_batch(batch_json(1)).await.unwrap();
    let req = &server.requests()[0];
    assert_eq!(req.header("content-encoding"), None);
    assert_eq!(req.query, None);
}

/// C-RETRY-QUEUE.1/.2: 503, 503, 200 → three attempts and success, with growing waits.
#[tokio::test]
async fn retries_503_twice_then_succeeds() {
    let server = TestServer::start().await.unwrap();
    server.script([Reply::status(503), Reply::status(503), Reply::ok()]);
    let transport = builder(&server).build().unwrap();
    let delivery = transport.send_batch(batch_json(1)).await.unwrap();
    assert_eq!(delivery.attempts, 3);
    let reqs = server.requests();
    assert_eq!(reqs.len(), 3);
    assert!(reqs[1].at - reqs[0].at >= Duration::from_millis(200));
    assert!(reqs[2].at - reqs[1].at >= Duration::from_millis(400));
    assert_eq!(reqs[0].body, reqs[2].body, "the same body is resent");
}

/// C-RETRY-QUEUE.6: bounded attempts; the error says how many.
#[tokio::test]
async fn gives_up_after_max_retries() {
    let server = TestServer::start().await.unwrap();
    server.set_default(Reply::status(500).body("down"));
    let transport = builder(&server).max_retries(2).build().unwrap();
    let err = transport.send_batch(batch_json(1)).await.unwrap_err();
    assert_eq!(server.requests().len(), 3);
    assert_eq!(err.attempts(), 3);
    assert_eq!(err.status_code().map(|s| s.as_u16()), Some(500));
    assert_eq!(err.body(), Some("down"));
}

/// C-RETRY-QUEUE.2: `Retry-After` in seconds is a floor.
#[tokio::test]
async fn honors_retry_after_seconds() {
    let server = TestServer::start().await.unwrap();
    server.script([Reply::status(429).header("retry-after", "1"), Reply::ok()]);
    let transport = builder(&server).build().unwrap();
    transport.send_batch(batch_json(1)).await.unwrap();
    let reqs = server.requests();
    assert_eq!(reqs.len(), 2);
    assert!(
        reqs[1].at - reqs[0].at >= Duration::from_millis(990),
        "{:?}",
        reqs[1].at - reqs[0].at
    );
}

/// `Retry-After` as an HTTP date, and capped by the policy's cap.
#[tokio::test]
async fn honors_retry_after_dates_and_caps_them() {
    use posthog_transport::{RetryLayer, RetryPolicy, from_service};
    use tower::{ServiceBuilder, ServiceExt};

    let server = TestServer::start().await.unwrap();
    let in_two_secs =
        httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(2));
    server.script([
        Reply::status(503).header("retry-after", &in_two_secs),
        Reply::ok(),
    ]);
    let transport = builder(&server).build().unwrap();
    transport.send_batch(batch_json(1)).await.unwrap();
    let reqs = server.requests();
    assert!(reqs[1].at - reqs[0].at >= Duration::from_millis(900));

    // A one-hour Retry-After with a 300 ms cap waits 300 ms, not an hour.
    server.clear();
    server.script([
        Reply::status(503).header("retry-after", "3600"),
        Reply::ok(),
    ]);
    let policy = RetryPolicy {
        cap: Duration::from_millis(300),
        jitter: 0.0,
        ..RetryPolicy::ingestion(1)
    };
    let client = from_service(posthog_transport::HttpClient::new().unwrap());
    let service = ServiceBuilder::new()
        .layer(RetryLayer::new(policy))
        .service(client);
    let started = Instant::now();
    let request = http::Request::post(format!("{}/batch/", server.url()))
        .body(Bytes::from_static(b"{}"))
        .unwrap();
    let response = service.oneshot(request).await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        started.elapsed() >= Duration::from_millis(300)
            && started.elapsed() < Duration::from_secs(5)
    );
}

/// C-RETRY-QUEUE.1: 400, 401, 413 (and 403) are final.
#[tokio::test]
async fn does_not_retry_client_errors() {
    for status in [400u16, 401, 403, 413] {
        let server = TestServer::start().await.unwrap();
        server.set_default(Reply::status(status));
        let transport = builder(&server).build().unwrap();
        let err = transport.send_batch(batch_json(1)).await.unwrap_err();
        assert_eq!(server.requests().len(), 1, "{status} must not be retried");
        assert_eq!(err.kind(), ErrorKind::Status);
        assert_eq!(err.status_code().map(|s| s.as_u16()), Some(status));
        assert_eq!(err.attempts(), 1);
    }
}

/// A connection reset mid-response, and a connection closed with no response, are retried.
#[tokio::test]
async fn retries_broken_connections() {
    let server = TestServer::start().await.unwrap();
    server.script([Reply::CutOffBody, Reply::Close, Reply::ok()]);
    let transport = builder(&server).build().unwrap();
    let delivery = transport.send_batch(batch_json(1)).await.unwrap();
    assert_eq!(delivery.attempts, 3);
    assert_eq!(server.requests().len(), 3);
}

#[tokio::test]
async fn timeout_fires_on_a_stalled_server() {
    let server = TestServer::start().await.unwrap();
    server.script([Reply::ok().delay(Duration::from_secs(10))]);
    let transport = builder(&server)
        .capture_timeout(Duration::from_millis(200))
        .max_retries(0)
        .build()
        .unwrap();
    let started = Instant::now();
    let err = transport.send_batch(batch_json(1)).await.unwrap_err();
    assert!(err.is_timeout(), "{err}");
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn reuses_one_connection_for_sequential_requests() {
    let server = TestServer::start().await.unwrap();
    let transport = builder(&server).build().unwrap();
    for _ in 0..100 {
        transport.send_batch(batch_json(2)).await.unwrap();
    }
    assert_eq!(server.requests().len(), 100);
    assert_eq!(server.connection_count(), 1);
}

/// C-HTTP.2: the personal key goes only as `Authorization` to definitions and the private
/// API, never to capture or `/flags`, and never into errors or `Debug`.
#[tokio::test]
async fn personal_key_goes_only_where_it_belongs() {
    let server = TestServer::start().await.unwrap();
    server.set_handler(Arc::new(|req| match req.path.as_str() {
        "/flags/definitions" => Some(Reply::json(200, &serde_json::json!({"flags": []}))),
        "/flags/" => Some(Reply::json(200, &serde_json::json!({"flags": {}}))),
        _ => None,
    }));
    let transport = builder(&server)
        .personal_api_key(KEY)
        .api_host(server.url())
        .build()
        .unwrap();
    transport.send_batch(batch_json(1)).await.unwrap();
    transport.send_event(&Event::new("e", "u")).await.unwrap();
    transport
        .flags(&FlagsRequest {
            distinct_id: "u".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    transport.local_evaluation(None).await.unwrap();
    transport
        .api_request(http::Method::GET, "/api/users/@me/", None, false)
        .await
        .unwrap();

    for req in server.requests() {
        let everything = format!("{:?} {:?} {:?}", req.query, req.headers, req.body);
        let privileged = req.path == "/flags/definitions" || req.path.starts_with("/api/");
        if privileged {
            assert_eq!(
                req.header("authorization"),
                Some(format!("Bearer {KEY}").as_str()),
                "{}",
                req.path
            );
            assert!(!req.query.clone().unwrap_or_default().contains(KEY));
        } else {
            assert!(
                !everything.contains(KEY),
                "{} carried the personal key",
                req.path
            );
            assert_eq!(req.header("authorization"), None, "{}", req.path);
        }
    }
    assert!(!format!("{transport:?}").contains(KEY));

    // An error whose body echoes the key is redacted.
    server.script([Reply::status(401).body(format!("bad key {KEY}"))]);
    let err = transport.local_evaluation(None).await.unwrap_err();
    for text in [err.to_string(), format!("{err:?}")] {
        assert!(!text.contains(KEY), "{text}");
    }
    assert_eq!(err.status_code().map(|s| s.as_u16()), Some(401));
}

#[tokio::test]
async fn calls_that_need_a_personal_key_say_so() {
    let server = TestServer::start().await.unwrap();
    let transport = builder(&server).build().unwrap();
    let err = transport.local_evaluation(None).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(server.requests().is_empty());
}

/// `/flags`: token in the body, no Authorization header, both answer shapes parse.
#[tokio::test]
async fn flags_request_and_answer() {
    let server = TestServer::start().await.unwrap();
    server.script([Reply::json(
        200,
        &serde_json::json!({"featureFlags": {"beta": "test"}, "featureFlagPayloads": {}}),
    )]);
    let transport = builder(&server).build().unwrap();
    let answer = transport
        .flags(&FlagsRequest {
            distinct_id: "user-1".into(),
            flag_keys_to_evaluate: Some(vec!["beta".into()]),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(answer.flags["beta"].variant.as_deref(), Some("test"));
    let req = &server.requests()[0];
    assert_eq!(req.path, "/flags/");
    assert_eq!(req.query.as_deref(), Some("v=2"));
    assert_eq!(req.header("content-encoding"), None);
    let body = req.json();
    assert_eq!(body["api_key"], "phc_test_token");
    assert_eq!(body["flag_keys_to_evaluate"], serde_json::json!(["beta"]));
}

/// C-HTTP.6/.7: a timeout, then success → exactly two requests, the retry ≥ 300 ms later;
/// the same for 502 and 504.
#[tokio::test]
async fn c_http_6_flags_retry_on_no_response_502_and_504() {
    for first in [
        Reply::ok().delay(Duration::from_secs(5)),
        Reply::status(502),
        Reply::status(504),
    ] {
        let server = TestServer::start().await.unwrap();
        server.script([first, Reply::json(200, &serde_json::json!({"flags": {}}))]);
        let transport = builder(&server)
            .flags_timeout(Duration::from_millis(300))
            .build()
            .unwrap();
        transport
            .flags(&FlagsRequest {
                distinct_id: "u".into(),
                ..Default::default()
            })
            .await
            .unwrap();
        let reqs = server.requests();
        assert_eq!(reqs.len(), 2);
        assert!(reqs[1].at - reqs[0].at >= Duration::from_millis(300));
    }
}

/// C-HTTP.6: 503 (and 500, 429, 408) on `/flags` → exactly one request, a typed error.
#[tokio::test]
async fn c_http_6_flags_do_not_retry_other_statuses() {
    for status in [503u16, 500, 429, 408] {
        let server = TestServer::start().await.unwrap();
        server.set_default(Reply::status(status));
        let transport = builder(&server).build().unwrap();
        let err = transport
            .flags(&FlagsRequest {
                distinct_id: "u".into(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(server.requests().len(), 1, "{status}");
        assert_eq!(err.status_code().map(|s| s.as_u16()), Some(status));
    }
}

/// C-HTTP.7: retries set to 0 → one request; set to 2 → three, ≥ 300 ms then ≥ 600 ms apart.
#[tokio::test]
async fn c_http_7_flag_retry_count_and_spacing() {
    let server = TestServer::start().await.unwrap();
    server.set_default(Reply::ok().delay(Duration::from_secs(5)));
    let transport = builder(&server)
        .flags_timeout(Duration::from_millis(100))
        .flag_retries(0)
        .build()
        .unwrap();
    let err = transport
        .flags(&FlagsRequest {
            distinct_id: "u".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(err.is_timeout());
    assert_eq!(server.requests().len(), 1);

    let server = TestServer::start().await.unwrap();
    server.set_default(Reply::ok().delay(Duration::from_secs(5)));
    let transport = builder(&server)
        .flags_timeout(Duration::from_millis(100))
        .flag_retries(2)
        .build()
        .unwrap();
    let err = transport
        .flags(&FlagsRequest {
            distinct_id: "u".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.attempts(), 3);
    let reqs = server.requests();
    assert_eq!(reqs.len(), 3);
    assert!(
        reqs[1].at - reqs[0].at >= Duration::from_millis(400),
        "timeout 100 + wait 300"
    );
    assert!(
        reqs[2].at - reqs[1].at >= Duration::from_millis(700),
        "timeout 100 + wait 600"
    );
}

/// Definitions: the ETag is sent back and a 304 keeps (or replaces) it.
#[tokio::test]
async fn definitions_use_etags() {
    let server = TestServer::start().await.unwrap();
    server.script([
        Reply::json(200, &serde_json::json!({"flags": []})).header("etag", "W/\"v1\""),
        Reply::status(304),
        Reply::status(304).header("etag", "W/\"v2\""),
    ]);
    let transport = builder(&server).personal_api_key(KEY).build().unwrap();
    let Definitions::Modified { etag, body } = transport.local_evaluation(None).await.unwrap()
    else {
        panic!()
    };
    assert_eq!(etag.as_deref(), Some("W/\"v1\""));
    assert_eq!(&body[..], br#"{"flags":[]}"#);
    let again = transport.local_evaluation(etag.as_deref()).await.unwrap();
    assert_eq!(
        again,
        Definitions::NotModified {
            etag: Some("W/\"v1\"".into())
        }
    );
    let third = transport.local_evaluation(Some("W/\"v1\"")).await.unwrap();
    assert_eq!(
        third,
        Definitions::NotModified {
            etag: Some("W/\"v2\"".into())
        }
    );

    let reqs = server.requests();
    assert_eq!(reqs[0].path, "/flags/definitions");
    assert_eq!(
        reqs[0].query.as_deref(),
        Some("token=phc_test_token&send_cohorts")
    );
    assert_eq!(reqs[0].header("if-none-match"), None);
    assert_eq!(reqs[1].header("if-none-match"), Some("W/\"v1\""));
    assert_eq!(
        reqs[0].header("x-posthog-project-api-key"),
        Some("phc_test_token")
    );
}

#[tokio::test]
async fn remote_config_decodes_the_payload() {
    let server = TestServer::start().await.unwrap();
    server.script([Reply::json(
        200,
        &serde_json::json!("{\"color\": \"blue\"}"),
    )]);
    let transport = builder(&server).personal_api_key(KEY).build().unwrap();
    let payload = transport.remote_config("my-flag").await.unwrap();
    assert_eq!(payload, Some(serde_json::json!({"color": "blue"})));
    assert_eq!(
        server.requests()[0].path,
        "/api/projects/@current/feature_flags/my-flag/remote_config"
    );
}

#[tokio::test]
async fn bad_hosts_are_rejected_when_built() {
    for host in ["ftp://example.com", "not a url", "https://x.com/?q=1"] {
        let err = Transport::builder("phc").host(host).build().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config, "{host}");
    }
    assert_eq!(
        Transport::builder(" ").build().unwrap_err().kind(),
        ErrorKind::Config
    );
}

/// A response larger than the client's limit is a typed error, not an unbounded read.
#[tokio::test]
async fn oversized_responses_are_refused() {
    use posthog_transport::{HttpClient, from_service};

    let server = TestServer::start().await.unwrap();
    server
        .script([Reply::json(200, &serde_json::json!({"flags": []})).body(vec![b'x'; 64 * 1024])]);
    let client = HttpClient::builder()
        .max_response_bytes(1024)
        .build()
        .unwrap();
    let transport = builder(&server)
        .personal_api_key(KEY)
        .service(from_service(client))
        .build()
        .unwrap();
    let err = transport.local_evaluation(None).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BodyTooLarge, "{err}");
}

/// A TLS handshake that fails (here: https to a server that speaks plain HTTP) is reported
/// as `Tls`, not as "could not connect", with rustls's error in the source chain.
#[tokio::test]
async fn tls_failures_have_their_own_kind_and_cause() {
    let server = TestServer::start().await.unwrap();
    let https = server.url().replace("http://", "https://");
    let client = HttpClient::builder().build().unwrap();
    let request = http::Request::post(format!("{https}/batch/"))
        .body(bytes::Bytes::new())
        .unwrap();
    let err = tower::ServiceExt::oneshot(client, request)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Tls, "{err}");
    assert!(err.is_no_response());
    let mut cause: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(&err);
    let mut chain = Vec::new();
    while let Some(e) = cause {
        chain.push(e.to_string());
        cause = e.source();
    }
    assert!(!chain.is_empty(), "the cause is kept");
    let text = err.to_string();
    assert!(text.starts_with("TLS failure"), "{text}");
    assert!(
        text.contains("corrupt message"),
        "rustls's own words are in the message: {text}"
    );
}
