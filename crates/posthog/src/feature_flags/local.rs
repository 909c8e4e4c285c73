//! Flag reads that never await, for synchronous code inside async services: decided by the
//! loaded definitions (or a fresh cached result), never by a request.

use posthog_core::FlagValue;

use super::FlagOptions;
use crate::Client;

impl Client {
    /// The value of flag `key` for `distinct_id` from the loaded definitions alone, without
    /// awaiting: [`Client::get_feature_flag`] with `only_evaluate_locally(true)`, callable from
    /// synchronous code. `None` when the definitions are not loaded, do not hold the flag, or
    /// cannot decide it (the server would be needed). Emits `$feature_flag_called` as the
    /// async read does.
    ///
    /// Pass options with `only_evaluate_locally(true)` already set to keep the read free of
    /// copies.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), posthog::Error> {
    /// # let server = posthog::test_util::FakePostHog::start().await;
    /// # server.set_definitions(serde_json::json!({"flags": [{"key": "beta-ui", "active": true,
    /// #     "filters": {"groups": [{"rollout_percentage": 100}]}}]}));
    /// let client = posthog::Client::builder("phc_project_token")
    /// #   .host(server.url())
    ///     .personal_api_key("phx_personal_key")
    ///     .build()?;
    /// client.wait_for_flags(std::time::Duration::from_secs(5)).await;
    /// let opts = posthog::FlagOptions::new().only_evaluate_locally(true);
    /// // In a synchronous function, with no `.await`:
    /// let on = client.is_feature_enabled_local("beta-ui", "user-123", &opts);
    /// # assert!(on);
    /// # Ok(()) }
    /// ```
    pub fn get_feature_flag_local(
        &self,
        key: &str,
        distinct_id: &str,
        opts: &FlagOptions,
    ) -> Option<FlagValue> {
        if let Some(value) = self.read_value_fast(key, distinct_id, opts) {
            return Some(value);
        }
        let read = |opts: &FlagOptions| match self.read_flag_now(key, distinct_id, opts, true) {
            Ok(resolved) => resolved.map(|r| r.value),
            // Not reached: a local-only read never needs the server.
            Err(_) => None,
        };
        if opts.only_evaluate_locally {
            read(opts)
        } else {
            read(&opts.clone().only_evaluate_locally(true))
        }
    }

    /// Whether flag `key` is on for `distinct_id`, from the loaded definitions alone (see
    /// [`Client::get_feature_flag_local`]); the options' `default_value` (else `false`) when
    /// they cannot say.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = posthog::test_util::FakePostHog::start().await;
    /// # server.set_definitions(serde_json::json!({"flags": [{"key": "beta", "active": true,
    /// #     "filters": {"groups": [{"properties": [], "rollout_percentage": 100}]}}]}));
    /// # let client = posthog::Client::builder("phc_project_token").host(server.url()).personal_api_key("phx_personal_key").build()?;
    /// client.wait_for_flags(std::time::Duration::from_secs(5)).await;
    /// // Never awaits and never asks PostHog: `false` when the definitions cannot decide.
    /// assert!(client.is_feature_enabled_local("beta", "user-123", &posthog::FlagOptions::new()));
    /// # Ok(()) }
    /// ```
    pub fn is_feature_enabled_local(
        &self,
        key: &str,
        distinct_id: &str,
        opts: &FlagOptions,
    ) -> bool {
        match self.get_feature_flag_local(key, distinct_id, opts) {
            Some(value) => value.is_enabled(),
            None => opts.default_value.unwrap_or(false),
        }
    }
}
