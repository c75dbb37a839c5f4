//! Units → actions: paths, argv, env, declared inputs and outputs, edges.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::action::{
    Action, ActionDep, ActionKind, InputFile, Needs, ScriptInputs, TargetMeta, Uplift,
};
use super::rustc_args::{self, cfg_env, is_rlib_only, package_env};
use super::unit::{CompileKind, Mode, Unit};
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

/// Turns the unit graph into actions.
pub fn build(cx: &PlanContext<'_>, ug: &UnitGraph) -> ActionGraph {
    let model = cx.model;
    let mut actions: Vec<Action> = Vec::with_capacity(ug.units.len());
    // Per unit: runs whose `-L` paths reach it through linkable deps.
    let mut link_search: Vec<BTreeSet<ActionId>> = Vec::with_capacity(ug.units.len());
    let roots: BTreeSet<usize> = ug.roots.iter().map(|r| r.index()).collect();

    for (i, u) in ug.units.iter().enumerate() {
        let pkg = &model.packages[u.pkg];
        let target = &pkg.targets[u.target];
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
        // Transitive `-L` sources.
        let mut ls: BTreeSet<ActionId> = BTreeSet::new();
        if let Some(r) = own_run {
            ls.insert(aid(r.unit));
        }
        for d in &u.deps {
            let du = &ug.units[d.unit.index()];
            let dt = &model.packages[du.pkg].targets[du.target];
            if d.extern_name.is_some() && !dt.is_proc_macro() && u.mode != Mode::RunCustomBuild {
                ls.extend(link_search[d.unit.index()].iter().copied());
            }
        }

        let action = if u.mode == Mode::RunCustomBuild {
            run_action(cx, ug, i, u, &actions, inputs)
        } else {
            compile_action(
                cx,
                ug,
                i,
                u,
                &actions,
                inputs,
                own_run.map(|d| aid(d.unit)),
                &ls,
                roots.contains(&i),
            )
        };
        let _ = target;
        link_search.push(ls);
        actions.push(action);
    }
    // Integration tests and benches need their package's binaries at run time.
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
    ActionGraph {
        version: 1,
        profile: cx.request.profile.clone(),
        profile_dir: cx.layout.profile_dir.clone(),
        target_dir: cx.layout.target_dir.clone(),
        workspace_root: model.root.clone(),
        actions,
        roots: ug.roots.iter().map(|r| aid(*r)).collect(),
    }
}

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

