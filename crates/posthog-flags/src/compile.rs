//! Compiling a definitions document into an immutable [`FlagSet`] (flags.md §2).
//!
//! Each flag compiles on its own: a flag whose JSON has the wrong shape is recorded as a
//! [`CompileProblem`] and evaluates as inconclusive, while the others keep working.

use std::cell::RefCell;
use std::collections::HashMap;

use posthog_core::hash::BucketHasher;
use serde_json::{Map, Value};

use crate::cohort::{CohortEntry, CohortGroup};
use crate::fast_hash::FxMap;
use crate::model::{
    ActiveFlag, Body, CohortOp, CompiledFlag, CondAggregation, Condition, Filter, FlagDependency,
    GroupRef, Holdout, VariantRange,
};
use crate::operators::Matcher;
use crate::value::{py_truthy, python_str};

/// A definition that could not be compiled: which flag, and why.
///
/// ```
/// // A flag that cannot be compiled fails alone; the others evaluate.
/// let flags = posthog_flags::FlagSet::from_slice(br#"{"flags": [
///     {"key": "broken", "active": true, "filters": {"groups": "not a list"}},
///     {"key": "ok", "active": true, "filters": {"groups": [{"rollout_percentage": 100}]}}
/// ]}"#)?;
/// for problem in flags.problems() {
///     eprintln!("{:?}: {}", problem.flag_key, problem.message);
/// }
/// assert!(flags.contains("ok"));
/// # Ok::<(), posthog_flags::DefinitionsError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileProblem {
    /// The flag's key, when it has one.
    pub flag_key: Option<String>,
    /// Position of the flag in the document's `flags` array.
    pub position: usize,
    /// What was wrong.
    pub message: String,
}

impl std::fmt::Display for CompileProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.flag_key {
            Some(key) => write!(f, "flag {key:?} (#{}): {}", self.position, self.message),
            None => write!(f, "flag #{}: {}", self.position, self.message),
        }
    }
}

/// The definitions document was not JSON, or not a JSON object.
///
/// ```
/// let refused = posthog_flags::FlagSet::from_slice(b"not json");
/// assert!(refused.is_err());
/// ```
#[derive(Debug, thiserror::Error)]
#[error("flag definitions are not a JSON object: {0}")]
pub struct DefinitionsError(String);

/// Compiled, immutable flag definitions: build once, evaluate from many threads.
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
/// let mut person = posthog_flags::Properties::new();
/// person.insert("plan".into(), "pro".into());
/// let ctx = EvalContext::new("user-123").person_properties(&person);
/// assert_eq!(flags.evaluate("beta", &ctx).and_then(|e| e.value()), Some(posthog_flags::FlagValueRef::Bool(true)));
/// # Ok::<(), posthog_flags::DefinitionsError>(())
/// ```
#[derive(Debug, Default)]
pub struct FlagSet {
    pub(crate) flags: Vec<CompiledFlag>,
    pub(crate) index: FxMap<Box<str>, usize>,
    /// Cohorts in document order; filters refer to them by position (`Filter::Cohort::slot`).
    pub(crate) cohorts: Vec<CohortGroup>,
    pub(crate) problems: Vec<CompileProblem>,
    pub(crate) minimal_flag_called_events: bool,
    /// Number of distinct property keys (the size of an evaluation's lookup cache).
    pub(crate) property_keys: usize,
}

type Shape<T> = Result<T, String>;

impl FlagSet {
    /// Compiles definitions from JSON bytes (the body of the definitions endpoint).
    pub fn from_slice(json: &[u8]) -> Result<FlagSet, DefinitionsError> {
        let doc: Value =
            serde_json::from_slice(json).map_err(|e| DefinitionsError(e.to_string()))?;
        FlagSet::compile(&doc)
    }

    /// Compiles typed definitions.
    pub fn from_definitions(
        defs: &posthog_core::FlagDefinitions,
    ) -> Result<FlagSet, DefinitionsError> {
        let doc = serde_json::to_value(defs).map_err(|e| DefinitionsError(e.to_string()))?;
        FlagSet::compile(&doc)
    }

