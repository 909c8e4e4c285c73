//! C-HTTP.8: every endpoint call works through a user-supplied service that is not hyper.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{Request, Response};
use posthog_core::{Event, FlagsRequest};
use posthog_transport::{Definitions, Transport, from_service};

#[tokio::test]
async fn every_endpoint_works_through_a_custom_service() {
    let seen: Arc<Mutex<Vec<(String, bool)>>> = Arc::default();
    let log = seen.clone();
    let service = tower::service_fn(move |req: Request<Bytes>| {
        let log = log.clone();
        async move {
            let path = req.uri().path().to_owned();
            log.lock()
                .unwrap()
                .push((path.clone(), req.headers().contains_key("authorization")));
            let body: &'static [u8] = match path.as_str() {
                "/batch/" => br#"{"status": 1}"#,
                "/flags/" => br#"{"flags": {"beta": {"key": "beta", "enabled": true}}}"#,
                "/flags/definitions" => br#"{"flags": []}"#,
                p if p.ends_with("/remote_config") => br#""{\"a\": 1}""#,
                "/api/users/@me/" => br#"{"id": 1}"#,
                _ => return Ok(Response::builder().status(404).body(Bytes::new()).unwrap()),
            };
            Ok::<_, std::io::Error>(Response::new(Bytes::from_static(body)))
        }
    });
    let transport = Transport::builder("phc_token")
        .host("https://posthog.invalid")
        .personal_api_key("phx_key")
        .service(from_service(service))
        .build()
        .unwrap();

    transport.send_event(&Event::new("e", "u")).await.unwrap();
    let flags = transport
        .flags(&FlagsRequest {
            distinct_id: "u".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(flags.flags["beta"].enabled);
    assert!(matches!(
        transport.local_evaluation(None).await.unwrap(),
        Definitions::Modified { .. }
    ));
    assert_eq!(
        transport.remote_config("f").await.unwrap(),
        Some(serde_json::json!({"a": 1}))
    );
    let me = transport
        .api_request(http::Method::GET, "/api/users/@me/", None, false)
        .await
        .unwrap();
    assert_eq!(&me.body()[..], br#"{"id": 1}"#);
    let missing = transport
        .api_request(http::Method::GET, "/api/nope/", None, false)
        .await
        .unwrap_err();
    assert_eq!(missing.status_code().map(|s| s.as_u16()), Some(404));

    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 6);
    assert!(
        seen.iter().all(
            |(path, auth)| *auth == (path.contains("definitions") || path.starts_with("/api/"))
        )
    );
}

/// Errors from a custom service count as "no response" and are retried.
#[tokio::test]
async fn custom_service_errors_are_retried() {
    let calls = Arc::new(Mutex::new(0));
    let counter = calls.clone();
    let service = tower::service_fn(move |_req: Request<Bytes>| {
        let counter = counter.clone();
        async move {
            let mut n = counter.lock().unwrap();
            *n += 1;
            if *n < 3 {
                Err(std::io::Error::other("socket gone"))
            } else {
                Ok(Response::new(Bytes::new()))
            }
        }
    });
    let transport = Transport::builder("phc")
        .service(from_service(service))
        .jitter(Arc::new(|| 0.0))
        .build()
        .unwrap();
    let delivery = transport
        .send_batch(Bytes::from_static(b"{}"))
        .await
        .unwrap();
    assert_eq!(delivery.attempts, 3);
}
