//! What an evaluation answers: a [`Match`] or an explicit [`Inconclusive`].

use posthog_core::FlagValue;
use serde_json::Value;

/// The result of evaluating one flag for one subject.
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
/// use posthog_flags::Evaluation;
/// match flags.evaluate("beta", &EvalContext::new("user-123")).expect("defined") {
///     Evaluation::Match(m) => println!("decided locally: {:?}", m.value),
///     // "plan" was not given: only PostHog can decide.
///     Evaluation::Inconclusive(i) => println!("ask /flags: {:?} ({:?})", i.reason, i.cause),
/// }
/// # Ok::<(), posthog_flags::DefinitionsError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Evaluation<'d> {
    /// The flag was decided locally.
    Match(Match<'d>),
    /// The flag cannot be decided locally; ask the server (or treat it as absent when only
    /// local evaluation is allowed).
    Inconclusive(Inconclusive),
}

impl<'d> Evaluation<'d> {
    /// The decided value, if any.
    pub fn value(&self) -> Option<FlagValueRef<'d>> {
        match self {
            Evaluation::Match(m) => Some(m.value),
            Evaluation::Inconclusive(_) => None,
        }
    }

    /// The answer for callers that never ask the server: the match, or the value the
    /// reference SDK returns locally for an inconclusive flag that has one (a group flag whose
    /// group was not passed is `false`, flags.md §15.1).
    pub fn local_only_value(&self) -> Option<FlagValueRef<'d>> {
        match self {
            Evaluation::Match(m) => Some(m.value),
            Evaluation::Inconclusive(i) => i.local_only_value(),
        }
    }

    /// The match, if decided.
    pub fn as_match(&self) -> Option<&Match<'d>> {
        match self {
            Evaluation::Match(m) => Some(m),
            Evaluation::Inconclusive(_) => None,
        }
    }

    /// Whether the flag needs the server.
    pub fn is_inconclusive(&self) -> bool {
        matches!(self, Evaluation::Inconclusive(_))
    }
}

/// A locally decided flag value, borrowing variant keys and payloads from the compiled set.
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
/// use posthog_flags::{Evaluation, FlagValueRef, MatchReason};
/// let Some(Evaluation::Match(m)) = flags.evaluate("checkout", &EvalContext::new("user-123")) else {
///     panic!("decided locally")
/// };
/// assert_eq!(m.value, FlagValueRef::Variant("blue"));
/// assert_eq!(m.reason, MatchReason::ConditionMatch);
/// assert_eq!(m.payload, Some(&serde_json::json!({"cta": "Buy now"})));
/// # Ok::<(), posthog_flags::DefinitionsError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Match<'d> {
    /// The value.
    pub value: FlagValueRef<'d>,
    /// The payload stored for that value (decoded JSON), if any.
    pub payload: Option<&'d Value>,
    /// Why the flag has this value.
    pub reason: MatchReason,
    /// The index of the condition that matched, when one did.
    pub condition_index: Option<usize>,
}

/// A flag value borrowed from the compiled definitions.
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
/// use posthog_flags::FlagValueRef;
/// let value = flags.evaluate("checkout", &EvalContext::new("user-123")).and_then(|e| e.value());
/// assert_eq!(value, Some(FlagValueRef::Variant("blue")));
/// # Ok::<(), posthog_flags::DefinitionsError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FlagValueRef<'d> {
    /// On or off.
    Bool(bool),
    /// A variant key (or `holdout-<id>`).
    Variant(&'d str),
}

impl FlagValueRef<'_> {
    /// `true` for `Bool(true)` and any variant.
    pub fn is_enabled(&self) -> bool {
        !matches!(self, FlagValueRef::Bool(false))
    }

    /// An owned [`FlagValue`].
    #[inline]
    pub fn to_owned(&self) -> FlagValue {
        match *self {
            FlagValueRef::Bool(b) => FlagValue::Bool(b),
            FlagValueRef::Variant(v) => FlagValue::Variant(v.to_owned()),
        }
    }
}

/// `true`, `false`, or the variant key.
impl std::fmt::Display for FlagValueRef<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FlagValueRef::Bool(b) => write!(f, "{b}"),
            FlagValueRef::Variant(v) => f.write_str(v),
        }
    }
}

impl PartialEq<FlagValue> for FlagValueRef<'_> {
    fn eq(&self, other: &FlagValue) -> bool {
        match (self, other) {
            (FlagValueRef::Bool(a), FlagValue::Bool(b)) => a == b,
            (FlagValueRef::Variant(a), FlagValue::Variant(b)) => *a == b,
            _ => false,
        }
    }
}

