//! Units → actions: paths, argv, env, declared inputs and outputs, edges.
//! Compile actions are planned in [`compile`], build-script runs in [`run`].

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde::Serialize;

mod compile;
mod doc;
mod run;
mod test;

use super::action::{Action, ActionKind, InputFile, ScriptInputs, TargetMeta};
use super::unit::{Mode, Unit, UnitDep};
use super::units::UnitGraph;
use super::PlanContext;
use crate::core::ActionId;
use crate::workspace::model::TargetKind;

/// The planned build: actions in dependency order.
#[derive(Debug, Default, Serialize, serde::Deserialize)]
pub struct ActionGraph {
    /// Schema version of this JSON form.
    pub version: u32,
    /// Requested profile.
    pub profile: String,
    /// Cargo-style profile directory name.
    pub profile_dir: String,
    /// Target dir.
    pub target_dir: PathBuf,
    /// Workspace root.
    pub workspace_root: PathBuf,
    /// Actions; every action's dependencies come before it.
    pub actions: Vec<Action>,
    /// Root actions.
    pub roots: Vec<ActionId>,
    /// `test --no-run`: the test binaries in Cargo's order, with the
    /// label of their `Executable` line.
    #[serde(default)]
    pub test_binaries: Vec<(ActionId, String)>,
    /// `run`: the program to start once the build succeeded.
    #[serde(default)]
    pub run: Option<RunTarget>,
    /// `doc`: the index pages of the documented roots, in Cargo's order.
    #[serde(default)]
    pub doc_pages: Vec<PathBuf>,
}

/// What `cargo hbuild run` starts: the uplifted binary or example, with
/// the environment Cargo gives it (the cwd and the rest are inherited).
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct RunTarget {
    /// The compile action of the program.
    pub action: ActionId,
    /// Its uplifted path.
    pub program: PathBuf,
    /// Variables set for it.
    pub env: BTreeMap<String, String>,
}

fn aid(u: crate::core::UnitId) -> ActionId {
    ActionId(u.0)
}

/// What planning one unit's action sees: the unit, the graph and the
/// actions of the units before it (its dependencies among them).
pub(super) struct Step<'a, 'c> {
    pub(super) cx: &'a PlanContext<'c>,
    pub(super) ug: &'a UnitGraph,
    pub(super) i: usize,
    pub(super) u: &'a Unit,
    pub(super) done: &'a [Action],
}

impl Step<'_, '_> {
    /// The dependency unit and its (already planned) action.
    fn dep(&self, d: &UnitDep) -> (&Unit, &Action) {
        (&self.ug.units[d.unit.index()], &self.done[d.unit.index()])
    }
}

/// Turns the unit graph into actions.
pub fn build(cx: &PlanContext<'_>, ug: &UnitGraph) -> ActionGraph {
    let mut actions: Vec<Action> = Vec::with_capacity(ug.units.len());
    // Per unit: runs whose `-L` paths reach it through linkable deps.
    let mut link_search: Vec<BTreeSet<ActionId>> = Vec::with_capacity(ug.units.len());
    let roots: BTreeSet<usize> = ug.roots.iter().map(|r| r.index()).collect();

    for (i, u) in ug.units.iter().enumerate() {
        let inputs: Vec<InputFile> = cx
            .package_files
            .of(u.pkg)
            .iter()
            .map(|path| InputFile { path: path.clone() })
            .collect();
        let own_run = u.deps.iter().find(|d| {
            let du = &ug.units[d.unit.index()];
            du.mode == Mode::RunCustomBuild && du.pkg == u.pkg && u.mode != Mode::RunCustomBuild
        });
        let ls = transitive_link_search(cx, ug, u, own_run, &link_search);
        let step = Step {
            cx,
            ug,
            i,
            u,
            done: &actions,
        };
        let action = if u.mode == Mode::RunCustomBuild {
            run::run_action(&step, inputs)
        } else if u.mode == Mode::Doc {
            doc::doc_action(&step, inputs, own_run.map(|d| aid(d.unit)), &ls)
        } else if u.mode == Mode::Doctest {
            test::doctest_action(&step, inputs, own_run.map(|d| aid(d.unit)), &ls)
        } else {
            let own_run = own_run.map(|d| aid(d.unit));
            compile::compile_action(&step, inputs, own_run, &ls, roots.contains(&i))
        };
        link_search.push(ls);
        actions.push(action);
    }
    add_runtime_deps(ug, &mut actions);
    let test_binaries = test::add_test_runs(cx, ug, &mut actions);
    let run = test::run_target(cx, ug, &actions);
    let doc_pages = doc::add_doc_index(cx, ug, &mut actions);
    ActionGraph {
        doc_pages,
        run,
        test_binaries,
        version: 1,
        profile: cx.request.profile.clone(),
        profile_dir: cx.layout.profile_dir.clone(),
        target_dir: cx.layout.target_dir.clone(),
        workspace_root: cx.model.root.clone(),
        actions,
        roots: ug.roots.iter().map(|r| aid(*r)).collect(),
    }
}

