//! What the executor reports. The engine never prints: it sends
//! [`BuildEvent`]s to an [`EventSink`] that the reporting layer implements
//! (progress bar, plain lines, JSON).

use std::path::PathBuf;

use serde::Serialize;

use super::script_output::ScriptOutput;
use crate::core::ActionId;

/// How an action's outputs came to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Outputs already in place from an earlier build with the same key.
    Fresh,
    /// Restored from the local cache.
    LocalHit,
    /// Restored from the remote cache.
    RemoteHit,
    /// Executed.
    Executed,
}

/// Who failed when an action failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureCause {
    /// The action did: compiler errors, a build script's exit status, an
    /// output that could not be put in place, a check-only run finding it
    /// not fresh.
    Action,
    /// hbuild did, while running the action (a panic): a bug.
    Internal,
}

/// A message of one action's compiler or script.
#[derive(Clone, Debug)]
pub enum Diagnostic {
    /// A rustc JSON diagnostic (the raw JSON and its rendered text).
    Rustc {
        /// rustc's JSON line.
        json: String,
        /// `rendered` field.
        rendered: String,
        /// `level` field.
        level: DiagnosticLevel,
    },
    /// Text that is not JSON (e.g. an ICE or linker output).
    Text(String),
}

/// The `level` of a rustc diagnostic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub enum DiagnosticLevel {
    /// `error`, and `error: internal compiler error`.
    Error,
    /// `warning`.
    Warning,
    /// `note`, `help`, `failure-note` and anything newer.
    Other,
}

impl DiagnosticLevel {
    /// The level of rustc's `level` string.
    pub fn parse(level: &str) -> Self {
        match level {
            "error" | "error: internal compiler error" => DiagnosticLevel::Error,
            "warning" => DiagnosticLevel::Warning,
            _ => DiagnosticLevel::Other,
        }
    }
}

/// Events of a build, in the order they happen.
#[derive(Clone, Debug)]
pub enum BuildEvent {
    /// Planning done; `total` actions.
    Started {
        /// Number of actions.
        total: usize,
    },
    /// Waiting for another process's lock.
    Blocking {
        /// What is locked.
        what: String,
    },
    /// An action started executing (not for hits).
    ActionStarted {
        /// Action.
        id: ActionId,
    },
    /// A diagnostic from an action (replayed for hits).
    Diagnostic {
        /// Action.
        id: ActionId,
        /// Message.
        diag: Diagnostic,
    },
    /// A build script's parsed output (for warnings and JSON).
    ScriptFinished {
        /// Action.
        id: ActionId,
        /// Parsed directives.
        output: ScriptOutput,
        /// OUT_DIR.
        out_dir: PathBuf,
    },
    /// An action finished.
    ActionFinished {
        /// Action.
        id: ActionId,
        /// How.
        outcome: Outcome,
    },
    /// An action failed.
    ActionFailed {
        /// Action.
        id: ActionId,
        /// Whether the action failed or hbuild did.
        cause: FailureCause,
        /// Number of errors reported by rustc (0 when not applicable).
        errors: usize,
        /// Number of warnings.
        warnings: usize,
        /// Human-readable cause (exit status, script output).
        message: String,
    },
    /// A warning from hbuild itself (cache, remote).
    Warning(String),
    /// The build ended.
    Finished(super::BuildSummary),
}

/// Receiver of build events. Implementations must be cheap and thread-safe:
/// events come from worker threads.
pub trait EventSink: Send + Sync {
    /// Handle one event.
    fn event(&self, graph: &crate::plan::ActionGraph, event: BuildEvent);
}
