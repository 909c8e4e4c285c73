//! Feature flags on the blocking client: the async client's reads with the same semantics. A
//! flag the loaded definitions decide is read on the calling thread; only a read that must ask
//! PostHog blocks (at most the flag timeout).

use std::time::{Duration, SystemTime};

use posthog_core::{Event, FlagValue};
use serde_json::Value;
use uuid::Uuid;

use super::Client;
use crate::feature_flags::FlagDefinitions;
use crate::{
    FeatureFlagEvaluations, FeatureFlagResult, FlagOptions, FlagPayloads, FlagValues, FlagsError,
    IncompleteFlags,
};

/// What a read answers when the client's runtime is gone (the client was shut down).
fn disabled<T: Default>() -> IncompleteFlags<T> {
    IncompleteFlags::new(FlagsError::Disabled, T::default())
}

impl Client {
    /// See [`crate::Client::get_feature_flag`].
    ///
    /// ```
    /// # let runtime = tokio::runtime::Runtime::new().unwrap(); // hosts the fake server only
    /// # let server = runtime.block_on(posthog::test_util::FakePostHog::start());
    /// # server.set_flags(serde_json::json!({"flags": {"checkout": {"key": "checkout",
    /// #     "enabled": true, "variant": "blue"}}}));
    /// let client = posthog::ClientBuilder::new("phc_project_token")
    /// #   .host(server.url())
    ///     .build_blocking()?;
    /// let opts = posthog::FlagOptions::new();
    /// let variant = client.get_feature_flag("checkout", "user-123", &opts);
    /// # assert_eq!(variant, Some(posthog::FlagValue::Variant("blue".into())));
    /// # Ok::<(), posthog::Error>(())
    /// ```
    pub fn get_feature_flag(
        &self,
        key: &str,
        distinct_id: &str,
        opts: &FlagOptions,
    ) -> Option<FlagValue> {
        let client = self.as_async();
        if let Some(value) = client.read_value_fast(key, distinct_id, opts) {
            return Some(value);
        }
        self.inner
            .block_on(client.get_feature_flag(key, distinct_id, opts))
            .flatten()
    }

    /// See [`crate::Client::is_feature_enabled`].
    pub fn is_feature_enabled(&self, key: &str, distinct_id: &str, opts: &FlagOptions) -> bool {
        match self.get_feature_flag(key, distinct_id, opts) {
            Some(value) => value.is_enabled(),
            None => opts.default_value.unwrap_or(false),
        }
    }

    /// See [`crate::Client::get_feature_flag_payload`].
    pub fn get_feature_flag_payload(
        &self,
        key: &str,
        distinct_id: &str,
        opts: &FlagOptions,
    ) -> Option<Value> {
        let client = self.as_async();
        self.inner
            .block_on(client.get_feature_flag_payload(key, distinct_id, opts))
            .flatten()
    }

    /// See [`crate::Client::get_feature_flag_result`].
    pub fn get_feature_flag_result(
        &self,
        key: &str,
        distinct_id: &str,
        opts: &FlagOptions,
    ) -> Option<FeatureFlagResult> {
        let client = self.as_async();
        self.inner
            .block_on(client.get_feature_flag_result(key, distinct_id, opts))
            .flatten()
    }

    /// See [`crate::Client::get_all_flags`].
    ///
    /// # Errors
    ///
    /// As the async read: [`IncompleteFlags`] with what was decided.
    pub fn get_all_flags(
        &self,
        distinct_id: &str,
        opts: &FlagOptions,
    ) -> Result<FlagValues, IncompleteFlags<FlagValues>> {
        let client = self.as_async();
        self.inner
            .block_on(client.get_all_flags(distinct_id, opts))
            .unwrap_or_else(|| {
                Err(IncompleteFlags::new(
                    crate::FlagsError::Disabled,
                    FlagValues::new(),
                ))
            })
    }

    /// See [`crate::Client::get_all_flags_and_payloads`].
    ///
    /// # Errors
    ///
    /// As the async read: [`IncompleteFlags`] with both maps of what was decided.
    pub fn get_all_flags_and_payloads(
        &self,
        distinct_id: &str,
        opts: &FlagOptions,
    ) -> Result<(FlagValues, FlagPayloads), IncompleteFlags<(FlagValues, FlagPayloads)>> {
        let client = self.as_async();
        self.inner
            .block_on(client.get_all_flags_and_payloads(distinct_id, opts))
            .unwrap_or_else(|| {
                Err(IncompleteFlags::new(
                    crate::FlagsError::Disabled,
                    Default::default(),
                ))
            })
    }

