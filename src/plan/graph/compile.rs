//! Compile actions (targets and build scripts): externs with their
//! pipelining needs, argv, environment, outputs and Cargo's uplifts.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::{base_action, Step};
use crate::core::ActionId;
use crate::plan::action::{
    Action, ActionDep, ActionKind, FlagOrigins, InputFile, Needs, ScriptInputs, Uplift,
};
use crate::plan::rustc_args::{self, is_rlib_only, Outputs};
use crate::plan::unit::{CompileKind, Mode};
use crate::workspace::model::CrateType;
use crate::workspace::model::{Target, TargetKind};

/// The action compiling a unit.
pub(super) fn compile_action(
    s: &Step<'_, '_>,
    inputs: Vec<InputFile>,
    own_run: Option<ActionId>,
    link_search: &BTreeSet<ActionId>,
    is_root: bool,
) -> Action {
    let (cx, u) = (s.cx, s.u);
    let model = cx.model;
    let pkg = &model.packages[u.pkg];
    let target = &pkg.targets[u.target];
    let is_script = target.kind == TargetKind::CustomBuild;
    let kind = if is_script {
        ActionKind::BuildScriptCompile
    } else {
        ActionKind::Compile
    };
    let mut a = base_action(cx, u, s.i, kind);
    let out_dir = if is_script {
        cx.layout
            .build(CompileKind::Host, &pkg.name, &u.short_hash())
    } else if target.kind == TargetKind::Example
        && matches!(u.mode, Mode::Build | Mode::Check { .. })
    {
        cx.layout.examples(u.kind)
    } else {
        cx.layout.deps(u.kind)
    };
    let (src, cwd) = super::source_and_cwd(cx, pkg, target);
    let externs = dep_edges(s, target, &mut a);
    let mut dep_dirs = vec![cx.layout.deps(u.kind)];
    if u.kind == CompileKind::Target {
        dep_dirs.push(cx.layout.deps(CompileKind::Host));
    }
    a.argv = rustc_args::rustc_argv(cx, u, pkg, target, &out_dir, &src, &externs, &dep_dirs);
    a.flag_origins = FlagOrigins {
        rustflags: cx.rustflags_for(u.kind).to_vec(),
        lints: pkg.lint_flags.clone(),
    };
    a.program = cx.toolchain.rustc.clone();
    a.cwd = cwd;
    a.crate_types = if u.mode.is_rustc_test() {
        Vec::new()
    } else if is_script {
        vec![CrateType::Bin]
    } else {
        target.crate_types.clone()
    };
    a.env = compile_env(s, target, own_run);
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
        link_search: link_search_order(s, link_search),
        links_metadata: Vec::new(),
        link_libs: target.kind == TargetKind::Lib || pkg.lib().is_none(),
    };
    a.uplift = uplifts(s, target, &outs, &out_dir, is_root);
    lint_with_clippy(s, &mut a);
    a
}

/// The separator `cargo clippy` puts after each argument in `CLIPPY_ARGS`.
const CLIPPY_ARGS_SEPARATOR: &str = "__CLIPPY_HACKERY__";

/// Under `cargo hbuild clippy`, a workspace member's rustc (its checks,
/// build script and proc-macros alike, as Cargo's `RUSTC_WORKSPACE_WRAPPER`
/// applies to all of them) runs through `clippy-driver`, which reads the
/// arguments after `--` from `CLIPPY_ARGS` and the `Cargo.toml` of its
/// working directory. With `--no-deps`, only the selected packages.
fn lint_with_clippy(s: &Step<'_, '_>, a: &mut Action) {
    let (cx, u) = (s.cx, s.u);
    let (Some(driver), Some(clippy)) = (
        cx.clippy_driver,
        cx.request.check.as_ref().and_then(|c| c.clippy.as_ref()),
    ) else {
        return;
    };
    let pkg = &cx.model.packages[u.pkg];
    if !pkg.is_member || (clippy.no_deps && !u.is_primary) {
        return;
    }
    a.lint = Some(driver.clone());
    a.env
        .insert("CLIPPY_ARGS".into(), clippy_args_var(&clippy.args));
    let manifest = a.cwd.join("Cargo.toml");
    if !a.inputs.iter().any(|i| i.path == manifest) {
        a.inputs.push(InputFile { path: manifest });
    }
}

/// `CLIPPY_ARGS` as `cargo clippy` sets it: every argument followed by
/// the separator.
fn clippy_args_var(args: &[String]) -> String {
    args.iter()
        .map(|x| format!("{x}{CLIPPY_ARGS_SEPARATOR}"))
        .collect()
}

