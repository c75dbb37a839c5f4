//! Running compile actions on a remote-execution engine
//! (`--remote-executor`): which actions go (`eligible`), their input root
//! and wrapper script (`inputs`, `script`), and bringing back what they
//! produced, with paths mapped back to this machine, so that the rest of
//! the executor cannot tell a remote run from a local one.
//!
//! What runs where: compiles of libraries, binaries, tests, proc-macros
//! and build scripts run remotely, linking included (workers need a C
//! compiler driver `cc` on `/usr/bin:/bin`); build-script runs, test runs,
//! rustdoc and Clippy run locally. An engine that cannot be reached, or
//! fails an action for its own reasons, switches remote execution off for
//! the rest of the build with one warning, and the action runs locally;
//! `--remote-only` makes that an error instead. A compile that fails
//! remotely runs again locally, whose result is the one reported: a
//! remote failure can come from a file the input root lacked.

pub(crate) mod digests;
mod inputs;
mod script;

pub(crate) use inputs::{DepFiles, RemoteFile};

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::events::BuildEvent;
use super::invoke::{Executed, RustcStderr};
use super::outcome::{DepResult, Failure, LeftOutput, RemoteRun};
use super::ExecShared;
use crate::cache::remote::execute::{ExecError, ExecOutput, ExecReply};
use crate::cache::remote::RemoteExecutor;
use crate::fingerprint::KeyComponents;
use crate::plan::action::ActionKind;
use crate::plan::Action;

/// A build's remote execution: the engine's client and the listings its
/// input roots are made of.
pub struct RemoteExec {
    executor: Arc<RemoteExecutor>,
    listings: inputs::Listings,
}

impl RemoteExec {
    /// Remote execution through `executor`.
    pub fn new(executor: Arc<RemoteExecutor>) -> Self {
        RemoteExec {
            executor,
            listings: inputs::Listings::default(),
        }
    }

    /// The engine's client.
    pub fn executor(&self) -> &RemoteExecutor {
        &self.executor
    }
}

impl std::fmt::Debug for RemoteExec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.executor.fmt(f)
    }
}

/// How a remote attempt ended.
pub(super) enum Remote {
    /// It ran remotely (successfully, or failed under `--remote-only`).
    Done(Box<Result<Executed, Failure>>),
    /// Run it locally: not eligible, or remote execution is off.
    Local,
    /// It failed remotely: run it locally, whose result counts.
    Retry(String),
}

/// Whether `a` may run remotely.
fn eligible(a: &Action, ex: &RemoteExecutor) -> bool {
    match a.kind {
        ActionKind::Compile | ActionKind::BuildScriptCompile => a.lint.is_none(),
        ActionKind::BuildScriptRun => ex.build_scripts(),
        _ => false,
    }
}

/// Builds without the bytes, as they bear on one remote run.
pub(super) struct Minimal<'a> {
    /// Where each dependency's outputs are.
    pub(super) dep_files: &'a dyn Fn(&Action) -> DepFiles,
    /// The digest helper, when the run's outputs may stay in the engine's
    /// CAS.
    pub(super) helper: Option<&'a Path>,
}

