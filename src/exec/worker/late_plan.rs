//! Late planning: what an action's invocation gets from build scripts that
//! ran before it (Cargo's "dynamic" flags), which the planner cannot know.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use super::super::script_output::{LinkArgTarget, ScriptOutput};
use super::super::ExecShared;
use super::DepResult;
use crate::core::ActionId;
use crate::plan::action::ActionKind;
use crate::plan::unit::Mode;
use crate::plan::Action;
use crate::workspace::model::{CrateType, TargetKind};

/// An action's final invocation.
pub(super) struct Invocation {
    /// What runs: rustc, or the build script's binary for a run.
    pub(super) program: PathBuf,
    /// The argv with the flags build scripts added.
    pub(super) argv: Vec<String>,
    /// The environment with the variables build scripts set.
    pub(super) env: BTreeMap<String, String>,
    /// The flags build scripts added (the end of `argv`).
    pub(super) script_flags: Vec<String>,
}

/// The final invocation of `a`; `deps` is indexed like `a.deps`.
pub(super) fn invocation(sh: &ExecShared, a: &Action, deps: &[DepResult]) -> Invocation {
    let script_of = |id: ActionId| -> Option<Arc<ScriptOutput>> {
        a.deps
            .iter()
            .position(|d| d.action == id)
            .and_then(|i| deps[i].script.clone())
    };
    let mut inv = Invocation {
        program: a.program.clone(),
        argv: a.argv.clone(),
        env: a.env.clone(),
        script_flags: Vec::new(),
    };
    if a.kind == ActionKind::BuildScriptRun {
        if let Some(exe) = script_binary(sh, a) {
            inv.program = exe;
        }
        links_metadata_env(a, &script_of, &mut inv.env);
    } else {
        link_search_args(sh, a, &script_of, &mut inv.argv);
        if let Some(own) = a.script_inputs.own.and_then(script_of) {
            own_script_flags(a, &own, &mut inv);
        }
        inv.script_flags = inv.argv[a.argv.len()..].to_vec();
    }
    inv
}

/// The binary a build-script run executes: its compile dependency's.
fn script_binary(sh: &ExecShared, a: &Action) -> Option<PathBuf> {
    a.deps
        .iter()
        .map(|d| &sh.graph.actions[d.action.index()])
        .filter(|dep| dep.kind == ActionKind::BuildScriptCompile)
        .filter_map(|dep| dep.executable.clone())
        .last()
}

/// `DEP_<LINKS>_<KEY>` for a build-script run, from the `cargo::metadata`
/// of the scripts of the `links` packages it depends on.
fn links_metadata_env(
    a: &Action,
    script_of: &dyn Fn(ActionId) -> Option<Arc<ScriptOutput>>,
    env: &mut BTreeMap<String, String>,
) {
    let var = |s: &str| s.to_uppercase().replace('-', "_");
    for (id, links) in &a.script_inputs.links_metadata {
        if let Some(s) = script_of(*id) {
            for (k, v) in &s.metadata {
                env.insert(format!("DEP_{}_{}", var(links), var(k)), v.clone());
            }
        }
    }
}

/// `-L` for the search paths of the scripts whose libraries this action
/// links, transitively (a script not among the deps finished earlier).
fn link_search_args(
    sh: &ExecShared,
    a: &Action,
    script_of: &dyn Fn(ActionId) -> Option<Arc<ScriptOutput>>,
    argv: &mut Vec<String>,
) {
    for id in &a.script_inputs.link_search {
        let Some(s) = script_of(*id).or_else(|| sh.script_output(*id)) else {
            continue;
        };
        let out_dir = sh.graph.actions[id.index()]
            .out_dir
            .clone()
            .unwrap_or_default();
        for l in s.link_search_args(&out_dir) {
            argv.push("-L".into());
            argv.push(l);
        }
    }
}

/// The flags and variables of the package's own build script: `-l`,
/// `link-arg`s for the targets they apply to, `--cfg`, `--check-cfg`,
/// `rustc-env`.
fn own_script_flags(a: &Action, own: &ScriptOutput, inv: &mut Invocation) {
    let argv = &mut inv.argv;
    if a.script_inputs.link_libs {
        for l in &own.link_libs {
            argv.push("-l".into());
            argv.push(l.clone());
        }
    }
    let link_args = own.link_args.iter().chain(
        own.link_args_for
            .iter()
            .filter(|(t, _)| link_arg_applies(a, t))
            .map(|(_, arg)| arg),
    );
    for l in link_args {
        argv.push("-C".into());
        argv.push(format!("link-arg={l}"));
    }
    for c in &own.cfgs {
        argv.push("--cfg".into());
        argv.push(c.clone());
    }
    for c in &own.check_cfgs {
        argv.push("--check-cfg".into());
        argv.push(c.clone());
    }
    for (k, v) in &own.env {
        inv.env.insert(k.clone(), v.clone());
    }
}

/// Whether a `rustc-link-arg-*` for `t` applies to action `a`.
fn link_arg_applies(a: &Action, t: &LinkArgTarget) -> bool {
    match t {
        LinkArgTarget::Bins => a.target_kind == TargetKind::Bin && a.mode == Mode::Build,
        LinkArgTarget::Bin(n) => a.target_kind == TargetKind::Bin && &a.target_name == n,
        LinkArgTarget::Tests => a.target_kind == TargetKind::Test,
        LinkArgTarget::Benches => a.target_kind == TargetKind::Bench,
        LinkArgTarget::Examples => a.target_kind == TargetKind::Example,
        LinkArgTarget::Cdylib => a.crate_types.contains(&CrateType::Cdylib),
    }
}
