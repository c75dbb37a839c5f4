//! Stamps: the record kept next to an action's outputs (key, inputs read,
//! output digests, replayable diagnostics), so that a no-op build does no
//! work.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::script_output::ScriptOutput;
use super::store::Manifest;
use crate::core::{ActionKey, Digest, FileStamp, RelPath};
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
    /// Output files as they were left.
    pub outputs: Vec<RecordedOutput>,
    /// Digests for dependents.
    pub meta: Digest,
    /// Digests for dependents.
    pub full: Digest,
    /// Build-script output, for runs.
    pub script: Option<ScriptOutput>,
    /// rustc's diagnostics (JSON lines) to replay.
    pub diagnostics: Vec<String>,
}

/// One output file of a stamp.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedOutput {
    /// Path below the action's output root.
    pub path: RelPath,
    /// Content digest.
    pub digest: Digest,
    /// File stamp once the file was in place; `None` for an output known
    /// only by its digest, left in the remote cache
    /// (`--remote-download=minimal`).
    pub stat: Option<FileStamp>,
}

impl Stamp {
    /// Whether some output was left in the remote cache.
    pub fn left_remote(&self) -> bool {
        self.outputs.iter().any(|o| o.stat.is_none())
    }
}

/// Whether outputs of `a` that `s` says were left in the remote cache are
/// still not in place (rather than fetched since).
pub(super) fn still_remote(a: &Action, s: &Stamp) -> bool {
    let absent = |o: &RecordedOutput| o.stat.is_none() && !o.path.under(&a.output_root).exists();
    s.outputs.iter().any(absent)
}

/// Format version; 2 records outputs by [`FileStamp`] (device and ctime
/// added), so older stamps, blind to in-place edits, are not trusted.
const STAMP_VERSION: u32 = 2;

/// Where the stamp of an action is kept.
pub fn stamp_path(a: &Action) -> PathBuf {
    let kind = match a.kind {
        ActionKind::Compile => "compile",
        ActionKind::BuildScriptCompile => "script",
        ActionKind::BuildScriptRun => "run",
        ActionKind::TestRun => "test",
        ActionKind::Doc => "doc",
        ActionKind::DocIndex => "doc-index",
    };
    a.output_root
        .join(".hbuild-stamps")
        .join(format!("{}-{}-{}.json", a.package_name, kind, a.unit_hash))
}

/// Loads the stamp of an action, if any.
pub fn load_stamp(a: &Action) -> Option<Stamp> {
    read(&stamp_path(a))
}

fn read(p: &Path) -> Option<Stamp> {
    let bytes = std::fs::read(p).ok()?;
    serde_json::from_slice::<Stamp>(&bytes)
        .ok()
        .filter(|s| s.version == STAMP_VERSION)
}