/// Runs compile action `a` (as `argv` with `env`) remotely when it is
/// eligible and an engine is configured.
pub(super) fn execute(
    sh: &ExecShared,
    a: &Action,
    (program, argv): (&Path, &[String]),
    env: &BTreeMap<String, String>,
    (comps, minimal): (&KeyComponents, &Minimal<'_>),
    on_meta: &dyn Fn(DepResult),
) -> Remote {
    let Some(rx) = sh
        .remote_exec
        .as_ref()
        .filter(|rx| eligible(a, &rx.executor))
    else {
        return Remote::Local;
    };
    let ex = &rx.executor;
    if let Some(why) = ex.disabled() {
        return refuse(ex, a, &why);
    }
    let cx = inputs::SpecContext {
        graph: &sh.graph,
        norm: &sh.normalizer,
        sysroot: &sh.sysroot,
        listings: &rx.listings,
        dep_files: minimal.dep_files,
        helper: minimal
            .helper
            .filter(|_| a.kind != ActionKind::BuildScriptRun),
    };
    let spec = if a.kind == ActionKind::BuildScriptRun {
        inputs::script_spec(&cx, a, program, env)
    } else {
        inputs::compile_spec(&cx, a, argv, env)
    };
    let spec = match spec {
        Ok(s) => s,
        Err(why) => {
            sh.emit(BuildEvent::Warning(format!(
                "{} runs locally: {why}",
                a.display_name()
            )));
            return refuse(ex, a, &why);
        }
    };
    match ex.execute(&spec) {
        Ok(reply) => finish(sh, ex, a, (program, argv, reply), comps, on_meta),
        Err(ExecError::Unavailable(why)) => {
            if ex.disable(&why) && !ex.only() {
                sh.emit(BuildEvent::Warning(format!(
                    "remote executor {} failed ({why}); building locally for the rest of this run",
                    ex.url()
                )));
            }
            refuse(ex, a, &why)
        }
        Err(ExecError::Local(why)) => refuse(ex, a, &why),
    }
}

/// Local execution instead, unless `--remote-only` forbids it.
fn refuse(ex: &RemoteExecutor, a: &Action, why: &str) -> Remote {
    if !ex.only() {
        return Remote::Local;
    }
    Remote::Done(Box::new(Err(Failure::other(format!(
        "{} cannot run on remote executor {} and --remote-only forbids running it locally: {why}",
        a.display_name(),
        ex.url()
    )))))
}

/// Brings a reply's outputs into place and reads it as a local run's.
fn finish(
    sh: &ExecShared,
    ex: &RemoteExecutor,
    a: &Action,
    (program, argv, reply): (&Path, &[String], ExecReply),
    comps: &KeyComponents,
    on_meta: &dyn Fn(DepResult),
) -> Remote {
    let Some(root_out) = reply.outputs.iter().find(|o| o.path == script::ROOT_FILE) else {
        let why = format!(
            "the engine returned no `{}`: the wrapper script did not run (exit code {}): {}",
            script::ROOT_FILE,
            reply.exit_code,
            String::from_utf8_lossy(&reply.stderr).trim()
        );
        return refuse(ex, a, &why);
    };
    let root = match read_root(ex, root_out) {
        Ok(r) => r,
        Err(why) => return refuse(ex, a, &why),
    };
    if reply.exit_code != 0 && !ex.only() {
        return Remote::Retry(format!("exit code {}", reply.exit_code));
    }
    let back = script::BackMap::new(&sh.normalizer, &root);
    let reported = match read_digests(ex, &reply.outputs) {
        Ok(r) => r,
        Err(why) => return refuse(ex, a, &why),
    };
    let left = match place_outputs(ex, a, (&reply.outputs, reported.as_ref()), &root, &back) {
        Ok(left) => left,
        Err(Placing::Failed(why)) => return refuse(ex, a, &why),
        // Its outputs spell the worker's paths where a local build spells
        // this machine's: only a local run gives the right bytes.
        Err(Placing::Baked) => return Remote::Local,
    };
    let remote = RemoteRun {
        engine: ex.url(),
        worker: reply.worker.clone(),
        engine_cached: reply.cached,
    };
    if a.kind == ActionKind::BuildScriptRun {
        let status = format!("exit status: {}", reply.exit_code);
        let done = super::invoke::script_finished(
            sh,
            a,
            program,
            super::invoke::ScriptRun {
                stdout: &back.apply(&String::from_utf8_lossy(&reply.stdout)),
                stderr: &back.apply(&String::from_utf8_lossy(&reply.stderr)),
                failed: (reply.exit_code != 0).then_some(status.as_str()),
            },
        );
        return Remote::Done(Box::new(done.map(|mut e| {
            e.remote = Some(remote);
            e
        })));
    }
    let stderr = back.apply(&String::from_utf8_lossy(&reply.stderr));
    let mut lines = RustcStderr::new(sh, a, comps, on_meta);
    for line in stderr.lines() {
        lines.line(line);
    }
    if reply.exit_code != 0 {
        let status = format!("exit status: {}", reply.exit_code);
        let command = super::process::display_command(program, argv);
        return Remote::Done(Box::new(Err(lines.failure(&command, &status))));
    }
    let mut executed = lines.executed(&[]);
    executed.remote = Some(remote);
    executed.left = left;
    Remote::Done(Box::new(Ok(executed)))
}

/// What the digest helper reported, when the run used it.
fn read_digests(
    ex: &RemoteExecutor,
    outputs: &[ExecOutput],
) -> Result<Option<HashMap<String, digests::Reported>>, String> {
    let Some(out) = outputs.iter().find(|o| o.path == script::DIGESTS_FILE) else {
        return Ok(None);
    };
    let bytes = ex.read_output(out).map_err(|e| e.to_string())?;
    let text = String::from_utf8(bytes).map_err(|_| "the digest report is not UTF-8")?;
    digests::parse(&text).map(Some)
}

/// The input root's path on the worker, from the file the script wrote.
fn read_root(ex: &RemoteExecutor, out: &ExecOutput) -> Result<String, String> {
    let bytes = ex.read_output(out).map_err(|e| e.to_string())?;
    let root =
        String::from_utf8(bytes).map_err(|_| "the worker's root is not UTF-8".to_string())?;
    let root = root.trim_end_matches('\n').to_string();
    if !root.starts_with('/') || root.contains('\n') {
        return Err(format!("the worker reported `{root}` as its root"));
    }
    Ok(root)
}

/// Why a reply's outputs were not put in place.
enum Placing {
    /// They could not be.
    Failed(String),
    /// An output holds the worker's input root: the action baked a path
    /// of the worker's (`env!("OUT_DIR")` as a value, a generated file
    /// that spells its directory) where a local run bakes this machine's.
    Baked,
}

impl From<String> for Placing {
    fn from(why: String) -> Self {
        Placing::Failed(why)
    }
}

/// Whether `haystack` holds `needle` (the worker's root in an output).
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && memchr::memmem::find(haystack, needle).is_some()
}

