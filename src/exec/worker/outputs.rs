//! An action's outputs in the target dir: cleaning, listing and hashing
//! them, the uplifted copies, the stamps' refresh at the end of a build,
//! and replaying what a fresh or restored action printed.

use std::path::PathBuf;

use super::super::diagnostics::parse_diagnostic;
use super::super::events::BuildEvent;
use super::super::script_output::ScriptOutput;
use super::super::stamp::{refresh_moved, stamp_path};
use super::super::ExecShared;
use super::Failure;
use crate::cache::{ActionResult, OutputFile, ResultMeta};
use crate::core::{ActionKey, Digest, RelPath};
use crate::plan::Action;

/// Removes what an earlier run left, before the action runs or is restored.
pub(super) fn clean_outputs(a: &Action) {
    for o in &a.outputs {
        let _ = std::fs::remove_file(o);
    }
    if let Some(od) = &a.out_dir {
        let _ = std::fs::remove_dir_all(od);
    }
}

/// Every file the action produced.
pub(super) fn output_files(a: &Action) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = a.outputs.iter().filter(|o| o.is_file()).cloned().collect();
    if let Some(od) = &a.out_dir {
        for e in walkdir::WalkDir::new(od).into_iter().flatten() {
            if e.file_type().is_file() {
                files.push(e.into_path());
            }
        }
    }
    files.sort();
    files
}

/// The files of `a`'s outputs that dependents or users consume (see
/// [`Action::is_private_output`]).
pub(super) fn consumed_files(a: &Action) -> Vec<PathBuf> {
    output_files(a)
        .into_iter()
        .filter(|f| !a.is_private_output(f))
        .collect()
}

/// The result of an executed action: its outputs hashed in place.
pub(super) fn local_result(a: &Action, files: &[PathBuf], meta: ResultMeta) -> ActionResult {
    let mut outputs = Vec::new();
    for f in files {
        let (Some(path), Ok((digest, size))) =
            (RelPath::strip(f, &a.output_root), Digest::of_file(f))
        else {
            continue;
        };
        outputs.push(OutputFile {
            path,
            digest,
            size,
            executable: super::super::store::is_executable(f),
        });
    }
    outputs.sort_by(|x, y| x.path.cmp(&y.path));
    ActionResult {
        outputs,
        meta,
        ..Default::default()
    }
}

/// Whether an uplifted copy is missing or is not the output itself: a no-op
/// build then leaves the target dir untouched, so that a watcher sees no
/// change.
pub(super) fn uplift_needed(a: &Action) -> bool {
    use std::os::unix::fs::MetadataExt;
    a.uplift.iter().any(
        |u| match (std::fs::metadata(&u.from), std::fs::symlink_metadata(&u.to)) {
            (Ok(f), Ok(t)) => f.dev() != t.dev() || f.ino() != t.ino(),
            _ => true,
        },
    )
}

/// Brings the action's stamp up to date at the end of the build with what
/// later hard links did to its outputs' ctimes; `if_linked`: only if the
/// build linked a file into or out of the cache.
pub(super) fn restamp_at_finish(sh: &ExecShared, a: &Action, key: ActionKey, if_linked: bool) {
    let (stamp_file, root) = (stamp_path(a), a.output_root.clone());
    let step = move || refresh_moved(&stamp_file, &root, key, &[]);
    if if_linked {
        sh.store.at_finish_if_linked(step);
    } else {
        sh.store.at_finish(step);
    }
}

/// Copies internal outputs to Cargo's paths (hard link, else copy). A
/// file that cannot be put in place fails the action: the build must not
/// succeed without the artifact a script will run.
pub(super) fn uplift(a: &Action) -> Result<(), Failure> {
    for u in &a.uplift {
        if let Some(d) = u.to.parent() {
            // An error here shows as the link's and the copy's below.
            let _ = std::fs::create_dir_all(d);
        }
        // Never write through an existing link: remove first, as Cargo does.
        let _ = std::fs::remove_file(&u.to);
        let Err(link) = std::fs::hard_link(&u.from, &u.to) else {
            continue;
        };
        if let Err(copy) = std::fs::copy(&u.from, &u.to) {
            return Err(Failure::other(format!(
                "failed to link or copy `{}` to `{}`: {copy} (hard link: {link})",
                u.from.display(),
                u.to.display()
            )));
        }
    }
    Ok(())
}

/// Emits again what a fresh or restored action printed when it ran.
pub(super) fn replay(sh: &ExecShared, a: &Action, diags: &[String], script: Option<&ScriptOutput>) {
    for d in diags {
        if let Some(diag) = parse_diagnostic(d) {
            sh.emit(BuildEvent::Diagnostic { id: a.id, diag });
        }
    }
    if let (Some(s), Some(od)) = (script, &a.out_dir) {
        sh.emit(BuildEvent::ScriptFinished {
            id: a.id,
            output: s.clone(),
            out_dir: od.clone(),
        });
    }
}
