//! The evaluation engine (flags.md §6–§10): one flag for one subject, no locks, no I/O.
//!
//! A pure rollout flag allocates nothing: the subject's properties are borrowed, the hash
//! state is precomputed, and the dependency cache stays empty unless a dependency is used.

use std::cell::Cell;

use chrono::{DateTime, Utc};
use posthog_core::hash::{VARIANT_SALT, holdout_bucket};
use serde_json::Value;

use crate::FlagSet;
use crate::cohort::{CohortEntry, CohortGroup};
use crate::context::{EvalContext, PropertyView};
use crate::model::{
    ActiveFlag, Body, CohortOp, CondAggregation, Condition, Filter, FlagDependency, GroupRef,
};
use crate::outcome::{Cause, Evaluation, FlagValueRef, Inconclusive, Match, MatchReason, Reason};
use crate::tri::{Tri, strongest};

/// How deep cohorts and dependencies may nest before the evaluator gives up (as a cycle).
pub(crate) const MAX_DEPTH: u32 = 64;

/// Whom a condition is evaluated for: the bucketing value and the property map.
#[derive(Clone, Copy)]
struct Subject<'a> {
    bucketing: &'a str,
    props: PropertyView<'a>,
}

/// A flag body's answer before it becomes an [`Evaluation`].
enum Outcome<'d> {
    Value {
        value: FlagValueRef<'d>,
        reason: MatchReason,
        condition: Option<usize>,
    },
    Soft(Reason, Cause),
    Hard(Reason, Cause),
    Error,
}

/// Whom a condition is evaluated for.
enum ConditionSubject<'c> {
    /// The flag's own subject.
    Same,
    /// A group of a mixed-targeting condition.
    Group(Subject<'c>),
    /// A group that was not passed: the condition does not match.
    Skip,
}

enum CondResult {
    Match,
    NoMatch,
    OutOfRollout,
    Undecided(Tri),
}

#[derive(Clone, Copy)]
enum DepState<'d> {
    Value(FlagValueRef<'d>),
    Unresolved,
    InProgress,
}

pub(crate) struct Engine<'d, 'c> {
    set: &'d FlagSet,
    ctx: &'c EvalContext<'c>,
    deps: Vec<(usize, DepState<'d>)>,
    /// Dependency-chain members with no definition met in this pass (by missing-key id).
    missing_seen: Vec<u32>,
    cohort_stack: Vec<u32>,
    depth: u32,
    /// Person-property lookups by key slot (`None`: not looked up yet). Empty: no caching.
    slots: Vec<Option<Option<&'c Value>>>,
    /// The clock, read at most once per engine.
    now: Cell<Option<DateTime<Utc>>>,
}

impl<'d, 'c> Engine<'d, 'c> {
    /// An engine for one evaluation (no lookup cache: nothing is allocated up front).
    pub(crate) fn new(set: &'d FlagSet, ctx: &'c EvalContext<'c>) -> Self {
        Self {
            set,
            ctx,
            deps: Vec::new(),
            missing_seen: Vec::new(),
            cohort_stack: Vec::new(),
            depth: 0,
            slots: Vec::new(),
            now: Cell::new(None),
        }
    }

    /// An engine for many flags of one subject: person properties are looked up once each.
    pub(crate) fn with_cache(set: &'d FlagSet, ctx: &'c EvalContext<'c>) -> Self {
        let mut engine = Self::new(set, ctx);
        engine.slots = vec![None; set.property_keys];
        engine
    }

    /// Forgets the dependency cache before the next top-level flag (flags.md §12: each flag
    /// is evaluated on its own).
    #[inline]
    pub(crate) fn reset(&mut self) {
        self.deps.clear();
        self.missing_seen.clear();
        self.cohort_stack.clear();
        self.depth = 0;
    }

