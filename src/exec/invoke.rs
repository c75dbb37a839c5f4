//! Running an action's process: rustc with its JSON diagnostics, artifact
//! notifications (for pipelining) and dep-info, or a build script with its
//! directives; and what each read, for the cache key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::dep_info;
use super::diagnostics::{is_summary, parse_diagnostic};
use super::events::{BuildEvent, Diagnostic, DiagnosticLevel};
use super::outcome::{DepResult, Failure};
use super::process;
use super::script_output::ScriptOutput;
use super::store::Manifest;
use super::ExecShared;
use crate::core::Digest;
use crate::fingerprint::{DepDigests, KeyComponents};
use crate::plan::Action;

/// What running an action's process produced.
pub(super) struct Executed {
    pub(super) manifest: Manifest,
    pub(super) undeclared: Vec<PathBuf>,
    pub(super) script: Option<ScriptOutput>,
    pub(super) diagnostics: Vec<String>,
    pub(super) warnings: usize,
    /// Set when a remote engine ran it.
    pub(super) remote: Option<super::outcome::RemoteRun>,
    /// The outputs a remote run left in the engine's CAS (builds without
    /// the bytes): not on this machine.
    pub(super) left: Vec<super::outcome::LeftOutput>,
}

/// A compile action's final rustc invocation.
pub(super) struct RustcCall<'a> {
    /// rustc's arguments.
    pub(super) argv: &'a [String],
    /// Its environment.
    pub(super) env: &'a BTreeMap<String, String>,
    /// Files it may read besides the action's declared inputs: the Clippy
    /// configuration of a linted action, keyed already.
    pub(super) also_declared: &'a [PathBuf],
}

/// Runs rustc for a compile action (reporting `.rmeta` readiness through
/// `on_meta`, with digests from `comps`, the action's key components) and
/// reads back its dep-info. A linted action runs rustc through
/// `clippy-driver`, as Cargo runs a `RUSTC_WORKSPACE_WRAPPER`.
pub(super) fn execute_rustc(
    sh: &ExecShared,
    a: &Action,
    call: RustcCall<'_>,
    comps: &KeyComponents,
    on_meta: &dyn Fn(DepResult),
) -> Result<Executed, Failure> {
    let (argv, env) = (call.argv, call.env);
    let driven: Vec<String>;
    let (program, args) = match &a.lint {
        Some(d) => {
            driven = std::iter::once(a.program.display().to_string())
                .chain(argv.iter().cloned())
                .collect();
            (d.path.as_path(), driven.as_slice())
        }
        None => (a.program.as_path(), argv),
    };
    let cmd = process::command(program, sh.wrapper.as_deref(), a, args, env, &sh.jobserver);
    let mut lines = RustcStderr::new(sh, a, comps, on_meta);
    let out = process::run_streaming(cmd, |line| lines.line(line));
    let out = out.map_err(|e| Failure {
        errors: 1,
        warnings: 0,
        message: format!(
            "could not execute process `{}`: {e}",
            process::display_command(program, args)
        ),
        exit_code: None,
    })?;
    if !out.status.success() {
        let status = out.status.to_string();
        return Err(lines.failure(&process::display_command(program, args), &status));
    }
    Ok(lines.executed(call.also_declared))
}

/// What rustc printed on stderr, line by line: JSON diagnostics become
/// events (rustc's own summary lines dropped), the `.rmeta` artifact
/// notification unblocks pipelined dependents, other text is passed on.
pub(super) struct RustcStderr<'a> {
    sh: &'a ExecShared,
    a: &'a Action,
    comps: &'a KeyComponents,
    on_meta: &'a dyn Fn(DepResult),
    diagnostics: Vec<String>,
    errors: usize,
    warnings: usize,
    texts: usize,
}

impl<'a> RustcStderr<'a> {
    pub(super) fn new(
        sh: &'a ExecShared,
        a: &'a Action,
        comps: &'a KeyComponents,
        on_meta: &'a dyn Fn(DepResult),
    ) -> Self {
        RustcStderr {
            sh,
            a,
            comps,
            on_meta,
            diagnostics: Vec::new(),
            errors: 0,
            warnings: 0,
            texts: 0,
        }
    }

