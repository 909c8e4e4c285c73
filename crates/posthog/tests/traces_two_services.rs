//! Issue 17: two services, each with its own client, one calling the other through the tower
//! layers: one trace id across both, and the right parent links (C-TRACES.7 across a hop).

use posthog::middleware::{PropagateContextLayer, TraceLayer};
use posthog::test_util::FakePostHog;
use posthog::traces::{SpanOptions, TracesConfig};
use posthog::{Client, ClientBuilder};
use tower::{Layer, ServiceExt};

fn client(server: &FakePostHog, service: &str) -> Client {
    ClientBuilder::new("phc_test_token")
        .host(server.url())
        .traces(TracesConfig::new().service(service, None))
        .build()
        .unwrap()
}

#[tokio::test]
async fn one_trace_across_two_services() {
    let server = FakePostHog::start().await;
    let (orders, stock) = (client(&server, "orders"), client(&server, "stock"));

    let stock_client = stock.clone();
    let stock_service = TraceLayer::new(stock.clone())
        .name_with(|req| format!("{} /stock/{{sku}}", req.method()))
        .layer(tower::service_fn(move |_req: http::Request<()>| {
            let client = stock_client.clone();
            async move {
                client.start_span("stock lookup", SpanOptions::new()).end();
                Ok::<_, std::convert::Infallible>(http::Response::new(()))
            }
        }));

    let orders_service = TraceLayer::new(orders.clone())
        .name_with(|req| format!("{} /orders/{{id}}", req.method()))
        .layer(tower::service_fn(move |_req: http::Request<()>| {
            let downstream =
                PropagateContextLayer::new(["stock.internal"]).layer(stock_service.clone());
            async move {
                let call = http::Request::get("http://stock.internal/stock/sku-1")
                    .body(())
                    .unwrap();
                downstream.oneshot(call).await
            }
        }));

    let incoming = http::Request::get("http://orders.example/orders/42")
        .header(
            "traceparent",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        )
        .body(())
        .unwrap();
    let response = orders_service.oneshot(incoming).await.unwrap();
    assert_eq!(response.status(), 200);
    orders.flush().await;
    stock.flush().await;

    let spans = server.spans();
    let by = |name: &str| {
        spans
            .iter()
            .find(|s| s["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("{name} in {spans:?}"))
    };
    let (orders_span, stock_span, lookup) = (
        by("GET /orders/{id}"),
        by("GET /stock/{sku}"),
        by("stock lookup"),
    );
    for span in [&orders_span, &stock_span, &lookup] {
        assert_eq!(
            span["traceId"], "0af7651916cd43dd8448eb211c80319c",
            "one trace: {span}"
        );
    }
    assert_eq!(
        orders_span["parentSpanId"], "b7ad6b7169203331",
        "continues the caller"
    );
    assert_eq!(stock_span["parentSpanId"], orders_span["spanId"], "the hop");
    assert_eq!(lookup["parentSpanId"], stock_span["spanId"]);
    assert_eq!(
        (orders_span["kind"].clone(), stock_span["kind"].clone()),
        (2.into(), 2.into())
    );
}
