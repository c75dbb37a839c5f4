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
}

/// Runs rustc for a compile action (reporting `.rmeta` readiness through
/// `on_meta`, with digests from `comps`, the action's key components) and
/// reads back its dep-info.
pub(super) fn execute_rustc(
    sh: &ExecShared,
    a: &Action,
    argv: &[String],
    env: &BTreeMap<String, String>,
    comps: &KeyComponents,
    on_meta: &dyn Fn(DepResult),
) -> Result<Executed, Failure> {
    let cmd = process::command(
        &a.program,
        sh.wrapper.as_deref(),
        a,
        argv,
        env,
        &sh.jobserver,
    );
    let mut diagnostics = Vec::new();
    let mut errors = 0usize;
    let mut warnings = 0usize;
    let mut texts = Vec::new();
    let out = process::run_streaming(cmd, |line| {
        if line.starts_with('{') {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(line) {
                match v.get("$message_type").and_then(|t| t.as_str()) {
                    Some("artifact") => {
                        if v.get("emit").and_then(|e| e.as_str()) == Some("metadata") {
                            // The .rmeta exists: unblock pipelined dependents.
                            if let Some(p) = v.get("artifact").and_then(|p| p.as_str()) {
                                if let Ok((d, _)) = Digest::of_file(Path::new(p)) {
                                    on_meta(DepResult {
                                        digests: DepDigests::pipelined(d, comps),
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
                            DiagnosticLevel::Error => errors += 1,
                            DiagnosticLevel::Warning => warnings += 1,
                            DiagnosticLevel::Other => {}
                        }
                        if let Some(d) = parse_diagnostic(line) {
                            sh.emit(BuildEvent::Diagnostic { id: a.id, diag: d });
                        }
                        diagnostics.push(line.to_string());
                        return;
                    }
                    Some(_) => return,
                    None => {}
                }
            }
        }
        texts.push(line.to_string());
        sh.emit(BuildEvent::Diagnostic {
            id: a.id,
            diag: Diagnostic::Text(line.to_string()),
        });
    });
    let out = out.map_err(|e| Failure {
        errors: 1,
        warnings: 0,
        message: format!(
            "could not execute process `{}`: {e}",
            process::display_command(&a.program, argv)
        ),
    })?;
    if !out.status.success() {
        return Err(Failure {
            errors: errors.max(if texts.is_empty() { 0 } else { 1 }),
            warnings,
            message: format!(
                "process didn't exit successfully: `{}` ({})",
                process::display_command(&a.program, argv),
                out.status
            ),
        });
    }
    let (manifest, undeclared) = read_dep_info(sh, a);
    Ok(Executed {
        manifest,
        undeclared,
        script: None,
        diagnostics,
        warnings,
    })
}

/// What rustc read, from its dep-info: the files to key (not the target
/// dir's, the sysroot's or cargo home's) and those of them a local package
/// did not declare.
fn read_dep_info(sh: &ExecShared, a: &Action) -> (Manifest, Vec<PathBuf>) {
    let mut manifest = Manifest::default();
    let mut undeclared = Vec::new();
    if let Some(dp) = &a.dep_info {
        if let Ok(text) = std::fs::read_to_string(dp) {
            let info = dep_info::parse(&text, &a.cwd);
            let declared: std::collections::HashSet<&Path> =
                a.inputs.iter().map(|i| i.path.as_path()).collect();
            for f in info.files.into_iter().map(|f| lexical(&f)) {
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
    })?;
    let dir = od.parent().map(Path::to_path_buf).unwrap_or_default();
    let _ = std::fs::write(dir.join("output"), &out.stdout);
    let _ = std::fs::write(dir.join("stderr"), &out.stderr);
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
            indent(&out.stdout),
            indent(&out.stderr)
        ),
    }
    };
    if !out.status.success() {
        return Err(failure(format!(
            "process didn't exit successfully: `{}` ({})",
            program.display(),
            out.status
        )));
    }
    let parsed = ScriptOutput::parse(&out.stdout).map_err(|e| failure(e.to_string()))?;
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
    })
}

/// `a/b/../c` → `a/c`, without touching the file system (dep-info paths
/// are as rustc resolved them relative to the source file).
fn lexical(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    out
}
