//! One flag read through the client: the subject and options, local evaluation, the
//! `/flags` fallback, the result cache and `$feature_flag_called`.

use std::borrow::Cow;

use posthog_core::{Event, FlagValue, FlagsRequest};
use posthog_flags::Evaluation;
use serde_json::Value;

use super::{
    FlagOptions, LocalAnswer, NeedsRemote, RemoteFailed, Resolved, called, called_key, read_error,
    result_cache, value_json, with_scope_overrides,
};
use crate::Client;

/// Whether `id` is empty or only white space, with no scan for the usual id that starts with
/// a letter or digit.
#[inline]
fn is_blank(id: &str) -> bool {
    match id.as_bytes().first() {
        Some(b) if b.is_ascii_alphanumeric() => false,
        _ => id.trim().is_empty(),
    }
}

impl Client {
    /// The distinct id of a flag read: the caller's, else the active context's (C-TRACING-HEADERS.6:
    /// none at all → no evaluation, no request, no event).
    pub(super) fn flag_subject<'a>(&self, distinct_id: &'a str) -> Option<Cow<'a, str>> {
        if !is_blank(distinct_id) {
            return Some(Cow::Borrowed(distinct_id));
        }
        crate::context::current_distinct_id().map(Cow::Owned)
    }

    pub(super) fn flags_request(
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
            geoip_disable: opts.disable_geoip.unwrap_or(self.options().disable_geoip),
            flag_keys_to_evaluate: keys,
            device_id: opts.device_id.clone(),
        }
    }

    /// Local evaluation under the definitions' read lock (no copy of the set, no await).
    pub(super) fn resolve_locally(
        &self,
        key: &str,
        distinct_id: &str,
        opts: &FlagOptions,
    ) -> LocalAnswer {
        let Some(runtime) = self.flags_runtime() else {
            return LocalAnswer::Absent;
        };
        runtime.store.with_current(|loaded| {
            let Some(loaded) = loaded else {
                return LocalAnswer::Remote;
            };
            let ctx = opts.eval_context(distinct_id);
            match loaded.set.evaluate_with_info(key, &ctx) {
                Some((info, evaluation)) => LocalAnswer::of(
                    &loaded.set,
                    key,
                    info,
                    evaluation,
                    opts.only_evaluate_locally,
                    true,
                ),
                None if opts.only_evaluate_locally => LocalAnswer::Absent,
                None => LocalAnswer::Remote,
            }
        })
    }

    /// One `/flags` request, its retries included, within `feature_flags_request_timeout` as
    /// a total deadline (C-HTTP.4): a hanging server costs a read that long, not
    /// `(1 + flag_retries)` times it.
    pub(super) async fn ask_flags(
        &self,
        transport: &posthog_transport::Transport,
        request: &FlagsRequest,
    ) -> Result<posthog_core::FlagsResponse, posthog_transport::TransportError> {
        let total = self.options().feature_flags_request_timeout;
        tokio::time::timeout(total, transport.flags(request))
            .await
            .unwrap_or_else(|_| Err(posthog_transport::TransportError::timeout()))
    }

    /// One `/flags` request for `key`: the flag (`None` when the server knows no such flag or
    /// failed to compute it) and the answer's own errors (`errors_while_computing_flags`), or
    /// `Err` with the code of a request that gave no usable answer.
    pub(super) async fn resolve_remotely(
        &self,
        key: &str,
        distinct_id: &str,
        opts: &FlagOptions,
    ) -> Result<(Option<Resolved>, Option<&'static str>), RemoteFailed> {
        let transport = self
            .transport()
            .ok_or(RemoteFailed(Cow::Borrowed("unknown_error")))?;
        let request = self.flags_request(distinct_id, opts, Some(vec![key.to_owned()]));
        match self.ask_flags(transport, &request).await {
            Ok(answer) if answer.quota_limited => {
                tracing::warn!(target: "posthog", "feature flags are over quota; no value for {key:?}");
                Err(RemoteFailed(Cow::Borrowed("quota_limited")))
            }
            Ok(answer) => {
                let errors = answer
                    .errors_while_computing_flags
                    .then_some("errors_while_computing_flags");
                let resolved = answer
                    .flags
                    .get(key)
                    .filter(|d| !d.failed)
                    .map(|detail| Resolved::remote(detail, &answer));
                Ok((resolved, errors))
            }
            Err(err) => {
                tracing::warn!(target: "posthog", "feature flag {key:?} could not be evaluated remotely: {err}");
                Err(RemoteFailed(super::FlagsError::of_request(&err).code()))
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
        let dedup = called_key::key(distinct_id, key, resolved.map(|r| &r.value), groups);
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
            if let Some(evaluated_at) = r.evaluated_at {
                event = event.property("$feature_flag_evaluated_at", evaluated_at);
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

    /// The fast path of `get_feature_flag` and `is_feature_enabled`, tried before the full
    /// read ([`Client::read_flag`]): `Some` only when local evaluation matched and nothing
    /// is left to do, i.e. no result cache to fill, no scope overrides to
    /// merge, and `$feature_flag_called` not wanted or already reported for this (subject,
    /// flag, value, groups). Records nothing, so a `None` leaves the full path its decisions.
    #[inline]
    pub(crate) fn read_value_fast(
        &self,
        key: &str,
        distinct_id: &str,
        opts: &FlagOptions,
    ) -> Option<FlagValue> {
        let runtime = self.flags_runtime()?;
        if runtime.results.is_some()
            || !self.is_enabled()
            || is_blank(distinct_id)
            || crate::context::has_flag_properties()
        {
            return None;
        }
        let events = opts.send_feature_flag_events.unwrap_or(true);
        runtime.store.with_current(|loaded| {
            let set = &loaded?.set;
            let ctx = opts.eval_context(distinct_id);
            let Evaluation::Match(m) = set.evaluate(key, &ctx)? else {
                return None;
            };
            let reported = !events
                || runtime.tracker.was_reported(called_key::key_ref(
                    distinct_id,
                    key,
                    m.value,
                    &opts.groups,
                ));
            reported.then(|| m.value.to_owned())
        })
    }

    /// One flag read: local evaluation (synchronous, so a local answer costs no future state
    /// or copies), then, only when needed, the boxed remote path.
    pub(super) async fn read_flag(
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
    pub(super) fn read_flag_now<'a>(
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
        let fresh = cache
            .zip(slot)
            .and_then(|(cache, slot)| match cache.get(slot) {
                result_cache::Lookup::Fresh(result_cache::Cached::One(resolved)) => Some(resolved),
                _ => None,
            });
        let resolved = match fresh {
            Some(resolved) => resolved,
            None => {
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
                if let Some((cache, slot)) = cache.zip(slot) {
                    cache.put(slot, result_cache::Cached::One(resolved.clone()));
                }
                resolved
            }
        };
        let error = read_error(None, resolved.is_none());
        self.after_read(
            key,
            &distinct_id,
            effective,
            resolved.as_ref(),
            events_default,
            error,
        );
        Ok(resolved)
    }

    /// The result cache, when it is on.
    pub(super) fn result_cache(&self) -> Option<&result_cache::ResultCache> {
        self.flags_runtime()?.results.as_ref()
    }

    /// The remote part of a read, continuing from what `read_flag_now` worked out.
    pub(super) async fn read_flag_remotely(
        &self,
        key: &str,
        need: NeedsRemote<'_>,
        opts: &FlagOptions,
        events_default: bool,
    ) -> Option<Resolved> {
        let distinct_id = need.subject;
        let opts = need.merged.as_deref().unwrap_or(opts);
        let results = self.result_cache().zip(need.slot);
        let (resolved, errors) = match self.resolve_remotely(key, &distinct_id, opts).await {
            Ok((resolved, errors)) => {
                if let Some((cache, slot)) = results {
                    cache.put(slot, result_cache::Cached::One(resolved.clone()));
                }
                (resolved, errors.map(Cow::Borrowed))
            }
            // The server could not answer: an expired cached answer is better than none.
            Err(RemoteFailed(code)) => match results.map(|(cache, slot)| cache.get(slot)) {
                Some(
                    result_cache::Lookup::Stale(result_cache::Cached::One(resolved))
                    | result_cache::Lookup::Fresh(result_cache::Cached::One(resolved)),
                ) => (resolved, Some(code)),
                _ => (None, Some(code)),
            },
        };
        let error = read_error(errors.as_deref(), resolved.is_none());
        self.after_read(
            key,
            &distinct_id,
            opts,
            resolved.as_ref(),
            events_default,
            error,
        );
        resolved
    }

    /// `$feature_flag_called` for a read, when asked for.
    pub(super) fn after_read(
        &self,
        key: &str,
        distinct_id: &str,
        opts: &FlagOptions,
        resolved: Option<&Resolved>,
        events_default: bool,
        error: Option<String>,
    ) {
        if opts.send_feature_flag_events.unwrap_or(events_default) {
            self.report_called(key, distinct_id, &opts.groups, resolved, error.as_deref());
        }
    }
}
