//! A build that would record exactly what the last one recorded leaves the
//! record alone: reading and rewriting it costs a no-op of a large
//! workspace more than everything else it does. The last record's digest
//! is kept beside it, written only after the record itself, and removed
//! before the record is replaced, so a digest never vouches for a record
//! written by another build.

use std::path::{Path, PathBuf};

use crate::exec::events::Outcome;
use crate::exec::Reasons;
use crate::explain::identity::UnitIdentity;
use crate::plan::ActionGraph;

/// Where the digest of the last record is kept.
fn digest_path(target_dir: &Path) -> PathBuf {
    super::record_path(target_dir).with_extension("digest")
}

/// The digest of what this build records, when no unit ran: then each
/// unit's record follows from its name, identity, outcome, key and planned
/// settings. None when a unit ran (its reasons compare with the last
/// record) or did not finish (it has no key).
pub(super) fn of_build(
    graph: &ActionGraph,
    reasons: &Reasons,
    ids: &[UnitIdentity],
    keys: &[String],
    names: &[String],
) -> Option<String> {
    let mut h = blake3::Hasher::new();
    h.update(&super::RECORD_VERSION.to_le_bytes());
    for a in &graph.actions {
        let Some((outcome, rr)) = reasons.get(&a.id) else {
            continue;
        };
        if *outcome == Outcome::Executed {
            return None;
        }
        let i = a.id.index();
        let unit = (
            (&keys[i], &ids[i], &names[i]),
            outcome,
            rr.key?,
            a.kind,
            &a.features,
            &a.profile,
            &a.flag_origins,
            &rr.script_flags,
            (&a.package_id.0, &a.package_name, &a.package_version),
            &a.target_name,
        );
        serde_json::to_writer(&mut h, &unit).ok()?;
        h.update(b"\n");
    }
    Some(h.finalize().to_hex().to_string())
}

/// Whether the last record was written by a build with this digest.
pub(super) fn matches(target_dir: &Path, digest: &str) -> bool {
    std::fs::read_to_string(digest_path(target_dir)).is_ok_and(|d| d == digest)
}

/// Forgets the digest before the record is replaced.
pub(super) fn forget(target_dir: &Path) {
    let _ = std::fs::remove_file(digest_path(target_dir));
}

/// Keeps the digest of the record just written (best effort: without it
/// the next build reads and rewrites the record).
pub(super) fn remember(target_dir: &Path, digest: &str) {
    super::replace(&digest_path(target_dir), digest.as_bytes());
}