    /// Compiles a parsed definitions document.
    pub fn compile(doc: &Value) -> Result<FlagSet, DefinitionsError> {
        let Value::Object(doc) = doc else {
            return Err(DefinitionsError(format!("got {}", kind(doc))));
        };
        let v2 = doc.get("property_matching_version").and_then(Value::as_i64) == Some(2)
            && doc
                .get("property_matching_version")
                .is_some_and(|v| v.is_i64() || v.is_u64());
        let mapping: HashMap<String, String> = match doc.get("group_type_mapping") {
            Some(Value::Object(m)) => m
                .iter()
                .filter_map(|(k, v)| {
                    v.as_str()
                        .filter(|s| !s.is_empty())
                        .map(|s| (k.clone(), s.to_owned()))
                })
                .collect(),
            _ => HashMap::new(),
        };
        let raw_cohorts = match doc.get("cohorts") {
            Some(Value::Object(m)) => Some(m),
            _ => None,
        };
        let flags: &[Value] = match doc.get("flags") {
            Some(Value::Array(flags)) => flags,
            _ => &[],
        };
        // Every name a filter can refer to gets its position before anything is compiled, so
        // filters store positions and evaluation never looks a name up.
        let ctx = Ctx {
            v2,
            mapping: &mapping,
            keys: RefCell::new(FxMap::default()),
            cohort_slots: raw_cohorts
                .into_iter()
                .flatten()
                .zip(0u32..)
                .map(|((id, _), slot)| (id.as_str().into(), slot))
                .collect(),
            flag_index: flag_positions(flags),
            missing_keys: RefCell::new(FxMap::default()),
        };
        let cohorts = raw_cohorts
            .into_iter()
            .flatten()
            .map(|(_, group)| ctx.cohort_group(group, 0))
            .collect();
        let mut set = FlagSet {
            cohorts,
            minimal_flag_called_events: doc.get("minimal_flag_called_events")
                == Some(&Value::Bool(true)),
            ..FlagSet::default()
        };
        let flags: &[Value] = match doc.get("flags") {
            Some(Value::Array(flags)) => flags,
            None | Some(Value::Null) => &[],
            Some(other) => {
                set.problems.push(CompileProblem {
                    flag_key: None,
                    position: 0,
                    message: format!("`flags` must be an array, got {}", kind(other)),
                });
                &[]
            }
        };
        for (position, raw) in flags.iter().enumerate() {
            let key = match raw.get("key") {
                Some(Value::String(k)) => k.as_str(),
                None | Some(Value::Null) => continue, // flags without a key are ignored
                Some(other) => {
                    let message = format!("`key` must be a string, got {}", kind(other));
                    set.problems.push(CompileProblem {
                        flag_key: None,
                        position,
                        message,
                    });
                    continue;
                }
            };
            let flag = match ctx.flag(key, raw) {
                Ok(flag) => flag,
                Err(message) => {
                    set.problems.push(CompileProblem {
                        flag_key: Some(key.to_owned()),
                        position,
                        message: message.clone(),
                    });
                    CompiledFlag {
                        key: key.into(),
                        id: None,
                        version: None,
                        has_experiment: None,
                        payloads: FxMap::default(),
                        body: Body::Broken,
                    }
                }
            };
            // Duplicate keys: the last definition wins, at the first one's position.
            match ctx.flag_index.get(key) {
                Some(&i) if i < set.flags.len() => set.flags[i] = flag,
                _ => set.flags.push(flag),
            }
        }
        set.index = ctx.flag_index;
        set.mark_unsupported_parts();
        set.property_keys = ctx.keys.borrow().len();
        Ok(set)
    }

    /// Flags whose definitions could not be compiled; each evaluates as inconclusive.
    pub fn problems(&self) -> &[CompileProblem] {
        &self.problems
    }

