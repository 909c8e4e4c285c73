//! C-FLAG-DEFS.10 with Redis: two clients, one definitions fetch, shared through a real
//! `redis-server` this test starts on 127.0.0.1 (`.ci/run` installs it from Debian's packages).

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use posthog::feature_flags::RedisDefinitionsCache;
use posthog::feature_flags::cache::DefinitionsCache;
use posthog::test_util::FakePostHog;
use posthog::{Client, FlagOptions, FlagValue};
use serde_json::json;

/// A `redis-server` on a free port of 127.0.0.1, stopped on drop.
struct RedisServer {
    child: Child,
    port: u16,
}

impl RedisServer {
    fn start() -> RedisServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .spawn()
            .expect(
                "redis-server must be installed (apt-get install redis-server; .ci/run does it)",
            );
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "redis-server did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        RedisServer { child, port }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_flag_defs_10_redis_shares_one_fetch_between_two_clients() {
    let redis = RedisServer::start();
    let server = FakePostHog::start().await;
    server.set_definitions(json!({"flags": [{"key": "beta-ui", "active": true,
        "filters": {"groups": [{"rollout_percentage": 100}]}}]}));
    let every = Duration::from_secs(60);
    let cache_a: Arc<dyn DefinitionsCache> = Arc::new(
        RedisDefinitionsCache::connect(&redis.url(), every)
            .await
            .unwrap(),
    );
    let cache_b: Arc<dyn DefinitionsCache> = Arc::new(
        RedisDefinitionsCache::connect(&redis.url(), every)
            .await
            .unwrap(),
    );
    let a = Client::builder("phc")
        .host(server.url())
        .personal_api_key("phx")
        .definitions_cache(cache_a)
        .build()
        .unwrap();
    assert!(a.wait_for_flags(Duration::from_secs(10)).await);
    let b = Client::builder("phc")
        .host(server.url())
        .personal_api_key("phx")
        .definitions_cache(cache_b)
        .build()
        .unwrap();
    assert!(b.wait_for_flags(Duration::from_secs(10)).await);

    assert_eq!(
        server.requests_to("/flags/definitions").len(),
        1,
        "one fetch for both clients"
    );
    let local = FlagOptions::new().only_evaluate_locally(true);
    assert_eq!(
        a.get_feature_flag("beta-ui", "u", &local).await,
        Some(FlagValue::Bool(true))
    );
    assert_eq!(
        b.get_feature_flag("beta-ui", "u", &local).await,
        Some(FlagValue::Bool(true))
    );
    a.shutdown(Duration::from_secs(5)).await;
    b.shutdown(Duration::from_secs(5)).await;
}
