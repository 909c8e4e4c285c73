//! C-TRACING-HEADERS through the tower layer, against FakePostHog.

use std::time::Duration;

use posthog::middleware::ContextLayer;
use posthog::test_util::FakePostHog;
use posthog::{Client, Event};
use tower::{ServiceBuilder, ServiceExt};

fn request(headers: &[(&str, &str)]) -> http::Request<()> {
    let mut builder = http::Request::get("https://api.example.com/orders/42?token=secret");
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(()).unwrap()
}

/// C-TRACING-HEADERS.1/.3/.5/.7/.9/.10 in one server: ids from headers, personless without a
/// distinct id, isolation between concurrent requests, metadata without the query string,
/// and the handler's error returned unchanged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_tracing_headers_layer_scopes_each_request() {
    let server = FakePostHog::start().await;
    let client = Client::builder("phc").host(server.url()).build().unwrap();
    let handler_client = client.clone();
    let service = ServiceBuilder::new().layer(ContextLayer::new()).service_fn(
        move |req: http::Request<()>| {
            let client = handler_client.clone();
            async move {
                tokio::time::sleep(Duration::from_millis(20)).await; // let requests interleave
                client.capture(Event::new("Backend Work", ""));
                if req.headers().contains_key("x-fail") {
                    return Err::<http::Response<()>, &'static str>("handler failed");
                }
                Ok(http::Response::new(()))
            }
        },
    );

    let a = service.clone().oneshot(request(&[
        ("X-PostHog-Distinct-Id", "user-123"),
        ("x-posthog-session-id", "session-123"),
    ]));
    let b = service.clone().oneshot(request(&[
        ("x-posthog-distinct-id", " user-456\t "),
        ("user-agent", "tests/1.0"),
        ("x-forwarded-for", "203.0.113.7, 10.0.0.1"),
    ]));
    let c = service.clone().oneshot(request(&[
        ("x-posthog-session-id", "only-session"),
        ("x-fail", "1"),
    ]));
    let (a, b, c) = tokio::join!(a, b, c);
    assert!(a.is_ok() && b.is_ok());
    assert_eq!(
        c.unwrap_err(),
        "handler failed",
        "C-TRACING-HEADERS.10: errors pass through unchanged"
    );

    client.flush().await;
    let events = server.events();
    assert_eq!(events.len(), 3);
    let by_session = |s: &str| {
        events
            .iter()
            .find(|e| e["properties"]["$session_id"] == s)
            .cloned()
    };
    let a = by_session("session-123").unwrap();
    assert_eq!(a["distinct_id"], "user-123");
    assert_eq!(a["properties"]["$request_method"], "GET");
    assert_eq!(a["properties"]["$request_path"], "/orders/42");
    assert!(!a.to_string().contains("secret"), "no query strings");
    let b = events
        .iter()
        .find(|e| e["distinct_id"] == "user-456")
        .unwrap();
    assert_eq!(b["properties"]["$user_agent"], "tests/1.0");
    assert_eq!(
        b["properties"]["$ip"], "203.0.113.7",
        "the first forwarded address"
    );
    assert_eq!(
        b["properties"]["$current_url"], "https://api.example.com/orders/42",
        "scheme, host and path; no query"
    );
    assert!(b["properties"].get("$session_id").is_none());
    let c = by_session("only-session").unwrap();
    assert_eq!(c["properties"]["$process_person_profile"], false);
}

/// C-EXCEPTION-META acceptance (middleware): an error escaping the request is captured with
/// `$exception_source` = the integration's id, `type: middleware`, `handled: false`, and the
/// request's context; a panic is captured and resumed; successes send nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_exception_meta_middleware_captures_escaping_errors() {
    use posthog::middleware::{CaptureErrorsLayer, MIDDLEWARE_SOURCE};
    let server = FakePostHog::start().await;
    let client = Client::builder("phc").host(server.url()).build().unwrap();
    let service = ServiceBuilder::new()
        .layer(ContextLayer::new())
        .layer(CaptureErrorsLayer::new(client.clone()))
        .service_fn(|req: http::Request<()>| async move {
            if req.headers().contains_key("x-panic") {
                panic!("handler panicked");
            }
            if req.headers().contains_key("x-fail") {
                return Err(std::io::Error::other("database down"));
            }
            Ok(http::Response::new(()))
        });
    let failed = service
        .clone()
        .oneshot(request(&[
            ("x-posthog-distinct-id", "user-9"),
            ("x-fail", "1"),
        ]))
        .await;
    assert_eq!(
        failed.unwrap_err().to_string(),
        "database down",
        "handed on unchanged"
    );
    assert!(service.clone().oneshot(request(&[])).await.is_ok());
    let panicking = tokio::spawn(service.oneshot(request(&[("x-panic", "1")])));
    assert!(
        panicking.await.unwrap_err().is_panic(),
        "the panic is resumed"
    );
    client.flush().await;
    let events: Vec<_> = server
        .events()
        .into_iter()
        .filter(|e| e["event"] == "$exception")
        .collect();
    assert_eq!(events.len(), 2, "{events:?}");
    let error = &events[0];
    assert_eq!(error["distinct_id"], "user-9");
    let p = &error["properties"];
    assert_eq!(p["$exception_source"], MIDDLEWARE_SOURCE);
    assert_eq!(p["$exception_message"], "database down");
    assert_eq!(p["$exception_level"], "error");
    assert_eq!(p["$request_path"], "/orders/42");
    let mechanism = &p["$exception_list"][0]["mechanism"];
    assert_eq!(mechanism["type"], "middleware");
    assert_eq!(mechanism["handled"], false);
    let panic = &events[1]["properties"];
    assert_eq!(panic["$exception_message"], "handler panicked");
    assert_eq!(panic["$exception_level"], "fatal");
    assert_eq!(panic["$exception_source"], MIDDLEWARE_SOURCE);
}

/// C-TRACING-HEADERS.11: outbound requests to listed hosts carry the context's ids (stale
/// values replaced or removed); other hosts are untouched.
#[tokio::test]
async fn c_tracing_headers_11_outbound_propagation() {
    use posthog::context::Context;
    use posthog::middleware::PropagateContextLayer;
    let client = ServiceBuilder::new()
        .layer(PropagateContextLayer::new(["Billing.Internal"]))
        .service_fn(|req: http::Request<()>| async move {
            let get = |name: &str| {
                req.headers()
                    .get(name)
                    .map(|v| v.to_str().unwrap().to_owned())
            };
            Ok::<_, std::convert::Infallible>((
                get("x-posthog-distinct-id"),
                get("x-posthog-session-id"),
            ))
        });
    let outbound = |uri: &str| {
        http::Request::get(uri)
            .header("x-posthog-distinct-id", "stale-user")
            .body(())
            .unwrap()
    };
    let scope = Context::new().distinct_id("user-1").session_id("s-1");
    let (listed, other) = scope
        .scope(async {
            (
                client
                    .clone()
                    .oneshot(outbound("http://billing.internal/pay"))
                    .await,
                client
                    .clone()
                    .oneshot(outbound("https://api.example.com/x"))
                    .await,
            )
        })
        .await;
    assert_eq!(listed.unwrap(), (Some("user-1".into()), Some("s-1".into())));
    assert_eq!(
        other.unwrap(),
        (Some("stale-user".into()), None),
        "untouched"
    );
    // No context: stale values to a listed host are removed, nothing is invented.
    let bare = client
        .oneshot(outbound("http://billing.internal/pay"))
        .await;
    assert_eq!(bare.unwrap(), (None, None));
}
