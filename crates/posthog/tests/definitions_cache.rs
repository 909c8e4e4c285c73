//! C-FLAG-DEFS.10–.13: clients sharing flag definitions through a cache.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use posthog::feature_flags::cache::{
    BoxFuture, CacheError, CachedDefinitions, DefinitionsCache, MemoryDefinitionsCache,
};
use posthog::test_util::FakePostHog;
use posthog::{Client, FlagOptions, FlagValue};
use serde_json::json;

fn definitions() -> serde_json::Value {
    json!({"flags": [{"key": "beta-ui", "active": true, "filters": {"groups": [{"rollout_percentage": 100}]}}]})
}

fn client(server: &FakePostHog, cache: Arc<dyn DefinitionsCache>) -> Client {
    Client::builder("phc")
        .host(server.url())
        .personal_api_key("phx")
        .definitions_cache(cache)
        .build()
        .unwrap()
}

/// Two clients sharing a cache: one definitions request, both evaluate locally.
#[tokio::test]
async fn c_flag_defs_10_two_clients_one_fetch() {
    let server = FakePostHog::start().await;
    server.set_definitions(definitions());
    let cache: Arc<dyn DefinitionsCache> =
        Arc::new(MemoryDefinitionsCache::new(Duration::from_secs(60)));
    let a = client(&server, cache.clone());
    let b = client(&server, cache.clone());
    assert!(a.wait_for_flags(Duration::from_secs(5)).await);
    assert!(b.wait_for_flags(Duration::from_secs(5)).await);
    assert_eq!(server.requests_to("/flags/definitions").len(), 1);
    let local = FlagOptions::new().only_evaluate_locally(true);
    assert_eq!(
        a.get_feature_flag("beta-ui", "u", &local).await,
        Some(FlagValue::Bool(true))
    );
    assert_eq!(
        b.get_feature_flag("beta-ui", "u", &local).await,
        Some(FlagValue::Bool(true))
    );
}

/// A cache that fails in the ways C-FLAG-DEFS.12 names.
#[derive(Debug, Default)]
struct Broken {
    decide_fails: bool,
    read_fails: bool,
    shutdown_calls: AtomicUsize,
}

impl DefinitionsCache for Broken {
    fn should_fetch(&self) -> BoxFuture<'_, Result<bool, CacheError>> {
        let fails = self.decide_fails;
        Box::pin(async move {
            if fails {
                Err("decision failed".into())
            } else {
                Ok(false)
            }
        })
    }

    fn get(&self) -> BoxFuture<'_, Result<Option<CachedDefinitions>, CacheError>> {
        let fails = self.read_fails;
        Box::pin(async move {
            if fails {
                Err("read failed".into())
            } else {
                Ok(Some(CachedDefinitions {
                    body: definitions().to_string().into(),
                    etag: None,
                }))
            }
        })
    }

    fn put<'a>(&'a self, _: &'a CachedDefinitions) -> BoxFuture<'a, Result<(), CacheError>> {
        Box::pin(async { Err("put failed".into()) })
    }

    fn shutdown(&self) -> BoxFuture<'_, Result<(), CacheError>> {
        self.shutdown_calls.fetch_add(1, Ordering::SeqCst);
        Box::pin(async { Err("shutdown failed".into()) })
    }
}

/// The fetch decision fails → a direct request is made (and a failing put is only logged).
#[tokio::test]
async fn c_flag_defs_12_failed_decision_fetches_directly() {
    let server = FakePostHog::start().await;
    server.set_definitions(definitions());
    let cache = Arc::new(Broken {
        decide_fails: true,
        ..Default::default()
    });
    let client = client(&server, cache.clone());
    assert!(client.wait_for_flags(Duration::from_secs(5)).await);
    assert_eq!(server.requests_to("/flags/definitions").len(), 1);
    // C-SHUTDOWN.8: a failing cache shutdown does not stop the rest.
    let report = client.shutdown(Duration::from_secs(5)).await;
    assert_eq!(report.undelivered, 0);
    assert_eq!(cache.shutdown_calls.load(Ordering::SeqCst), 1);
}

/// "Don't fetch" with a readable cache → no request; with a failing read → the current set stays.
#[tokio::test]
async fn c_flag_defs_11_reads_the_shared_copy_and_keeps_it_on_failure() {
    let server = FakePostHog::start().await;
    server.set_definitions(json!({"flags": []}));
    let client = client(&server, Arc::new(Broken::default()));
    assert!(client.wait_for_flags(Duration::from_secs(5)).await);
    assert!(
        server.requests_to("/flags/definitions").is_empty(),
        "the shared copy was used"
    );
    let local = FlagOptions::new().only_evaluate_locally(true);
    assert_eq!(
        client.get_feature_flag("beta-ui", "u", &local).await,
        Some(FlagValue::Bool(true))
    );

    let failing = client_with_failing_read(&server).await;
    assert_eq!(
        failing.get_feature_flag("beta-ui", "u", &local).await,
        None,
        "nothing was ever loaded"
    );
}

async fn client_with_failing_read(server: &FakePostHog) -> Client {
    let client = client(
        server,
        Arc::new(Broken {
            read_fails: true,
            ..Default::default()
        }),
    );
    client.load_feature_flags().await;
    client
}

/// A cache whose calls never finish.
#[derive(Debug, Default)]
struct Hanging;

impl DefinitionsCache for Hanging {
    fn should_fetch(&self) -> BoxFuture<'_, Result<bool, CacheError>> {
        Box::pin(std::future::pending())
    }

    fn get(&self) -> BoxFuture<'_, Result<Option<CachedDefinitions>, CacheError>> {
        Box::pin(std::future::pending())
    }

    fn put<'a>(&'a self, _: &'a CachedDefinitions) -> BoxFuture<'a, Result<(), CacheError>> {
        Box::pin(std::future::pending())
    }
}

/// C-FLAG-DEFS.13: a cache call is awaited for a bounded time (3 s): a decision that never
/// comes means fetching directly, and a store that never finishes does not hold the load up.
#[tokio::test]
async fn c_flag_defs_13_a_hanging_cache_call_times_out() {
    let server = FakePostHog::start().await;
    server.set_definitions(definitions());
    let started = std::time::Instant::now();
    let client = client(&server, Arc::new(Hanging));
    assert!(
        client.wait_for_flags(Duration::from_secs(10)).await,
        "loaded directly after the decision timed out"
    );
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(3),
        "the decision was awaited: {took:?}"
    );
    assert!(took < Duration::from_secs(6), "bounded: {took:?}");
    assert_eq!(server.requests_to("/flags/definitions").len(), 1);
    let local = FlagOptions::new().only_evaluate_locally(true);
    assert_eq!(
        client.get_feature_flag("beta-ui", "u", &local).await,
        Some(FlagValue::Bool(true))
    );
}
