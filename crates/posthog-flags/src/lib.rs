//! Local evaluation of PostHog feature flags: compile the definitions document once into an
//! immutable [`FlagSet`], then evaluate flags for any number of subjects with borrowed inputs,
//! no locks and no I/O.
//!
//! Semantics follow PostHog's reference SDK exactly (hash, operators, cohorts, dependencies,
//! holdouts, feature enrollment), and every answer is either a [`Match`] (value, payload,
//! reason, condition index) or an explicit [`Inconclusive`] with the reason the server must
//! decide instead.
//!
//! ```
//! use posthog_flags::{EvalContext, FlagSet, FlagValueRef};
//!
//! let set = FlagSet::from_slice(br#"{
//!   "flags": [{
//!     "key": "beta-ui", "active": true,
//!     "filters": {"groups": [{"properties": [
//!         {"key": "email", "operator": "icontains", "value": "@acme.com", "type": "person"}],
//!       "rollout_percentage": 100}]}
//!   }]
//! }"#)?;
//! let props = serde_json::from_str(r#"{"email": "ada@ACME.com"}"#).unwrap();
//! let ctx = EvalContext::new("user-123").person_properties(&props);
//! let answer = set.evaluate("beta-ui", &ctx).expect("flag is defined");
//! assert_eq!(answer.value(), Some(FlagValueRef::Bool(true)));
//!
//! // Without the property, the flag cannot be decided locally:
//! let answer = set.evaluate("beta-ui", &EvalContext::new("user-123")).unwrap();
//! assert!(answer.is_inconclusive());
//! # Ok::<(), posthog_flags::DefinitionsError>(())
//! ```

#![cfg_attr(docsrs, feature(doc_cfg))]
#![cfg_attr(
    not(test),
    warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod cohort;
mod compile;
mod context;
mod evaluate;
mod fast_hash;
mod model;
mod operators;
mod outcome;
mod payload;
mod tri;
mod value;

pub use compile::{CompileProblem, DefinitionsError, FlagSet};
pub use context::EvalContext;
pub use operators::REGEX_SIZE_LIMIT;
pub use outcome::{Cause, Evaluation, FlagValueRef, Inconclusive, Match, MatchReason, Reason};
pub use posthog_core::{FlagValue, GroupProperties, Groups, Properties};

use evaluate::Engine;

/// What `$feature_flag_called` needs to know about a flag's definition.
///
/// ```
/// use posthog_flags::{EvalContext, FlagSet};
/// let flags = FlagSet::from_slice(br#"{"flags": [
///     {"key": "beta", "active": true, "filters": {"groups": [
///         {"properties": [{"key": "plan", "type": "person", "value": ["pro"], "operator": "exact"}],
///          "rollout_percentage": 100}]}},
///     {"key": "checkout", "active": true, "filters": {
///         "groups": [{"properties": [], "rollout_percentage": 100}],
///         "multivariate": {"variants": [{"key": "blue", "rollout_percentage": 100}]},
///         "payloads": {"blue": "{\"cta\": \"Buy now\"}"}}}
/// ]}"#)?;
/// let info = flags.info("beta").expect("defined");
/// println!("id {:?}, version {:?}", info.id, info.version);
/// # Ok::<(), posthog_flags::DefinitionsError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlagInfo {
    /// The definition's id.
    pub id: Option<i64>,
    /// The definition's version.
    pub version: Option<i64>,
    /// Whether the flag backs an experiment.
    pub has_experiment: Option<bool>,
}

impl FlagSet {
    /// Evaluates one flag; `None` when no flag has that key.
    #[inline(always)]
    pub fn evaluate<'d>(&'d self, key: &str, ctx: &EvalContext<'_>) -> Option<Evaluation<'d>> {
        let index = *self.index.get(key)?;
        Some(Engine::new(self, ctx).evaluate(index))
    }

    /// [`FlagSet::evaluate`] with the flag's [`FlagInfo`], in one lookup.
    pub fn evaluate_with_info<'d>(
        &'d self,
        key: &str,
        ctx: &EvalContext<'_>,
    ) -> Option<(FlagInfo, Evaluation<'d>)> {
        let index = *self.index.get(key)?;
        Some((
            self.flags[index].info(),
            Engine::new(self, ctx).evaluate(index),
        ))
    }

    /// Evaluates every flag for one subject, each on its own (a failing flag never affects
    /// the others), in document order.
    pub fn evaluate_all<'d, 'c>(
        &'d self,
        ctx: &'c EvalContext<'c>,
    ) -> impl Iterator<Item = (&'d str, Evaluation<'d>)> + 'c
    where
        'd: 'c,
    {
        let mut engine = Engine::with_cache(self, ctx);
        (0..self.flags.len()).map(move |i| {
            engine.reset();
            (&*self.flags[i].key, engine.evaluate(i))
        })
    }

    /// [`FlagSet::evaluate_all`] with each flag's [`FlagInfo`].
    pub fn evaluate_all_with_info<'d, 'c>(
        &'d self,
        ctx: &'c EvalContext<'c>,
    ) -> impl Iterator<Item = (&'d str, FlagInfo, Evaluation<'d>)> + 'c
    where
        'd: 'c,
    {
        let mut engine = Engine::with_cache(self, ctx);
        self.flags.iter().enumerate().map(move |(i, flag)| {
            engine.reset();
            (&*flag.key, flag.info(), engine.evaluate(i))
        })
    }

    /// The flags named by `keys`, each with its [`FlagInfo`], evaluated as
    /// [`FlagSet::evaluate_all`] does (person properties looked up once); `None` for a key
    /// no flag has.
    pub fn evaluate_keys_with_info<'d, 'c, 'k, I>(
        &'d self,
        keys: I,
        ctx: &'c EvalContext<'c>,
    ) -> impl Iterator<Item = (&'k str, Option<(FlagInfo, Evaluation<'d>)>)> + 'c
    where
        'd: 'c,
        'k: 'c,
        I: IntoIterator<Item = &'k str>,
        I::IntoIter: 'c,
    {
        let mut engine = Engine::with_cache(self, ctx);
        keys.into_iter().map(move |key| {
            let Some(&index) = self.index.get(key) else {
                return (key, None);
            };
            engine.reset();
            (
                key,
                Some((self.flags[index].info(), engine.evaluate(index))),
            )
        })
    }

    /// The payload stored for `value` of flag `key` (decoded JSON), e.g. for a value that came
    /// from the server or from [`Evaluation::local_only_value`].
    pub fn payload(&self, key: &str, value: FlagValueRef<'_>) -> Option<&serde_json::Value> {
        let flag = &self.flags[*self.index.get(key)?];
        flag.payloads.get(evaluate::payload_key(&value))
    }

    /// Id, version and experiment flag of a definition.
    pub fn info(&self, key: &str) -> Option<FlagInfo> {
        Some(self.flags[*self.index.get(key)?].info())
    }

    /// Whether a flag with this key is defined.
    pub fn contains(&self, key: &str) -> bool {
        self.index.contains_key(key)
    }
}