    /// Number of flags.
    pub fn len(&self) -> usize {
        self.flags.len()
    }

    /// Whether there are no flags.
    pub fn is_empty(&self) -> bool {
        self.flags.is_empty()
    }

    /// Flag keys in document order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.flags.iter().map(|f| &*f.key)
    }

    /// Whether the server allows trimmed `$feature_flag_called` events.
    pub fn minimal_flag_called_events(&self) -> bool {
        self.minimal_flag_called_events
    }

    /// flags.md §14: whether each flag's definition alone has a part local evaluation cannot do.
    fn mark_unsupported_parts(&mut self) {
        let mut cohort_memo: HashMap<u32, bool> = HashMap::new();
        for flag in &mut self.flags {
            let Body::Active(active) = &mut flag.body else {
                continue;
            };
            let mut unsupported = active.group.as_ref().is_some_and(|g| g.type_name.is_none());
            for condition in &active.conditions {
                for filter in &condition.filters {
                    unsupported |= filter_unsupported(
                        filter,
                        &self.cohorts,
                        &mut cohort_memo,
                        &mut Vec::new(),
                    );
                }
            }
            active.has_unsupported_part = unsupported;
        }
    }
}

fn filter_unsupported(
    filter: &Filter,
    cohorts: &[CohortGroup],
    memo: &mut HashMap<u32, bool>,
    visiting: &mut Vec<u32>,
) -> bool {
    match filter {
        Filter::Property { matcher, .. } => matcher.unusable(),
        Filter::Flag(FlagDependency::Malformed) => false,
        Filter::Flag(FlagDependency::BadChain) => true,
        Filter::Flag(FlagDependency::Chain { chain, missing, .. }) => {
            chain.is_none() || !missing.is_empty()
        }
        Filter::Cohort { slot, op, .. } => {
            if *op == CohortOp::Unsupported {
                return true;
            }
            let Some(slot) = *slot else {
                return true;
            };
            if let Some(&known) = memo.get(&slot) {
                return known;
            }
            if visiting.contains(&slot) {
                return false; // each cohort once
            }
            visiting.push(slot);
            let result = group_unsupported(&cohorts[slot as usize], cohorts, memo, visiting);
            visiting.pop();
            memo.insert(slot, result);
            result
        }
    }
}

fn group_unsupported(
    group: &CohortGroup,
    cohorts: &[CohortGroup],
    memo: &mut HashMap<u32, bool>,
    visiting: &mut Vec<u32>,
) -> bool {
    match group {
        CohortGroup::Malformed => true,
        CohortGroup::Group { entries, .. } => entries.iter().any(|e| match e {
            CohortEntry::Malformed => true,
            CohortEntry::Nested(g) => group_unsupported(g, cohorts, memo, visiting),
            CohortEntry::Filter { filter, .. } => {
                filter_unsupported(filter, cohorts, memo, visiting)
            }
        }),
    }
}

/// Each flag key's position in the compiled set: the order of first appearance, as the
/// compile loop fills it (keys that are not strings are skipped there too).
fn flag_positions(flags: &[Value]) -> FxMap<Box<str>, usize> {
    let mut index = FxMap::default();
    for key in flags.iter().filter_map(|f| f.get("key")?.as_str()) {
        let next = index.len();
        index.entry(key.into()).or_insert(next);
    }
    index
}

struct Ctx<'m> {
    v2: bool,
    mapping: &'m HashMap<String, String>,
    /// Distinct property keys → cache slot.
    keys: RefCell<FxMap<Box<str>, u32>>,
    /// Cohort id → position in [`FlagSet::cohorts`].
    cohort_slots: FxMap<Box<str>, u32>,
    /// Flag key → position in [`FlagSet::flags`].
    flag_index: FxMap<Box<str>, usize>,
    /// Keys that dependency chains name but no flag has → an id of their own.
    missing_keys: RefCell<FxMap<Box<str>, u32>>,
}