#[allow(clippy::too_many_arguments)]
fn compile_action(
    cx: &PlanContext<'_>,
    ug: &UnitGraph,
    i: usize,
    u: &Unit,
    done: &[Action],
    inputs: Vec<InputFile>,
    own_run: Option<ActionId>,
    link_search: &BTreeSet<ActionId>,
    is_root: bool,
) -> Action {
    let model = cx.model;
    let pkg = &model.packages[u.pkg];
    let target = &pkg.targets[u.target];
    let is_script = target.kind == TargetKind::CustomBuild;
    let mut a = base_action(
        cx,
        u,
        i,
        if is_script {
            ActionKind::BuildScriptCompile
        } else {
            ActionKind::Compile
        },
    );
    let out_dir = if is_script {
        cx.layout
            .build(CompileKind::Host, &pkg.name, &u.short_hash())
    } else if target.kind == TargetKind::Example && u.mode == Mode::Build {
        cx.layout.examples(u.kind)
    } else {
        cx.layout.deps(u.kind)
    };
    // Members under the workspace root compile with a relative path from
    // the root, like Cargo, so diagnostics and embedded paths are relative.
    let (src, cwd) = match target.src_path.strip_prefix(&model.root) {
        Ok(rel) if pkg.is_local() => (rel.display().to_string(), model.root.clone()),
        _ => (
            target.src_path.display().to_string(),
            pkg.root().to_path_buf(),
        ),
    };
    let rlib_only = is_rlib_only(u, target);
    let mut externs = Vec::new();
    for d in &u.deps {
        let dep = &done[d.unit.index()];
        let du = &ug.units[d.unit.index()];
        let dt = &model.packages[du.pkg].targets[du.target];
        let metadata_only = rlib_only && is_rlib_only(du, dt);
        let needs = if metadata_only {
            Needs::Metadata
        } else {
            Needs::Full
        };
        a.deps.push(ActionDep {
            action: dep.id,
            extern_name: d.extern_name.clone(),
            needs,
        });
        if let Some(name) = &d.extern_name {
            let path = if metadata_only {
                dep.rmeta.clone()
            } else {
                linkable_of(dep)
            };
            if let Some(p) = path {
                externs.push((name.clone(), p));
            }
        }
    }
    let mut dep_dirs = vec![cx.layout.deps(u.kind)];
    if u.kind == CompileKind::Target {
        dep_dirs.push(cx.layout.deps(CompileKind::Host));
    }
    a.argv = rustc_args::rustc_argv(cx, u, pkg, target, &out_dir, &src, &externs, &dep_dirs);
    a.program = cx.toolchain.rustc.clone();
    a.cwd = cwd;
    a.crate_types = if u.mode == Mode::Test {
        Vec::new()
    } else if is_script {
        vec!["bin".into()]
    } else {
        target.crate_types.clone()
    };

    let mut env = package_env(cx, pkg);
    env.insert("CARGO_CRATE_NAME".into(), target.crate_name());
    if matches!(target.kind, TargetKind::Bin)
        || (target.kind == TargetKind::Example && target.crate_types.iter().any(|c| c == "bin"))
    {
        env.insert("CARGO_BIN_NAME".into(), target.name.clone());
    }
    if u.is_primary {
        env.insert("CARGO_PRIMARY_PACKAGE".into(), "1".into());
    }
    if let Some(r) = own_run {
        if let Some(od) = &done[r.index()].out_dir {
            env.insert("OUT_DIR".into(), od.display().to_string());
        }
    }
    if u.mode == Mode::Test && matches!(target.kind, TargetKind::Test | TargetKind::Bench) {
        for bt in pkg.targets.iter().filter(|t| t.kind == TargetKind::Bin) {
            let p = cx
                .layout
                .uplift(u.kind)
                .join(format!("{}{}", bt.name, cx.exe_suffix(u.kind)));
            env.insert(
                format!("CARGO_BIN_EXE_{}", bt.name),
                p.display().to_string(),
            );
        }
        env.insert(
            "CARGO_TARGET_TMPDIR".into(),
            cx.layout.tmp().display().to_string(),
        );
    }
    a.env = env;
    a.inputs = inputs;
    let outs = rustc_args::outputs(cx, u, target, &out_dir);
    a.output_root = cx
        .layout
        .internal(if is_script { CompileKind::Host } else { u.kind });
    a.outputs = outs.files.clone();
    a.rmeta = outs.rmeta.clone();
    a.dep_info = Some(outs.dep_info.clone());
    a.executable = outs.executable.clone();
    a.script_inputs = ScriptInputs {
        own: own_run,
        link_search: {
            // Cargo's `-L` order follows package order.
            let mut v: Vec<ActionId> = link_search.iter().copied().collect();
            v.sort_by_key(|id| {
                let r = &done[id.index()];
                (
                    r.package_name.clone(),
                    r.package_version.clone(),
                    r.package_id.0.clone(),
                )
            });
            v
        },
        links_metadata: Vec::new(),
        link_libs: target.kind == TargetKind::Lib || pkg.lib().is_none(),
    };
    // Like Cargo, a build script is also linked as `build-script-<stem>`
    // beside its hashed binary, and that is the name messages report.
    if is_script {
        if let Some(exe) = &outs.executable {
            a.uplift.push(Uplift {
                from: exe.clone(),
                to: out_dir.join(format!("{}{}", target.name, cx.exe_suffix(u.kind))),
            });
        }
    }
    // Uplift to Cargo's paths.
    if u.mode == Mode::Build && !is_script {
        let dir = cx.layout.uplift(u.kind);
        let h = format!("-{}", u.short_hash());
        match target.kind {
            TargetKind::Bin => {
                if let Some(exe) = &outs.executable {
                    a.uplift.push(Uplift {
                        from: exe.clone(),
                        to: dir.join(format!("{}{}", target.name, cx.exe_suffix(u.kind))),
                    });
                }
            }
            TargetKind::Example => {
                for f in outs.files.iter().filter(|f| !is_aux(f)) {
                    let name = file_name(f).replace(&h, "");
                    let name = if outs.executable.as_ref() == Some(f) {
                        format!("{}{}", target.name, cx.exe_suffix(u.kind))
                    } else {
                        name
                    };
                    a.uplift.push(Uplift {
                        from: f.clone(),
                        to: dir.join("examples").join(name),
                    });
                }
            }
            TargetKind::Lib
                if is_root
                    || target
                        .crate_types
                        .iter()
                        .any(|c| c == "dylib" || c == "cdylib") =>
            {
                for f in outs.files.iter().filter(|f| !is_aux(f)) {
                    if !is_root && !file_name(f).ends_with(cx.dll_suffix(u.kind)) {
                        continue;
                    }
                    a.uplift.push(Uplift {
                        from: f.clone(),
                        to: dir.join(file_name(f).replace(&h, "")),
                    });
                }
            }
            _ => {}
        }
    }
    a
}

fn is_aux(f: &Path) -> bool {
    matches!(
        f.extension().and_then(|e| e.to_str()),
        Some("d") | Some("rmeta")
    )
}