/// Why a flag has the value it has.
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
/// use posthog_flags::{Evaluation, MatchReason};
/// if let Some(Evaluation::Match(m)) = flags.evaluate("checkout", &EvalContext::new("user-123")) {
///     assert_eq!(m.reason, MatchReason::ConditionMatch);
/// }
/// # Ok::<(), posthog_flags::DefinitionsError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MatchReason {
    /// A condition matched (see [`Match::condition_index`]).
    ConditionMatch,
    /// No condition matched.
    NoConditionMatch,
    /// `early_exit`: a condition's properties matched but its rollout excluded the subject.
    OutOfRolloutBound,
    /// The flag is not active.
    Disabled,
    /// The subject is in the flag's holdout group.
    Holdout,
    /// The value is the subject's feature-enrollment choice.
    FeatureEnrollment,
}

impl MatchReason {
    /// The server's reason code for the same situation.
    pub fn code(&self) -> &'static str {
        match self {
            MatchReason::ConditionMatch => "condition_match",
            MatchReason::NoConditionMatch => "no_condition_match",
            MatchReason::OutOfRolloutBound => "out_of_rollout_bound",
            MatchReason::Disabled => "flag_disabled",
            MatchReason::Holdout => "holdout_condition_value",
            MatchReason::FeatureEnrollment => "super_condition_value",
        }
    }
}

/// A flag that cannot be decided locally, with the reference SDK's reason and a finer cause.
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
/// use posthog_flags::{Evaluation, Reason};
/// let Some(Evaluation::Inconclusive(i)) = flags.evaluate("beta", &EvalContext::new("user-123")) else {
///     panic!("needs the plan")
/// };
/// assert_eq!(i.reason, Reason::MissingContext);
/// assert_eq!(i.local_only_value(), None);
/// # Ok::<(), posthog_flags::DefinitionsError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Inconclusive {
    /// The reason, as PostHog's SDKs name it.
    pub reason: Reason,
    /// What in the definition or the call made it inconclusive.
    pub cause: Cause,
}

impl Inconclusive {
    pub(crate) fn new(reason: Reason, cause: Cause) -> Self {
        Self { reason, cause }
    }

    /// The value a local-only caller gets instead of nothing (see
    /// [`Evaluation::local_only_value`]).
    pub fn local_only_value(&self) -> Option<FlagValueRef<'static>> {
        (self.cause == Cause::GroupNotProvided).then_some(FlagValueRef::Bool(false))
    }
}

/// Why a flag is inconclusive, ordered by precedence: when several apply, the greatest is
/// reported (`ExperienceContinuity` > `UnsupportedDefinition` > `UnresolvedDependency` >
/// `MissingContext`).
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
/// use posthog_flags::{Evaluation, Reason};
/// if let Some(Evaluation::Inconclusive(i)) = flags.evaluate("beta", &EvalContext::new("user-123")) {
///     assert_eq!(i.reason, Reason::MissingContext); // PostHog's "missing property" case
/// }
/// # Ok::<(), posthog_flags::DefinitionsError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reason {
    /// The call lacked a property, group or device id the flag needs.
    MissingContext,
    /// A flag this one depends on could not be decided.
    UnresolvedDependency,
    /// The definition uses something local evaluation cannot do.
    UnsupportedDefinition,
    /// The flag keeps experience continuity, which only the server can do.
    ExperienceContinuity,
}

impl Reason {
    /// The reference SDK's name (`missing_context`, …).
    pub fn as_str(&self) -> &'static str {
        match self {
            Reason::MissingContext => "missing_context",
            Reason::UnresolvedDependency => "unresolved_dependency",
            Reason::UnsupportedDefinition => "unsupported_definition",
            Reason::ExperienceContinuity => "experience_continuity",
        }
    }
}

/// The finer cause of an [`Inconclusive`] answer.
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
/// use posthog_flags::{Cause, Evaluation};
/// if let Some(Evaluation::Inconclusive(i)) = flags.evaluate("beta", &EvalContext::new("user-123")) {
///     assert_eq!(i.cause, Cause::UndecidedCondition);
/// }
/// # Ok::<(), posthog_flags::DefinitionsError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Cause {
    /// `ensure_experience_continuity` is on.
    ExperienceContinuity,
    /// A group flag was evaluated without its group; local-only callers get `false`.
    GroupNotProvided,
    /// The flag's group type index has no entry in `group_type_mapping`.
    UnknownGroupType,
    /// The flag buckets by device id and none was passed.
    MissingDeviceId,
    /// Feature enrollment without the enrollment property, or on a group flag.
    FeatureEnrollment,
    /// No condition matched and at least one could not be decided (missing property,
    /// unknown operator, unportable regex, unresolved dependency, …).
    UndecidedCondition,
    /// A static or unknown cohort, a malformed cohort, or a dependency on such a flag.
    RequiresServer,
    /// The definition could not be compiled (see [`crate::FlagSet::problems`]).
    MalformedDefinition,
    /// A cohort or dependency cycle, or nesting deeper than the evaluator follows.
    Cycle,
}