/// Records the action's dependency edges and returns its `--extern`s: a
/// dependent that only needs metadata (pipelining) gets the `.rmeta`.
pub(super) fn dep_edges(
    s: &Step<'_, '_>,
    target: &Target,
    a: &mut Action,
) -> Vec<(String, PathBuf)> {
    // A checked unit, like a pipelined library, reads only the metadata of
    // the libraries it uses; a checked library has nothing else.
    let reads_metadata = is_rlib_only(s.u, target) || s.u.mode.is_check();
    let mut externs = Vec::new();
    for d in &s.u.deps {
        let (du, dep) = s.dep(d);
        let dt = &s.cx.model.packages[du.pkg].targets[du.target];
        let metadata_only = reads_metadata && (is_rlib_only(du, dt) || du.mode.is_check());
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
    externs
}

/// The environment of a compilation, as Cargo sets it.
fn compile_env(
    s: &Step<'_, '_>,
    target: &Target,
    own_run: Option<ActionId>,
) -> BTreeMap<String, String> {
    let (cx, u) = (s.cx, s.u);
    let pkg = &cx.model.packages[u.pkg];
    let mut env = super::package_env_with_out_dir(cx, pkg, s.done, own_run);
    env.insert("CARGO_CRATE_NAME".into(), target.crate_name());
    if matches!(target.kind, TargetKind::Bin)
        || (target.kind == TargetKind::Example && target.crate_types.contains(&CrateType::Bin))
    {
        env.insert("CARGO_BIN_NAME".into(), target.name.clone());
    }
    if u.is_primary {
        env.insert("CARGO_PRIMARY_PACKAGE".into(), "1".into());
    }
    // Checked tests get the variables too, so that `env!` compiles (Cargo
    // points them where the binaries would be uplifted).
    if u.mode.is_rustc_test() && matches!(target.kind, TargetKind::Test | TargetKind::Bench) {
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
    env
}

/// Cargo's `-L` order follows package order.
fn link_search_order(s: &Step<'_, '_>, link_search: &BTreeSet<ActionId>) -> Vec<ActionId> {
    let mut v: Vec<ActionId> = link_search.iter().copied().collect();
    v.sort_by_key(|id| {
        let r = &s.done[id.index()];
        (
            r.package_name.clone(),
            r.package_version.clone(),
            r.package_id.0.clone(),
        )
    });
    v
}

/// Copies (hard links) of outputs at Cargo's unhashed paths.
fn uplifts(
    s: &Step<'_, '_>,
    target: &Target,
    outs: &Outputs,
    out_dir: &Path,
    is_root: bool,
) -> Vec<Uplift> {
    let (cx, u) = (s.cx, s.u);
    let exe_name = format!("{}{}", target.name, cx.exe_suffix(u.kind));
    let mut out = Vec::new();
    // Like Cargo, a build script is also linked as `build-script-<stem>`
    // beside its hashed binary, and that is the name messages report.
    if target.kind == TargetKind::CustomBuild {
        if let Some(exe) = &outs.executable {
            out.push(Uplift {
                from: exe.clone(),
                to: out_dir.join(&exe_name),
            });
        }
        return out;
    }
    let dir = cx.layout.uplift(u.kind);
    // Test binaries are linked into Cargo's `deps/`, beside the uplifted
    // binaries' directory, where tests that start them (`deps/../app`,
    // assert_cmd's `cargo_bin`) look.
    if u.mode == Mode::Test {
        if let Some(exe) = &outs.executable {
            out.push(Uplift {
                from: exe.clone(),
                to: dir.join("deps").join(file_name(exe)),
            });
        }
        return out;
    }
    if u.mode != Mode::Build {
        return out;
    }
    let h = format!("-{}", u.short_hash());
    let unhashed = |f: &Path| file_name(f).replace(&h, "");
    match target.kind {
        TargetKind::Bin => {
            if let Some(exe) = &outs.executable {
                out.push(Uplift {
                    from: exe.clone(),
                    to: dir.join(&exe_name),
                });
            }
        }
        TargetKind::Example => {
            for f in outs.files.iter().filter(|f| !is_aux(f)) {
                let name = if outs.executable.as_ref() == Some(f) {
                    exe_name.clone()
                } else {
                    unhashed(f)
                };
                out.push(Uplift {
                    from: f.clone(),
                    to: dir.join("examples").join(name),
                });
            }
        }
        TargetKind::Lib => {
            let dylib = target
                .crate_types
                .iter()
                .any(|c| matches!(c, CrateType::Dylib | CrateType::Cdylib));
            for f in outs.files.iter().filter(|f| !is_aux(f)) {
                // Only roots uplift everything; dependencies uplift their
                // dynamic libraries.
                if is_root || (dylib && file_name(f).ends_with(cx.dll_suffix(u.kind))) {
                    out.push(Uplift {
                        from: f.clone(),
                        to: dir.join(unhashed(f)),
                    });
                }
            }
        }
        _ => {}
    }
    out
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
        .any(|c| matches!(c, CrateType::ProcMacro | CrateType::Dylib))
    {
        return dep
            .outputs
            .iter()
            .find(|f| !is_aux(f) && f.extension().and_then(|e| e.to_str()) != Some("rlib"))
            .cloned();
    }
    want("rlib")
}

#[cfg(test)]
mod tests {
    use super::clippy_args_var;

    #[test]
    fn clippy_args_are_passed_as_cargo_clippy_passes_them() {
        let args = ["-W", "clippy::pedantic", "-D", "warnings"].map(String::from);
        assert_eq!(
            clippy_args_var(&args),
            "-W__CLIPPY_HACKERY__clippy::pedantic__CLIPPY_HACKERY__-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__"
        );
        assert_eq!(clippy_args_var(&[]), "");
    }
}
