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
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let runtime = tokio::runtime::Runtime::new()?; // hosts the fake PostHog only
    /// # let server = runtime.block_on(posthog::test_util::FakePostHog::start());
    /// # let client = posthog::ClientBuilder::new("phc_project_token").host(server.url()).build_blocking()?;
    /// # server.set_flags(serde_json::json!({"flags": {
    /// #     "beta": {"key": "beta", "enabled": true, "reason": {"code": "condition_match"}},
    /// #     "checkout": {"key": "checkout", "enabled": true, "variant": "blue",
    /// #                  "metadata": {"payload": "{\"cta\": \"Buy now\"}"}}}}));
    /// assert!(client.is_feature_enabled("beta", "user-123", &posthog::FlagOptions::new()));
    /// # Ok(()) }
    /// ```
    pub fn is_feature_enabled(&self, key: &str, distinct_id: &str, opts: &FlagOptions) -> bool {
        match self.get_feature_flag(key, distinct_id, opts) {
            Some(value) => value.is_enabled(),
            None => opts.default_value.unwrap_or(false),
        }
    }

    /// See [`crate::Client::get_feature_flag_payload`].
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let runtime = tokio::runtime::Runtime::new()?; // hosts the fake PostHog only
    /// # let server = runtime.block_on(posthog::test_util::FakePostHog::start());
    /// # let client = posthog::ClientBuilder::new("phc_project_token").host(server.url()).build_blocking()?;
    /// # server.set_flags(serde_json::json!({"flags": {
    /// #     "beta": {"key": "beta", "enabled": true, "reason": {"code": "condition_match"}},
    /// #     "checkout": {"key": "checkout", "enabled": true, "variant": "blue",
    /// #                  "metadata": {"payload": "{\"cta\": \"Buy now\"}"}}}}));
    /// let payload = client.get_feature_flag_payload("checkout", "user-123", &posthog::FlagOptions::new());
    /// assert_eq!(payload, Some(serde_json::json!({"cta": "Buy now"})));
    /// # Ok(()) }
    /// ```
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
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let runtime = tokio::runtime::Runtime::new()?; // hosts the fake PostHog only
    /// # let server = runtime.block_on(posthog::test_util::FakePostHog::start());
    /// # let client = posthog::ClientBuilder::new("phc_project_token").host(server.url()).build_blocking()?;
    /// # server.set_flags(serde_json::json!({"flags": {
    /// #     "beta": {"key": "beta", "enabled": true, "reason": {"code": "condition_match"}},
    /// #     "checkout": {"key": "checkout", "enabled": true, "variant": "blue",
    /// #                  "metadata": {"payload": "{\"cta\": \"Buy now\"}"}}}}));
    /// let result = client.get_feature_flag_result("checkout", "user-123", &posthog::FlagOptions::new()).expect("exists");
    /// assert_eq!(result.variant.as_deref(), Some("blue"));
    /// # Ok(()) }
    /// ```
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
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let runtime = tokio::runtime::Runtime::new()?; // hosts the fake PostHog only
    /// # let server = runtime.block_on(posthog::test_util::FakePostHog::start());
    /// # let client = posthog::ClientBuilder::new("phc_project_token").host(server.url()).build_blocking()?;
    /// # server.set_flags(serde_json::json!({"flags": {
    /// #     "beta": {"key": "beta", "enabled": true, "reason": {"code": "condition_match"}},
    /// #     "checkout": {"key": "checkout", "enabled": true, "variant": "blue",
    /// #                  "metadata": {"payload": "{\"cta\": \"Buy now\"}"}}}}));
    /// let flags = client.get_all_flags("user-123", &posthog::FlagOptions::new())?;
    /// assert_eq!(flags.len(), 2);
    /// # Ok(()) }
    /// ```
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
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let runtime = tokio::runtime::Runtime::new()?; // hosts the fake PostHog only
    /// # let server = runtime.block_on(posthog::test_util::FakePostHog::start());
    /// # let client = posthog::ClientBuilder::new("phc_project_token").host(server.url()).build_blocking()?;
    /// # server.set_flags(serde_json::json!({"flags": {
    /// #     "beta": {"key": "beta", "enabled": true, "reason": {"code": "condition_match"}},
    /// #     "checkout": {"key": "checkout", "enabled": true, "variant": "blue",
    /// #                  "metadata": {"payload": "{\"cta\": \"Buy now\"}"}}}}));
    /// let (flags, payloads) = client.get_all_flags_and_payloads("user-123", &posthog::FlagOptions::new())?;
    /// assert_eq!((flags.len(), payloads.len()), (2, 1));
    /// # Ok(()) }
    /// ```
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
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let runtime = tokio::runtime::Runtime::new()?; // hosts the fake PostHog only
    /// # let server = runtime.block_on(posthog::test_util::FakePostHog::start());
    /// # let client = posthog::ClientBuilder::new("phc_project_token").host(server.url()).build_blocking()?;
    /// # server.set_flags(serde_json::json!({"flags": {
    /// #     "beta": {"key": "beta", "enabled": true, "reason": {"code": "condition_match"}},
    /// #     "checkout": {"key": "checkout", "enabled": true, "variant": "blue",
    /// #                  "metadata": {"payload": "{\"cta\": \"Buy now\"}"}}}}));
    /// let flags = client.evaluate_flags("user-123", &posthog::FlagOptions::new());
    /// if flags.is_enabled("beta") {
    ///     client.capture(flags.attach(posthog::Event::new("report_exported", "user-123")));
    /// }
    /// # assert_eq!(client.flush().sent, 2); // the event and `$feature_flag_called`
    /// # Ok(()) }
    /// ```
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
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let runtime = tokio::runtime::Runtime::new()?; // hosts the fake PostHog only
    /// # let server = runtime.block_on(posthog::test_util::FakePostHog::start());
    /// # let client = posthog::ClientBuilder::new("phc_project_token").host(server.url()).build_blocking()?;
    /// # server.set_flags(serde_json::json!({"flags": {
    /// #     "beta": {"key": "beta", "enabled": true, "reason": {"code": "condition_match"}},
    /// #     "checkout": {"key": "checkout", "enabled": true, "variant": "blue",
    /// #                  "metadata": {"payload": "{\"cta\": \"Buy now\"}"}}}}));
    /// client.capture_with_flags(posthog::Event::new("report_exported", "user-123"), &posthog::FlagOptions::new());
    /// # client.flush();
    /// # assert_eq!(server.events()[0]["properties"]["$feature/beta"], true);
    /// # Ok(()) }
    /// ```
    pub fn capture_with_flags(&self, event: Event, opts: &FlagOptions) -> Option<Uuid> {
        let client = self.as_async();
        let uuid = self
            .inner
            .block_on(client.capture_with_flags(event, opts))
            .flatten();
        self.settle(uuid)
    }

    /// See [`crate::Client::get_remote_config_payload`].
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let runtime = tokio::runtime::Runtime::new()?; // hosts the fake PostHog only
    /// # let server = runtime.block_on(posthog::test_util::FakePostHog::start());
    /// # let client = posthog::ClientBuilder::new("phc_project_token").host(server.url()).personal_api_key("phx_personal_key").build_blocking()?;
    /// # server.set_remote_config("banner", serde_json::json!("{\"text\": \"Sale!\"}"));
    /// let banner = client.get_remote_config_payload("banner");
    /// assert_eq!(banner, Some(serde_json::json!({"text": "Sale!"})));
    /// # Ok(()) }
    /// ```
    pub fn get_remote_config_payload(&self, key: &str) -> Option<Value> {
        let client = self.as_async();
        self.inner
            .block_on(client.get_remote_config_payload(key))
            .flatten()
    }

    /// Loads the definitions now (see [`crate::Client::load_feature_flags`]).
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let runtime = tokio::runtime::Runtime::new()?; // hosts the fake PostHog only
    /// # let server = runtime.block_on(posthog::test_util::FakePostHog::start());
    /// # server.set_definitions(serde_json::json!({"flags": [{"key": "beta", "active": true,
    /// #     "filters": {"groups": [{"properties": [], "rollout_percentage": 100}]}}]}));
    /// # let client = posthog::ClientBuilder::new("phc_project_token").host(server.url()).personal_api_key("phx_personal_key").build_blocking()?;
    /// client.load_feature_flags();
    /// assert!(client.feature_flag_definitions_loaded_at().is_some());
    /// # Ok(()) }
    /// ```
    pub fn load_feature_flags(&self) {
        let client = self.as_async();
        self.inner.block_on(client.load_feature_flags());
    }

    /// See [`crate::Client::wait_for_flags`].
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let runtime = tokio::runtime::Runtime::new()?; // hosts the fake PostHog only
    /// # let server = runtime.block_on(posthog::test_util::FakePostHog::start());
    /// # server.set_definitions(serde_json::json!({"flags": [{"key": "beta", "active": true,
    /// #     "filters": {"groups": [{"properties": [], "rollout_percentage": 100}]}}]}));
    /// # let client = posthog::ClientBuilder::new("phc_project_token").host(server.url()).personal_api_key("phx_personal_key").build_blocking()?;
    /// assert!(client.wait_for_flags(std::time::Duration::from_secs(5)));
    /// # Ok(()) }
    /// ```
    pub fn wait_for_flags(&self, timeout: Duration) -> bool {
        let client = self.as_async();
        self.inner
            .block_on(client.wait_for_flags(timeout))
            .unwrap_or(false)
    }

    /// See [`crate::Client::feature_flag_definitions_loaded_at`].
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let runtime = tokio::runtime::Runtime::new()?; // hosts the fake PostHog only
    /// # let server = runtime.block_on(posthog::test_util::FakePostHog::start());
    /// # server.set_definitions(serde_json::json!({"flags": [{"key": "beta", "active": true,
    /// #     "filters": {"groups": [{"properties": [], "rollout_percentage": 100}]}}]}));
    /// # let client = posthog::ClientBuilder::new("phc_project_token").host(server.url()).personal_api_key("phx_personal_key").build_blocking()?;
    /// client.wait_for_flags(std::time::Duration::from_secs(5));
    /// assert!(client.feature_flag_definitions_loaded_at().is_some());
    /// # Ok(()) }
    /// ```
    pub fn feature_flag_definitions_loaded_at(&self) -> Option<SystemTime> {
        self.as_async().feature_flag_definitions_loaded_at()
    }

    /// See [`crate::Client::get_flags_decision`].
    ///
    /// # Errors
    ///
    /// As the async call.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let runtime = tokio::runtime::Runtime::new()?; // hosts the fake PostHog only
    /// # let server = runtime.block_on(posthog::test_util::FakePostHog::start());
    /// # let client = posthog::ClientBuilder::new("phc_project_token").host(server.url()).build_blocking()?;
    /// # server.set_flags(serde_json::json!({"flags": {
    /// #     "beta": {"key": "beta", "enabled": true, "reason": {"code": "condition_match"}},
    /// #     "checkout": {"key": "checkout", "enabled": true, "variant": "blue",
    /// #                  "metadata": {"payload": "{\"cta\": \"Buy now\"}"}}}}));
    /// let decision = client.get_flags_decision("user-123", &posthog::FlagOptions::new())?;
    /// assert!(decision.flags["beta"].enabled);
    /// # Ok(()) }
    /// ```
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
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let runtime = tokio::runtime::Runtime::new()?; // hosts the fake PostHog only
    /// # let server = runtime.block_on(posthog::test_util::FakePostHog::start());
    /// # let client = posthog::ClientBuilder::new("phc_project_token").host(server.url()).build_blocking()?;
    /// # server.set_flags(serde_json::json!({"flags": {
    /// #     "beta": {"key": "beta", "enabled": true, "reason": {"code": "condition_match"}},
    /// #     "checkout": {"key": "checkout", "enabled": true, "variant": "blue",
    /// #                  "metadata": {"payload": "{\"cta\": \"Buy now\"}"}}}}));
    /// let variants = client.get_feature_variants("user-123", &posthog::FlagOptions::new())?;
    /// assert_eq!(variants["beta"], posthog::FlagValue::Bool(true));
    /// # Ok(()) }
    /// ```
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
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let runtime = tokio::runtime::Runtime::new()?; // hosts the fake PostHog only
    /// # let server = runtime.block_on(posthog::test_util::FakePostHog::start());
    /// # let client = posthog::ClientBuilder::new("phc_project_token").host(server.url()).build_blocking()?;
    /// # server.set_flags(serde_json::json!({"flags": {
    /// #     "beta": {"key": "beta", "enabled": true, "reason": {"code": "condition_match"}},
    /// #     "checkout": {"key": "checkout", "enabled": true, "variant": "blue",
    /// #                  "metadata": {"payload": "{\"cta\": \"Buy now\"}"}}}}));
    /// let payloads = client.get_feature_payloads("user-123", &posthog::FlagOptions::new())?;
    /// assert_eq!(payloads["checkout"], serde_json::json!({"cta": "Buy now"}));
    /// # Ok(()) }
    /// ```
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
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let runtime = tokio::runtime::Runtime::new()?; // hosts the fake PostHog only
    /// # let server = runtime.block_on(posthog::test_util::FakePostHog::start());
    /// # let client = posthog::ClientBuilder::new("phc_project_token").host(server.url()).build_blocking()?;
    /// # server.set_flags(serde_json::json!({"flags": {
    /// #     "beta": {"key": "beta", "enabled": true, "reason": {"code": "condition_match"}},
    /// #     "checkout": {"key": "checkout", "enabled": true, "variant": "blue",
    /// #                  "metadata": {"payload": "{\"cta\": \"Buy now\"}"}}}}));
    /// let (flags, payloads) = client.get_feature_flags_and_payloads("user-123", &posthog::FlagOptions::new())?;
    /// assert_eq!((flags.len(), payloads.len()), (2, 1));
    /// # Ok(()) }
    /// ```
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
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let runtime = tokio::runtime::Runtime::new()?; // hosts the fake PostHog only
    /// # let server = runtime.block_on(posthog::test_util::FakePostHog::start());
    /// # server.set_definitions(serde_json::json!({"flags": [{"key": "beta", "active": true,
    /// #     "filters": {"groups": [{"properties": [], "rollout_percentage": 100}]}}]}));
    /// # let client = posthog::ClientBuilder::new("phc_project_token").host(server.url()).personal_api_key("phx_personal_key").build_blocking()?;
    /// client.wait_for_flags(std::time::Duration::from_secs(5));
    /// let definitions = client.feature_flag_definitions().expect("loaded");
    /// # let _ = definitions;
    /// # Ok(()) }
    /// ```
    pub fn feature_flag_definitions(&self) -> Option<FlagDefinitions> {
        self.as_async().feature_flag_definitions()
    }

    /// See [`crate::Client::clear_flag_result_cache`].
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let runtime = tokio::runtime::Runtime::new()?; // hosts the fake PostHog only
    /// # let server = runtime.block_on(posthog::test_util::FakePostHog::start());
    /// # let client = posthog::ClientBuilder::new("phc_project_token").host(server.url()).flag_result_cache(1_000, std::time::Duration::from_secs(60)).build_blocking()?;
    /// # server.set_flags(serde_json::json!({"flags": {
    /// #     "beta": {"key": "beta", "enabled": true, "reason": {"code": "condition_match"}},
    /// #     "checkout": {"key": "checkout", "enabled": true, "variant": "blue",
    /// #                  "metadata": {"payload": "{\"cta\": \"Buy now\"}"}}}}));
    /// assert!(client.is_feature_enabled("beta", "user-123", &posthog::FlagOptions::new()));
    /// client.clear_flag_result_cache();
    /// # Ok(()) }
    /// ```
    pub fn clear_flag_result_cache(&self) {
        self.as_async().clear_flag_result_cache();
    }
}
