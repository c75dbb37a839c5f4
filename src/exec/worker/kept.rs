//! The outputs of a remote run left in the engine's CAS
//! (`--remote-download=minimal`, with the engine as the remote cache): the
//! run's entry goes to the remote cache at once, naming them by their
//! blobs, so that dependents, later builds and local actions reach them
//! through it as through a remote hit's (see [`super::lazy`]).

use std::collections::HashMap;

use super::super::invoke::Executed;
use super::super::outcome::LeftOutput;
use super::super::ExecShared;
use super::outputs::{local_result, output_files};
use crate::cache::remote::OutputBytes;
use crate::cache::{ActionResult, OutputFile, ResultMeta};
use crate::core::{ActionKey, Digest, RelPath};
use crate::plan::Action;

/// The result of `a`'s remote run with its outputs `left` in the engine's
/// CAS, once its entry is in the remote cache under `key`; an error says
/// why it could not be stored (the caller then downloads them).
pub(super) fn store(
    sh: &ExecShared,
    a: &Action,
    exec: &Executed,
    key: ActionKey,
    left: &[LeftOutput],
) -> Result<ActionResult, String> {
    // What is here (the dep-info) is sent as bytes: it is in no store.
    let mut result = local_result(a, &output_files(a), ResultMeta::default());
    result.stderr = exec.diagnostics.join("\n");
    let mut direct = HashMap::new();
    for o in &result.outputs {
        let path = o.path.under(&a.output_root);
        let bytes =
            std::fs::read(&path).map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
        direct.insert(o.digest, OutputBytes::Bytes(bytes));
    }
    for l in left {
        let path = RelPath::strip(&l.path, &a.output_root)
            .ok_or_else(|| format!("`{}` is outside the action's outputs", l.path.display()))?;
        result.outputs.push(OutputFile {
            path,
            digest: l.digest,
            size: l.output.blob.size,
            executable: l.output.executable,
        });
        direct.insert(l.digest, OutputBytes::InCas(l.output.blob.clone()));
    }
    result.outputs.sort_by(|x, y| x.path.cmp(&y.path));
    sh.store.put_remote_now(key, &result, direct)?;
    Ok(result)
}

/// Downloads the outputs `left` after all, each checked against the blake3
/// digest the worker reported for it.
pub(super) fn download(sh: &ExecShared, left: &[LeftOutput]) -> Result<(), String> {
    let rx = sh.remote_exec.as_ref().ok_or("remote execution is off")?;
    for l in left {
        rx.executor()
            .download(&l.output, &l.path)
            .map_err(|e| e.to_string())?;
        let (got, _) = Digest::of_file(&l.path)
            .map_err(|e| format!("cannot read `{}`: {e}", l.path.display()))?;
        if got != l.digest {
            let _ = std::fs::remove_file(&l.path);
            return Err(format!(
                "`{}` from the engine is not what its worker reported",
                l.path.display()
            ));
        }
    }
    Ok(())
}
