//! Feature flags in the client (C-GET-FLAG, C-IS-ENABLED, C-GET-FLAG-PAYLOAD,
//! C-GET-FLAG-RESULT, C-GET-FLAGS, C-GET-FLAGS-PAYLOADS, C-FLAG-CALLED, C-FLAG-DEFS):
//! local evaluation first, one `/flags` request when it cannot decide.

mod all;
pub mod cache;
mod called;
mod called_key;
mod definitions;
mod incomplete;
mod load;
mod local;
mod options;
pub(crate) mod poller;
mod read;
#[cfg(feature = "redis")]
mod redis_cache;
mod remote;
mod result_cache;
mod snapshot;
mod store;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use posthog_core::FlagValue;
use posthog_flags::{Evaluation, FlagInfo, FlagSet};
use serde_json::Value;
use tokio::sync::watch;

pub use definitions::FlagDefinitions;
pub use incomplete::{FlagPayloads, FlagValues, FlagsError, IncompleteFlags};
pub use options::FlagOptions;
#[cfg(feature = "redis")]
pub use redis_cache::RedisDefinitionsCache;
pub use snapshot::FeatureFlagEvaluations;

use crate::Client;
use called::CalledTracker;
use store::DefinitionsStore;

/// A flag's value with its payload and how it was decided (C-GET-FLAG-RESULT).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = posthog::test_util::FakePostHog::start().await;
/// # let client = posthog::Client::builder("phc_project_token").host(server.url()).build()?;
/// # server.set_flags(serde_json::json!({"flags": {"checkout": {"key": "checkout", "enabled": true,
/// #     "variant": "blue", "reason": {"code": "condition_match"}}}}));
/// let result = client
///     .get_feature_flag_result("checkout", "user-123", &posthog::FlagOptions::new())
///     .await
///     .expect("defined");
/// assert_eq!(result.value(), posthog::FlagValue::Variant("blue".into()));
/// assert_eq!(result.reason.as_deref(), Some("condition_match"));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct FeatureFlagResult {
    /// The flag key.
    pub key: String,
    /// `true` for `true` and for any variant.
    pub enabled: bool,
    /// The variant of a multivariate flag.
    pub variant: Option<String>,
    /// The decoded payload for this value.
    pub payload: Option<Value>,
    /// Why (a reason code such as `condition_match`), when known.
    pub reason: Option<String>,
    /// Whether local evaluation decided it (no request was made).
    pub locally_evaluated: bool,
}

impl FeatureFlagResult {
    /// The value.
    pub fn value(&self) -> FlagValue {
        match &self.variant {
            Some(v) => FlagValue::Variant(v.clone()),
            None => FlagValue::Bool(self.enabled),
        }
    }
}

/// The flag machinery a client owns.
#[derive(Debug)]
pub(crate) struct FlagsRuntime {
    pub(crate) store: Arc<DefinitionsStore>,
    pub(crate) tracker: CalledTracker,
    stop: watch::Sender<bool>,
    cache: Option<Arc<dyn cache::DefinitionsCache>>,
    /// The opt-in cache of evaluated results (C-FLAG-CACHE.5).
    results: Option<result_cache::ResultCache>,
}

impl FlagsRuntime {
    pub(crate) fn new(
        cache: Option<Arc<dyn cache::DefinitionsCache>>,
        results: Option<(usize, Duration)>,
        on_error: Option<crate::report::OnError>,
    ) -> Self {
        Self {
            store: Arc::new(DefinitionsStore::new(on_error)),
            tracker: CalledTracker::new(called::CAPACITY),
            stop: watch::channel(false).0,
            cache,
            results: results.map(|(capacity, ttl)| result_cache::ResultCache::new(capacity, ttl)),
        }
    }

    /// Starts the definitions poller on the current runtime.
    pub(crate) fn start_poller(&self, transport: posthog_transport::Transport, interval: Duration) {
        let stop = self.stop.subscribe();
        tokio::spawn(poller::poll(
            self.store.clone(),
            transport,
            interval,
            self.cache.clone(),
            stop,
        ));
    }

    /// Stops the poller, forgets reported flags and shuts the cache down (C-SHUTDOWN.2/.6/.8,
    /// C-FLAG-CALLED.5); a failing cache never stops the rest.
    pub(crate) async fn shutdown(&self) {
        self.stop.send_replace(true);
        self.tracker.clear();
        if let Some(results) = &self.results {
            results.clear();
        }
        if let Some(cache) = &self.cache {
            match tokio::time::timeout(Duration::from_secs(3), cache.shutdown()).await {
                Ok(Ok(())) => {}
                Ok(Err(err)) => {
                    tracing::warn!(target: "posthog", "definitions cache shutdown failed: {err}")
                }
                Err(_) => tracing::warn!(target: "posthog", "definitions cache shutdown timed out"),
            }
        }
    }
}

