//! PostHog's `/flags` answer as it is, for callers who want the server's decision and not the
//! local-first reads (Python's `get_flags_decision`, `get_feature_variants`,
//! `get_feature_payloads`, `get_feature_flags_and_payloads`): no local evaluation, no result
//! cache, no `$feature_flag_called`.

use posthog_core::FlagsResponse;

use super::{
    FlagOptions, FlagPayloads, FlagValues, FlagsError, IncompleteFlags, with_scope_overrides,
};
use crate::Client;

impl Client {
    /// One `/flags` request for `distinct_id` (or the active context's): every flag PostHog
    /// computed, with reasons, ids, versions and payloads, and the answer's own flags
    /// (`errors_while_computing_flags`, `quota_limited`, request id, evaluation time). With no
    /// distinct id anywhere, an empty answer and no request.
    ///
    /// # Errors
    ///
    /// [`FlagsError`] when the client is disabled or the request gave no answer (timeout,
    /// HTTP status, connection). A quota-limited answer is `Ok`, marked `quota_limited`.
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
    /// let decision = client.get_flags_decision("user-123", &posthog::FlagOptions::new()).await?;
    /// assert!(decision.flags["beta"].enabled);
    /// assert!(!decision.quota_limited);
    /// # Ok(()) }
    /// ```
    pub async fn get_flags_decision(
        &self,
        distinct_id: &str,
        opts: &FlagOptions,
    ) -> Result<FlagsResponse, FlagsError> {
        let Some(transport) = self.transport().filter(|_| self.is_enabled()) else {
            return Err(FlagsError::Disabled);
        };
        let Some(subject) = self.flag_subject(distinct_id) else {
            return Ok(FlagsResponse::default());
        };
        let merged = with_scope_overrides(opts);
        let opts = merged.as_ref().unwrap_or(opts);
        let request = self.flags_request(&subject, opts, opts.flag_keys.clone());
        match Box::pin(self.ask_flags(transport, &request)).await {
            Ok(answer) => Ok(answer),
            Err(err) => {
                tracing::warn!(target: "posthog", "flags could not be evaluated remotely: {err}");
                Err(FlagsError::of_request(&err))
            }
        }
    }

    /// PostHog's value of every flag for `distinct_id`, from one `/flags` request (Python's
    /// `get_feature_variants`; local definitions are not used).
    ///
    /// # Errors
    ///
    /// [`IncompleteFlags`] as for [`Client::get_all_flags`].
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
    /// let variants = client.get_feature_variants("user-123", &posthog::FlagOptions::new()).await?;
    /// assert_eq!(variants["checkout"], posthog::FlagValue::Variant("blue".into()));
    /// # Ok(()) }
    /// ```
    pub async fn get_feature_variants(
        &self,
        distinct_id: &str,
        opts: &FlagOptions,
    ) -> Result<FlagValues, IncompleteFlags<FlagValues>> {
        self.get_feature_flags_and_payloads(distinct_id, opts)
            .await
            .map(|(values, _)| values)
            .map_err(|e| IncompleteFlags::new(e.error, e.partial.0))
    }

    /// PostHog's payloads of the flags that have one for `distinct_id`, from one `/flags`
    /// request (Python's `get_feature_payloads`), decoded from their JSON text.
    ///
    /// # Errors
    ///
    /// [`IncompleteFlags`] as for [`Client::get_all_flags`].
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
    /// let payloads = client.get_feature_payloads("user-123", &posthog::FlagOptions::new()).await?;
    /// assert_eq!(payloads["checkout"], serde_json::json!({"cta": "Buy now"}));
    /// # Ok(()) }
    /// ```
    pub async fn get_feature_payloads(
        &self,
        distinct_id: &str,
        opts: &FlagOptions,
    ) -> Result<FlagPayloads, IncompleteFlags<FlagPayloads>> {
        self.get_feature_flags_and_payloads(distinct_id, opts)
            .await
            .map(|(_, payloads)| payloads)
            .map_err(|e| IncompleteFlags::new(e.error, e.partial.1))
    }

    /// PostHog's values and payloads for `distinct_id`, from one `/flags` request (Python's
    /// `get_feature_flags_and_payloads`). Flags the server failed to compute are left out.
    ///
    /// # Errors
    ///
    /// [`IncompleteFlags`] as for [`Client::get_all_flags`]: no answer, over quota (nothing
    /// kept), or errors while computing (what was computed kept).
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
    ///     .get_feature_flags_and_payloads("user-123", &posthog::FlagOptions::new())
    ///     .await?;
    /// assert_eq!((flags.len(), payloads.len()), (2, 1));
    /// # Ok(()) }
    /// ```
    pub async fn get_feature_flags_and_payloads(
        &self,
        distinct_id: &str,
        opts: &FlagOptions,
    ) -> Result<(FlagValues, FlagPayloads), IncompleteFlags<(FlagValues, FlagPayloads)>> {
        let answer = self
            .get_flags_decision(distinct_id, opts)
            .await
            .map_err(|error| IncompleteFlags::new(error, Default::default()))?;
        if answer.quota_limited {
            return Err(IncompleteFlags::new(
                FlagsError::QuotaLimited,
                Default::default(),
            ));
        }
        let computed = answer.flags.values().filter(|d| !d.failed);
        let values = computed
            .clone()
            .map(|d| (d.key.clone(), d.value()))
            .collect();
        let payloads = computed
            .filter(|d| d.enabled)
            .filter_map(|d| Some((d.key.clone(), d.metadata.payload.clone()?)))
            .collect();
        if answer.errors_while_computing_flags {
            return Err(IncompleteFlags::new(
                FlagsError::ErrorsWhileComputing,
                (values, payloads),
            ));
        }
        Ok((values, payloads))
    }
}
