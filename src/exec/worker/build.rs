//! Running an action that is neither fresh nor cached, and storing what
//! it produced: its full key from what it read, the cache entry, the stamp.

use std::sync::Arc;

use super::super::events::BuildEvent;
use super::super::invoke::{execute_rustc, execute_script, Executed};
use super::super::location;
use super::super::outcome::RemoteRun;
use super::super::remote::{self, Remote};
use super::super::stamp::{refresh_moved, stamp_path, write_stamp};
use super::super::ExecShared;
use super::late_plan::Invocation;
use super::outputs::{clean_outputs, consumed_files, local_result, output_files, uplift};
use super::{fill_inputs, kept, lazy, DepResult, Failure};
use crate::cache::{ActionResult, ResultMeta};
use crate::core::ActionKey;
use crate::fingerprint::{DepDigests, KeyComponents};
use crate::plan::action::ActionKind;
use crate::plan::Action;

/// What a run gives its dependents, and why it was not cached, if not.
pub(super) struct Built {
    pub(super) result: DepResult,
    /// The key the result was stored under.
    pub(super) key: ActionKey,
    pub(super) uncacheable: Option<String>,
    pub(super) remote: Option<RemoteRun>,
}

/// Runs `a` as `inv`, completes `comps` with what it read, stores the
/// result under its key and stamps it.
pub(super) fn run_and_store(
    sh: &ExecShared,
    a: &Action,
    inv: &Invocation,
    comps: &mut KeyComponents,
    pre: ActionKey,
    on_meta: &dyn Fn(DepResult),
) -> Result<Built, Failure> {
    let mut exec = run_process(sh, a, inv, comps, on_meta)?;
    let mut left = std::mem::take(&mut exec.left);
    if matches!(
        a.kind,
        ActionKind::Compile | ActionKind::BuildScriptCompile | ActionKind::BuildScriptRun
    ) {
        // What stayed on the engine the worker checked.
        let files = location::scanned(a, consumed_files(a));
        exec.manifest.embeds_location =
            left.iter().any(|l| l.holds_local) || location::embeds_location(&sh.normalizer, &files);
    }
    let remote = exec.remote.clone();
    fill_inputs(sh, comps, &exec.manifest, &inv.env);
    check_declared(sh, a, &exec)?;
    let key = comps.key();
    let uncacheable = uncacheable_reason(a, &exec);
    let shared = uncacheable.is_none() && !is_incremental(&inv.argv);
    let kept = keep_on_engine(sh, a, (&exec, key), &mut left, shared)?;
    let result = match kept {
        Some(r) => {
            sh.store.put_manifest(&pre, &exec.manifest);
            r
        }
        None => stored_result(sh, a, &exec, key, pre, uncacheable.is_none(), &inv.argv),
    };
    let digests = DepDigests::of_result(a, &result, comps);
    // Links change the outputs' ctimes: stamp them after. What stayed on
    // the engine is linked once fetched.
    if left.is_empty() {
        uplift(a)?;
    }
    // A test run that read undeclared files is keyed on less than it
    // read: no stamp, so that it runs again next time.
    if a.test.is_some() && uncacheable.is_some() {
        let _ = std::fs::remove_file(stamp_path(a));
        return Ok(Built {
            result: DepResult {
                digests,
                script: None,
            },
            key,
            uncacheable,
            remote,
        });
    }
    write_stamp(
        a,
        pre,
        key,
        comps,
        exec.manifest,
        &result,
        digests.meta,
        digests.full,
        exec.script.clone(),
        exec.diagnostics,
    );
    if !left.is_empty() {
        lazy::note(sh, a, key, Some(&result));
    }
    Ok(Built {
        result: DepResult {
            digests,
            script: exec.script.map(Arc::new),
        },
        key,
        uncacheable,
        remote,
    })
}

/// The result of a remote run whose outputs `left` stay on the engine,
/// once its entry is in the remote cache; when it cannot be (`shared` is
/// false, or the upload failed), they are downloaded instead, `left` is
/// emptied and the result is made as for any run.
fn keep_on_engine(
    sh: &ExecShared,
    a: &Action,
    (exec, key): (&Executed, ActionKey),
    left: &mut Vec<super::super::outcome::LeftOutput>,
    shared: bool,
) -> Result<Option<ActionResult>, Failure> {
    if left.is_empty() {
        return Ok(None);
    }
    let stored = if shared {
        kept::store(sh, a, exec, key, left)
    } else {
        Err("its result is not shared".into())
    };
    match stored {
        Ok(r) => Ok(Some(r)),
        Err(why) => {
            kept::download(sh, left).map_err(|e| {
                Failure::other(format!(
                    "{}: its outputs could not stay on the engine ({why}), nor be downloaded: {e}",
                    a.display_name()
                ))
            })?;
            left.clear();
            Ok(None)
        }
    }
}