impl Ctx<'_> {
    fn flag(&self, key: &str, raw: &Value) -> Shape<CompiledFlag> {
        let Value::Object(obj) = raw else {
            return Err(format!("a flag must be an object, got {}", kind(raw)));
        };
        let id = obj.get("id").and_then(Value::as_i64);
        let version = obj.get("version").and_then(Value::as_i64);
        let has_experiment = obj.get("has_experiment").and_then(Value::as_bool);
        let payloads = payloads(obj.get("filters").and_then(|f| f.get("payloads")));
        let body = if !obj.get("active").is_some_and(py_truthy) {
            Body::Inactive
        } else if obj
            .get("ensure_experience_continuity")
            .is_some_and(py_truthy)
        {
            Body::Continuity
        } else {
            Body::Active(Box::new(self.active_flag(key, obj)?))
        };
        let payloads = match (payloads, &body) {
            (Ok(p), _) => p,
            (Err(e), Body::Active(_)) => return Err(e),
            (Err(_), _) => FxMap::default(),
        };
        Ok(CompiledFlag {
            key: key.into(),
            id,
            version,
            has_experiment,
            payloads,
            body,
        })
    }

    fn active_flag(&self, key: &str, obj: &Map<String, Value>) -> Shape<ActiveFlag> {
        let empty = Map::new();
        let filters = match obj.get("filters") {
            None | Some(Value::Null) => &empty,
            Some(Value::Object(f)) => f,
            Some(other) => return Err(format!("`filters` must be an object, got {}", kind(other))),
        };
        let bucketing = non_empty_str(obj.get("bucketing_identifier"))
            .or_else(|| non_empty_str(filters.get("bucketing_identifier")));
        let group = match filters.get("aggregation_group_type_index") {
            None | Some(Value::Null) => None,
            Some(index) => Some(self.group_ref(index)),
        };
        let variants = self.variants(filters.get("multivariate"))?;
        let conditions = match filters.get("groups") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(groups)) => groups
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    self.condition(c, &variants)
                        .map_err(|e| format!("condition {i}: {e}"))
                })
                .collect::<Shape<_>>()?,
            Some(other) => {
                return Err(format!(
                    "`filters.groups` must be an array, got {}",
                    kind(other)
                ));
            }
        };
        Ok(ActiveFlag {
            hasher: BucketHasher::new(key, "."),
            group,
            device_bucketing: bucketing == Some("device_id"),
            feature_enrollment: filters.get("feature_enrollment") == Some(&Value::Bool(true)),
            holdout: holdout(filters.get("holdout"))?,
            conditions,
            variants,
            enrollment_property: format!("$feature_enrollment/{key}").into(),
            early_exit: filters.get("early_exit").is_some_and(py_truthy),
            has_unsupported_part: false,
        })
    }

    fn group_ref(&self, index: &Value) -> GroupRef {
        let text = python_str(index).unwrap_or_default();
        let type_name = self.mapping.get(&*text).map(|s| s.as_str().into());
        GroupRef {
            index: text.into(),
            type_name,
        }
    }

    fn variants(&self, multivariate: Option<&Value>) -> Shape<Vec<VariantRange>> {
        let variants = match multivariate {
            None | Some(Value::Null) => return Ok(Vec::new()),
            Some(Value::Object(m)) => match m.get("variants") {
                None | Some(Value::Null) => return Ok(Vec::new()),
                Some(Value::Array(v)) => v,
                Some(other) => {
                    return Err(format!(
                        "`multivariate.variants` must be an array, got {}",
                        kind(other)
                    ));
                }
            },
            Some(other) => {
                return Err(format!(
                    "`multivariate` must be an object, got {}",
                    kind(other)
                ));
            }
        };
        let mut lo = 0.0;
        variants
            .iter()
            .map(|v| {
                let key = v
                    .get("key")
                    .and_then(Value::as_str)
                    .ok_or("a variant needs a string `key`")?;
                let pct = v
                    .get("rollout_percentage")
                    .and_then(Value::as_f64)
                    .ok_or("a variant needs a numeric `rollout_percentage`")?;
                let hi = lo + pct / 100.0;
                let range = VariantRange {
                    key: key.into(),
                    lo,
                    hi,
                };
                lo = hi;
                Ok(range)
            })
            .collect()
    }

    fn condition(&self, raw: &Value, variants: &[VariantRange]) -> Shape<Condition> {
        let Value::Object(obj) = raw else {
            return Err(format!("must be an object, got {}", kind(raw)));
        };
        // A bucket is in [0, 1], so 100 % and more admit everyone without hashing.
        let rollout = match obj.get("rollout_percentage") {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => n.as_f64().filter(|pct| *pct < 100.0),
            Some(other) => {
                return Err(format!(
                    "`rollout_percentage` must be a number, got {}",
                    kind(other)
                ));
            }
        };
        let variant = obj
            .get("variant")
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
            .and_then(|v| variants.iter().position(|r| &*r.key == v));
        let aggregation = match obj.get("aggregation_group_type_index") {
            None => CondAggregation::SameAsFlag,
            Some(Value::Null) => CondAggregation::Index(None),
            Some(index) => CondAggregation::Index(Some(self.group_ref(index))),
        };
        let filters = match obj.get("properties") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(props)) => {
                props.iter().map(|p| self.filter(p)).collect::<Shape<_>>()?
            }
            Some(other) => {
                return Err(format!(
                    "`properties` must be an array, got {}",
                    kind(other)
                ));
            }
        };
        Ok(Condition {
            aggregation,
            filters,
            rollout,
            variant,
        })
    }

    fn filter(&self, raw: &Value) -> Shape<Filter> {
        let Value::Object(obj) = raw else {
            return Err(format!(
                "a property filter must be an object, got {}",
                kind(raw)
            ));
        };
        let operator = match obj.get("operator") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.as_str()),
            Some(other) => return Err(format!("`operator` must be a string, got {}", kind(other))),
        };
        let value = obj.get("value").unwrap_or(&Value::Null);
        Ok(match obj.get("type").and_then(Value::as_str) {
            Some("cohort") => {
                let op = match operator.unwrap_or("") {
                    "" | "in" | "exact" => CohortOp::In,
                    "not_in" => CohortOp::NotIn,
                    _ => CohortOp::Unsupported,
                };
                let id = python_str(value).unwrap_or_default();
                Filter::Cohort {
                    slot: self.cohort_slots.get(&*id).copied(),
                    op,
                }
            }
            Some("flag") => Filter::Flag(self.dependency(obj, operator, value)),
            _ => {
                let key = match obj.get("key") {
                    Some(Value::String(k)) => k.as_str(),
                    other => {
                        return Err(format!(
                            "a property filter needs a string `key`, got {}",
                            other.map_or("nothing", kind)
                        ));
                    }
                };
                let mut keys = self.keys.borrow_mut();
                let next = keys.len() as u32;
                let slot = *keys.entry(key.into()).or_insert(next);
                Filter::Property {
                    key: key.into(),
                    slot,
                    matcher: Matcher::compile(operator, value, self.v2),
                }
            }
        })
    }

    fn cohort_group(&self, raw: &Value, depth: u32) -> CohortGroup {
        let Value::Object(obj) = raw else {
            return CohortGroup::Malformed;
        };
        if depth > crate::evaluate::MAX_DEPTH {
            return CohortGroup::Malformed; // deeper than evaluation would follow
        }
        if obj.is_empty() {
            return CohortGroup::Group {
                and: true,
                entries: Vec::new(),
                decisive_only: true,
            };
        }
        let and = match obj.get("type").and_then(Value::as_str) {
            Some("AND") => true,
            Some("OR") => false,
            _ => return CohortGroup::Malformed,
        };
        let Some(Value::Array(values)) = obj.get("values") else {
            return CohortGroup::Malformed;
        };
        let entries = values
            .iter()
            .map(|entry| match entry {
                Value::Object(e)
                    if e.is_empty()
                        || e.contains_key("values")
                        || matches!(e.get("type").and_then(Value::as_str), Some("AND" | "OR")) =>
                {
                    CohortEntry::Nested(self.cohort_group(entry, depth + 1))
                }
                Value::Object(e) => match self.filter(entry) {
                    Ok(filter) => CohortEntry::Filter {
                        filter,
                        negation: e.get("negation").is_some_and(py_truthy),
                    },
                    Err(_) => CohortEntry::Malformed,
                },
                _ => CohortEntry::Malformed,
            })
            .collect::<Vec<_>>();
        let decisive_only = entries.iter().all(|e| match e {
            CohortEntry::Filter {
                filter: Filter::Property { .. },
                ..
            } => true,
            CohortEntry::Nested(CohortGroup::Group { decisive_only, .. }) => *decisive_only,
            _ => false,
        });
        CohortGroup::Group {
            and,
            entries,
            decisive_only,
        }
    }
}

