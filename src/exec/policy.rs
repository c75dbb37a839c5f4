//! What an execution may do with an action that is not fresh.

use super::outcome::Failure;
use crate::plan::Action;

/// Whether an execution builds, or only checks that a build is a no-op.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunPolicy {
    /// A build: restore from the cache or run what is not fresh, and keep
    /// stamps up to date.
    Build,
    /// Only check: an action that is not fresh fails instead of running or
    /// being restored, and nothing in the target dir is written. The
    /// resident server verifies a finished build this way.
    CheckOnly,
}

impl RunPolicy {
    /// Whether the execution may write to the target dir (outputs, links,
    /// stamps).
    pub fn may_write(self) -> bool {
        self == RunPolicy::Build
    }

    /// What happens to action `a`, which is not fresh: a build goes on to
    /// restore or run it, a check fails.
    pub(crate) fn past_fresh(self, a: &Action) -> Result<(), Failure> {
        match self {
            RunPolicy::Build => Ok(()),
            RunPolicy::CheckOnly => Err(Failure::not_fresh(a)),
        }
    }
}