    /// Takes one line of rustc's stderr.
    pub(super) fn line(&mut self, line: &str) {
        let (sh, a) = (self.sh, self.a);
        if line.starts_with('{') {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(line) {
                match v.get("$message_type").and_then(|t| t.as_str()) {
                    Some("artifact") => {
                        if v.get("emit").and_then(|e| e.as_str()) == Some("metadata") {
                            // The .rmeta exists: unblock pipelined dependents.
                            if let Some(p) = v.get("artifact").and_then(|p| p.as_str()) {
                                if let Ok((d, _)) = Digest::of_file(Path::new(p)) {
                                    (self.on_meta)(DepResult {
                                        digests: DepDigests::pipelined(d, self.comps),
                                        script: None,
                                    });
                                }
                            }
                        }
                        return;
                    }
                    Some("diagnostic") => {
                        let level = DiagnosticLevel::parse(
                            v.get("level").and_then(|l| l.as_str()).unwrap_or(""),
                        );
                        let msg = v.get("message").and_then(|l| l.as_str()).unwrap_or("");
                        // rustc's own summary lines are replaced by hbuild's.
                        if is_summary(level, msg) {
                            return;
                        }
                        match level {
                            DiagnosticLevel::Error => self.errors += 1,
                            DiagnosticLevel::Warning => self.warnings += 1,
                            DiagnosticLevel::Other => {}
                        }
                        if let Some(d) = parse_diagnostic(line) {
                            sh.emit(BuildEvent::Diagnostic { id: a.id, diag: d });
                        }
                        self.diagnostics.push(line.to_string());
                        return;
                    }
                    Some(_) => return,
                    None => {}
                }
            }
        }
        self.texts += 1;
        sh.emit(BuildEvent::Diagnostic {
            id: a.id,
            diag: Diagnostic::Text(line.to_string()),
        });
    }

    /// The failure of a rustc that exited with `status`.
    pub(super) fn failure(&self, command: &str, status: &str) -> Failure {
        Failure {
            errors: self.errors.max(usize::from(self.texts > 0)),
            warnings: self.warnings,
            message: format!("process didn't exit successfully: `{command}` ({status})"),
            exit_code: None,
        }
    }

    /// What a successful rustc produced, with what it read from its
    /// dep-info.
    pub(super) fn executed(self, also_declared: &[PathBuf]) -> Executed {
        let (manifest, undeclared) = read_dep_info(self.sh, self.a, also_declared);
        Executed {
            manifest,
            undeclared,
            script: None,
            diagnostics: self.diagnostics,
            warnings: self.warnings,
            remote: None,
            left: Vec::new(),
        }
    }
}

/// What rustc read, from its dep-info: the files to key (not the target
/// dir's, the sysroot's or cargo home's) and those of them a local package
/// did not declare.
fn read_dep_info(sh: &ExecShared, a: &Action, also: &[PathBuf]) -> (Manifest, Vec<PathBuf>) {
    let mut manifest = Manifest::default();
    let mut undeclared = Vec::new();
    if a.dep_info.is_none() {
        // rustdoc writes no dep-info: the package's files are the inputs.
        manifest.files = a
            .inputs
            .iter()
            .map(|i| sh.normalizer.path(&i.path))
            .collect();
    }
    if let Some(dp) = &a.dep_info {
        if let Ok(text) = std::fs::read_to_string(dp) {
            let info = dep_info::parse(&text, &a.cwd);
            let declared: std::collections::HashSet<&Path> = a
                .inputs
                .iter()
                .map(|i| i.path.as_path())
                .chain(also.iter().map(PathBuf::as_path))
                .collect();
            for f in info
                .files
                .into_iter()
                .map(|f| super::observe::path::normalize(&f))
            {
                if f.starts_with(&sh.target_dir)
                    || f.starts_with(&sh.sysroot)
                    || sh.cargo_home.as_ref().is_some_and(|h| f.starts_with(h))
                {
                    // Generated files and immutable sources are covered by
                    // dependency digests and package identity.
                    continue;
                }
                if a.is_local && !declared.contains(f.as_path()) {
                    undeclared.push(f.clone());
                }
                manifest.files.push(sh.normalizer.path(&f));
            }
            manifest.env = info
                .env
                .into_iter()
                .filter(|k| !a.env.contains_key(k))
                .collect();
        }
    }
    manifest.files.sort();
    manifest.files.dedup();
    (manifest, undeclared)
}