impl Ctx<'_> {
    /// flags.md §10: a `type: "flag"` filter.
    fn dependency(
        &self,
        obj: &Map<String, Value>,
        operator: Option<&str>,
        value: &Value,
    ) -> FlagDependency {
        let key = obj.get("key").and_then(Value::as_str).unwrap_or_default();
        if operator != Some("flag_evaluates_to") || key.is_empty() || value.is_null() {
            return FlagDependency::Malformed;
        }
        let members = match obj.get("dependency_chain") {
            Some(Value::Array(chain)) if !chain.is_empty() => chain,
            _ => return FlagDependency::BadChain,
        };
        let mut chain = Some(Vec::with_capacity(members.len()));
        let mut missing = Vec::new();
        let mut missing_keys = self.missing_keys.borrow_mut();
        for member in members {
            let Some(name) = python_str(member) else {
                chain = None;
                continue;
            };
            match self.flag_index.get(&*name) {
                Some(&index) => chain.iter_mut().for_each(|c| c.push(index)),
                None => {
                    let next = u32::try_from(missing_keys.len()).unwrap_or(u32::MAX);
                    missing.push(*missing_keys.entry(name.into()).or_insert(next));
                }
            }
        }
        FlagDependency::Chain {
            chain: chain.map(Vec::into_boxed_slice),
            missing: missing.into_boxed_slice(),
            key: self.flag_index.get(key).copied(),
            expected: value.clone(),
        }
    }
}

