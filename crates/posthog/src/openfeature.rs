//! An [OpenFeature](https://openfeature.dev) provider over the client (feature `openfeature`):
//! [`PostHogProvider`] implements the `open-feature` crate's `FeatureProvider`, so code written
//! against OpenFeature's client API evaluates PostHog flags — locally when the definitions
//! decide, else with one `/flags` request, and with `$feature_flag_called` sent as for
//! [`Client::get_feature_flag`].
//!
//! | OpenFeature | PostHog |
//! |---|---|
//! | targeting key | the distinct id (required: `TARGETING_KEY_MISSING` without it) |
//! | custom field `group.<type>` (a string) | the group key of that group type |
//! | other custom fields (bool, number, string, date-time as RFC 3339) | person properties |
//! | boolean evaluation | enabled (`true` or any variant); the variant, if any |
//! | string evaluation | the variant of a multivariate flag (`TYPE_MISMATCH` for a boolean flag) |
//! | integer, float, object evaluation | the flag's JSON payload for its value (`TYPE_MISMATCH` when there is none or it has another type) |
//! | reason | `TARGETING_MATCH` (a condition matched), `DEFAULT` (no condition matched, out of rollout), `DISABLED` (the flag is off), `UNKNOWN` otherwise |
//! | flag metadata | `reason_code` (PostHog's reason), `locally_evaluated` |
//! | errors | `FLAG_NOT_FOUND` (no such flag), `GENERAL` with PostHog's error code (`timeout`, `connection_error`, `api_error_<status>`, `quota_limited`, …) |
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), posthog::Error> {
//! # let server = posthog::test_util::FakePostHog::start().await;
//! # server.set_flags(serde_json::json!({"flags": {"beta": {"key": "beta", "enabled": true}}}));
//! use open_feature::{EvaluationContext, OpenFeature};
//!
//! let client = posthog::Client::builder("phc_project_token")
//! #   .host(server.url())
//!     .build()?;
//! let mut api = OpenFeature::singleton_mut().await;
//! api.set_provider(posthog::openfeature::PostHogProvider::new(client)).await;
//! let flags = api.create_client();
//! drop(api);
//!
//! let user = EvaluationContext::default().with_targeting_key("user-123");
//! assert!(flags.get_bool_value("beta", Some(&user), None).await.unwrap_or(false));
//! # Ok(()) }
//! ```

use open_feature::provider::{
    FeatureProvider, ProviderMetadata, ProviderStatus, ResolutionDetails,
};
use open_feature::{
    EvaluationContext, EvaluationContextFieldValue, EvaluationError, EvaluationErrorCode,
    EvaluationReason, EvaluationResult, FlagMetadata, StructValue, Value,
};

use crate::feature_flags::FeatureFlagResult;
use crate::{Client, FlagOptions};

/// The prefix of custom fields that name a group: `group.company` = `"acme"`.
pub const GROUP_FIELD_PREFIX: &str = "group.";

/// PostHog feature flags as an OpenFeature provider. Cheap to create; it holds a client handle.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = posthog::test_util::FakePostHog::start().await;
/// # let client = posthog::Client::builder("phc_project_token").host(server.url()).build()?;
/// use posthog::openfeature::PostHogProvider;
/// let provider = PostHogProvider::new(client.clone())
///     .with_options(posthog::FlagOptions::new().send_feature_flag_events(false));
/// open_feature::OpenFeature::singleton_mut().await.set_provider(provider).await;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct PostHogProvider {
    client: Client,
    options: FlagOptions,
    metadata: ProviderMetadata,
}

impl PostHogProvider {
    /// A provider evaluating through `client`.
    pub fn new(client: Client) -> Self {
        Self {
            client,
            options: FlagOptions::new(),
            metadata: ProviderMetadata::new("PostHog"),
        }
    }

    /// Options every evaluation starts from (e.g. `only_evaluate_locally(true)`, or
    /// `send_feature_flag_events(false)`); the context's fields are added to them.
    pub fn with_options(mut self, options: FlagOptions) -> Self {
        self.options = options;
        self
    }

    /// The flag options for one evaluation of `key` in `context`.
    fn options_for(&self, key: &str, context: &EvaluationContext) -> FlagOptions {
        let mut options = self.options.clone().flag_keys([key]);
        for (name, value) in &context.custom_fields {
            if let Some(group_type) = name.strip_prefix(GROUP_FIELD_PREFIX) {
                if let Some(group_key) = value.as_str() {
                    options = options.group(group_type, group_key);
                }
                continue;
            }
            let value: serde_json::Value = match value {
                EvaluationContextFieldValue::Bool(b) => (*b).into(),
                EvaluationContextFieldValue::Int(i) => (*i).into(),
                EvaluationContextFieldValue::Float(f) => (*f).into(),
                EvaluationContextFieldValue::String(s) => s.clone().into(),
                EvaluationContextFieldValue::DateTime(t) => t
                    .format(&time::format_description::well_known::Rfc3339)
                    .map_or(serde_json::Value::Null, Into::into),
                // Opaque structures cannot be read as properties.
                _ => continue,
            };
            options = options.person_property(name.clone(), value);
        }
        options
    }