/// Writes an action's stamp, last, once its outputs are in place (or, for
/// outputs left in the remote cache, once the files of an earlier build
/// are gone).
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
        .map(|o| RecordedOutput {
            path: o.path.clone(),
            digest: o.digest,
            stat: FileStamp::of(&o.path.under(&a.output_root)),
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
    save(&stamp_path(a), &s);
}

/// Replaces the stamp file at `p` (best effort: a stamp that cannot be
/// written only costs the next build a re-run). Each writer has its own
/// temporary file, since a background cache save may refresh a stamp
/// while the action's worker writes it.
fn save(p: &Path, s: &Stamp) {
    let Some(dir) = p.parent() else { return };
    let _ = std::fs::create_dir_all(dir);
    let Ok(mut tmp) = tempfile::NamedTempFile::new_in(dir) else {
        return;
    };
    let bytes = serde_json::to_vec(s).expect("stamp serialises");
    if std::io::Write::write_all(&mut tmp, &bytes).is_ok() {
        let _ = tmp.persist(p);
    }
}

/// Whether the outputs a stamp recorded are still there, unchanged. When
/// some only moved their ctime (see [`moved_outputs`]) and `may_write`, the
/// stamp is rewritten with their new stamps, so the next build does not
/// hash them again (a check-only run must not write). Outputs left in the
/// remote cache count as intact only if `left_remote_ok`.
pub(super) fn outputs_intact(a: &Action, s: &Stamp, may_write: bool, left_remote_ok: bool) -> bool {
    if !left_remote_ok && s.left_remote() {
        return false;
    }
    let Some(moved) = moved_outputs(&a.output_root, s, &[]) else {
        return false;
    };
    // Outputs left remote are uplifted once fetched.
    if !still_remote(a, s) && !a.uplift.iter().all(|u| u.to.exists()) {
        return false;
    }
    if may_write && !moved.is_empty() {
        save(&stamp_path(a), &with_stats(s.clone(), moved));
    }
    true
}

/// The outputs of `s` whose stamp moved, with their current stamps, or
/// None when one is missing or changed.
///
/// An output whose stamp differs only in its ctime is the same inode with
/// the same size and mtime: a hard link to it was made or removed (by the
/// cache adopting it, by materialising the same blob for another action or
/// target dir, by gc), its mode changed, or it was written in place and its
/// mtime put back. It is unchanged if it still has its recorded digest,
/// which is checked by hashing it, unless `adopted` says the cache hashed
/// this very version of it right after linking it.
///
/// An output left in the remote cache must still be absent, or be there
/// with its digest (fetched since).
fn moved_outputs(
    root: &Path,
    s: &Stamp,
    adopted: &[(RelPath, FileStamp)],
) -> Option<Vec<(usize, FileStamp)>> {
    let mut moved = Vec::new();
    for (i, o) in s.outputs.iter().enumerate() {
        let file = o.path.under(root);
        let now = FileStamp::of(&file);
        let (was, now) = match (o.stat, now) {
            (None, None) => continue,
            (Some(_), None) => return None,
            (None, Some(now)) if has_digest(&file, o.digest, now) => {
                moved.push((i, now));
                continue;
            }
            (None, Some(_)) => return None,
            (Some(was), Some(now)) => (was, now),
        };
        if now == was {
            continue;
        }
        if !was.differs_only_in_ctime(&now) {
            return None;
        }
        let hashed_by_cache = adopted.iter().any(|(p, st)| *p == o.path && *st == now);
        if !hashed_by_cache && !has_digest(&file, o.digest, now) {
            return None;
        }
        moved.push((i, now));
    }
    Some(moved)
}

fn with_stats(mut s: Stamp, moved: Vec<(usize, FileStamp)>) -> Stamp {
    for (i, now) in moved {
        s.outputs[i].stat = Some(now);
    }
    s
}

/// Whether `file` hashes to `digest` and still has stamp `st` afterwards
/// (a file changing while it is read proves nothing).
fn has_digest(file: &Path, digest: Digest, st: FileStamp) -> bool {
    Digest::of_file(file).is_ok_and(|(d, _)| d == digest) && FileStamp::of(file) == Some(st)
}

/// Brings the stamp with `key` at `stamp_file` up to date with what linking
/// did to its outputs after it was written this build: the cache adopting
/// them by hard link and making them read-only (`adopted`: their stamps
/// right after the cache hashed them), other actions materialising the
/// same blobs, the uplift. Runs at the end of the build, once every action
/// wrote its stamp, so that the next build finds nothing moved and a no-op
/// build writes nothing.
pub(super) fn refresh_moved(
    stamp_file: &Path,
    output_root: &Path,
    key: ActionKey,
    adopted: &[(RelPath, FileStamp)],
) {
    // Another key: the stamp was not written (or was replaced) this build.
    let Some(s) = read(stamp_file).filter(|s| s.key == key) else {
        return;
    };
    // A changed output is left to the next build's fresh check.
    if let Some(moved) = moved_outputs(output_root, &s, adopted) {
        if !moved.is_empty() {
            save(stamp_file, &with_stats(s, moved));
        }
    }
}

/// Records the stamps of every output of the stamp at `stamp_file` (of
/// `key`) once all were put in place again with their recorded digests:
/// outputs fetched from the remote cache replace every file of the action,
/// those that were here too.
pub(super) fn restamp_fetched(stamp_file: &Path, output_root: &Path, key: ActionKey) {
    let Some(s) = read(stamp_file).filter(|s| s.key == key) else {
        return;
    };
    let mut now = Vec::with_capacity(s.outputs.len());
    for (i, o) in s.outputs.iter().enumerate() {
        let file = o.path.under(output_root);
        match FileStamp::of(&file) {
            Some(st) if has_digest(&file, o.digest, st) => now.push((i, st)),
            _ => return,
        }
    }
    save(stamp_file, &with_stats(s, now));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fingerprint::fixture;

    /// A stamp of one output, `lib.rlib`, that stayed in the remote cache.
    fn left_remote(root: &Path) -> (Action, Stamp) {
        let mut a = fixture::action(0, ActionKind::Compile, "dep", "dep");
        a.output_root = root.to_path_buf();
        let g = fixture::graph();
        let s = Stamp {
            version: STAMP_VERSION,
            pre: ActionKey(Digest::of_bytes(b"pre")),
            key: ActionKey(Digest::of_bytes(b"key")),
            components: crate::fingerprint::compose::compose(
                crate::fingerprint::KeyContext {
                    toolchain_id: fixture::TOOLCHAIN,
                    normalizer: &fixture::normalizer(),
                },
                &g,
                &g.actions[0],
                &[],
                &Default::default(),
                &[],
            ),
            manifest: Manifest::default(),
            outputs: vec![RecordedOutput {
                path: RelPath::new("lib.rlib").unwrap(),
                digest: Digest::of_bytes(b"rlib"),
                stat: None,
            }],
            meta: Digest::of_bytes(b"meta"),
            full: Digest::of_bytes(b"full"),
            script: None,
            diagnostics: Vec::new(),
        };
        (a, s)
    }

    #[test]
    fn outputs_left_remote_are_intact_only_in_a_minimal_build_and_only_while_absent() {
        let d = tempfile::tempdir().unwrap();
        let (a, s) = left_remote(d.path());
        save(&stamp_path(&a), &s);
        assert!(
            !outputs_intact(&a, &s, true, false),
            "a full build fetches them"
        );
        assert!(outputs_intact(&a, &s, true, true));
        assert!(still_remote(&a, &s));

        std::fs::write(d.path().join("lib.rlib"), b"other bytes").unwrap();
        assert!(
            !outputs_intact(&a, &s, true, true),
            "not the recorded output"
        );

        std::fs::write(d.path().join("lib.rlib"), b"rlib").unwrap();
        assert!(!still_remote(&a, &s));
        assert!(outputs_intact(&a, &s, true, true), "fetched since");
        let now = load_stamp(&a).unwrap();
        assert!(!now.left_remote(), "the stamp records the fetched file");
        assert!(outputs_intact(&a, &now, false, false));
    }
}