/// Runs the action's process on a clean slate.
fn run_process(
    sh: &ExecShared,
    a: &Action,
    inv: &Invocation,
    comps: &KeyComponents,
    on_meta: &dyn Fn(DepResult),
) -> Result<Executed, Failure> {
    sh.emit(BuildEvent::ActionStarted { id: a.id });
    clean_outputs(a);
    for o in &a.outputs {
        if let Some(p) = o.parent() {
            let _ = std::fs::create_dir_all(p);
        }
    }
    // With the engine as the remote cache, a remote run names what its
    // dependencies left there; anything else reads them here.
    let named = sh.left_remote.remote_runs().is_some();
    if !named {
        lazy::fetch_for(sh, a)?;
    }
    let dep_files = |d: &Action| match named {
        true => lazy::dep_files(sh, d),
        false => remote::DepFiles::Local,
    };
    let minimal = remote::Minimal {
        dep_files: &dep_files,
        helper: sh
            .left_remote
            .remote_runs()
            .filter(|_| !lazy::wants_bytes(sh, a)),
    };
    let here = |sh: &ExecShared| {
        lazy::fetch_for(sh, a)?;
        run_here(sh, a, inv, comps, on_meta)
    };
    let call = (inv.program.as_path(), &inv.argv[..]);
    let exec = match remote::execute(sh, a, call, &inv.env, (comps, &minimal), on_meta) {
        Remote::Done(done) => *done,
        Remote::Local => here(sh),
        Remote::Retry(why) => {
            let local = here(sh);
            if local.is_ok() {
                sh.emit(BuildEvent::Warning(format!(
                    "{} failed on the remote executor ({why}) but built locally: \
                     it may read files that hbuild does not send",
                    a.display_name()
                )));
            }
            local
        }
    }?;
    sh.test_hooks.after_execute(a);
    Ok(exec)
}

/// Runs the action's process on this machine.
fn run_here(
    sh: &ExecShared,
    a: &Action,
    inv: &Invocation,
    comps: &KeyComponents,
    on_meta: &dyn Fn(DepResult),
) -> Result<Executed, Failure> {
    match a.kind {
        ActionKind::BuildScriptRun => execute_script(sh, a, &inv.program, &inv.env),
        ActionKind::TestRun => {
            super::super::test_run::execute_test(sh, a, &inv.program, &inv.argv, &inv.env)
        }
        ActionKind::DocIndex => super::super::doc_index::assemble(sh, a),
        ActionKind::Doc => {
            super::super::doc_index::mark_documented_deps(sh, a);
            execute_rustc(sh, a, inv.rustc(), comps, on_meta)
        }
        _ => execute_rustc(sh, a, inv.rustc(), comps, on_meta),
    }
}

/// Reports files read outside the declared inputs; with `--strict` they
/// fail the action.
fn check_declared(sh: &ExecShared, a: &Action, exec: &Executed) -> Result<(), Failure> {
    if sh.strict && !exec.undeclared.is_empty() {
        return Err(Failure {
            errors: 0,
            warnings: exec.warnings,
            message: format!(
                "{} read files outside its declared inputs, so it cannot be cached correctly (--strict):\n  {}",
                a.display_name(),
                exec.undeclared.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join("\n  ")
            ),
            exit_code: None,
        });
    }
    if let (Some(t), false) = (&a.test, exec.undeclared.is_empty()) {
        sh.emit(BuildEvent::ActionWarning {
            id: a.id,
            message: super::super::test_run::undeclared_warning(
                a,
                t,
                &exec.undeclared,
                &sh.graph.workspace_root,
            ),
        });
        return Ok(());
    }
    for p in &exec.undeclared {
        sh.emit(BuildEvent::Warning(format!(
            "{} read `{}`, which is outside its declared inputs",
            a.display_name(),
            p.display()
        )));
    }
    Ok(())
}

/// The result of the run, saved in the cache (in the background) when
/// `cacheable`, with the manifest of what it read under `pre`.
fn stored_result(
    sh: &ExecShared,
    a: &Action,
    exec: &Executed,
    key: ActionKey,
    pre: ActionKey,
    cacheable: bool,
    argv: &[String],
) -> ActionResult {
    let mut meta = ResultMeta::default();
    if let Some(s) = &exec.script {
        let portable = s.map_strings(|x| sh.normalizer.normalize(x).into());
        meta.script = Some(serde_json::to_string(&portable).expect("script output serialises"));
    }
    let files = output_files(a);
    let mut result = local_result(a, &files, meta);
    result.stderr = exec.diagnostics.join("\n");
    if !cacheable {
        return result;
    }
    if result.outputs.len() == files.len() {
        let (stamp_file, root) = (stamp_path(a), a.output_root.clone());
        sh.store.save_in_background(
            key,
            a.output_root.clone(),
            result.clone(),
            // Incremental objects are correct but not reproducible: good
            // for this machine, not for sharing.
            !is_incremental(argv),
            move |adopted| refresh_moved(&stamp_file, &root, key, &adopted),
        );
    } else {
        sh.emit(BuildEvent::Warning(format!(
            "{}: an output is outside `{}` or unreadable; not cached",
            a.display_name(),
            a.output_root.display()
        )));
    }
    sh.store.put_manifest(&pre, &exec.manifest);
    result
}

/// Why an executed action's result must not be cached, if it must not.
fn uncacheable_reason(a: &Action, exec: &Executed) -> Option<String> {
    if !exec.undeclared.is_empty() {
        return Some(format!(
            "{} read files outside its declared inputs",
            a.display_name()
        ));
    }
    None
}

/// Whether rustc runs with incremental compilation.
fn is_incremental(argv: &[String]) -> bool {
    argv.iter().any(|x| x.starts_with("incremental="))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incremental_runs_are_recognised() {
        let argv: Vec<String> = ["--crate-name", "a", "-C", "incremental=/t/inc"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert!(is_incremental(&argv));
        assert!(!is_incremental(&argv[..2]));
    }
}