    /// flags.md §6.1 for a top-level flag.
    #[inline(always)]
    pub(crate) fn evaluate(&mut self, index: usize) -> Evaluation<'d> {
        let set = self.set;
        let flag = &set.flags[index];
        let inconclusive =
            |reason, cause| Evaluation::Inconclusive(Inconclusive::new(reason, cause));
        let active = match &flag.body {
            Body::Inactive => {
                let value = FlagValueRef::Bool(false);
                return Evaluation::Match(Match {
                    value,
                    payload: flag.payloads.get("false"),
                    reason: MatchReason::Disabled,
                    condition_index: None,
                });
            }
            Body::Continuity => {
                return inconclusive(Reason::ExperienceContinuity, Cause::ExperienceContinuity);
            }
            Body::Broken => {
                return inconclusive(Reason::UnsupportedDefinition, Cause::MalformedDefinition);
            }
            Body::Active(active) => active,
        };
        let upgrade = |reason: Reason| {
            if active.has_unsupported_part {
                Reason::UnsupportedDefinition
            } else {
                reason
            }
        };
        let subject = if let Some(group) = &active.group {
            let Some(type_name) = group.type_name.as_deref() else {
                return inconclusive(Reason::UnsupportedDefinition, Cause::UnknownGroupType);
            };
            let Some(key) = self.ctx.group_key(type_name) else {
                return inconclusive(Reason::MissingContext, Cause::GroupNotProvided);
            };
            if active.feature_enrollment {
                return inconclusive(Reason::UnsupportedDefinition, Cause::FeatureEnrollment);
            }
            Subject {
                bucketing: key,
                props: self.ctx.group_view(type_name, key),
            }
        } else if active.device_bucketing {
            let Some(device) = self.ctx.get_device_id() else {
                return inconclusive(upgrade(Reason::MissingContext), Cause::MissingDeviceId);
            };
            Subject {
                bucketing: device,
                props: self.ctx.person_view(),
            }
        } else {
            Subject {
                bucketing: self.ctx.distinct_id(),
                props: self.ctx.person_view(),
            }
        };
        match self.body(active, &subject, true) {
            Outcome::Value {
                value,
                reason,
                condition,
            } => {
                let payload = flag.payloads.get(payload_key(&value));
                Evaluation::Match(Match {
                    value,
                    payload,
                    reason,
                    condition_index: condition,
                })
            }
            Outcome::Soft(reason, cause) => inconclusive(reason, cause),
            Outcome::Hard(reason, cause) => inconclusive(upgrade(reason), cause),
            Outcome::Error => inconclusive(Reason::UnsupportedDefinition, Cause::Cycle),
        }
    }

