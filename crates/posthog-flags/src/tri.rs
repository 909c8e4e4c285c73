//! The internal answer of a filter, condition or cohort group.

use crate::outcome::Reason;

/// Yes, no, or one of the ways of not knowing (flags.md §1 and §6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tri {
    Yes,
    No,
    /// Undecided; later filters and conditions are still tried.
    Soft(Reason),
    /// Only the server can decide; ends the flag when it is a condition's first problem.
    Hard(Reason),
    /// An unexpected failure (a cycle, nesting too deep): the flag has no local value.
    Error,
}

impl From<bool> for Tri {
    fn from(b: bool) -> Self {
        if b { Tri::Yes } else { Tri::No }
    }
}

impl Tri {
    /// Inverts a definite answer; undecided ones stay as they are.
    pub(crate) fn negate(self) -> Tri {
        match self {
            Tri::Yes => Tri::No,
            Tri::No => Tri::Yes,
            other => other,
        }
    }
}

/// Keeps the reason of greatest precedence.
pub(crate) fn strongest(current: Option<Reason>, next: Reason) -> Option<Reason> {
    Some(current.map_or(next, |c| c.max(next)))
}
