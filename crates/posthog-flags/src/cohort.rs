//! Compiled cohort property groups (flags.md §9).

use crate::model::Filter;

/// `{type: AND|OR, values: [...]}`, or a shape only the server can read.
#[derive(Debug)]
pub(crate) enum CohortGroup {
    Malformed,
    /// `decisive_only`: every entry is a plain property filter or a group of such (which can
    /// only answer yes, no or a soft "undecided"), so the scan may stop as soon as the
    /// group's answer is settled without hiding a hard signal.
    Group {
        and: bool,
        entries: Vec<CohortEntry>,
        decisive_only: bool,
    },
}

/// One entry of a property group.
#[derive(Debug)]
pub(crate) enum CohortEntry {
    Malformed,
    Nested(CohortGroup),
    Filter { filter: Filter, negation: bool },
}
