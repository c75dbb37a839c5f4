//! How an action ends: what it gives its dependents, why it ran, or why it
//! failed. Shared by the worker, the process runners and the coordinator.

use std::sync::Arc;

use super::events::Outcome;
use super::script_output::ScriptOutput;
use super::store::MissInfo;
use crate::fingerprint::{DepDigests, KeyComponents};
use crate::plan::Action;

/// What dependents need from a finished (or metadata-ready) action.
#[derive(Clone, Debug)]
pub struct DepResult {
    /// The digests dependents key on.
    pub digests: DepDigests,
    /// Parsed build-script output, for runs.
    pub script: Option<Arc<ScriptOutput>>,
}

/// Why an action ran rather than being a hit (input to `--explain`).
#[derive(Clone, Debug, Default)]
pub struct RunReason {
    /// The current components.
    pub current: Option<KeyComponents>,
    /// The flags build scripts added to the invocation.
    pub script_flags: Vec<String>,
    /// Cache miss details.
    pub miss: MissInfo,
}

/// Result of one action.
#[derive(Debug)]
pub struct Finished {
    /// Digests for dependents.
    pub result: DepResult,
    /// How.
    pub outcome: Outcome,
    /// Explain data.
    pub reason: RunReason,
    /// Why the result was not stored in the cache, if it was not.
    pub uncacheable: Option<String>,
}

/// An action failure (the build fails).
#[derive(Debug)]
pub struct Failure {
    /// rustc errors counted.
    pub errors: usize,
    /// Warnings counted.
    pub warnings: usize,
    /// Message.
    pub message: String,
}

impl Failure {
    /// A failure of hbuild's own work around an action (no diagnostics).
    pub(crate) fn other(message: String) -> Self {
        Failure {
            errors: 0,
            warnings: 0,
            message,
        }
    }

    /// The failure of a check-only run ([`super::RunPolicy::CheckOnly`]).
    pub(crate) fn not_fresh(a: &Action) -> Self {
        Failure::other(format!("{} is not fresh", a.display_name()))
    }
}
