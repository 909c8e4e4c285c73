//! The compiled form of a flag: everything parsed, resolved and precomputed.

use posthog_core::hash::BucketHasher;
use serde_json::Value;

use crate::operators::Matcher;

#[derive(Debug)]
pub(crate) struct CompiledFlag {
    pub(crate) key: Box<str>,
    pub(crate) id: Option<i64>,
    pub(crate) version: Option<i64>,
    pub(crate) has_experiment: Option<bool>,
    /// Decoded payloads by `"true"`, `"false"` or variant key.
    pub(crate) payloads: crate::fast_hash::FxMap<Box<str>, Value>,
    pub(crate) body: Body,
}

impl CompiledFlag {
    /// What `$feature_flag_called` needs to know about this definition.
    pub(crate) fn info(&self) -> crate::FlagInfo {
        crate::FlagInfo {
            id: self.id,
            version: self.version,
            has_experiment: self.has_experiment,
        }
    }
}

#[derive(Debug)]
pub(crate) enum Body {
    Inactive,
    Continuity,
    /// Could not be compiled; the reason is in [`crate::FlagSet::problems`].
    Broken,
    Active(Box<ActiveFlag>),
}

#[derive(Debug)]
pub(crate) struct ActiveFlag {
    /// SHA-1 state after `"<key>."`.
    pub(crate) hasher: BucketHasher,
    /// Set for group flags.
    pub(crate) group: Option<GroupRef>,
    pub(crate) device_bucketing: bool,
    pub(crate) feature_enrollment: bool,
    pub(crate) holdout: Option<Holdout>,
    pub(crate) conditions: Vec<Condition>,
    pub(crate) variants: Vec<VariantRange>,
    /// `$feature_enrollment/<key>`.
    pub(crate) enrollment_property: Box<str>,
    pub(crate) early_exit: bool,
    /// flags.md §14, filled in after all flags are compiled.
    pub(crate) has_unsupported_part: bool,
}

/// A group type index and the group type it maps to (`None`: no mapping).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GroupRef {
    pub(crate) index: Box<str>,
    pub(crate) type_name: Option<Box<str>>,
}

#[derive(Debug)]
pub(crate) struct Holdout {
    /// `holdout-<id>`.
    pub(crate) value: Box<str>,
    /// Clamped to [0, 100].
    pub(crate) percentage: f64,
}

#[derive(Debug)]
pub(crate) struct VariantRange {
    pub(crate) key: Box<str>,
    pub(crate) lo: f64,
    pub(crate) hi: f64,
}

#[derive(Debug)]
pub(crate) struct Condition {
    pub(crate) aggregation: CondAggregation,
    pub(crate) filters: Vec<Filter>,
    pub(crate) rollout: Option<f64>,
    /// Index of the override variant, when it names a known variant.
    pub(crate) variant: Option<usize>,
}

#[derive(Debug)]
pub(crate) enum CondAggregation {
    /// The key is absent: as the flag.
    SameAsFlag,
    /// `None`: explicitly the person; `Some`: that group type.
    Index(Option<GroupRef>),
}

#[derive(Debug)]
pub(crate) enum Filter {
    /// `slot`: the key's index among the set's distinct property keys (lookup cache).
    Property {
        key: Box<str>,
        slot: u32,
        matcher: Matcher,
    },
    Cohort {
        /// Position in `FlagSet::cohorts`; `None`: the id names no cohort of the document.
        slot: Option<u32>,
        op: CohortOp,
    },
    Flag(FlagDependency),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CohortOp {
    In,
    NotIn,
    Unsupported,
}

#[derive(Debug)]
pub(crate) enum FlagDependency {
    /// Wrong operator, empty key or null expected value: definitely false.
    Malformed,
    /// `dependency_chain` missing, not an array, or empty (a cycle marker).
    BadChain,
    /// Flags by position in `FlagSet::flags`, resolved when the set is compiled.
    Chain {
        /// The members that name a flag of the document, in order. `None`: a member is
        /// not text (an array or an object).
        chain: Option<Box<[usize]>>,
        /// The members that name no flag of the document, in order, as ids unique within
        /// the document (the same key always gets the same id).
        missing: Box<[u32]>,
        /// `None`: the key names no flag of the document.
        key: Option<usize>,
        expected: Value,
    },
}
