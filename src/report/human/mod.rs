//! Cargo-like human output: status lines, rendered diagnostics, failures,
//! the final summary, and an indicatif progress bar on a terminal.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

mod test_runs;

use super::{eprint_locked, strip_ansi, MessageFormat, ReportConfig};
use crate::core::ActionId;
use crate::exec::events::{BuildEvent, Diagnostic, DiagnosticLevel, FailureCause, Outcome};
use crate::exec::script_output::ScriptOutput;
use crate::exec::BuildSummary;
use crate::plan::{Action, ActionGraph, ActionKind};

/// Human renderer state.
pub struct Human {
    cfg: ReportConfig,
    bar: Option<ProgressBar>,
    announced: BTreeSet<String>,
    running: Vec<ActionId>,
    warnings: HashMap<ActionId, usize>,
    /// Diagnostics printed so far: one that another unit printed already
    /// (a library checked plainly and as a test) is counted, not printed
    /// again, as Cargo's `DiagDedupe` does.
    printed: HashSet<String>,
    duplicates: HashMap<ActionId, usize>,
    done: usize,
    /// Whether `Finished` was printed already (before the tests' output).
    finished: bool,
}

fn status(color: bool, verb: &str, rest: &str, green: bool) -> String {
    if color {
        let code = if green {
            "\x1b[1m\x1b[32m"
        } else {
            "\x1b[1m\x1b[36m"
        };
        format!("{code}{verb:>12}\x1b[0m {rest}\n")
    } else {
        format!("{verb:>12} {rest}\n")
    }
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// `app v0.1.0 (/path)` for local packages, `serde v1.0.0` otherwise.
pub fn package_label(a: &Action) -> String {
    if a.is_local {
        format!(
            "{} v{} ({})",
            a.package_name,
            a.package_version,
            a.manifest_path
                .parent()
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        )
    } else {
        format!("{} v{}", a.package_name, a.package_version)
    }
}

impl Human {
    /// A renderer.
    pub fn new(cfg: ReportConfig) -> Self {
        Human {
            cfg,
            bar: None,
            announced: BTreeSet::new(),
            running: Vec::new(),
            warnings: HashMap::new(),
            printed: HashSet::new(),
            duplicates: HashMap::new(),
            done: 0,
            finished: false,
        }
    }

    fn human(&self) -> bool {
        !matches!(self.cfg.format, MessageFormat::Json { .. })
    }

    fn print(&self, s: &str) {
        match &self.bar {
            Some(b) => b.suspend(|| eprint_locked(s)),
            None => eprint_locked(s),
        }
    }

    /// Prints a status line (`Compiling`, `Finished`...) unless quiet.
    pub fn status(&self, verb: &str, rest: &str) {
        if !self.cfg.quiet {
            self.print(&status(self.cfg.color, verb, rest, true));
        }
    }

    /// The line of a build that started the resident server by itself (on
    /// interactive use): what now runs in the background, and how to stop
    /// it.
    pub fn server_started(&self, target_dir: &std::path::Path, idle: std::time::Duration) {
        self.status(
            "Started",
            &format!(
                "the resident server of `{}` for faster no-op builds (it stops after {} idle; `cargo hbuild server stop` stops it now, `--no-server` or HBUILD_SERVER=0 keeps it off)",
                target_dir.display(),
                crate::core::duration::human(idle)
            ),
        );
    }

    /// Prints an `error:` message.
    pub fn error(&self, msg: &str) {
        let head = if self.cfg.color {
            "\x1b[1m\x1b[31merror\x1b[0m\x1b[1m:\x1b[0m"
        } else {
            "error:"
        };
        self.print(&format!("{head} {msg}\n"));
    }

    /// Prints a `warning:` message.
    pub fn warning(&self, msg: &str) {
        let head = if self.cfg.color {
            "\x1b[1m\x1b[33mwarning\x1b[0m\x1b[1m:\x1b[0m"
        } else {
            "warning:"
        };
        self.print(&format!("{head} {msg}\n"));
    }

    /// The `-v` level.
    pub fn verbose(&self) -> u8 {
        self.cfg.verbose
    }

    /// Prints a plain line (explain output).
    pub fn line(&self, s: &str) {
        self.print(&format!("{s}\n"));
    }

    fn update_bar(&self, graph: &ActionGraph) {
        if let Some(b) = &self.bar {
            b.set_position(self.done as u64);
            let names: Vec<&str> = self
                .running
                .iter()
                .map(|id| graph.actions[id.index()].package_name.as_str())
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            b.set_message(names.join(", "));
        }
    }

    /// Handles one event.
    pub fn event(&mut self, graph: &ActionGraph, e: BuildEvent) {
        match e {
            BuildEvent::Started { total } => self.started(total),
            BuildEvent::Blocking { what } => {
                self.status("Blocking", &format!("waiting for file lock on {what}"))
            }
            BuildEvent::ActionStarted { id } => self.action_started(graph, id),
            BuildEvent::Diagnostic { id, diag } => self.diagnostic(graph, id, diag),
            BuildEvent::ScriptFinished { id, output, .. } => {
                self.script_finished(&graph.actions[id.index()], &output)
            }
            BuildEvent::ActionFinished { id, outcome, .. } => {
                self.action_finished(graph, id, outcome)
            }
            BuildEvent::ActionFailed {
                id,
                cause,
                message,
                exit_code,
                ..
            } if cause == FailureCause::Action && graph.actions[id.index()].test.is_some() => {
                self.test_failed(graph, id, &message, exit_code)
            }
            BuildEvent::ActionFailed {
                id,
                cause,
                errors,
                warnings,
                message,
                ..
            } => self.action_failed(graph, id, cause, errors, warnings, &message),
            BuildEvent::TestOutput {
                id,
                outcome,
                stdout,
                stderr,
            } => self.test_output(graph, id, outcome, &stdout, &stderr),
            BuildEvent::BuildPhaseDone { success, elapsed } => {
                if success {
                    self.finished_line(&graph.profile, elapsed);
                }
            }
            BuildEvent::Warning(w) | BuildEvent::ActionWarning { message: w, .. } => {
                self.warning(&w)
            }
            BuildEvent::Finished(s) => self.finish(graph, &s),
        }
    }

    fn started(&mut self, total: usize) {
        if self.cfg.progress && !self.cfg.quiet {
            let b = ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
            b.set_style(
                ProgressStyle::with_template(
                    "{prefix:>12.cyan.bold} [{bar:27}] {pos}/{len}: {wide_msg}",
                )
                .expect("valid template")
                .progress_chars("=> "),
            );
            b.set_prefix("Building");
            self.bar = Some(b);
        }
    }

    fn action_started(&mut self, graph: &ActionGraph, id: ActionId) {
        let a = &graph.actions[id.index()];
        self.running.push(id);
        let key = format!("{}@{}", a.package_name, a.package_version);
        if matches!(a.kind, ActionKind::TestRun | ActionKind::DocIndex) {
            self.update_bar(graph);
            return;
        }
        if a.kind == ActionKind::Doc {
            // Cargo announces a package's docs apart from its compilation.
            if self.human() && self.announced.insert(format!("{key} doc")) {
                self.status("Documenting", &package_label(a));
            }
        } else if a.kind != ActionKind::BuildScriptRun && self.human() && self.announced.insert(key)
        {
            let verb = if a.mode.is_check() {
                "Checking"
            } else {
                "Compiling"
            };
            self.status(verb, &package_label(a));
        } else if self.cfg.verbose > 0 && self.human() && a.kind == ActionKind::BuildScriptRun {
            self.status("Running", &format!("`{}`", a.program.display()));
        }
        self.update_bar(graph);
    }

    fn diagnostic(&mut self, graph: &ActionGraph, id: ActionId, diag: Diagnostic) {
        let a = &graph.actions[id.index()];
        match diag {
            Diagnostic::Rustc {
                rendered, level, ..
            } => {
                if level == DiagnosticLevel::Warning {
                    *self.warnings.entry(id).or_default() += 1;
                }
                // Registry crates are capped; their warnings are not ours to show.
                if !a.is_local && level == DiagnosticLevel::Warning && self.cfg.verbose < 2 {
                    return;
                }
                let render = match self.cfg.format {
                    MessageFormat::Json { render, .. } => render,
                    _ => true,
                };
                if render && !rendered.is_empty() {
                    let text = if self.cfg.color {
                        rendered
                    } else {
                        strip_ansi(&rendered)
                    };
                    if !self.printed.insert(text.clone()) {
                        if level == DiagnosticLevel::Warning {
                            *self.duplicates.entry(id).or_default() += 1;
                        }
                        return;
                    }
                    self.print(&text);
                }
            }
            Diagnostic::Text(t) => self.print(&format!("{t}\n")),
        }
    }

    fn script_finished(&mut self, a: &Action, output: &ScriptOutput) {
        if a.is_local || self.cfg.verbose >= 2 {
            for w in &output.warnings {
                self.warning(&format!("{}@{}: {w}", a.package_name, a.package_version));
            }
        }
    }

    fn action_finished(&mut self, graph: &ActionGraph, id: ActionId, outcome: Outcome) {
        let a = &graph.actions[id.index()];
        self.running.retain(|r| *r != id);
        self.done += 1;
        if self.human()
            && self.cfg.verbose > 0
            && outcome != Outcome::Executed
            && a.kind != ActionKind::TestRun
        {
            let verb = match outcome {
                Outcome::Fresh => "Fresh",
                Outcome::LocalHit => "Cached",
                Outcome::RemoteHit => "Downloaded",
                Outcome::RemoteLeft => "Remote",
                Outcome::Executed => "Compiling",
            };
            self.status(
                verb,
                &format!("{} [{}]", package_label(a), a.cargo_target_desc()),
            );
        }
        let w = self.warnings.get(&id).copied().unwrap_or(0);
        if w > 0 && a.is_local && self.human() {
            let dup = match self.duplicates.get(&id).copied().unwrap_or(0) {
                0 => String::new(),
                n => format!(" ({})", plural(n, "duplicate")),
            };
            self.warning(&format!(
                "`{}` ({}) generated {}{dup}",
                a.package_name,
                a.cargo_target_desc(),
                plural(w, "warning")
            ));
        }
        self.update_bar(graph);
    }

    fn action_failed(
        &mut self,
        graph: &ActionGraph,
        id: ActionId,
        cause: FailureCause,
        errors: usize,
        warnings: usize,
        message: &str,
    ) {
        let a = &graph.actions[id.index()];
        self.running.retain(|r| *r != id);
        self.update_bar(graph);
        if cause == FailureCause::Internal {
            self.error(&format!(
                "internal error while running {} (this is a bug in cargo-hbuild, please report it): {message}",
                a.display_name()
            ));
        } else if a.kind == ActionKind::BuildScriptRun {
            self.error(message);
        } else if a.kind == ActionKind::Doc {
            self.error(&format!("could not document `{}`", a.package_name));
            if self.cfg.verbose > 0 {
                self.line(&format!("\nCaused by:\n  {message}"));
            }
        } else if errors > 0 {
            let mut m = format!(
                "could not compile `{}` ({}) due to {}",
                a.package_name,
                a.cargo_target_desc(),
                plural(errors, "previous error")
            );
            if warnings > 0 {
                m.push_str(&format!("; {} emitted", plural(warnings, "warning")));
            }
            self.error(&m);
            if self.cfg.verbose > 0 {
                self.line(&format!("\nCaused by:\n  {message}"));
            }
        } else {
            self.error(&format!(
                "could not compile `{}` ({})\n\nCaused by:\n  {message}",
                a.package_name,
                a.cargo_target_desc()
            ));
        }
    }

    /// Cargo's `Finished` line (once; a test build prints it before the
    /// tests' output).
    fn finished_line(&mut self, profile: &str, elapsed: Duration) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
        if std::mem::replace(&mut self.finished, true) {
            return;
        }
        self.status(
            "Finished",
            &format!(
                "`{profile}` profile [{}] target(s) in {}",
                profile_desc(profile),
                secs(elapsed)
            ),
        );
    }

    /// Ends the progress bar and prints the closing lines.
    pub fn finish(&mut self, graph: &ActionGraph, s: &BuildSummary) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
        if let Some(t) = s
            .tests
            .as_ref()
            .filter(|t| t.no_fail_fast && !t.failures.is_empty())
        {
            let list: Vec<String> = t.failures.iter().map(|f| format!("    `{f}`")).collect();
            let n = t.failures.len();
            let targets = if n == 1 { "target" } else { "targets" };
            self.error(&format!("{n} {targets} failed:\n{}", list.join("\n")));
        }
        if !s.success {
            return;
        }
        self.finished_line(&s.profile, s.elapsed);
        self.executables(graph);
        if let Some((first, rest)) = graph.doc_pages.split_first() {
            let more = match rest.len() {
                0 => String::new(),
                n => format!(" and {}", plural(n, "other file")),
            };
            self.status("Generated", &format!("{}{more}", first.display()));
        }
        let mut line = format!(
            "{}: {} executed, {} cached ({} local, {} remote), {} fresh",
            plural(s.actions_total, "action"),
            s.executed,
            s.local_hits + s.remote_hits,
            s.local_hits,
            s.remote_hits,
            s.fresh
        );
        if !s.uncacheable.is_empty() {
            line.push_str(&format!(", {} uncacheable", s.uncacheable.len()));
        }
        if let Some(t) = &s.tests {
            line.push_str(&format!(
                "; {}: {} run, {} cached",
                plural(t.total, "test run"),
                t.run,
                t.cached
            ));
        }
        self.status("Summary", &line);
        if let Some(r) = &s.remote {
            let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
            let mut line = format!(
                "{} hits, {} misses, {:.1} MiB down, {:.1} MiB up, {:.2}s in transfers",
                r.hits,
                r.misses,
                mib(r.bytes_down),
                mib(r.bytes_up),
                r.transfer_time.as_secs_f64()
            );
            if r.output_bytes_left > 0 {
                line.push_str(&format!(
                    ", {:.1} MiB of outputs left remote",
                    mib(r.output_bytes_left)
                ));
            }
            self.status("Remote", &line);
        }
        if let Some(x) = &s.remote_exec {
            let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
            let per = |ms: u64| ms.checked_div(x.executed).unwrap_or(0);
            self.status(
                "Remote",
                &format!(
                    "{} executed remotely ({} from the engine's cache), {} ms queued and {} ms running per action, {:.1} MiB up, {:.1} MiB down",
                    x.executed + x.engine_cached,
                    x.engine_cached,
                    per(x.queued_ms),
                    per(x.executing_ms),
                    mib(x.bytes_up),
                    mib(x.bytes_down)
                ),
            );
        }
        if self.cfg.verbose > 0 {
            for (name, why) in &s.uncacheable {
                self.status("Uncacheable", &format!("{name}: {why}"));
            }
        }
    }
}

fn profile_desc(profile: &str) -> &'static str {
    match profile {
        "release" | "bench" => "optimized",
        "dev" | "test" => "unoptimized + debuginfo",
        _ => "optimized",
    }
}

fn secs(d: Duration) -> String {
    format!("{:.2}s", d.as_secs_f64())
}
