//! The fresh check: the action's stamp says its outputs in the target dir
//! are those of its current key.

use std::sync::Arc;

use super::super::stamp::{outputs_intact, still_remote, Stamp};
use super::super::ExecShared;
use super::lazy;
use super::outputs::{replay, restamp_at_finish, uplift, uplift_needed};
use super::{DepResult, Failure};
use crate::core::ActionKey;
use crate::fingerprint::DepDigests;
use crate::plan::Action;

/// What a fresh action gives its dependents, or None if it is not fresh.
/// A check-only run writes nothing, so for it an uplifted copy that needs
/// linking again means "not fresh".
pub(super) fn check(
    sh: &ExecShared,
    a: &Action,
    stamp: Option<&Stamp>,
    key: ActionKey,
) -> Result<Option<DepResult>, Failure> {
    let may_write = sh.policy.may_write();
    let left_ok = sh.left_remote.minimal();
    let Some(s) = stamp.filter(|s| s.key == key && outputs_intact(a, s, may_write, left_ok)) else {
        return Ok(None);
    };
    let remote = still_remote(a, s);
    if remote {
        lazy::note(sh, a, s.key, None);
    }
    let relink = !remote && uplift_needed(a);
    if relink && !may_write {
        return Ok(None);
    }
    replay(sh, a, &s.diagnostics, s.script.as_ref());
    if relink {
        uplift(a)?;
    }
    if may_write {
        // Another action may link a blob this one's outputs share.
        restamp_at_finish(sh, a, key, !relink);
    }
    Ok(Some(DepResult {
        digests: DepDigests {
            meta: s.meta,
            full: s.full,
        },
        script: s.script.clone().map(Arc::new),
    }))
}
