//! Late planning: what an action's invocation gets from build scripts that
//! ran before it (Cargo's "dynamic" flags), which the planner cannot know.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use super::super::invoke::RustcCall;
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
    /// For an action Clippy lints: the configuration files that apply to
    /// it now (see [`super::super::lint::config_files`]).
    pub(super) lint_config: Vec<PathBuf>,
}

impl Invocation {
    /// The rustc call of a compile action.
    pub(super) fn rustc(&self) -> RustcCall<'_> {
        RustcCall {
            argv: &self.argv,
            env: &self.env,
            also_declared: &self.lint_config,
        }
    }
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
        lint_config: Vec::new(),
    };
    if a.kind == ActionKind::TestRun {
        test_invocation(sh, a, &script_of, &mut inv);
    } else if a.kind == ActionKind::BuildScriptRun {
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
    if a.lint.is_some() {
        inv.lint_config = lint_config(sh, a, &inv.env);
    }
    inv
}

/// The Clippy configuration files of a linted action, looked up from the
/// `CLIPPY_CONF_DIR` and `CARGO_MANIFEST_DIR` clippy-driver will see (a
/// relative directory is relative to its working directory).
fn lint_config(sh: &ExecShared, a: &Action, env: &BTreeMap<String, String>) -> Vec<PathBuf> {
    let var = |k: &str| env.get(k).or_else(|| sh.env.get(k)).map(|v| a.cwd.join(v));
    let manifest_dir = var("CARGO_MANIFEST_DIR").unwrap_or_else(|| a.cwd.clone());
    super::super::lint::config_files(var("CLIPPY_CONF_DIR").as_deref(), &manifest_dir)
}

/// A test run gets its package's `rustc-env` values and, for doctests,
/// the build script's cfgs and search paths (as Cargo passes them to
/// rustdoc). The variables that configure Rust programs and libtest
/// (`RUST_*`) are set explicitly, so that they are keyed.
fn test_invocation(
    sh: &ExecShared,
    a: &Action,
    script_of: &dyn Fn(ActionId) -> Option<Arc<ScriptOutput>>,
    inv: &mut Invocation,
) {
    let doc = a.test.as_ref().is_some_and(|t| t.doc);
    if doc {
        link_search_args(sh, a, script_of, &mut inv.argv);
    }
    if let Some(own) = a.script_inputs.own.and_then(script_of) {
        if doc {
            for c in &own.cfgs {
                inv.argv.extend(["--cfg".into(), c.clone()]);
            }
            for c in &own.check_cfgs {
                inv.argv.extend(["--check-cfg".into(), c.clone()]);
            }
        }
        for (k, v) in &own.env {
            inv.env.insert(k.clone(), v.clone());
        }
    }
    for (k, v) in sh.env.iter().filter(|(k, _)| k.starts_with("RUST_")) {
        inv.env.entry(k.clone()).or_insert_with(|| v.clone());
    }
    inv.script_flags = inv.argv[a.argv.len()..].to_vec();
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
        LinkArgTarget::Bins => a.target_kind == TargetKind::Bin && a.mode.built() == Mode::Build,
        LinkArgTarget::Bin(n) => a.target_kind == TargetKind::Bin && &a.target_name == n,
        LinkArgTarget::Tests => a.target_kind == TargetKind::Test,
        LinkArgTarget::Benches => a.target_kind == TargetKind::Bench,
        LinkArgTarget::Examples => a.target_kind == TargetKind::Example,
        LinkArgTarget::Cdylib => a.crate_types.contains(&CrateType::Cdylib),
    }
}