    /// Evaluates `key` for the context's subject.
    async fn resolve(
        &self,
        key: &str,
        context: &EvaluationContext,
    ) -> EvaluationResult<FeatureFlagResult> {
        let distinct_id = context
            .targeting_key
            .as_deref()
            .filter(|id| !id.is_empty())
            .ok_or_else(|| error(EvaluationErrorCode::TargetingKeyMissing, "no targeting key"))?;
        let flags = self
            .client
            .evaluate_flags(distinct_id, &self.options_for(key, context))
            .await;
        match flags.get_flag_result(key) {
            Some(result) => Ok(result),
            None => Err(match flags.error() {
                Some(code) => error(EvaluationErrorCode::General(code.to_owned()), code),
                None => error(
                    EvaluationErrorCode::FlagNotFound,
                    format!("no flag {key:?}"),
                ),
            }),
        }
    }
}

fn error(code: EvaluationErrorCode, message: impl Into<String>) -> EvaluationError {
    EvaluationError {
        code,
        message: Some(message.into()),
    }
}

fn mismatch(key: &str, wanted: &str, result: &FeatureFlagResult) -> EvaluationError {
    let found = match (&result.variant, &result.payload) {
        (_, Some(payload)) if wanted != "string" => format!("a payload {payload}"),
        (Some(variant), _) => format!("variant {variant:?}"),
        (None, _) => format!("{}", result.enabled),
    };
    error(
        EvaluationErrorCode::TypeMismatch,
        format!("flag {key:?} has no {wanted} value for this subject: it is {found}"),
    )
}

/// The details of `result` with `value`.
fn details<T>(result: &FeatureFlagResult, value: T) -> ResolutionDetails<T> {
    let reason = match result.reason.as_deref() {
        Some("condition_match") => EvaluationReason::TargetingMatch,
        Some("no_condition_match" | "out_of_rollout_bound") => EvaluationReason::Default,
        Some("flag_disabled") => EvaluationReason::Disabled,
        _ => EvaluationReason::Unknown,
    };
    let mut metadata =
        FlagMetadata::default().with_value("locally_evaluated", result.locally_evaluated);
    if let Some(code) = &result.reason {
        metadata.add_value("reason_code", code.clone());
    }
    ResolutionDetails {
        value,
        variant: result.variant.clone(),
        reason: Some(reason),
        flag_metadata: Some(metadata),
    }
}

#[open_feature::async_trait]
impl FeatureProvider for PostHogProvider {
    fn metadata(&self) -> &ProviderMetadata {
        &self.metadata
    }

    fn status(&self) -> ProviderStatus {
        ProviderStatus::Ready
    }

    async fn resolve_bool_value(
        &self,
        flag_key: &str,
        evaluation_context: &EvaluationContext,
    ) -> EvaluationResult<ResolutionDetails<bool>> {
        let result = self.resolve(flag_key, evaluation_context).await?;
        Ok(details(&result, result.enabled))
    }

    async fn resolve_string_value(
        &self,
        flag_key: &str,
        evaluation_context: &EvaluationContext,
    ) -> EvaluationResult<ResolutionDetails<String>> {
        let result = self.resolve(flag_key, evaluation_context).await?;
        match &result.variant {
            Some(variant) => Ok(details(&result, variant.clone())),
            None => Err(mismatch(flag_key, "string", &result)),
        }
    }

    async fn resolve_int_value(
        &self,
        flag_key: &str,
        evaluation_context: &EvaluationContext,
    ) -> EvaluationResult<ResolutionDetails<i64>> {
        let result = self.resolve(flag_key, evaluation_context).await?;
        match result.payload.as_ref().and_then(serde_json::Value::as_i64) {
            Some(n) => Ok(details(&result, n)),
            None => Err(mismatch(flag_key, "integer", &result)),
        }
    }

    async fn resolve_float_value(
        &self,
        flag_key: &str,
        evaluation_context: &EvaluationContext,
    ) -> EvaluationResult<ResolutionDetails<f64>> {
        let result = self.resolve(flag_key, evaluation_context).await?;
        match result.payload.as_ref().and_then(serde_json::Value::as_f64) {
            Some(n) => Ok(details(&result, n)),
            None => Err(mismatch(flag_key, "number", &result)),
        }
    }

    async fn resolve_struct_value(
        &self,
        flag_key: &str,
        evaluation_context: &EvaluationContext,
    ) -> EvaluationResult<ResolutionDetails<StructValue>> {
        let result = self.resolve(flag_key, evaluation_context).await?;
        let object = result
            .payload
            .as_ref()
            .filter(|p| p.is_object())
            .map(Value::try_from)
            .transpose()?;
        match object {
            Some(Value::Struct(object)) => Ok(details(&result, object)),
            _ => Err(mismatch(flag_key, "object", &result)),
        }
    }
}