/// A flag's value and what `$feature_flag_called` reports about it.
#[derive(Debug, Clone)]
pub(crate) struct Resolved {
    value: FlagValue,
    payload: Option<Value>,
    locally: bool,
    reason: Option<Cow<'static, str>>,
    id: Option<i64>,
    version: Option<i64>,
    request_id: Option<String>,
    /// When the server evaluated it (ms since the epoch; remote answers only).
    evaluated_at: Option<i64>,
    /// The flag backs an experiment (`None`: the server did not say).
    has_experiment: Option<bool>,
    /// The server's minimal-`$feature_flag_called` gate, as it was for this evaluation
    /// (C-FLAG-CALLED.9).
    minimal_gate: bool,
}

/// The flags of one subject, as `all_flags` found them.
#[derive(Debug, Default, Clone)]
pub(crate) struct AllFlags {
    pub(crate) distinct_id: String,
    pub(crate) groups: posthog_core::Groups,
    pub(crate) flags: BTreeMap<String, Resolved>,
    pub(crate) request_id: Option<String>,
    pub(crate) error: Option<FlagsError>,
}

/// What local evaluation concluded.
enum LocalAnswer {
    Decided(Resolved),
    /// No value, and the server must not be asked (local-only, or flags unavailable).
    Absent,
    /// Ask `/flags`.
    Remote,
}

impl Resolved {
    /// This flag's value, payload and reason as a [`FeatureFlagResult`] for `key`.
    fn to_result(&self, key: &str) -> FeatureFlagResult {
        let (enabled, variant) = match &self.value {
            FlagValue::Bool(b) => (*b, None),
            FlagValue::Variant(v) => (true, Some(v.clone())),
        };
        FeatureFlagResult {
            key: key.to_owned(),
            enabled,
            variant,
            payload: self.payload.clone(),
            reason: self.reason.as_deref().map(str::to_owned),
            locally_evaluated: self.locally,
        }
    }

    /// A flag's answer in a `/flags` response.
    fn remote(detail: &posthog_core::FlagDetail, answer: &posthog_core::FlagsResponse) -> Self {
        Resolved {
            value: detail.value(),
            payload: detail.metadata.payload.clone(),
            locally: false,
            reason: detail.reason.as_ref().map(|r| Cow::Owned(r.code.clone())),
            id: detail.metadata.id,
            version: detail.metadata.version,
            request_id: answer.request_id.clone(),
            evaluated_at: answer.evaluated_at,
            has_experiment: detail.metadata.has_experiment,
            minimal_gate: answer.minimal_flag_called_events,
        }
    }
}

impl LocalAnswer {
    /// What one flag's local evaluation means for a read: a match is decided; an
    /// inconclusive flag is the server's question, unless only local evaluation is allowed,
    /// when it has the value the reference SDK gives it locally, or none.
    fn of(
        set: &FlagSet,
        key: &str,
        info: FlagInfo,
        evaluation: Evaluation<'_>,
        only_locally: bool,
        with_payload: bool,
    ) -> LocalAnswer {
        let (value, payload, reason) = match evaluation {
            Evaluation::Match(m) => (m.value, m.payload, Some(m.reason.code())),
            _ if !only_locally => return LocalAnswer::Remote,
            answer => match answer.local_only_value() {
                Some(value) => (value, set.payload(key, value), None),
                None => return LocalAnswer::Absent,
            },
        };
        LocalAnswer::Decided(Resolved {
            value: value.to_owned(),
            payload: payload.filter(|_| with_payload).cloned(),
            locally: true,
            reason: reason.map(Cow::Borrowed),
            id: info.id,
            version: info.version,
            request_id: None,
            evaluated_at: None,
            has_experiment: info.has_experiment,
            minimal_gate: set.minimal_flag_called_events(),
        })
    }
}

fn value_json(value: &FlagValue) -> Value {
    match value {
        FlagValue::Bool(b) => Value::Bool(*b),
        FlagValue::Variant(v) => Value::String(v.clone()),
    }
}

/// A read that local evaluation could not decide and that may ask `/flags`, with what the
/// synchronous part already worked out: the subject, the merged options and the result-cache
/// slot.
struct NeedsRemote<'a> {
    subject: Cow<'a, str>,
    /// Boxed so the read's `Result` stays small on the local path.
    merged: Option<Box<FlagOptions>>,
    slot: Option<u64>,
}