/// Downloads the declared outputs the reply has, rewriting the dep-info's
/// worker paths to this machine's; those the digest helper reported stay
/// in the engine's CAS and are returned.
fn place_outputs(
    ex: &RemoteExecutor,
    a: &Action,
    (outputs, reported): (&[ExecOutput], Option<&HashMap<String, digests::Reported>>),
    root: &str,
    back: &script::BackMap,
) -> Result<Vec<LeftOutput>, Placing> {
    if let Some(od) = &a.out_dir {
        // A script may write nothing: its OUT_DIR exists all the same.
        std::fs::create_dir_all(od)
            .map_err(|e| format!("cannot create `{}`: {e}", od.display()))?;
    }
    let declared = |p: &PathBuf| {
        a.outputs.contains(p) || a.out_dir.as_ref().is_some_and(|od| p.starts_with(od))
    };
    let mut left = Vec::new();
    let ours = |o: &&ExecOutput| o.path != script::ROOT_FILE && o.path != script::DIGESTS_FILE;
    for o in outputs.iter().filter(ours) {
        let local = back
            .local_path(root, &o.path)
            .filter(declared)
            .ok_or_else(|| {
                Placing::Failed(format!(
                    "the engine returned an undeclared output `{}`",
                    o.path
                ))
            })?;
        if a.dep_info.as_ref() == Some(&local) {
            let text = ex.read_output(o).map_err(|e| e.to_string())?;
            let text = String::from_utf8_lossy(&text);
            let text = back.apply(&text);
            std::fs::write(&local, text)
                .map_err(|e| format!("cannot write `{}`: {e}", local.display()))?;
        } else if let Some(r) = reported
            .and_then(|r| r.get(&o.path))
            .filter(|r| r.size == o.blob.size)
        {
            if r.holds_root {
                return Err(Placing::Baked);
            }
            left.push(LeftOutput {
                path: local,
                output: o.clone(),
                digest: r.digest,
                holds_local: r.holds_local,
            });
        } else {
            ex.download(o, &local).map_err(|e| e.to_string())?;
            let bytes = std::fs::read(&local)
                .map_err(|e| format!("cannot read `{}`: {e}", local.display()))?;
            if contains(&bytes, root.as_bytes()) {
                return Err(Placing::Baked);
            }
        }
    }
    Ok(left)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_holding_the_worker_root_are_found() {
        assert!(contains(b"xx/w/1/target/out yy", b"/w/1"));
        assert!(!contains(b"xx/w/2/target", b"/w/1"));
        assert!(!contains(b"anything", b""));
    }
}
