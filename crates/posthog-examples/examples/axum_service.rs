//! An axum service with PostHog: a context per request (from PostHog's tracing headers),
//! capture and feature flags in handlers, errors and panics captured, and a graceful shutdown
//! that delivers what is queued before the process exits.
//!
//! ```text
//! cargo run -p posthog-examples --example axum_service
//! ```
//!
//! Without `POSTHOG_API_KEY` the events go to an in-process fake PostHog; the example then
//! sends itself a few requests, shuts down, and prints what PostHog received. With the key it
//! serves on 127.0.0.1:3000 until Ctrl-C.

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use posthog::middleware::{CaptureErrorsLayer, ContextLayer};
use posthog::test_util::FakePostHog;
use posthog::{Client, ClientBuilder, Event, ExceptionOptions, FlagOptions};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tower::ServiceBuilder;

/// The distinct id of the request: the context's (`X-POSTHOG-DISTINCT-ID`), else anonymous.
fn who() -> String {
    posthog::context::current_distinct_id().unwrap_or_else(|| "anonymous".into())
}

async fn checkout(State(posthog): State<Client>) -> Json<serde_json::Value> {
    let user = who();
    let flags = posthog.evaluate_flags(&user, &FlagOptions::new()).await;
    let button = match flags.get_flag("checkout-button") {
        Some(posthog::FlagValue::Variant(v)) => v,
        _ => "default".to_owned(),
    };
    // The event carries the request's context and the flags the handler read.
    posthog.capture(
        flags.attach(Event::new("checkout_viewed", "").property("button", button.as_str())),
    );
    Json(json!({ "button": button }))
}

/// A handler error that is captured as an `$exception` and answered with a 500.
struct AppError(std::io::Error);

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        eprintln!("request failed: {}", self.0);
        (StatusCode::INTERNAL_SERVER_ERROR, "something went wrong").into_response()
    }
}

async fn pay(State(posthog): State<Client>, Path(order): Path<u32>) -> Result<String, AppError> {
    let err = std::io::Error::other(format!("card declined for order {order}"));
    posthog.capture_exception(&err, &who(), &ExceptionOptions::default());
    Err(AppError(err))
}

fn app(posthog: Client) -> Router {
    Router::new()
        .route("/checkout", get(checkout))
        .route("/orders/{id}/pay", post(pay))
        .with_state(posthog.clone())
        // Outermost first: the context is open while errors and panics are captured.
        .layer(
            ServiceBuilder::new()
                .layer(ContextLayer::new())
                .layer(CaptureErrorsLayer::new(posthog)),
        )
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let real = std::env::var("POSTHOG_API_KEY").is_ok_and(|k| !k.trim().is_empty());
    let fake = if real {
        None
    } else {
        Some(FakePostHog::start().await)
    };
    let builder = match &fake {
        Some(server) => {
            server.set_flags(json!({"flags": {"checkout-button": {
                "key": "checkout-button", "enabled": true, "variant": "green"}}}));
            ClientBuilder::new("phc_axum_example").host(server.url())
        }
        None => ClientBuilder::from_env(),
    };
    let posthog = builder
        .on_error(|e| eprintln!("lost {} event(s): {}", e.count, e.message))
        .build()?;

    let addr: SocketAddr = if real {
        "127.0.0.1:3000"
    } else {
        "127.0.0.1:0"
    }
    .parse()?;
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    println!("listening on http://{addr}");

    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(
        axum::serve(listener, app(posthog.clone()))
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .into_future(),
    );

    if fake.is_some() {
        for (method, path) in [("GET", "/checkout"), ("POST", "/orders/7/pay")] {
            let answer = request(addr, method, path, "user-42").await?;
            println!(
                "{method} {path} -> {}",
                answer.lines().next().unwrap_or_default()
            );
        }
    } else {
        tokio::signal::ctrl_c().await?;
    }

    // Graceful shutdown: stop taking requests, then deliver what PostHog still has queued.
    let _ = stop.send(());
    server.await??;
    let report = posthog.shutdown(Duration::from_secs(10)).await;
    println!(
        "shutdown: {} sent, {} undelivered",
        report.sent, report.undelivered
    );

    if let Some(server) = fake {
        for event in server.events() {
            println!(
                "PostHog received {} for {} (path {})",
                event["event"], event["distinct_id"], event["properties"]["$request_path"]
            );
        }
        let names: Vec<String> = server
            .events()
            .iter()
            .map(|e| e["event"].to_string())
            .collect();
        assert!(
            names.iter().any(|n| n == "\"checkout_viewed\""),
            "{names:?}"
        );
        assert!(names.iter().any(|n| n == "\"$exception\""), "{names:?}");
    }
    Ok(())
}

/// One HTTP/1.1 request to the service, as a browser with PostHog's tracing header would send.
async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    user: &str,
) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(addr).await?;
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nX-POSTHOG-DISTINCT-ID: {user}\r\n\
         Content-Length: 0\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await?;
    Ok(answer)
}