/// `/flags` gave no answer (no response, an error status, over quota); the code is what
/// `$feature_flag_error` reports ([`FlagsError::code`]).
struct RemoteFailed(Cow<'static, str>);

/// `$feature_flag_error` for a read: the answer's own errors (`errors_while_computing_flags`,
/// `quota_limited`, or a failed request's code), then `flag_missing` when there is no value,
/// comma-joined as PostHog's SDKs do.
fn read_error(answer_errors: Option<&str>, missing: bool) -> Option<String> {
    match (answer_errors, missing) {
        (Some(errors), true) => Some(format!("{errors},flag_missing")),
        (Some(errors), false) => Some(errors.to_owned()),
        (None, true) => Some("flag_missing".to_owned()),
        (None, false) => None,
    }
}

/// The call's options with the active scope's flag property overrides merged in (the call's
/// own properties win); `None` when the scope has none.
fn with_scope_overrides(opts: &FlagOptions) -> Option<FlagOptions> {
    let stored = crate::context::flag_properties()?;
    let mut merged = opts.clone();
    if merged.device_id.is_none() {
        merged.device_id = stored.device_id;
    }
    let mut person = stored.person;
    person.extend(opts.person_properties.clone());
    merged.person_properties = person;
    for (group_type, mut props) in stored.groups {
        if let Some(explicit) = opts.group_properties.get(&group_type) {
            props.extend(explicit.clone());
        }
        merged.group_properties.insert(group_type, props);
    }
    Some(merged)
}

impl Client {
    /// The payload of a remote-config flag (`GET …/remote_config`, with the personal API
    /// key); `None` when there is none or it cannot be read (the reason is logged).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = posthog::test_util::FakePostHog::start().await;
    /// # let client = posthog::Client::builder("phc_project_token").host(server.url()).personal_api_key("phx_personal_key").build()?;
    /// # server.set_remote_config("banner", serde_json::json!("{\"text\": \"Sale!\"}"));
    /// let banner = client.get_remote_config_payload("banner").await;
    /// assert_eq!(banner, Some(serde_json::json!({"text": "Sale!"})));
    /// # Ok(()) }
    /// ```
    pub async fn get_remote_config_payload(&self, key: &str) -> Option<Value> {
        if !self.is_enabled() {
            return None;
        }
        match self.transport()?.remote_config(key).await {
            Ok(payload) => payload,
            Err(err) => {
                tracing::warn!(target: "posthog", "remote config {key:?} could not be read: {err}");
                None
            }
        }
    }

    /// Forgets every cached flag result (see [`crate::ClientBuilder::flag_result_cache`]).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = posthog::test_util::FakePostHog::start().await;
    /// # let client = posthog::Client::builder("phc_project_token").host(server.url()).flag_result_cache(1_000, std::time::Duration::from_secs(60)).build()?;
    /// # server.set_flags(serde_json::json!({"flags": {
    /// #     "beta": {"key": "beta", "enabled": true, "reason": {"code": "condition_match"}},
    /// #     "checkout": {"key": "checkout", "enabled": true, "variant": "blue",
    /// #                  "metadata": {"payload": "{\"cta\": \"Buy now\"}"}}}}));
    /// let opts = posthog::FlagOptions::new();
    /// assert!(client.is_feature_enabled("beta", "user-123", &opts).await); // cached now
    /// client.clear_flag_result_cache(); // the next read asks again
    /// # Ok(()) }
    /// ```
    pub fn clear_flag_result_cache(&self) {
        if let Some(results) = self.result_cache() {
            results.clear();
        }
    }

    /// The value of flag `key` for `distinct_id` (C-GET-FLAG): decided locally when the loaded
    /// definitions can, else by one `/flags` request (unless `only_evaluate_locally`). `None`
    /// when the flag is unknown or could not be evaluated (the reason is logged). Emits
    /// `$feature_flag_called` once per value unless turned off.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = posthog::test_util::FakePostHog::start().await;
    /// # let client = posthog::Client::builder("phc_project_token").host(server.url()).build()?;
    /// # server.set_flags(serde_json::json!({"flags": {
    /// #     "beta": {"key": "beta", "enabled": true, "reason": {"code": "condition_match"}},
    /// #     "checkout": {"key": "checkout", "enabled": true, "variant": "blue",
    /// #                  "metadata": {"payload": "{\"cta\": \"Buy now\"}"}}}}));
    /// use posthog::{FlagOptions, FlagValue};
    /// let value = client.get_feature_flag("checkout", "user-123", &FlagOptions::new()).await;
    /// assert_eq!(value, Some(FlagValue::Variant("blue".into())));
    /// # Ok(()) }
    /// ```
    pub async fn get_feature_flag(
        &self,
        key: &str,
        distinct_id: &str,
        opts: &FlagOptions,
    ) -> Option<FlagValue> {
        // The common case answers without entering the full read's future. The fast answer is
        // a temporary of this statement alone, so it is not kept in the future's state across
        // the `.await` below: it goes to the output from registers, not through memory.
        if let Some(value) = self.read_value_fast(key, distinct_id, opts) {
            return Some(value);
        }
        self.read_flag(key, distinct_id, opts, true)
            .await
            .map(|r| r.value)
    }

    /// Whether flag `key` is on (`true` or any variant) for `distinct_id`; the options'
    /// `default_value` (else `false`) when it has no value (C-IS-ENABLED).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = posthog::test_util::FakePostHog::start().await;
    /// # let client = posthog::Client::builder("phc_project_token").host(server.url()).build()?;
    /// # server.set_flags(serde_json::json!({"flags": {
    /// #     "beta": {"key": "beta", "enabled": true, "reason": {"code": "condition_match"}},
    /// #     "checkout": {"key": "checkout", "enabled": true, "variant": "blue",
    /// #                  "metadata": {"payload": "{\"cta\": \"Buy now\"}"}}}}));
    /// let opts = posthog::FlagOptions::new().person_property("plan", "pro");
    /// if client.is_feature_enabled("beta", "user-123", &opts).await {
    ///     // the new code path
    /// }
    /// # assert!(client.is_feature_enabled("beta", "user-123", &opts).await);
    /// # Ok(()) }
    /// ```
    pub async fn is_feature_enabled(
        &self,
        key: &str,
        distinct_id: &str,
        opts: &FlagOptions,
    ) -> bool {
        match self.get_feature_flag(key, distinct_id, opts).await {
            Some(value) => value.is_enabled(),
            None => opts.default_value.unwrap_or(false),
        }
    }

    /// The payload of the value flag `key` has for `distinct_id` (C-GET-FLAG-PAYLOAD); no
    /// `$feature_flag_called` unless asked for.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = posthog::test_util::FakePostHog::start().await;
    /// # let client = posthog::Client::builder("phc_project_token").host(server.url()).build()?;
    /// # server.set_flags(serde_json::json!({"flags": {
    /// #     "beta": {"key": "beta", "enabled": true, "reason": {"code": "condition_match"}},
    /// #     "checkout": {"key": "checkout", "enabled": true, "variant": "blue",
    /// #                  "metadata": {"payload": "{\"cta\": \"Buy now\"}"}}}}));
    /// let payload = client
    ///     .get_feature_flag_payload("checkout", "user-123", &posthog::FlagOptions::new())
    ///     .await;
    /// assert_eq!(payload, Some(serde_json::json!({"cta": "Buy now"})));
    /// # Ok(()) }
    /// ```
    pub async fn get_feature_flag_payload(
        &self,
        key: &str,
        distinct_id: &str,
        opts: &FlagOptions,
    ) -> Option<Value> {
        if let Some(wanted) = &opts.match_value {
            if let Some(known) = self.stored_payload(key, wanted) {
                return known;
            }
            // No local definition of the flag: ask, and answer only for the value asked about.
            let resolved = self.read_flag(key, distinct_id, opts, false).await?;
            return (resolved.value == *wanted)
                .then_some(resolved.payload)
                .flatten();
        }
        self.read_flag(key, distinct_id, opts, false)
            .await
            .and_then(|r| r.payload)
    }

    /// The payload the loaded definitions store for `value` of flag `key`: `Some(None)` when
    /// the flag is defined without one, `None` when the flag is not loaded.
    fn stored_payload(&self, key: &str, value: &FlagValue) -> Option<Option<Value>> {
        let runtime = self.flags_runtime()?;
        runtime.store.with_current(|loaded| {
            let set = &loaded?.set;
            if !set.contains(key) {
                return None;
            }
            let value = match value {
                FlagValue::Bool(false) => return Some(None),
                FlagValue::Bool(true) => posthog_flags::FlagValueRef::Bool(true),
                FlagValue::Variant(v) => posthog_flags::FlagValueRef::Variant(v),
            };
            Some(set.payload(key, value).cloned())
        })
    }

    /// Value, payload and reason of flag `key` in one read (C-GET-FLAG-RESULT).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = posthog::test_util::FakePostHog::start().await;
    /// # let client = posthog::Client::builder("phc_project_token").host(server.url()).build()?;
    /// # server.set_flags(serde_json::json!({"flags": {
    /// #     "beta": {"key": "beta", "enabled": true, "reason": {"code": "condition_match"}},
    /// #     "checkout": {"key": "checkout", "enabled": true, "variant": "blue",
    /// #                  "metadata": {"payload": "{\"cta\": \"Buy now\"}"}}}}));
    /// let result = client
    ///     .get_feature_flag_result("checkout", "user-123", &posthog::FlagOptions::new())
    ///     .await
    ///     .expect("the flag exists");
    /// assert!(result.enabled);
    /// assert_eq!(result.variant.as_deref(), Some("blue"));
    /// assert_eq!(result.payload, Some(serde_json::json!({"cta": "Buy now"})));
    /// # Ok(()) }
    /// ```
    pub async fn get_feature_flag_result(
        &self,
        key: &str,
        distinct_id: &str,
        opts: &FlagOptions,
    ) -> Option<FeatureFlagResult> {
        let resolved = self.read_flag(key, distinct_id, opts, true).await?;
        Some(resolved.to_result(key))
    }

    /// Waits until local-evaluation definitions are loaded, at most `timeout`; `false` when they
    /// are not (no personal API key, refused, or not yet) (C-FLAG-DEFS.8).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = posthog::test_util::FakePostHog::start().await;
    /// # server.set_definitions(serde_json::json!({"flags": [{"key": "beta", "active": true,
    /// #     "filters": {"groups": [{"properties": [], "rollout_percentage": 100}]}}]}));
    /// # let client = posthog::Client::builder("phc_project_token").host(server.url()).personal_api_key("phx_personal_key").build()?;
    /// // With a personal API key, definitions load in the background; wait for them at startup.
    /// assert!(client.wait_for_flags(std::time::Duration::from_secs(5)).await);
    /// # Ok(()) }
    /// ```
    pub async fn wait_for_flags(&self, timeout: Duration) -> bool {
        match self.flags_runtime() {
            Some(runtime) if self.options().personal_api_key.is_some() => {
                runtime.store.wait_ready(timeout).await
            }
            _ => false,
        }
    }

    /// Whether local-evaluation definitions are loaded, and when.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = posthog::test_util::FakePostHog::start().await;
    /// # server.set_definitions(serde_json::json!({"flags": [{"key": "beta", "active": true,
    /// #     "filters": {"groups": [{"properties": [], "rollout_percentage": 100}]}}]}));
    /// # let client = posthog::Client::builder("phc_project_token").host(server.url()).personal_api_key("phx_personal_key").build()?;
    /// client.wait_for_flags(std::time::Duration::from_secs(5)).await;
    /// assert!(client.feature_flag_definitions_loaded_at().is_some());
    /// # Ok(()) }
    /// ```
    pub fn feature_flag_definitions_loaded_at(&self) -> Option<std::time::SystemTime> {
        self.flags_runtime()?.store.current().map(|l| l.loaded_at)
    }

    /// Loads the definitions now (otherwise the poller does every `poll_interval`).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = posthog::test_util::FakePostHog::start().await;
    /// # server.set_definitions(serde_json::json!({"flags": [{"key": "beta", "active": true,
    /// #     "filters": {"groups": [{"properties": [], "rollout_percentage": 100}]}}]}));
    /// # let client = posthog::Client::builder("phc_project_token").host(server.url()).personal_api_key("phx_personal_key").build()?;
    /// client.load_feature_flags().await; // now, instead of at the next poll
    /// assert!(client.feature_flag_definitions_loaded_at().is_some());
    /// # Ok(()) }
    /// ```
    pub async fn load_feature_flags(&self) {
        if let (Some(runtime), Some(transport)) = (self.flags_runtime(), self.transport()) {
            if transport.has_personal_api_key() {
                runtime
                    .store
                    .refresh(transport, runtime.cache.as_deref())
                    .await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// C-SHUTDOWN.6 / C-FLAG-CALLED.5: shutdown forgets which `$feature_flag_called` events
    /// were reported.
    #[tokio::test]
    async fn c_shutdown_6_shutdown_clears_the_flag_called_dedupe() {
        let runtime = FlagsRuntime::new(None, None, None);
        assert!(runtime.tracker.first_time(42));
        assert!(!runtime.tracker.first_time(42));
        assert_eq!(runtime.tracker.len(), 1);
        runtime.shutdown().await;
        assert_eq!(runtime.tracker.len(), 0);
        assert!(
            runtime.tracker.first_time(42),
            "reported again after a restart"
        );
    }
}
