//! Requests through an outbound HTTP proxy: a CONNECT proxy on 127.0.0.1 tunnels to the test
//! server, and records what it was asked.

use bytes::Bytes;
use posthog_transport::test_util::{ConnectProxy, TestServer};
use posthog_transport::{HttpClient, Proxy, Transport, from_service};

fn transport_through(server: &TestServer, proxy: Proxy) -> Transport {
    let http = HttpClient::builder().proxy(proxy).build().unwrap();
    Transport::builder("phc_test_token")
        .host(server.url())
        .service(from_service(http))
        .build()
        .unwrap()
}

fn batch() -> Bytes {
    Bytes::from_static(br#"{"api_key":"phc_test_token","batch":[]}"#)
}

#[tokio::test]
async fn requests_go_through_a_connect_proxy_with_its_credentials() {
    let server = TestServer::start().await.unwrap();
    let proxy = ConnectProxy::start().await.unwrap();
    let url = proxy.url().replace("http://", "http://alice:s3cret@");
    let transport = transport_through(&server, Proxy::url(url));

    transport.send_batch(batch()).await.unwrap();

    assert_eq!(
        server.requests_to("/batch/").len(),
        1,
        "delivered through the tunnel"
    );
    let heads = proxy.heads();
    assert_eq!(heads.len(), 1, "{heads:?}");
    let target = server.addr().to_string();
    assert!(
        heads[0].starts_with(&format!("CONNECT {target} HTTP/1.1\r\n")),
        "{heads:?}"
    );
    // base64("alice:s3cret")
    assert!(
        heads[0].contains("Proxy-Authorization: Basic YWxpY2U6czNjcmV0\r\n"),
        "{heads:?}"
    );
}

#[tokio::test]
async fn no_proxy_hosts_are_reached_directly() {
    let server = TestServer::start().await.unwrap();
    let proxy = ConnectProxy::start().await.unwrap();
    let transport = transport_through(&server, Proxy::url(proxy.url()).no_proxy("127.0.0.1"));

    transport.send_batch(batch()).await.unwrap();

    assert_eq!(server.requests_to("/batch/").len(), 1);
    assert!(proxy.heads().is_empty(), "the proxy was bypassed");
}

#[tokio::test]
async fn proxy_none_ignores_the_environment() {
    let server = TestServer::start().await.unwrap();
    let transport = transport_through(&server, Proxy::none());
    transport.send_batch(batch()).await.unwrap();
    assert_eq!(server.requests_to("/batch/").len(), 1);
}

/// `HTTP_PROXY`/`NO_PROXY` from the environment, read by a child process of this test binary
/// (a test cannot set its own environment safely while other tests run).
#[test]
fn the_environment_names_the_proxy() {
    const CHILD: &str = "POSTHOG_PROXY_TEST_CHILD";
    if std::env::var_os(CHILD).is_some() {
        return child_sends_through_the_environments_proxy();
    }
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (server, proxy) = runtime.block_on(async {
        (
            TestServer::start().await.unwrap(),
            ConnectProxy::start().await.unwrap(),
        )
    });
    let exe = std::env::current_exe().unwrap();
    let status = std::process::Command::new(exe)
        .args(["--exact", "the_environment_names_the_proxy", "--nocapture"])
        .env(CHILD, server.url())
        .env("HTTP_PROXY", proxy.url())
        .env("NO_PROXY", "")
        .env_remove("http_proxy")
        .env_remove("no_proxy")
        .status()
        .unwrap();
    assert!(status.success(), "the child failed");
    let heads = proxy.heads();
    assert_eq!(heads.len(), 1, "{heads:?}");
    assert!(
        heads[0].starts_with(&format!("CONNECT {} ", server.addr())),
        "{heads:?}"
    );
    assert_eq!(server.requests_to("/batch/").len(), 1);
    drop(runtime);
}

fn child_sends_through_the_environments_proxy() {
    let host = std::env::var("POSTHOG_PROXY_TEST_CHILD").unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let http = HttpClient::builder().build().unwrap(); // Proxy::from_env by default
        let transport = Transport::builder("phc_test_token")
            .host(host)
            .service(from_service(http))
            .build()
            .unwrap();
        transport.send_batch(batch()).await.unwrap();
    });
}
