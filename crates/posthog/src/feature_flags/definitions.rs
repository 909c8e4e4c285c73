//! The loaded local-evaluation definitions as a handle (Python's `feature_flag_definitions`):
//! the compiled [`FlagSet`] to inspect or evaluate directly, and when it was loaded.

use std::sync::Arc;
use std::time::SystemTime;

use posthog_flags::FlagSet;

use super::store::Loaded;
use crate::Client;

/// The definitions the client evaluates flags with, as they were when asked for: a later load
/// does not change a handle already taken. Cheap to clone.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = posthog::test_util::FakePostHog::start().await;
/// # let client = posthog::Client::builder("phc_project_token").host(server.url()).build()?;
/// # server.set_definitions(serde_json::json!({"flags": [{"key": "beta", "active": true,
/// #     "filters": {"groups": [{"properties": [], "rollout_percentage": 100}]}}]}));
/// # let client = posthog::Client::builder("phc_project_token").host(server.url()).personal_api_key("phx_personal_key").build()?;
/// client.wait_for_flags(std::time::Duration::from_secs(5)).await;
/// let definitions = client.feature_flag_definitions().expect("loaded");
/// assert!(definitions.flag_set().contains("beta"));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct FlagDefinitions(Arc<Loaded>);

impl FlagDefinitions {
    /// The compiled flags: keys, [`FlagSet::info`], and [`FlagSet::evaluate`] for evaluation
    /// with no client around it (no events, no server fallback).
    pub fn flag_set(&self) -> &FlagSet {
        &self.0.set
    }

    /// When these definitions were loaded.
    pub fn loaded_at(&self) -> SystemTime {
        self.0.loaded_at
    }
}

impl std::ops::Deref for FlagDefinitions {
    type Target = FlagSet;

    fn deref(&self) -> &FlagSet {
        &self.0.set
    }
}

impl Client {
    /// The loaded definitions, or `None` before the first successful load (or without a
    /// personal API key).
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
    /// let definitions = client.feature_flag_definitions().expect("loaded");
    /// let ctx = posthog::flags::EvalContext::new("user-123");
    /// let on = definitions.evaluate("beta-ui", &ctx).and_then(|e| e.value());
    /// # assert!(on.is_some_and(|v| v.is_enabled()));
    /// # Ok(()) }
    /// ```
    pub fn feature_flag_definitions(&self) -> Option<FlagDefinitions> {
        self.flags_runtime()?.store.current().map(FlagDefinitions)
    }
}
