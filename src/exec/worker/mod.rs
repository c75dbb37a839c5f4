//! Running one action, in the order of its steps: the final invocation
//! from build-script results (`late_plan`), the key
//! ([`crate::fingerprint::compose`]), the fresh check (`fresh`), the cache
//! (`restore`), and running and storing it (`build`).

mod build;
mod fresh;
mod kept;
mod late_plan;
pub(super) mod lazy;
mod outputs;
mod restore;

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::events::Outcome;
pub use super::outcome::{DepResult, Failure, Finished, RunReason};
pub use super::stamp::{load_stamp, stamp_path};
use super::store::Manifest;
use super::test_run;
use super::ExecShared;
use crate::core::ActionKey;
use crate::fingerprint::compose::{self, ReadState};
use crate::fingerprint::{DepDigests, KeyComponents};
use crate::plan::Action;

/// Runs one action. `deps` is indexed like `action.deps`; `on_meta` hears
/// of a pipelined `.rmeta` before the action ends.
pub fn run(
    sh: &ExecShared,
    a: &Action,
    deps: &[DepResult],
    on_meta: &dyn Fn(DepResult),
) -> Result<Finished, Failure> {
    let inv = late_plan::invocation(sh, a, deps);
    let digests: Vec<DepDigests> = deps.iter().map(|d| d.digests).collect();
    let cx = sh.key_context();
    let mut comps = compose::compose(cx, &sh.graph, a, &inv.argv, &inv.env, &digests);
    if a.lint.is_some() {
        let config = sh.file_states.digest_all(&inv.lint_config);
        compose::lint_config(&mut comps, &sh.normalizer, &inv.lint_config, config);
    }
    let pre = comps.pre_key();
    let stamp = load_stamp(a);
    let mut reason = RunReason {
        script_flags: inv.script_flags.clone(),
        ..Default::default()
    };
    let is_test = a.test.is_some();
    let manifest = match &stamp {
        // A test run is keyed on its declared inputs as they are now.
        _ if is_test => Some(test_run::declared_manifest(sh, a)),
        Some(s) if s.pre == pre => Some(s.manifest.clone()),
        _ => sh.store.manifest(&pre),
    };
    let reuse = !is_test || sh.cache_test_results;
    if let Some(m) = manifest.as_ref().filter(|_| reuse) {
        fill_inputs(sh, &mut comps, m, &inv.env);
        let key = comps.key();
        if let Some(result) = fresh::check(sh, a, stamp.as_ref(), key)? {
            if is_test {
                test_run::emit_output(sh, a, Outcome::Fresh);
            }
            return Ok(finished(result, Outcome::Fresh, reason, (comps, key), None));
        }
        sh.policy.past_fresh(a)?;
        let keyed = restore::Keyed {
            comps: &comps,
            pre,
            key,
        };
        if let Some((result, outcome)) = restore::from_cache(sh, a, keyed, m, &mut reason)? {
            if is_test {
                test_run::emit_output(sh, a, outcome);
            }
            return Ok(finished(result, outcome, reason, (comps, key), None));
        }
    }
    sh.policy.past_fresh(a)?;
    let built = build::run_and_store(sh, a, &inv, &mut comps, pre, on_meta)?;
    reason.remote = built.remote;
    Ok(finished(
        built.result,
        Outcome::Executed,
        reason,
        (comps, built.key),
        built.uncacheable,
    ))
}

fn finished(
    result: DepResult,
    outcome: Outcome,
    mut reason: RunReason,
    (comps, key): (KeyComponents, ActionKey),
    uncacheable: Option<String>,
) -> Finished {
    reason.current = Some(comps);
    reason.key = Some(key);
    Finished {
        result,
        outcome,
        reason,
        uncacheable,
    }
}

/// The second step of the key, from what the last run read.
fn fill_inputs(
    sh: &ExecShared,
    comps: &mut KeyComponents,
    m: &Manifest,
    env: &BTreeMap<String, String>,
) {
    let digest_all = |paths: &[PathBuf]| sh.file_states.digest_all(paths);
    let state = ReadState {
        digest_all: &digest_all,
        env,
        process_env: &sh.env,
    };
    let read = (&m.files[..], &m.env[..], m.embeds_location);
    compose::fill_inputs(comps, &sh.normalizer, read, &state);
}
