//! How a test run is shown: Cargo's `Running` and `Doc-tests` lines with
//! the binary's output, `Executable` lines for `test --no-run`, and the
//! message of a failed run.

use super::{eprint_locked, Human};
use crate::core::ActionId;
use crate::exec::events::Outcome;
use crate::plan::ActionGraph;

impl Human {
    /// A path as Cargo prints it in `Running` lines: relative to the
    /// invocation's directory when under it.
    fn shown(&self, p: &std::path::Path) -> String {
        p.strip_prefix(&self.cfg.cwd)
            .unwrap_or(p)
            .display()
            .to_string()
    }

    /// `test --no-run`: Cargo's `Executable` line per test binary.
    pub(super) fn executables(&self, graph: &ActionGraph) {
        for (id, label) in &graph.test_binaries {
            let a = &graph.actions[id.index()];
            let exe = a
                .executable
                .as_ref()
                .map(|e| {
                    a.uplift
                        .iter()
                        .find(|u| &u.from == e)
                        .map_or(e.clone(), |u| u.to.clone())
                })
                .unwrap_or_default();
            self.status("Executable", &format!("{label} ({})", self.shown(&exe)));
        }
    }

    /// A test run's `Running` (or `Doc-tests`) line and its output.
    pub(super) fn test_output(
        &mut self,
        graph: &ActionGraph,
        id: ActionId,
        outcome: Outcome,
        stdout: &str,
        stderr: &str,
    ) {
        let a = &graph.actions[id.index()];
        let Some(t) = &a.test else { return };
        let cached = if outcome == Outcome::Executed {
            ""
        } else {
            " (cached)"
        };
        if t.doc {
            self.status("Doc-tests", &format!("{}{cached}", t.label));
        } else {
            self.status(
                "Running",
                &format!("{} ({}){cached}", t.label, self.shown(&a.program)),
            );
        }
        let bar = self.bar.clone();
        let write = || {
            crate::report::print_stdout_raw(stdout);
            if !stderr.is_empty() {
                eprint_locked(stderr);
            }
        };
        match bar {
            Some(b) => b.suspend(write),
            None => write(),
        }
    }

    /// Cargo's message for a failed test run.
    pub(super) fn test_failed(
        &mut self,
        graph: &ActionGraph,
        id: ActionId,
        message: &str,
        exit_code: Option<i32>,
    ) {
        let a = &graph.actions[id.index()];
        self.running.retain(|r| *r != id);
        let Some(t) = &a.test else { return };
        let which = if t.doc {
            "doctest failed"
        } else {
            "test failed"
        };
        let mut m = format!("{which}, to rerun pass `{}`", t.rerun);
        // libtest exits with 101 when tests fail: nothing more to say.
        let simple = exit_code == Some(101);
        if !simple {
            m.push_str(&format!("\n\nCaused by:\n  {message}"));
        }
        self.error(&m);
        if !simple && exit_code.is_some() && t.harness {
            self.print(&format!(
                "{} test exited abnormally; to see the full output pass --nocapture to the harness.\n",
                if self.cfg.color { "\x1b[1m\x1b[32mnote\x1b[0m\x1b[1m:\x1b[0m" } else { "note:" }
            ));
        }
    }
}
