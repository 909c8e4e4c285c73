//! The client behind an egress proxy: events and flag requests go through a CONNECT proxy on
//! 127.0.0.1 to the fake PostHog.

use posthog::transport::Proxy;
use posthog::transport::test_util::ConnectProxy;
use posthog::{Client, Event, test_util::FakePostHog};

#[tokio::test]
async fn events_and_flags_go_through_the_configured_proxy() {
    let server = FakePostHog::start().await;
    let proxy = ConnectProxy::start().await.unwrap();
    let client = Client::builder("phc_test")
        .host(server.url())
        .proxy(Proxy::url(proxy.url()))
        .build()
        .unwrap();

    client.capture(Event::new("through_the_proxy", "user-1"));
    client.flush().await;
    let _ = client
        .get_feature_flag("beta", "user-1", &posthog::FlagOptions::default())
        .await;

    assert_eq!(server.events().len(), 1);
    let heads = proxy.heads();
    assert!(!heads.is_empty(), "nothing went through the proxy");
    let target = server.url().trim_start_matches("http://").to_owned();
    assert!(
        heads
            .iter()
            .all(|h| h.starts_with(&format!("CONNECT {target} "))),
        "{heads:?}"
    );
    client.shutdown(std::time::Duration::from_secs(5)).await;
}