/// Runs a build script and parses its directives.
pub(super) fn execute_script(
    sh: &ExecShared,
    a: &Action,
    program: &Path,
    env: &BTreeMap<String, String>,
) -> Result<Executed, Failure> {
    let od = a.out_dir.clone().unwrap_or_default();
    let _ = std::fs::create_dir_all(&od);
    let cmd = process::command(program, None, a, &[], env, &sh.jobserver);
    let out = process::run_streaming(cmd, |_| {}).map_err(|e| Failure {
        errors: 1,
        warnings: 0,
        message: format!("could not execute process `{}`: {e}", program.display()),
        exit_code: None,
    })?;
    let status = (!out.status.success()).then(|| out.status.to_string());
    script_finished(
        sh,
        a,
        program,
        ScriptRun {
            stdout: &out.stdout,
            stderr: &out.stderr,
            failed: status.as_deref(),
        },
    )
}

/// What a build-script run printed and how it ended.
pub(super) struct ScriptRun<'a> {
    pub(super) stdout: &'a str,
    pub(super) stderr: &'a str,
    /// The exit status, when it failed.
    pub(super) failed: Option<&'a str>,
}

/// Reads a finished build-script run (here or on a remote engine): its
/// output files beside OUT_DIR, its directives, what it depends on.
pub(super) fn script_finished(
    sh: &ExecShared,
    a: &Action,
    program: &Path,
    run: ScriptRun<'_>,
) -> Result<Executed, Failure> {
    let od = a.out_dir.clone().unwrap_or_default();
    let dir = od.parent().map(Path::to_path_buf).unwrap_or_default();
    let _ = std::fs::write(dir.join("output"), run.stdout);
    let _ = std::fs::write(dir.join("stderr"), run.stderr);
    let indent = |s: &str| {
        s.lines()
            .map(|l| format!("  {l}"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let failure = |why: String| {
        Failure {
        errors: 1,
        warnings: 0,
        message: format!(
            "failed to run custom build command for `{} v{}`\n\nCaused by:\n  {why}\n  --- stdout\n{}\n  --- stderr\n{}",
            a.package_name,
            a.package_version,
            indent(run.stdout),
            indent(run.stderr)
        ),
        exit_code: None,
    }
    };
    if let Some(status) = run.failed {
        return Err(failure(format!(
            "process didn't exit successfully: `{}` ({status})",
            program.display(),
        )));
    }
    let parsed = ScriptOutput::parse(run.stdout).map_err(|e| failure(e.to_string()))?;
    if !parsed.errors.is_empty() {
        let mut f = failure("build script logged errors".into());
        f.message = parsed
            .errors
            .iter()
            .map(|e| format!("error: {e}"))
            .collect::<Vec<_>>()
            .join("\n")
            + "\n"
            + &f.message;
        return Err(f);
    }
    sh.emit(BuildEvent::ScriptFinished {
        id: a.id,
        output: parsed.clone(),
        out_dir: od.clone(),
    });
    // What the run depends on: its rerun-if-* declarations, or every file
    // of the package when it declared none (Cargo's rule).
    let mut manifest = Manifest::default();
    if parsed.has_rerun_directives() {
        for p in &parsed.rerun_if_changed {
            let abs = a.cwd.join(p);
            if abs.is_dir() {
                for e in walkdir::WalkDir::new(&abs).into_iter().flatten() {
                    if e.file_type().is_file() {
                        manifest.files.push(sh.normalizer.path(e.path()));
                    }
                }
            } else {
                manifest.files.push(sh.normalizer.path(&abs));
            }
        }
        manifest.env = parsed.rerun_if_env_changed.clone();
    } else {
        manifest.files = a
            .inputs
            .iter()
            .map(|i| sh.normalizer.path(&i.path))
            .collect();
    }
    manifest.files.sort();
    manifest.files.dedup();
    manifest.env.sort();
    manifest.env.dedup();
    Ok(Executed {
        manifest,
        undeclared: Vec::new(),
        script: Some(parsed),
        diagnostics: Vec::new(),
        warnings: 0,
        remote: None,
        left: Vec::new(),
    })
}
