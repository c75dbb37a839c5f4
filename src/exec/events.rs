//! What the executor reports. The engine never prints: it sends
//! [`BuildEvent`]s to an [`EventSink`] that the reporting layer implements
//! (progress bar, plain lines, JSON).

use std::path::PathBuf;
use std::time::Duration;

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
    /// Found in the remote cache, its outputs left there
    /// (`--remote-download=minimal`).
    RemoteLeft,
    /// Executed.
    Executed,
}

/// When an action was ready, ran and ended, each measured from the start of
/// the build (fresh actions and cache hits included: their time is the
/// key, the check and the restore).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ActionSpan {
    /// Every dependency it waits for had given what it needs.
    pub ready: Duration,
    /// Its thread started (no later than `ready` plus the wait for a job
    /// slot).
    pub start: Duration,
    /// The coordinator heard that it ended.
    pub end: Duration,
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
        /// When it was ready, started and ended.
        span: ActionSpan,
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
        /// For a test run, the test process's exit code, if it exited.
        exit_code: Option<i32>,
        /// When it was ready, started and ended.
        span: ActionSpan,
    },
    /// A test run's captured output, run now or replayed from its cached
    /// passing result (before its `ActionFinished` or `ActionFailed`).
    TestOutput {
        /// The test run.
        id: ActionId,
        /// Whether it ran now.
        outcome: Outcome,
        /// What the test wrote to stdout.
        stdout: String,
        /// What the test wrote to stderr.
        stderr: String,
    },
    /// Every action but the test runs has ended (sent only by builds with
    /// test runs, before any of their events): Cargo's `Finished` line
    /// comes here, and the tests' output after it.
    BuildPhaseDone {
        /// Whether the build part succeeded.
        success: bool,
        /// Time since the build started.
        elapsed: Duration,
    },
    /// A warning from hbuild itself (cache, remote).
    Warning(String),
    /// A warning of hbuild's about one action, reported with its events.
    ActionWarning {
        /// The action.
        id: ActionId,
        /// The warning.
        message: String,
    },
    /// The build ended.
    Finished(super::BuildSummary),
}

/// Receiver of build events. Implementations must be cheap and thread-safe:
/// events come from worker threads.
pub trait EventSink: Send + Sync {
    /// Handle one event.
    fn event(&self, graph: &crate::plan::ActionGraph, event: BuildEvent);
}