    /// See [`crate::Client::evaluate_flags`]: one snapshot, read without blocking afterwards.
    pub fn evaluate_flags(&self, distinct_id: &str, opts: &FlagOptions) -> FeatureFlagEvaluations {
        let client = self.as_async();
        match self
            .inner
            .block_on(client.evaluate_flags(distinct_id, opts))
        {
            Some(snapshot) => snapshot,
            None => FeatureFlagEvaluations::empty(),
        }
    }

    /// See [`crate::Client::capture_with_flags`].
    pub fn capture_with_flags(&self, event: Event, opts: &FlagOptions) -> Option<Uuid> {
        let client = self.as_async();
        let uuid = self
            .inner
            .block_on(client.capture_with_flags(event, opts))
            .flatten();
        self.settle(uuid)
    }

    /// See [`crate::Client::get_remote_config_payload`].
    pub fn get_remote_config_payload(&self, key: &str) -> Option<Value> {
        let client = self.as_async();
        self.inner
            .block_on(client.get_remote_config_payload(key))
            .flatten()
    }

    /// Loads the definitions now (see [`crate::Client::load_feature_flags`]).
    pub fn load_feature_flags(&self) {
        let client = self.as_async();
        self.inner.block_on(client.load_feature_flags());
    }

    /// See [`crate::Client::wait_for_flags`].
    pub fn wait_for_flags(&self, timeout: Duration) -> bool {
        let client = self.as_async();
        self.inner
            .block_on(client.wait_for_flags(timeout))
            .unwrap_or(false)
    }

    /// See [`crate::Client::feature_flag_definitions_loaded_at`].
    pub fn feature_flag_definitions_loaded_at(&self) -> Option<SystemTime> {
        self.as_async().feature_flag_definitions_loaded_at()
    }

    /// See [`crate::Client::get_flags_decision`].
    ///
    /// # Errors
    ///
    /// As the async call.
    pub fn get_flags_decision(
        &self,
        distinct_id: &str,
        opts: &FlagOptions,
    ) -> Result<posthog_core::FlagsResponse, FlagsError> {
        let client = self.as_async();
        self.inner
            .block_on(client.get_flags_decision(distinct_id, opts))
            .unwrap_or(Err(FlagsError::Disabled))
    }

    /// See [`crate::Client::get_feature_variants`].
    ///
    /// # Errors
    ///
    /// As the async call.
    pub fn get_feature_variants(
        &self,
        distinct_id: &str,
        opts: &FlagOptions,
    ) -> Result<FlagValues, IncompleteFlags<FlagValues>> {
        let client = self.as_async();
        self.inner
            .block_on(client.get_feature_variants(distinct_id, opts))
            .unwrap_or_else(|| Err(disabled()))
    }

    /// See [`crate::Client::get_feature_payloads`].
    ///
    /// # Errors
    ///
    /// As the async call.
    pub fn get_feature_payloads(
        &self,
        distinct_id: &str,
        opts: &FlagOptions,
    ) -> Result<FlagPayloads, IncompleteFlags<FlagPayloads>> {
        let client = self.as_async();
        self.inner
            .block_on(client.get_feature_payloads(distinct_id, opts))
            .unwrap_or_else(|| Err(disabled()))
    }

    /// See [`crate::Client::get_feature_flags_and_payloads`].
    ///
    /// # Errors
    ///
    /// As the async call.
    pub fn get_feature_flags_and_payloads(
        &self,
        distinct_id: &str,
        opts: &FlagOptions,
    ) -> Result<(FlagValues, FlagPayloads), IncompleteFlags<(FlagValues, FlagPayloads)>> {
        let client = self.as_async();
        self.inner
            .block_on(client.get_feature_flags_and_payloads(distinct_id, opts))
            .unwrap_or_else(|| Err(disabled()))
    }

    /// See [`crate::Client::feature_flag_definitions`].
    pub fn feature_flag_definitions(&self) -> Option<FlagDefinitions> {
        self.as_async().feature_flag_definitions()
    }

    /// See [`crate::Client::clear_flag_result_cache`].
    pub fn clear_flag_result_cache(&self) {
        self.as_async().clear_flag_result_cache();
    }
}