/// The runs whose `-L` paths reach a unit: its own, and those of what it
/// links, transitively through libraries (not through proc-macros).
fn transitive_link_search(
    cx: &PlanContext<'_>,
    ug: &UnitGraph,
    u: &Unit,
    own_run: Option<&UnitDep>,
    link_search: &[BTreeSet<ActionId>],
) -> BTreeSet<ActionId> {
    let mut ls: BTreeSet<ActionId> = BTreeSet::new();
    if let Some(r) = own_run {
        ls.insert(aid(r.unit));
    }
    for d in &u.deps {
        let du = &ug.units[d.unit.index()];
        let dt = &cx.model.packages[du.pkg].targets[du.target];
        if d.extern_name.is_some() && !dt.is_proc_macro() && u.mode != Mode::RunCustomBuild {
            ls.extend(link_search[d.unit.index()].iter().copied());
        }
    }
    ls
}

/// Integration tests and benches need their package's binaries at run time.
fn add_runtime_deps(ug: &UnitGraph, actions: &mut [Action]) {
    let bins: Vec<(usize, ActionId)> = actions
        .iter()
        .filter(|a| {
            a.target_kind == TargetKind::Bin
                && a.mode == Mode::Build
                && a.kind == ActionKind::Compile
        })
        .map(|a| (ug.units[a.id.index()].pkg, a.id))
        .collect();
    for (i, a) in actions.iter_mut().enumerate() {
        if a.mode == Mode::Test && matches!(a.target_kind, TargetKind::Test | TargetKind::Bench) {
            let pkg = ug.units[i].pkg;
            a.runtime_deps = bins
                .iter()
                .filter(|(p, _)| *p == pkg)
                .map(|(_, id)| *id)
                .collect();
        }
    }
}

/// The source path a tool is given and the directory it runs in: members
/// under the workspace root use a path relative to the root and run there,
/// like Cargo, so diagnostics and embedded paths are relative; other
/// packages get the absolute path and run in their root.
fn source_and_cwd(
    cx: &PlanContext<'_>,
    pkg: &crate::workspace::model::Package,
    target: &crate::workspace::model::Target,
) -> (String, PathBuf) {
    match target.src_path.strip_prefix(&cx.model.root) {
        Ok(rel) if pkg.is_local() => (rel.display().to_string(), cx.model.root.clone()),
        _ => (
            target.src_path.display().to_string(),
            pkg.root().to_path_buf(),
        ),
    }
}

/// The package's variables and, when it has a build script, the
/// script run's `OUT_DIR`: what every tool running for the package sees.
fn package_env_with_out_dir(
    cx: &PlanContext<'_>,
    pkg: &crate::workspace::model::Package,
    done: &[Action],
    own_run: Option<ActionId>,
) -> BTreeMap<String, String> {
    let mut env = super::rustc_args::package_env(cx, pkg);
    if let Some(od) = own_run.and_then(|r| done[r.index()].out_dir.as_ref()) {
        env.insert("OUT_DIR".into(), od.display().to_string());
    }
    env
}

/// rustdoc, beside the toolchain's rustc.
fn rustdoc(cx: &PlanContext<'_>) -> PathBuf {
    cx.toolchain.rustc.with_file_name("rustdoc")
}

/// An action with the unit's identity filled in and nothing planned yet.
fn base_action(cx: &PlanContext<'_>, u: &Unit, i: usize, kind: ActionKind) -> Action {
    let pkg = &cx.model.packages[u.pkg];
    let target = &pkg.targets[u.target];
    Action {
        id: ActionId(i as u32),
        kind,
        package_id: pkg.id.clone(),
        package_name: pkg.name.clone(),
        package_version: pkg.version.clone(),
        is_member: pkg.is_member,
        target_name: target.name.clone(),
        target_kind: target.kind,
        src_path: target.src_path.clone(),
        edition: target.edition.clone(),
        manifest_path: pkg.manifest_path.clone(),
        target_meta: TargetMeta {
            kind: target.metadata_kind.clone(),
            crate_types: target.crate_types.clone(),
            required_features: target.required_features.clone(),
            doc: target.doc,
            doctest: target.doctest,
            test: target.test,
        },
        crate_types: Vec::new(),
        mode: u.mode,
        compile_kind: u.kind,
        for_host: u.for_host,
        profile: u.profile.clone(),
        features: u.features.clone(),
        program: PathBuf::new(),
        argv: Vec::new(),
        flag_origins: Default::default(),
        env: BTreeMap::new(),
        env_remove: Vec::new(),
        cwd: pkg.root().to_path_buf(),
        inputs: Vec::new(),
        output_root: PathBuf::new(),
        outputs: Vec::new(),
        rmeta: None,
        dep_info: None,
        out_dir: None,
        deps: Vec::new(),
        runtime_deps: Vec::new(),
        script_inputs: ScriptInputs::default(),
        uplift: Vec::new(),
        is_root: u.is_root,
        is_local: pkg.is_local(),
        executable: None,
        unit_hash: u.short_hash(),
        test: None,
        lint: None,
    }
}
