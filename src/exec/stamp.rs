//! Stamps: the record kept next to an action's outputs (key, inputs read,
//! output digests, replayable diagnostics), so that a no-op build does no
//! work.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::script_output::ScriptOutput;
use super::store::Manifest;
use crate::core::{ActionKey, Digest, RelPath};
use crate::fingerprint::key::KeyComponents;
use crate::plan::action::ActionKind;
use crate::plan::Action;

/// Record kept next to the outputs so a no-op build does no work.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Stamp {
    /// Format version.
    pub version: u32,
    /// Pre-key.
    pub pre: ActionKey,
    /// Full key.
    pub key: ActionKey,
    /// Components of the key (for `--explain`).
    pub components: KeyComponents,
    /// Inputs read.
    pub manifest: Manifest,
    /// Output files: relative path, digest, size, mtime (ns).
    pub outputs: Vec<(RelPath, Digest, u64, i128)>,
    /// Digests for dependents.
    pub meta: Digest,
    /// Digests for dependents.
    pub full: Digest,
    /// Build-script output, for runs.
    pub script: Option<ScriptOutput>,
    /// rustc's diagnostics (JSON lines) to replay.
    pub diagnostics: Vec<String>,
}

const STAMP_VERSION: u32 = 1;

/// Where the stamp of an action is kept.
pub fn stamp_path(a: &Action) -> PathBuf {
    let kind = match a.kind {
        ActionKind::Compile => "compile",
        ActionKind::BuildScriptCompile => "script",
        ActionKind::BuildScriptRun => "run",
    };
    a.output_root
        .join(".hbuild-stamps")
        .join(format!("{}-{}-{}.json", a.package_name, kind, a.unit_hash))
}

/// Loads the stamp of an action, if any.
pub fn load_stamp(a: &Action) -> Option<Stamp> {
    let bytes = std::fs::read(stamp_path(a)).ok()?;
    serde_json::from_slice::<Stamp>(&bytes)
        .ok()
        .filter(|s| s.version == STAMP_VERSION)
}

fn mtime_ns(p: &Path) -> Option<(u64, i128)> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(p).ok()?;
    Some((
        m.len(),
        m.mtime() as i128 * 1_000_000_000 + m.mtime_nsec() as i128,
    ))
}

/// Writes an action's stamp, last, once its outputs are in place.
#[allow(clippy::too_many_arguments)]
pub(super) fn write_stamp(
    a: &Action,
    pre: ActionKey,
    key: ActionKey,
    comps: &KeyComponents,
    manifest: Manifest,
    r: &crate::cache::ActionResult,
    meta: Digest,
    full: Digest,
    script: Option<ScriptOutput>,
    diagnostics: Vec<String>,
) {
    let outputs = r
        .outputs
        .iter()
        .filter_map(|o| {
            let (size, mt) = mtime_ns(&o.path.under(&a.output_root))?;
            Some((o.path.clone(), o.digest, size, mt))
        })
        .collect();
    let s = Stamp {
        version: STAMP_VERSION,
        pre,
        key,
        components: comps.clone(),
        manifest,
        outputs,
        meta,
        full,
        script,
        diagnostics,
    };
    let p = stamp_path(a);
    if let Some(d) = p.parent() {
        let _ = std::fs::create_dir_all(d);
    }
    let tmp = p.with_extension("tmp");
    if std::fs::write(&tmp, serde_json::to_vec(&s).expect("stamp serialises")).is_ok() {
        let _ = std::fs::rename(tmp, p);
    }
}

/// Whether the outputs a stamp recorded are still there, unchanged.
pub(super) fn outputs_intact(a: &Action, s: &Stamp) -> bool {
    s.outputs
        .iter()
        .all(|(p, _, size, mtime)| mtime_ns(&p.under(&a.output_root)) == Some((*size, *mtime)))
        && a.uplift.iter().all(|u| u.to.exists())
}
