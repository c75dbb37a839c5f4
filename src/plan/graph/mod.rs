//! Units → actions: paths, argv, env, declared inputs and outputs, edges.
//! Compile actions are planned in [`compile`], build-script runs in [`run`].

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde::Serialize;

mod compile;
mod run;

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
        } else {
            let own_run = own_run.map(|d| aid(d.unit));
            compile::compile_action(&step, inputs, own_run, &ls, roots.contains(&i))
        };
        link_search.push(ls);
        actions.push(action);
    }
    add_runtime_deps(ug, &mut actions);
    ActionGraph {
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
    }
}
