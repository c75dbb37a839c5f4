//! The report policy of an execution: how each action's end counts in the
//! summary and the explain data, which events it emits, and when a
//! failure stops the build.

use std::collections::BTreeMap;
use std::time::Duration;

use super::events::{BuildEvent, FailureCause, Outcome};
use super::job::Ended;
use super::outcome::{DepResult, Failure};
use super::{discard_stamp, BuildSummary, ExecShared, Reasons};
use crate::core::ActionId;
use crate::plan::ActionGraph;

/// What the coordinator has heard of the actions that ended.
pub(super) struct Tally {
    summary: BuildSummary,
    reasons: Reasons,
    failures: usize,
    keep_going: bool,
}

impl Tally {
    /// Nothing ended yet; with `keep_going` a failure does not stop the
    /// build (its dependents simply never become ready).
    pub(super) fn new(graph: &ActionGraph, keep_going: bool) -> Self {
        Tally {
            summary: BuildSummary {
                actions_total: graph.actions.len(),
                profile: graph.profile.clone(),
                ..Default::default()
            },
            reasons: BTreeMap::new(),
            failures: 0,
            keep_going,
        }
    }

    /// Whether no further action may start.
    pub(super) fn stopped(&self) -> bool {
        self.failures > 0 && !self.keep_going
    }

    /// Counts and reports how action `id` ended; its result
    /// for dependents if it succeeded.
    pub(super) fn ended(
        &mut self,
        sh: &ExecShared,
        id: ActionId,
        ended: Ended,
    ) -> Option<DepResult> {
        let a = &sh.graph.actions[id.index()];
        let (res, cause) = match ended {
            Ended::Reported(r) => (*r, FailureCause::Action),
            Ended::Panicked(message) => {
                discard_stamp(sh, a);
                (Err(Failure::other(message)), FailureCause::Internal)
            }
        };
        let f = match res {
            Ok(f) => f,
            Err(e) => {
                sh.emit(BuildEvent::ActionFailed {
                    id,
                    cause,
                    errors: e.errors,
                    warnings: e.warnings,
                    message: e.message,
                });
                self.failures += 1;
                return None;
            }
        };
        let s = &mut self.summary;
        match f.outcome {
            Outcome::Fresh => s.fresh += 1,
            Outcome::LocalHit => s.local_hits += 1,
            Outcome::RemoteHit => s.remote_hits += 1,
            Outcome::Executed => s.executed += 1,
        }
        sh.emit(BuildEvent::ActionFinished {
            id,
            outcome: f.outcome,
        });
        if let Some(why) = &f.uncacheable {
            s.uncacheable.push((a.display_name(), why.clone()));
        }
        self.reasons.insert(id, (f.outcome, f.reason));
        Some(f.result)
    }

    /// The summary and explain data of the build, given which actions
    /// finished (`done`) and how long it took.
    pub(super) fn finish(
        mut self,
        done: &[Option<DepResult>],
        elapsed: Duration,
    ) -> (BuildSummary, Reasons) {
        let s = &mut self.summary;
        s.success = self.failures == 0 && done.iter().all(Option::is_some);
        s.skipped = done.iter().filter(|d| d.is_none()).count();
        s.elapsed = elapsed;
        (self.summary, self.reasons)
    }
}