fn file_name(f: &Path) -> String {
    f.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The file a dependent links against.
fn linkable_of(dep: &Action) -> Option<PathBuf> {
    let want = |ext: &str| {
        dep.outputs
            .iter()
            .find(|f| f.extension().and_then(|e| e.to_str()) == Some(ext))
            .cloned()
    };
    if dep
        .crate_types
        .iter()
        .any(|c| c == "proc-macro" || c == "dylib")
    {
        return dep
            .outputs
            .iter()
            .find(|f| !is_aux(f) && f.extension().and_then(|e| e.to_str()) != Some("rlib"))
            .cloned();
    }
    want("rlib")
}

fn run_action(
    cx: &PlanContext<'_>,
    ug: &UnitGraph,
    i: usize,
    u: &Unit,
    done: &[Action],
    inputs: Vec<InputFile>,
) -> Action {
    let model = cx.model;
    let pkg = &model.packages[u.pkg];
    let mut a = base_action(cx, u, i, ActionKind::BuildScriptRun);
    let dir = cx.layout.build(u.kind, &pkg.name, &u.short_hash());
    let out_dir = dir.join("out");
    for d in &u.deps {
        let dep = &done[d.unit.index()];
        a.deps.push(ActionDep {
            action: dep.id,
            extern_name: None,
            needs: Needs::Full,
        });
        let du = &ug.units[d.unit.index()];
        if du.mode == Mode::RunCustomBuild {
            if let Some(l) = &model.packages[du.pkg].links {
                a.script_inputs.links_metadata.push((dep.id, l.clone()));
            }
        } else if let Some(exe) = &dep.executable {
            a.program = exe.clone();
        }
    }
    let mut env = package_env(cx, pkg);
    if let Some(l) = &pkg.links {
        env.insert("CARGO_MANIFEST_LINKS".into(), l.clone());
    }
    env.insert("TARGET".into(), cx.triple(u.kind).to_string());
    env.insert("HOST".into(), cx.toolchain.host.clone());
    env.insert("NUM_JOBS".into(), cx.request.jobs.to_string());
    env.insert("OPT_LEVEL".into(), u.profile.opt_level.clone());
    env.insert("DEBUG".into(), u.profile.debuginfo.env_value().into());
    env.insert("PROFILE".into(), u.profile.root.clone());
    env.insert("RUSTC".into(), cx.toolchain.rustc.display().to_string());
    env.insert(
        "RUSTDOC".into(),
        cx.toolchain
            .rustc
            .with_file_name("rustdoc")
            .display()
            .to_string(),
    );
    if let Some(l) = cx.linker(u.kind) {
        env.insert("RUSTC_LINKER".into(), l.display().to_string());
    }
    env.insert(
        "CARGO_ENCODED_RUSTFLAGS".into(),
        cx.rustflags_for(u.kind).join("\x1f"),
    );
    for f in &u.features {
        env.insert(
            format!("CARGO_FEATURE_{}", f.to_uppercase().replace('-', "_")),
            "1".into(),
        );
    }
    env.extend(cfg_env(cx, u));
    env.insert("OUT_DIR".into(), out_dir.display().to_string());
    // C/C++ compiled by build scripts (the `cc` crate reads CFLAGS) gets the
    // same prefix maps as rustc, so native objects embed no checkout paths.
    let maps = prefix_maps(cx);
    for var in ["CFLAGS", "CXXFLAGS"] {
        let existing = cx.request.env.get(var).cloned().unwrap_or_default();
        if !existing.contains("-ffile-prefix-map") {
            env.insert(var.into(), format!("{existing} {maps}").trim().to_string());
        }
    }
    let mut remove = vec![
        "RUSTFLAGS".to_string(),
        "RUSTC_WORKSPACE_WRAPPER".to_string(),
    ];
    match &cx.toolchain.wrapper {
        Some(w) => {
            env.insert("RUSTC_WRAPPER".into(), w.display().to_string());
        }
        None => remove.push("RUSTC_WRAPPER".into()),
    }
    a.env = env;
    a.env_remove = remove;
    a.cwd = pkg.root().to_path_buf();
    a.inputs = inputs;
    a.output_root = cx.layout.internal(u.kind);
    a.outputs = vec![dir.join("output"), dir.join("stderr")];
    a.out_dir = Some(out_dir);
    a
}

/// `-ffile-prefix-map` flags mirroring rustc's `--remap-path-prefix`.
fn prefix_maps(cx: &PlanContext<'_>) -> String {
    let mut m = vec![
        format!("-ffile-prefix-map={}=.", cx.model.root.display()),
        format!(
            "-ffile-prefix-map={}=/hbuild/target",
            cx.layout.target_dir.display()
        ),
    ];
    if let Some(home) = &cx.request.cargo_home {
        m.push(format!("-ffile-prefix-map={}=/cargo", home.display()));
    }
    m.join(" ")
}
