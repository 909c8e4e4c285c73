//! Feature flags in the client (C-GET-FLAG, C-IS-ENABLED, C-GET-FLAG-PAYLOAD,
//! C-GET-FLAG-RESULT, C-GET-FLAGS, C-GET-FLAGS-PAYLOADS, C-FLAG-CALLED, C-FLAG-DEFS):
//! local evaluation first, one `/flags` request when it cannot decide.

pub mod cache;
mod called;
mod options;
pub(crate) mod poller;
#[cfg(feature = "redis")]
mod redis_cache;
mod result_cache;
mod snapshot;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use posthog_core::{Event, FlagValue, FlagsRequest};
use posthog_flags::{EvalContext, Evaluation};
use serde_json::Value;
use tokio::sync::watch;

pub use options::FlagOptions;
#[cfg(feature = "redis")]
pub use redis_cache::RedisDefinitionsCache;
pub use snapshot::FeatureFlagEvaluations;

use crate::Client;
use called::CalledTracker;
use poller::DefinitionsStore;

/// A flag's value with its payload and how it was decided (C-GET-FLAG-RESULT).
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
    ) -> Self {
        Self {
            store: Arc::new(DefinitionsStore::new()),
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
    pub(crate) error: Option<String>,
}

/// What local evaluation concluded.
enum LocalAnswer {
    Decided(Resolved),
    /// No value, and the server must not be asked (local-only, or flags unavailable).
    Absent,
    /// Ask `/flags`.
    Remote,
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

/// `/flags` gave no answer (no response, an error status, over quota).
struct RemoteFailed;

/// The call's options with the active scope's flag property overrides merged in (the call's
/// own properties win); `None` when the scope has none.
fn with_scope_overrides(opts: &FlagOptions) -> Option<FlagOptions> {
    let stored = crate::context::flag_properties()?;
    let mut merged = opts.clone();
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

    /// The distinct id of a flag read: the caller's, else the active context's (C-TRACING-HEADERS.6:
    /// none at all → no evaluation, no request, no event).
    fn flag_subject<'a>(&self, distinct_id: &'a str) -> Option<Cow<'a, str>> {
        if !distinct_id.trim().is_empty() {
            return Some(Cow::Borrowed(distinct_id));
        }
        crate::context::current_distinct_id().map(Cow::Owned)
    }

    fn flags_request(
        &self,
        distinct_id: &str,
        opts: &FlagOptions,
        keys: Option<Vec<String>>,
    ) -> FlagsRequest {
        let groups = opts.groups.clone();
        let group_properties = opts
            .group_properties
            .iter()
            .filter(|(t, _)| groups.contains_key(*t))
            .map(|(t, p)| (t.clone(), p.clone()))
            .collect();
        FlagsRequest {
            api_key: String::new(), // set by the transport
            distinct_id: distinct_id.to_owned(),
            groups,
            person_properties: opts.person_properties.clone(),
            group_properties,
            geoip_disable: self.options().disable_geoip,
            flag_keys_to_evaluate: keys,
            device_id: opts.device_id.clone(),
        }
    }

    /// Local evaluation under the definitions' read lock (no copy of the set, no await).
    fn resolve_locally(&self, key: &str, distinct_id: &str, opts: &FlagOptions) -> LocalAnswer {
        let Some(runtime) = self.flags_runtime() else {
            return LocalAnswer::Absent;
        };
        runtime.store.with_current(|loaded| {
            let Some(loaded) = loaded else {
                return LocalAnswer::Remote;
            };
            let mut ctx = EvalContext::new(distinct_id)
                .person_properties(&opts.person_properties)
                .groups(&opts.groups)
                .group_properties(&opts.group_properties);
            if let Some(device) = &opts.device_id {
                ctx = ctx.device_id(device);
            }
            let Some((info, evaluation)) = loaded.set.evaluate_with_info(key, &ctx) else {
                return if opts.only_evaluate_locally {
                    LocalAnswer::Absent
                } else {
                    LocalAnswer::Remote
                };
            };
            let local = |value: posthog_flags::FlagValueRef<'_>,
                         payload: Option<&Value>,
                         reason: Option<&'static str>| {
                LocalAnswer::Decided(Resolved {
                    value: value.to_owned(),
                    payload: payload.cloned(),
                    locally: true,
                    reason: reason.map(Cow::Borrowed),
                    id: info.id,
                    version: info.version,
                    request_id: None,
                    has_experiment: info.has_experiment,
                    minimal_gate: loaded.set.minimal_flag_called_events(),
                })
            };
            match evaluation {
                Evaluation::Match(m) => local(m.value, m.payload, Some(m.reason.code())),
                answer @ Evaluation::Inconclusive(_) if opts.only_evaluate_locally => {
                    match answer.local_only_value() {
                        Some(value) => local(value, loaded.set.payload(key, value), None),
                        None => LocalAnswer::Absent,
                    }
                }
                _ if opts.only_evaluate_locally => LocalAnswer::Absent,
                _ => LocalAnswer::Remote,
            }
        })
    }

    /// One `/flags` request for `key`: `Ok(None)` when the server knows no such flag (or
    /// failed to compute it), `Err` when it gave no answer.
    async fn resolve_remotely(
        &self,
        key: &str,
        distinct_id: &str,
        opts: &FlagOptions,
    ) -> Result<Option<Resolved>, RemoteFailed> {
        let transport = self.transport().ok_or(RemoteFailed)?;
        match transport
            .flags(&self.flags_request(distinct_id, opts, Some(vec![key.to_owned()])))
            .await
        {
            Ok(answer) if answer.quota_limited => {
                tracing::warn!(target: "posthog", "feature flags are over quota; no value for {key:?}");
                Err(RemoteFailed)
            }
            Ok(answer) => {
                let Some(detail) = answer.flags.get(key).filter(|d| !d.failed) else {
                    return Ok(None);
                };
                Ok(Some(Resolved {
                    value: detail.value(),
                    payload: detail.metadata.payload.clone(),
                    locally: false,
                    reason: detail.reason.as_ref().map(|r| Cow::Owned(r.code.clone())),
                    id: detail.metadata.id,
                    version: detail.metadata.version,
                    request_id: answer.request_id.clone(),
                    has_experiment: detail.metadata.has_experiment,
                    minimal_gate: answer.minimal_flag_called_events,
                }))
            }
            Err(err) => {
                tracing::warn!(target: "posthog", "feature flag {key:?} could not be evaluated remotely: {err}");
                Err(RemoteFailed)
            }
        }
    }

    /// `$feature_flag_called`, once per (distinct id, flag, value, groups) (C-FLAG-CALLED).
    pub(crate) fn report_called(
        &self,
        key: &str,
        distinct_id: &str,
        groups: &posthog_core::Groups,
        resolved: Option<&Resolved>,
        error: Option<&str>,
    ) {
        let Some(runtime) = self.flags_runtime() else {
            return;
        };
        let dedup = called::key(distinct_id, key, resolved.map(|r| &r.value), groups);
        if !runtime.tracker.first_time(dedup) {
            return;
        }
        let response = resolved.map_or(Value::Null, |r| value_json(&r.value));
        let mut event = Event::new("$feature_flag_called", distinct_id)
            .property("$feature_flag", key)
            .property("$feature_flag_response", response.clone())
            .property(format!("$feature/{key}"), response)
            .property("locally_evaluated", resolved.is_some_and(|r| r.locally));
        if let Some(r) = resolved {
            if let Some(payload) = &r.payload {
                event = event.property("$feature_flag_payload", payload.clone());
            }
            if let Some(id) = r.id {
                event = event.property("$feature_flag_id", id);
            }
            if let Some(version) = r.version {
                event = event.property("$feature_flag_version", version);
            }
            if let (Some(reason), false) = (&r.reason, r.locally) {
                event = event.property("$feature_flag_reason", reason.as_ref());
            }
            if let Some(request_id) = &r.request_id {
                event = event.property("$feature_flag_request_id", request_id.as_str());
            }
            if let Some(has_experiment) = r.has_experiment {
                event = event.property("$feature_flag_has_experiment", has_experiment);
            }
        }
        if let Some(error) = error {
            event = event.property("$feature_flag_error", error);
        }
        for (group_type, group_key) in groups {
            event = event.group(group_type.as_str(), group_key.as_str());
        }
        // C-FLAG-CALLED.7: the server's gate on and the flag known not to back an experiment.
        if resolved.is_some_and(|r| r.minimal_gate && r.has_experiment == Some(false)) {
            self.capture_reduced(event, called::minimal_keeps);
        } else {
            self.capture(event);
        }
    }

    /// One flag read: local evaluation (synchronous, so a local answer costs no future state
    /// or copies), then, only when needed, the boxed remote path.
    async fn read_flag(
        &self,
        key: &str,
        distinct_id: &str,
        opts: &FlagOptions,
        events_default: bool,
    ) -> Option<Resolved> {
        match self.read_flag_now(key, distinct_id, opts, events_default) {
            Ok(resolved) => resolved,
            Err(need) => Box::pin(self.read_flag_remotely(key, need, opts, events_default)).await,
        }
    }

    /// The synchronous part of a read: `Ok` when it is decided without a request.
    fn read_flag_now<'a>(
        &self,
        key: &str,
        distinct_id: &'a str,
        opts: &FlagOptions,
        events_default: bool,
    ) -> Result<Option<Resolved>, NeedsRemote<'a>> {
        if !self.is_enabled() {
            return Ok(None);
        }
        let Some(distinct_id) = self.flag_subject(distinct_id) else {
            return Ok(None);
        };
        let merged = with_scope_overrides(opts);
        let effective = merged.as_ref().unwrap_or(opts);
        let cache = self.result_cache();
        let slot = cache.map(|_| result_cache::key(&distinct_id, effective, "one", &[key]));
        if let (Some(cache), Some(slot)) = (cache, slot) {
            if let result_cache::Lookup::Fresh(result_cache::Cached::One(resolved)) =
                cache.get(slot)
            {
                self.after_read(
                    key,
                    &distinct_id,
                    effective,
                    resolved.as_ref(),
                    events_default,
                );
                return Ok(resolved);
            }
        }
        let resolved = match self.resolve_locally(key, &distinct_id, effective) {
            LocalAnswer::Decided(resolved) => Some(resolved),
            LocalAnswer::Absent => None,
            LocalAnswer::Remote if effective.only_evaluate_locally => None,
            LocalAnswer::Remote => {
                return Err(NeedsRemote {
                    subject: distinct_id,
                    merged: merged.map(Box::new),
                    slot,
                });
            }
        };
        if let (Some(cache), Some(slot)) = (cache, slot) {
            cache.put(slot, result_cache::Cached::One(resolved.clone()));
        }
        self.after_read(
            key,
            &distinct_id,
            effective,
            resolved.as_ref(),
            events_default,
        );
        Ok(resolved)
    }

    /// The result cache, when it is on.
    fn result_cache(&self) -> Option<&result_cache::ResultCache> {
        self.flags_runtime()?.results.as_ref()
    }

    /// The remote part of a read, continuing from what `read_flag_now` worked out.
    async fn read_flag_remotely(
        &self,
        key: &str,
        need: NeedsRemote<'_>,
        opts: &FlagOptions,
        events_default: bool,
    ) -> Option<Resolved> {
        let distinct_id = need.subject;
        let opts = need.merged.as_deref().unwrap_or(opts);
        let results = self.result_cache().zip(need.slot);
        let resolved = match self.resolve_remotely(key, &distinct_id, opts).await {
            Ok(resolved) => {
                if let Some((cache, slot)) = results {
                    cache.put(slot, result_cache::Cached::One(resolved.clone()));
                }
                resolved
            }
            // The server could not answer: an expired cached answer is better than none.
            Err(RemoteFailed) => match results.map(|(cache, slot)| cache.get(slot)) {
                Some(
                    result_cache::Lookup::Stale(result_cache::Cached::One(resolved))
                    | result_cache::Lookup::Fresh(result_cache::Cached::One(resolved)),
                ) => resolved,
                _ => None,
            },
        };
        self.after_read(key, &distinct_id, opts, resolved.as_ref(), events_default);
        resolved
    }

    /// Forgets every cached flag result (see [`crate::ClientBuilder::flag_result_cache`]).
    pub fn clear_flag_result_cache(&self) {
        if let Some(results) = self.flags_runtime().and_then(|r| r.results.as_ref()) {
            results.clear();
        }
    }

    /// `$feature_flag_called` for a read, when asked for.
    fn after_read(
        &self,
        key: &str,
        distinct_id: &str,
        opts: &FlagOptions,
        resolved: Option<&Resolved>,
        events_default: bool,
    ) {
        if opts.send_feature_flag_events.unwrap_or(events_default) {
            let error = resolved.is_none().then_some("flag_missing");
            self.report_called(key, distinct_id, &opts.groups, resolved, error);
        }
    }

    /// The value of flag `key` for `distinct_id` (C-GET-FLAG): decided locally when the loaded
    /// definitions can, else by one `/flags` request (unless `only_evaluate_locally`). `None`
    /// when the flag is unknown or could not be evaluated (the reason is logged). Emits
    /// `$feature_flag_called` once per value unless turned off.
    pub async fn get_feature_flag(
        &self,
        key: &str,
        distinct_id: &str,
        opts: &FlagOptions,
    ) -> Option<FlagValue> {
        self.read_flag(key, distinct_id, opts, true)
            .await
            .map(|r| r.value)
    }

    /// Whether flag `key` is on (`true` or any variant) for `distinct_id`; the options'
    /// `default_value` (else `false`) when it has no value (C-IS-ENABLED).
    pub async fn is_feature_enabled(
        &self,
        key: &str,
        distinct_id: &str,
        opts: &FlagOptions,
    ) -> bool {
        match self.read_flag(key, distinct_id, opts, true).await {
            Some(r) => r.value.is_enabled(),
            None => opts.default_value.unwrap_or(false),
        }
    }

    /// The payload of the value flag `key` has for `distinct_id` (C-GET-FLAG-PAYLOAD); no
    /// `$feature_flag_called` unless asked for.
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
    pub async fn get_feature_flag_result(
        &self,
        key: &str,
        distinct_id: &str,
        opts: &FlagOptions,
    ) -> Option<FeatureFlagResult> {
        let r = self.read_flag(key, distinct_id, opts, true).await?;
        let (enabled, variant) = match &r.value {
            FlagValue::Bool(b) => (*b, None),
            FlagValue::Variant(v) => (true, Some(v.clone())),
        };
        Some(FeatureFlagResult {
            key: key.to_owned(),
            enabled,
            variant,
            payload: r.payload,
            reason: r.reason.map(Cow::into_owned),
            locally_evaluated: r.locally,
        })
    }

    /// Every flag's value for `distinct_id` (C-GET-FLAGS): all evaluated locally, and at most
    /// one `/flags` request when some cannot be decided; the server's answers replace the
    /// undecided ones. No `$feature_flag_called`.
    pub async fn get_all_flags(
        &self,
        distinct_id: &str,
        opts: &FlagOptions,
    ) -> BTreeMap<String, FlagValue> {
        self.all_flags(distinct_id, opts)
            .await
            .flags
            .into_iter()
            .map(|(k, r)| (k, r.value))
            .collect()
    }

    /// Every flag's value and the payloads of those that have one (C-GET-FLAGS-PAYLOADS).
    pub async fn get_all_flags_and_payloads(
        &self,
        distinct_id: &str,
        opts: &FlagOptions,
    ) -> (BTreeMap<String, FlagValue>, BTreeMap<String, Value>) {
        let all = self.all_flags(distinct_id, opts).await.flags;
        let payloads = all
            .iter()
            .filter_map(|(k, r)| r.payload.clone().map(|p| (k.clone(), p)))
            .collect();
        (
            all.into_iter().map(|(k, r)| (k, r.value)).collect(),
            payloads,
        )
    }

    /// Every flag (or the `flag_keys` of the options) for one subject: local first, then at
    /// most one `/flags` request for what local evaluation could not decide (C-GET-FLAGS.2,
    /// C-EVALUATE-FLAGS.3/.4/.16).
    pub(crate) async fn all_flags(&self, distinct_id: &str, opts: &FlagOptions) -> AllFlags {
        let mut out = AllFlags::default();
        if !self.is_enabled() {
            out.error = Some("client disabled".into());
            return out;
        }
        let Some(subject) = self.flag_subject(distinct_id) else {
            return out;
        };
        out.distinct_id = subject.into_owned();
        out.groups = opts.groups.clone();
        let merged = with_scope_overrides(opts);
        let effective = merged.as_ref().unwrap_or(opts);
        let Some(cache) = self.result_cache() else {
            return self.evaluate_all_flags(out, effective).await;
        };
        let subject = out.distinct_id.clone();
        let slot = match &effective.flag_keys {
            Some(keys) => {
                let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
                result_cache::key(&subject, effective, "some", &keys)
            }
            None => result_cache::key(&subject, effective, "all", &[]),
        };
        let earlier = match cache.get(slot) {
            result_cache::Lookup::Fresh(result_cache::Cached::All(all)) => return all,
            result_cache::Lookup::Stale(result_cache::Cached::All(all)) => Some(all),
            _ => None,
        };
        let out = Box::pin(self.evaluate_all_flags(out, effective)).await;
        match (out.error.is_some(), earlier) {
            // The server could not answer: an expired cached answer is better than none.
            (true, Some(stale)) => stale,
            (true, None) => out,
            (false, _) => {
                cache.put(slot, result_cache::Cached::All(out.clone()));
                out
            }
        }
    }

    /// Evaluates the flags of `out`'s subject with the merged options: locally, then at most
    /// one `/flags` request for what stays undecided.
    async fn evaluate_all_flags(&self, mut out: AllFlags, opts: &FlagOptions) -> AllFlags {
        let Some(runtime) = self.flags_runtime() else {
            return out;
        };
        let distinct_id = out.distinct_id.clone();
        let wanted = opts.flag_keys.as_deref();
        let mut undecided = false;
        runtime.store.with_current(|loaded| {
            let Some(loaded) = loaded else {
                undecided = true;
                return;
            };
            let ctx = EvalContext::new(&distinct_id)
                .person_properties(&opts.person_properties)
                .groups(&opts.groups)
                .group_properties(&opts.group_properties);
            let keys: Vec<&str> = match wanted {
                Some(keys) => keys.iter().map(String::as_str).collect(),
                None => loaded.set.keys().collect(),
            };
            for key in keys {
                let Some((info, evaluation)) = loaded.set.evaluate_with_info(key, &ctx) else {
                    undecided = true; // a requested key with no definition
                    continue;
                };
                let local = |value: posthog_flags::FlagValueRef<'_>,
                             payload: Option<&Value>,
                             reason: Option<&'static str>| Resolved {
                    value: value.to_owned(),
                    payload: payload.cloned(),
                    locally: true,
                    reason: reason.map(Cow::Borrowed),
                    id: info.id,
                    version: info.version,
                    request_id: None,
                    has_experiment: info.has_experiment,
                    minimal_gate: loaded.set.minimal_flag_called_events(),
                };
                match evaluation {
                    Evaluation::Match(m) => {
                        out.flags.insert(
                            key.to_owned(),
                            local(m.value, m.payload, Some(m.reason.code())),
                        );
                    }
                    answer if opts.only_evaluate_locally => {
                        if let Some(value) = answer.local_only_value() {
                            out.flags.insert(
                                key.to_owned(),
                                local(value, loaded.set.payload(key, value), None),
                            );
                        }
                    }
                    _ => undecided = true, // inconclusive
                }
            }
        });
        if undecided && !opts.only_evaluate_locally {
            if let Some(transport) = self.transport() {
                let request = self.flags_request(&distinct_id, opts, opts.flag_keys.clone());
                match Box::pin(transport.flags(&request)).await {
                    Ok(answer) if !answer.quota_limited => {
                        out.request_id = answer.request_id.clone();
                        if answer.errors_while_computing_flags {
                            out.error = Some("errors_while_computing_flags".into());
                        }
                        for (key, detail) in answer.flags {
                            if detail.failed || out.flags.get(&key).is_some_and(|r| r.locally) {
                                continue;
                            }
                            out.flags.insert(
                                key,
                                Resolved {
                                    value: detail.value(),
                                    payload: detail.metadata.payload.clone(),
                                    locally: false,
                                    reason: detail
                                        .reason
                                        .as_ref()
                                        .map(|r| Cow::Owned(r.code.clone())),
                                    id: detail.metadata.id,
                                    version: detail.metadata.version,
                                    request_id: answer.request_id.clone(),
                                    has_experiment: detail.metadata.has_experiment,
                                    minimal_gate: answer.minimal_flag_called_events,
                                },
                            );
                        }
                    }
                    Ok(_) => {
                        tracing::warn!(target: "posthog", "feature flags are over quota");
                        out.error = Some("quota_limited".into());
                    }
                    Err(err) => {
                        tracing::warn!(target: "posthog", "flags could not be evaluated remotely: {err}");
                        out.error = Some(if err.is_timeout() {
                            "timeout".into()
                        } else {
                            format!("api_error: {err}")
                        });
                    }
                }
            }
        }
        out
    }

    /// Waits until local-evaluation definitions are loaded, at most `timeout`; `false` when they
    /// are not (no personal API key, refused, or not yet) (C-FLAG-DEFS.8).
    pub async fn wait_for_flags(&self, timeout: Duration) -> bool {
        match self.flags_runtime() {
            Some(runtime) if self.options().personal_api_key.is_some() => {
                runtime.store.wait_ready(timeout).await
            }
            _ => false,
        }
    }

    /// Whether local-evaluation definitions are loaded, and when.
    pub fn feature_flag_definitions_loaded_at(&self) -> Option<std::time::SystemTime> {
        self.flags_runtime()?.store.current().map(|l| l.loaded_at)
    }

    /// Loads the definitions now (otherwise the poller does every `poll_interval`).
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
