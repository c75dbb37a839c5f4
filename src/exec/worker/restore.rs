//! Restoring an action's outputs from the cache under its key.

use std::sync::Arc;

use super::super::events::{BuildEvent, Outcome};
use super::super::script_output::ScriptOutput;
use super::super::stamp::write_stamp;
use super::super::store::{HitSource, Manifest};
use super::super::ExecShared;
use super::lazy;
use super::outputs::{clean_outputs, replay, restamp_at_finish, uplift};
use super::{DepResult, Failure, RunReason};
use crate::cache::ActionResult;
use crate::core::ActionKey;
use crate::fingerprint::{DepDigests, KeyComponents};
use crate::plan::Action;

/// An action's complete key.
#[derive(Clone, Copy)]
pub(super) struct Keyed<'a> {
    /// Its components.
    pub(super) comps: &'a KeyComponents,
    /// Its pre-key.
    pub(super) pre: ActionKey,
    /// Its full key.
    pub(super) key: ActionKey,
}

/// Restores `a` from the cache, if an entry of its key is there and
/// usable; a miss or an unusable entry is recorded in `reason`. A remote
/// hit of a minimal build may leave the outputs there (see [`lazy`]).
pub(super) fn from_cache(
    sh: &ExecShared,
    a: &Action,
    k: Keyed<'_>,
    manifest: &Manifest,
    reason: &mut RunReason,
) -> Result<Option<(DepResult, Outcome)>, Failure> {
    let (found, miss) = if lazy::wants_bytes(sh, a) {
        sh.store.lookup(&k.key)
    } else {
        sh.store.lookup_digests(&k.key)
    };
    reason.miss = miss;
    let Some((r, src)) = found else {
        return Ok(None);
    };
    // Files of an earlier build never stand in for outputs left remote.
    clean_outputs(a);
    if src == HitSource::RemoteDigests {
        let result = restored(sh, a, k, manifest, &r, false)?;
        lazy::note(sh, a, k.key, Some(&r));
        return Ok(Some((result, Outcome::RemoteLeft)));
    }
    if let Err(why) = sh.store.materialize(&r, &a.output_root) {
        sh.emit(BuildEvent::Warning(format!(
            "cache entry for {} was unusable ({why}); rebuilding",
            a.display_name()
        )));
        reason.miss.corrupt = Some(why);
        return Ok(None);
    }
    let result = restored(sh, a, k, manifest, &r, true)?;
    let outcome = match src {
        HitSource::Local => Outcome::LocalHit,
        HitSource::Remote => Outcome::RemoteHit,
        HitSource::RemoteDigests => Outcome::RemoteLeft,
    };
    Ok(Some((result, outcome)))
}

/// Replays and stamps the entry `r`, materialised if `in_place` (else its
/// outputs stayed remote, and so does the uplift until they are fetched).
fn restored(
    sh: &ExecShared,
    a: &Action,
    k: Keyed<'_>,
    manifest: &Manifest,
    r: &ActionResult,
    in_place: bool,
) -> Result<DepResult, Failure> {
    let script = r
        .meta
        .script
        .as_deref()
        .and_then(|s| serde_json::from_str::<ScriptOutput>(s).ok())
        .map(|s| s.map_strings(|x| sh.normalizer.expand_all(x)));
    let diags: Vec<String> = r.stderr.lines().map(str::to_string).collect();
    replay(sh, a, &diags, script.as_ref());
    let digests = DepDigests::of_result(a, r, k.comps);
    // Links change the outputs' ctimes: stamp them after, and again once
    // the build is over (the same blobs may be linked for other actions).
    if in_place {
        uplift(a)?;
    }
    write_stamp(
        a,
        k.pre,
        k.key,
        k.comps,
        manifest.clone(),
        r,
        digests.meta,
        digests.full,
        script.clone(),
        diags,
    );
    restamp_at_finish(sh, a, k.key, false);
    Ok(DepResult {
        digests,
        script: script.map(Arc::new),
    })
}
