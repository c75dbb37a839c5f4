//! The report policy of an execution: how each action's end counts in the
//! summary and the explain data, which events it emits, and when a
//! failure stops the build.

use std::collections::BTreeMap;
use std::time::Duration;

use super::events::{ActionSpan, BuildEvent, FailureCause, Outcome};
use super::job::Ended;
use super::outcome::{DepResult, Failure};
use super::{discard_stamp, BuildSummary, ExecShared, Reasons, TestSummary};
use crate::core::ActionId;
use crate::plan::ActionGraph;

/// What the coordinator has heard of the actions that ended.
pub(super) struct Tally {
    summary: BuildSummary,
    reasons: Reasons,
    failures: usize,
    keep_going: bool,
    /// Test runs that failed, by action (reported in Cargo's order).
    test_failures: Vec<ActionId>,
}

impl Tally {
    /// Nothing ended yet; with `keep_going` a failure does not stop the
    /// build (its dependents simply never become ready).
    pub(super) fn new(graph: &ActionGraph, keep_going: bool) -> Self {
        Tally {
            summary: BuildSummary {
                actions_total: graph.actions.len(),
                profile: graph.profile.clone(),
                tests: graph
                    .actions
                    .iter()
                    .any(|a| a.test.is_some())
                    .then(|| TestSummary {
                        total: graph.actions.iter().filter(|a| a.test.is_some()).count(),
                        ..Default::default()
                    }),
                ..Default::default()
            },
            reasons: BTreeMap::new(),
            failures: 0,
            keep_going,
            test_failures: Vec::new(),
        }
    }

    /// Whether no further action may start. A failed test run stops
    /// nothing: the runs after it wait for it (or, with
    /// `--no-fail-fast`, only for its end).
    pub(super) fn stopped(&self) -> bool {
        self.failures > 0 && !self.keep_going
    }

    /// Whether an action other than a test run failed.
    pub(super) fn build_failed(&self) -> bool {
        self.failures > 0
    }

    /// Counts and reports how action `id` ended (over `span`); its result
    /// for dependents if it succeeded.
    pub(super) fn ended(
        &mut self,
        sh: &ExecShared,
        id: ActionId,
        ended: Ended,
        span: ActionSpan,
    ) -> Option<DepResult> {
        let a = &sh.graph.actions[id.index()];
        let (res, cause) = match ended {
            Ended::Reported(r) => (*r, FailureCause::Action),
            Ended::Panicked(message) => {
                discard_stamp(sh, a);
                (Err(Failure::other(message)), FailureCause::Internal)
            }
        };
        let is_test = a.test.is_some();
        let f = match res {
            Ok(f) => f,
            Err(e) => {
                if is_test && cause == FailureCause::Action {
                    self.test_failed(a, e.exit_code);
                } else {
                    self.failures += 1;
                }
                sh.emit(BuildEvent::ActionFailed {
                    id,
                    cause,
                    errors: e.errors,
                    warnings: e.warnings,
                    message: e.message,
                    exit_code: e.exit_code,
                    span,
                });
                return None;
            }
        };
        if let (true, Some(t)) = (is_test, self.summary.tests.as_mut()) {
            t.passed += 1;
            match f.outcome {
                Outcome::Executed => t.run += 1,
                _ => t.cached += 1,
            }
        }
        let s = &mut self.summary;
        match f.outcome {
            Outcome::Fresh => s.fresh += 1,
            Outcome::LocalHit => s.local_hits += 1,
            Outcome::RemoteHit | Outcome::RemoteLeft => s.remote_hits += 1,
            Outcome::Executed => s.executed += 1,
        }
        sh.emit(BuildEvent::ActionFinished {
            id,
            outcome: f.outcome,
            span,
        });
        if let Some(why) = &f.uncacheable {
            s.uncacheable.push((a.display_name(), why.clone()));
        }
        self.reasons.insert(id, (f.outcome, f.reason));
        Some(f.result)
    }

    /// Records a failed test run (its flags for the `--no-fail-fast` list).
    fn test_failed(&mut self, a: &crate::plan::Action, code: Option<i32>) {
        self.test_failures.push(a.id);
        if let Some(t) = self.summary.tests.as_mut() {
            t.failed += 1;
            t.run += 1;
            if t.first_exit_code.is_none() {
                t.first_exit_code = code;
            }
            if let Some(info) = &a.test {
                t.failures.push(info.rerun.clone());
            }
        }
    }

    /// The summary and explain data of the build, given which actions
    /// finished (`done`) and how long it took.
    pub(super) fn finish(
        mut self,
        done: &[Option<DepResult>],
        elapsed: Duration,
    ) -> (BuildSummary, Reasons) {
        let s = &mut self.summary;
        s.success =
            self.failures == 0 && self.test_failures.is_empty() && done.iter().all(Option::is_some);
        s.skipped = done.iter().filter(|d| d.is_none()).count();
        s.elapsed = elapsed;
        (self.summary, self.reasons)
    }
}
