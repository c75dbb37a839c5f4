//! Build-script run actions: the compiled script as program, `links`
//! metadata from dependencies' runs, and Cargo's script environment.

use std::collections::BTreeMap;
use std::path::Path;

use super::{base_action, Step};
use crate::plan::action::{Action, ActionDep, ActionKind, InputFile, Needs};
use crate::plan::rustc_args::{cfg_env, package_env};
use crate::plan::unit::{Mode, Unit};
use crate::plan::PlanContext;

/// The action running a unit's build script.
pub(super) fn run_action(s: &Step<'_, '_>, inputs: Vec<InputFile>) -> Action {
    let (cx, u) = (s.cx, s.u);
    let model = cx.model;
    let pkg = &model.packages[u.pkg];
    let mut a = base_action(cx, u, s.i, ActionKind::BuildScriptRun);
    let dir = cx.layout.build(u.kind, &pkg.name, &u.short_hash());
    let out_dir = dir.join("out");
    for d in &u.deps {
        let (du, dep) = s.dep(d);
        a.deps.push(ActionDep {
            action: dep.id,
            extern_name: None,
            needs: Needs::Full,
        });
        if du.mode == Mode::RunCustomBuild {
            if let Some(l) = &model.packages[du.pkg].links {
                a.script_inputs.links_metadata.push((dep.id, l.clone()));
            }
        } else if let Some(exe) = &dep.executable {
            a.program = exe.clone();
        }
    }
    let (env, remove) = run_env(cx, u, &out_dir);
    a.env = env;
    a.env_remove = remove;
    a.cwd = pkg.root().to_path_buf();
    a.inputs = inputs;
    a.output_root = cx.layout.internal(u.kind);
    a.outputs = vec![dir.join("output"), dir.join("stderr")];
    a.out_dir = Some(out_dir);
    a
}

/// The environment of a build-script run, as Cargo sets it, and the
/// variables removed from it.
fn run_env(
    cx: &PlanContext<'_>,
    u: &Unit,
    out_dir: &Path,
) -> (BTreeMap<String, String>, Vec<String>) {
    let pkg = &cx.model.packages[u.pkg];
    let mut env = package_env(cx, pkg);
    if let Some(l) = &pkg.links {
        env.insert("CARGO_MANIFEST_LINKS".into(), l.clone());
    }
    env.insert("TARGET".into(), cx.triple(u.kind).to_string());
    env.insert("HOST".into(), cx.toolchain.host.clone());
    env.insert("NUM_JOBS".into(), cx.request.jobs.to_string());
    env.insert("OPT_LEVEL".into(), u.profile.opt_level.to_string());
    env.insert("DEBUG".into(), u.profile.debuginfo.env_value().into());
    env.insert("PROFILE".into(), u.profile.root.clone());
    env.insert("RUSTC".into(), cx.toolchain.rustc.display().to_string());
    env.insert("RUSTDOC".into(), super::rustdoc(cx).display().to_string());
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
    (env, remove)
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