    /// flags.md §6.1 from step 4: enrollment, holdout, conditions.
    fn body(
        &mut self,
        flag: &'d ActiveFlag,
        subject: &Subject<'c>,
        with_groups: bool,
    ) -> Outcome<'d> {
        if flag.feature_enrollment {
            return match subject.props.get(&flag.enrollment_property) {
                None => Outcome::Soft(Reason::MissingContext, Cause::FeatureEnrollment),
                Some(v) => {
                    let enrolled = matches!(&*v, Value::Bool(true)) || v.as_str() == Some("true");
                    let value = FlagValueRef::Bool(enrolled);
                    Outcome::Value {
                        value,
                        reason: MatchReason::FeatureEnrollment,
                        condition: None,
                    }
                }
            };
        }
        if let Some(holdout) = &flag.holdout {
            if holdout.percentage >= 100.0
                || holdout_bucket(subject.bucketing) <= holdout.percentage / 100.0
            {
                let value = FlagValueRef::Variant(&holdout.value);
                return Outcome::Value {
                    value,
                    reason: MatchReason::Holdout,
                    condition: None,
                };
            }
        }
        let mut undecided: Option<Reason> = None;
        for (i, condition) in flag.conditions.iter().enumerate() {
            let group_subject;
            let cond_subject = match self.condition_subject(flag, condition, with_groups) {
                ConditionSubject::Same => subject,
                ConditionSubject::Group(group) => {
                    group_subject = group;
                    &group_subject
                }
                // Mixed targeting on a group that was not passed: a plain no-match.
                ConditionSubject::Skip => continue,
            };
            match self.condition(flag, condition, cond_subject) {
                CondResult::Match => {
                    let value = variant(flag, condition, cond_subject.bucketing);
                    return Outcome::Value {
                        value,
                        reason: MatchReason::ConditionMatch,
                        condition: Some(i),
                    };
                }
                CondResult::NoMatch => {}
                CondResult::OutOfRollout if flag.early_exit => {
                    return match undecided {
                        Some(reason) => Outcome::Soft(reason, Cause::UndecidedCondition),
                        None => Outcome::Value {
                            value: FlagValueRef::Bool(false),
                            reason: MatchReason::OutOfRolloutBound,
                            condition: Some(i),
                        },
                    };
                }
                CondResult::OutOfRollout => {}
                CondResult::Undecided(Tri::Hard(reason)) => {
                    return Outcome::Hard(reason, Cause::RequiresServer);
                }
                CondResult::Undecided(Tri::Soft(reason)) => {
                    undecided = strongest(undecided, reason)
                }
                CondResult::Undecided(_) => return Outcome::Error,
            }
        }
        match undecided {
            Some(reason) => Outcome::Soft(reason, Cause::UndecidedCondition),
            None => Outcome::Value {
                value: FlagValueRef::Bool(false),
                reason: MatchReason::NoConditionMatch,
                condition: None,
            },
        }
    }

    /// flags.md §7.2: which subject a condition is evaluated for.
    #[inline]
    fn condition_subject(
        &self,
        flag: &ActiveFlag,
        condition: &Condition,
        with_groups: bool,
    ) -> ConditionSubject<'c> {
        let CondAggregation::Index(index) = &condition.aggregation else {
            return ConditionSubject::Same;
        };
        let same = match (index, &flag.group) {
            (None, None) => true,
            (Some(a), Some(b)) => a.index == b.index,
            _ => false,
        };
        match index {
            _ if same => ConditionSubject::Same,
            None => ConditionSubject::Same,
            Some(GroupRef { type_name, .. }) => {
                let group = type_name
                    .as_deref()
                    .filter(|_| with_groups)
                    .and_then(|t| Some((t, self.ctx.group_key(t)?)));
                match group {
                    Some((type_name, key)) => ConditionSubject::Group(Subject {
                        bucketing: key,
                        props: self.ctx.group_view(type_name, key),
                    }),
                    None => ConditionSubject::Skip,
                }
            }
        }
    }

    /// flags.md §6.2: filters (all scanned, rules for soft and hard signals), then rollout.
    #[inline]
    fn condition(
        &mut self,
        flag: &ActiveFlag,
        condition: &'d Condition,
        subject: &Subject<'c>,
    ) -> CondResult {
        let mut problem: Option<Reason> = None;
        let mut hard: Option<Reason> = None;
        for filter in &condition.filters {
            match self.filter(filter, subject) {
                Tri::Yes => {}
                Tri::No => return CondResult::NoMatch,
                Tri::Soft(reason) => problem = strongest(problem, reason),
                Tri::Hard(reason) if problem.is_none() && hard.is_none() => hard = Some(reason),
                Tri::Hard(reason) => problem = strongest(problem, reason),
                Tri::Error if problem.is_none() && hard.is_none() => {
                    return CondResult::Undecided(Tri::Error);
                }
                Tri::Error => break,
            }
        }
        if let Some(reason) = hard {
            return CondResult::Undecided(Tri::Hard(reason));
        }
        if let Some(reason) = problem {
            return CondResult::Undecided(Tri::Soft(reason));
        }
        match condition.rollout {
            Some(pct) if flag.hasher.bucket(subject.bucketing, "") > pct / 100.0 => {
                CondResult::OutOfRollout
            }
            _ => CondResult::Match,
        }
    }

    /// flags.md §8: dispatch by filter type.
    fn filter(&mut self, filter: &'d Filter, subject: &Subject<'c>) -> Tri {
        match filter {
            Filter::Property { key, slot, matcher } => {
                let cached = if subject.props.is_person() {
                    self.slots.get_mut(*slot as usize)
                } else {
                    None
                };
                let found = match cached {
                    Some(Some(found)) => *found,
                    Some(empty) => *empty.insert(subject.props.lookup(key)),
                    None => subject.props.lookup(key),
                };
                let value = subject.props.resolve(key, found);
                let (ctx, now) = (self.ctx, &self.now);
                let clock = || match now.get() {
                    Some(t) => t,
                    None => {
                        let t = ctx.now();
                        now.set(Some(t));
                        t
                    }
                };
                matcher.check(value.as_deref(), &clock)
            }
            Filter::Cohort { slot, op } => self.cohort(*slot, *op, subject),
            Filter::Flag(dependency) => self.dependency(dependency, subject),
        }
    }

    /// flags.md §9: cohort membership.
    fn cohort(&mut self, slot: Option<u32>, op: CohortOp, subject: &Subject<'c>) -> Tri {
        let set = self.set;
        let Some(slot) = slot else {
            return Tri::Hard(Reason::UnsupportedDefinition);
        };
        let group = &set.cohorts[slot as usize];
        if op == CohortOp::Unsupported {
            return Tri::Soft(Reason::UnsupportedDefinition);
        }
        if self.cohort_stack.contains(&slot) || self.depth >= MAX_DEPTH {
            return Tri::Error;
        }
        self.cohort_stack.push(slot);
        let member = self.group(group, subject);
        self.cohort_stack.pop();
        if op == CohortOp::NotIn {
            member.negate()
        } else {
            member
        }
    }

    /// A property group: every entry evaluated, hard signals and errors propagate at once.
    fn group(&mut self, group: &'d CohortGroup, subject: &Subject<'c>) -> Tri {
        let CohortGroup::Group {
            and,
            entries,
            decisive_only,
        } = group
        else {
            return Tri::Hard(Reason::UnsupportedDefinition);
        };
        if entries.is_empty() {
            return Tri::Yes;
        }
        if self.depth >= MAX_DEPTH {
            return Tri::Error;
        }
        self.depth += 1;
        let (mut any_true, mut any_false, mut undecided) = (false, false, None);
        let mut result = None;
        for entry in entries {
            let answer = match entry {
                CohortEntry::Malformed => Tri::Hard(Reason::UnsupportedDefinition),
                CohortEntry::Nested(nested) => self.group(nested, subject),
                CohortEntry::Filter { filter, negation } => {
                    let answer = self.filter(filter, subject);
                    if *negation { answer.negate() } else { answer }
                }
            };
            match answer {
                Tri::Yes if *decisive_only && !*and => return self.leave(Tri::Yes),
                Tri::No if *decisive_only && *and => return self.leave(Tri::No),
                Tri::Yes => any_true = true,
                Tri::No => any_false = true,
                Tri::Soft(reason) => undecided = strongest(undecided, reason),
                stop @ (Tri::Hard(_) | Tri::Error) => {
                    result = Some(stop);
                    break;
                }
            }
        }
        if let Some(stop) = result {
            return self.leave(stop);
        }
        self.depth -= 1;
        match (and, undecided) {
            (true, _) if any_false => Tri::No,
            (false, _) if any_true => Tri::Yes,
            (_, Some(reason)) => Tri::Soft(reason),
            (and, None) => Tri::from(*and),
        }
    }

    fn leave(&mut self, answer: Tri) -> Tri {
        self.depth -= 1;
        answer
    }

    /// flags.md §10: a dependency on another flag's value.
    fn dependency(&mut self, dependency: &'d FlagDependency, subject: &Subject<'c>) -> Tri {
        let (chain, missing, key, expected) = match dependency {
            FlagDependency::Malformed => return Tri::No,
            FlagDependency::BadChain => return Tri::Soft(Reason::UnsupportedDefinition),
            FlagDependency::Chain {
                chain,
                missing,
                key,
                expected,
            } => (chain, missing, key, expected),
        };
        let set = self.set;
        let Some(chain) = chain else {
            return Tri::Soft(Reason::UnsupportedDefinition);
        };
        // A member with no definition is inconclusive the first time this pass meets it;
        // after that it counts as evaluated (unresolved), as in PostHog's Python SDK, so a
        // second chain naming it goes on with its other members.
        if let Some(&first) = missing.iter().find(|id| !self.missing_seen.contains(id)) {
            self.missing_seen.push(first);
            return Tri::Soft(Reason::UnsupportedDefinition);
        }
        if self.depth >= MAX_DEPTH {
            return Tri::Error;
        }
        for &index in chain.iter() {
            match self.dep_state(index) {
                Some(DepState::InProgress) => return Tri::Error,
                Some(_) => continue,
                None => {}
            }
            let parent = &set.flags[index];
            let active = match &parent.body {
                Body::Inactive => {
                    self.deps
                        .push((index, DepState::Value(FlagValueRef::Bool(false))));
                    continue;
                }
                Body::Continuity => {
                    self.deps.push((index, DepState::Unresolved));
                    return Tri::Soft(Reason::UnresolvedDependency);
                }
                Body::Broken => return Tri::Error,
                Body::Active(active) => active,
            };
            self.deps.push((index, DepState::InProgress));
            self.depth += 1;
            let outcome = self.parent(active, subject);
            self.depth -= 1;
            let slot = self.deps.iter().position(|(i, _)| *i == index);
            match outcome {
                Outcome::Value { value, .. } => self.set_dep(slot, DepState::Value(value)),
                Outcome::Soft(..) => {
                    self.set_dep(slot, DepState::Unresolved);
                    return Tri::Soft(Reason::UnresolvedDependency);
                }
                Outcome::Hard(..) => {
                    if let Some(slot) = slot {
                        self.deps.remove(slot);
                    }
                    return Tri::Hard(Reason::UnresolvedDependency);
                }
                Outcome::Error => return Tri::Error,
            }
        }
        let Some(index) = *key else {
            return Tri::Soft(Reason::UnsupportedDefinition);
        };
        match self.dep_state(index) {
            Some(DepState::Value(value)) => Tri::from(dependency_matches(value, expected)),
            Some(DepState::Unresolved) => Tri::Soft(Reason::UnresolvedDependency),
            Some(DepState::InProgress) => Tri::Error,
            None => Tri::Soft(Reason::UnsupportedDefinition),
        }
    }

    /// A parent flag evaluated with the current identity and map (the reference quirk):
    /// only device bucketing swaps the bucketing value; group mappings are not passed down.
    fn parent(&mut self, parent: &'d ActiveFlag, subject: &Subject<'c>) -> Outcome<'d> {
        let subject = if parent.device_bucketing && parent.group.is_none() {
            match self.ctx.get_device_id() {
                Some(device) => Subject {
                    bucketing: device,
                    ..*subject
                },
                None => return Outcome::Soft(Reason::MissingContext, Cause::MissingDeviceId),
            }
        } else {
            *subject
        };
        self.body(parent, &subject, false)
    }

    fn dep_state(&self, index: usize) -> Option<DepState<'d>> {
        self.deps.iter().find(|(i, _)| *i == index).map(|(_, s)| *s)
    }

    fn set_dep(&mut self, slot: Option<usize>, state: DepState<'d>) {
        if let Some(slot) = slot {
            self.deps[slot].1 = state;
        }
    }
}

