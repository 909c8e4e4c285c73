//! Every flag of one subject through the client: local evaluation of the whole set, then at
//! most one `/flags` request, with the result cache in front.

use super::{
    AllFlags, FlagOptions, FlagPayloads, FlagValues, FlagsError, IncompleteFlags, LocalAnswer,
    Resolved, result_cache, with_scope_overrides,
};
use crate::Client;

/// Whether an all-flags read keeps the payloads of locally decided flags (a values-only read
/// skips copying them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Payloads {
    Keep,
    Skip,
}

impl Client {
    /// Every flag's value for `distinct_id` (C-GET-FLAGS): all evaluated locally, and at most
    /// one `/flags` request when some cannot be decided; the server's answers replace the
    /// undecided ones. No `$feature_flag_called`. No known flags is `Ok` with an empty map.
    ///
    /// # Errors
    ///
    /// [`IncompleteFlags`] when some flags could not be decided (C-GET-FLAGS.4): the client
    /// is disabled, the request failed, or PostHog reported errors or its quota. It carries
    /// what was decided anyway: the values decided locally, and those PostHog computed unless
    /// it answered over quota.
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
    /// use posthog::FlagValue;
    /// // A failed request still returns what was decided, with the reason.
    /// let flags = client
    ///     .get_all_flags("user-123", &posthog::FlagOptions::new())
    ///     .await
    ///     .unwrap_or_else(|incomplete| incomplete.into_partial());
    /// assert_eq!(flags["beta"], FlagValue::Bool(true));
    /// assert_eq!(flags["checkout"], FlagValue::Variant("blue".into()));
    /// # Ok(()) }
    /// ```
    pub async fn get_all_flags(
        &self,
        distinct_id: &str,
        opts: &FlagOptions,
    ) -> Result<FlagValues, IncompleteFlags<FlagValues>> {
        let all = self.all_flags(distinct_id, opts, Payloads::Skip).await;
        let values = all.flags.into_iter().map(|(k, r)| (k, r.value)).collect();
        match all.error {
            None => Ok(values),
            Some(error) => Err(IncompleteFlags::new(error, values)),
        }
    }

    /// Every flag's value and the payloads of those that have one, from one evaluation
    /// (C-GET-FLAGS-PAYLOADS). No known flags is `Ok` with two empty maps.
    ///
    /// # Errors
    ///
    /// As [`Client::get_all_flags`], with both maps of what was decided (C-GET-FLAGS-PAYLOADS.5).
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
    /// let (flags, payloads) = client
    ///     .get_all_flags_and_payloads("user-123", &posthog::FlagOptions::new())
    ///     .await?;
    /// assert_eq!(flags.len(), 2);
    /// assert_eq!(payloads["checkout"], serde_json::json!({"cta": "Buy now"}));
    /// # Ok(()) }
    /// ```
    pub async fn get_all_flags_and_payloads(
        &self,
        distinct_id: &str,
        opts: &FlagOptions,
    ) -> Result<(FlagValues, FlagPayloads), IncompleteFlags<(FlagValues, FlagPayloads)>> {
        let all = self.all_flags(distinct_id, opts, Payloads::Keep).await;
        let payloads = all
            .flags
            .iter()
            .filter_map(|(k, r)| r.payload.clone().map(|p| (k.clone(), p)))
            .collect();
        let values = all.flags.into_iter().map(|(k, r)| (k, r.value)).collect();
        match all.error {
            None => Ok((values, payloads)),
            Some(error) => Err(IncompleteFlags::new(error, (values, payloads))),
        }
    }

    /// Every flag (or the `flag_keys` of the options) for one subject: local first, then at
    /// most one `/flags` request for what local evaluation could not decide (C-GET-FLAGS.2,
    /// C-EVALUATE-FLAGS.3/.4/.16).
    pub(crate) async fn all_flags(
        &self,
        distinct_id: &str,
        opts: &FlagOptions,
        payloads: Payloads,
    ) -> AllFlags {
        let mut out = AllFlags::default();
        if !self.is_enabled() {
            out.error = Some(FlagsError::Disabled);
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
            return self.evaluate_all_flags(out, effective, payloads).await;
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
        // A cached answer serves every kind of read: it keeps the payloads.
        let out = Box::pin(self.evaluate_all_flags(out, effective, Payloads::Keep)).await;
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
    pub(super) async fn evaluate_all_flags(
        &self,
        mut out: AllFlags,
        opts: &FlagOptions,
        payloads: Payloads,
    ) -> AllFlags {
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
            let ctx = opts.eval_context(&distinct_id);
            let only_locally = opts.only_evaluate_locally;
            let mut take = |key: &str, answer: Option<(_, _)>| {
                let Some((info, evaluation)) = answer else {
                    undecided = true; // a requested key with no definition
                    return;
                };
                let with_payload = payloads == Payloads::Keep;
                match LocalAnswer::of(
                    &loaded.set,
                    key,
                    info,
                    evaluation,
                    only_locally,
                    with_payload,
                ) {
                    LocalAnswer::Decided(resolved) => {
                        out.flags.insert(key.to_owned(), resolved);
                    }
                    LocalAnswer::Absent => {}
                    LocalAnswer::Remote => undecided = true, // inconclusive
                }
            };
            match wanted {
                Some(keys) => {
                    let keys = keys.iter().map(String::as_str);
                    for (key, answer) in loaded.set.evaluate_keys_with_info(keys, &ctx) {
                        take(key, answer);
                    }
                }
                None => {
                    for (key, info, evaluation) in loaded.set.evaluate_all_with_info(&ctx) {
                        take(key, Some((info, evaluation)));
                    }
                }
            }
        });
        if undecided && !opts.only_evaluate_locally {
            if let Some(transport) = self.transport() {
                let request = self.flags_request(&distinct_id, opts, opts.flag_keys.clone());
                match Box::pin(self.ask_flags(transport, &request)).await {
                    Ok(answer) if !answer.quota_limited => {
                        out.request_id = answer.request_id.clone();
                        if answer.errors_while_computing_flags {
                            out.error = Some(FlagsError::ErrorsWhileComputing);
                        }
                        for (key, detail) in &answer.flags {
                            // Only what was asked for (C-EVALUATE-FLAGS.4): a server may
                            // answer more keys than `flag_keys_to_evaluate` named.
                            let unwanted = wanted.is_some_and(|w| !w.iter().any(|k| k == key));
                            if unwanted
                                || detail.failed
                                || out.flags.get(key).is_some_and(|r| r.locally)
                            {
                                continue;
                            }
                            out.flags
                                .insert(key.clone(), Resolved::remote(detail, &answer));
                        }
                    }
                    Ok(_) => {
                        tracing::warn!(target: "posthog", "feature flags are over quota");
                        out.error = Some(FlagsError::QuotaLimited);
                    }
                    Err(err) => {
                        tracing::warn!(target: "posthog", "flags could not be evaluated remotely: {err}");
                        out.error = Some(FlagsError::of_request(&err));
                    }
                }
            }
        }
        out
    }
}
