//! Compiled cohort property groups (flags.md §9).

use crate::model::Filter;

/// `{type: AND|OR, values: [...]}`, or a shape only the server can read.
#[derive(Debug)]
pub(crate) enum CohortGroup {
    Malformed,
    Group { and: bool, entries: Vec<CohortEntry> },
}

/// One entry of a property group.
#[derive(Debug)]
pub(crate) enum CohortEntry {
    Malformed,
    Nested(CohortGroup),
    Filter { filter: Filter, negation: bool },
}
