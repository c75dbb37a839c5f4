//! How an action ends: what it gives its dependents, why it ran, or why it
//! failed. Shared by the worker, the process runners and the coordinator.

use std::sync::Arc;

use super::events::Outcome;
use super::script_output::ScriptOutput;
use super::store::MissInfo;
use crate::core::ActionKey;
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
    /// The key of `current`, as the action was looked up with it.
    pub key: Option<ActionKey>,
    /// The flags build scripts added to the invocation.
    pub script_flags: Vec<String>,
    /// Cache miss details.
    pub miss: MissInfo,
    /// Where it ran, when a remote engine ran it.
    pub remote: Option<RemoteRun>,
}

/// An action a remote-execution engine ran.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RemoteRun {
    /// The engine, without credentials.
    pub engine: String,
    /// The worker, as the engine names it.
    pub worker: String,
    /// The engine answered from its own action cache.
    pub engine_cached: bool,
}

/// An output a remote run left in the engine's CAS (builds without the
/// bytes).
#[derive(Clone, Debug)]
pub struct LeftOutput {
    /// Where it belongs on this machine.
    pub path: std::path::PathBuf,
    /// The engine's output, by its CAS blob.
    pub output: crate::cache::remote::execute::ExecOutput,
    /// Its blake3 digest, as the worker reported it.
    pub digest: crate::core::Digest,
    /// Whether it holds one of this machine's checkout roots (see
    /// [`super::location`]).
    pub holds_local: bool,
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
    /// For a test run, the exit code of the test process (Cargo exits
    /// with it under fail-fast).
    pub exit_code: Option<i32>,
}

impl Failure {
    /// A failure of hbuild's own work around an action (no diagnostics).
    pub(crate) fn other(message: String) -> Self {
        Failure {
            errors: 0,
            warnings: 0,
            message,
            exit_code: None,
        }
    }

    /// The failure of a check-only run ([`super::RunPolicy::CheckOnly`]).
    pub(crate) fn not_fresh(a: &Action) -> Self {
        Failure::other(format!("{} is not fresh", a.display_name()))
    }
}