fn holdout(raw: Option<&Value>) -> Shape<Option<Holdout>> {
    let Some(Value::Object(h)) = raw else {
        return Ok(None);
    };
    let (Some(id), Some(pct)) = (
        h.get("id").filter(|v| !v.is_null()),
        h.get("exclusion_percentage").filter(|v| !v.is_null()),
    ) else {
        return Ok(None);
    };
    let pct = pct
        .as_f64()
        .ok_or("`holdout.exclusion_percentage` must be a number")?;
    let id = match id {
        Value::String(s) => s.clone(),
        other => python_str(other).unwrap_or_default().into_owned(),
    };
    Ok(Some(Holdout {
        value: format!("holdout-{id}").into(),
        percentage: pct.clamp(0.0, 100.0),
    }))
}

fn payloads(raw: Option<&Value>) -> Shape<FxMap<Box<str>, Value>> {
    match raw {
        None | Some(Value::Null) => Ok(FxMap::default()),
        Some(Value::Object(p)) => Ok(p
            .iter()
            .filter_map(|(k, v)| crate::payload::decode(v).map(|v| (k.as_str().into(), v)))
            .collect()),
        Some(other) => Err(format!("`payloads` must be an object, got {}", kind(other))),
    }
}

fn non_empty_str(v: Option<&Value>) -> Option<&str> {
    v.and_then(Value::as_str).filter(|s| !s.is_empty())
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a bool",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