fn dependency_matches(parent: FlagValueRef<'_>, expected: &Value) -> bool {
    match parent {
        FlagValueRef::Variant(v) if !v.is_empty() => match expected {
            Value::Bool(b) => *b,
            Value::String(s) => s == v,
            _ => false,
        },
        FlagValueRef::Variant(_) => false,
        FlagValueRef::Bool(b) => expected.as_bool() == Some(b),
    }
}

/// flags.md §6.1 step 6 and §3.4: the override variant, else the hashed variant, else `true`.
#[inline]
fn variant<'d>(flag: &'d ActiveFlag, condition: &Condition, bucketing: &str) -> FlagValueRef<'d> {
    if let Some(i) = condition.variant {
        return FlagValueRef::Variant(&flag.variants[i].key);
    }
    if flag.variants.is_empty() {
        return FlagValueRef::Bool(true);
    }
    let x = flag.hasher.bucket(bucketing, VARIANT_SALT);
    flag.variants
        .iter()
        .find(|v| v.lo <= x && x < v.hi)
        .map_or(FlagValueRef::Bool(true), |v| FlagValueRef::Variant(&v.key))
}

#[inline]
pub(crate) fn payload_key<'v>(value: &FlagValueRef<'v>) -> &'v str {
    match *value {
        FlagValueRef::Bool(true) => "true",
        FlagValueRef::Bool(false) => "false",
        FlagValueRef::Variant(v) => v,
    }
}
