//! Test runs (`cargo hbuild test`): one action per test binary, started
//! from its path in Cargo's `deps/` directory, and one per library's
//! doctests (`rustdoc --test`). They run one at a time in Cargo's order,
//! chained by an ordering edge that is not an input of their keys.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use super::{base_action, compile, Step};
use crate::core::ActionId;
use crate::plan::action::{
    Action, ActionDep, ActionKind, InputFile, Needs, ScriptInputs, TestRunInfo,
};
use crate::plan::rustc_args::feature_cfg_flags;
use crate::plan::unit::{CompileKind, Mode};
use crate::plan::units::UnitGraph;
use crate::plan::PlanContext;
use crate::workspace::model::{Package, TargetKind};

/// The action running a library's doctests: `rustdoc --test` with the
/// library and its (dev-)dependencies as externs, as Cargo runs it.
pub(super) fn doctest_action(
    s: &Step<'_, '_>,
    inputs: Vec<InputFile>,
    own_run: Option<ActionId>,
    link_search: &BTreeSet<ActionId>,
) -> Action {
    let (cx, u) = (s.cx, s.u);
    let pkg = &cx.model.packages[u.pkg];
    let target = &pkg.targets[u.target];
    let mut a = base_action(cx, u, s.i, ActionKind::TestRun);
    let externs = compile::dep_edges(s, target, &mut a);
    let (src, cwd) = super::source_and_cwd(cx, pkg, target);
    let mut argv = vec![format!("--edition={}", target.edition)];
    for ct in &target.crate_types {
        argv.extend(["--crate-type".into(), ct.as_str().to_string()]);
    }
    argv.extend([
        "--crate-name".into(),
        target.crate_name(),
        "--test".into(),
        src,
        "--test-run-directory".into(),
        pkg.root().display().to_string(),
    ]);
    if u.kind == CompileKind::Target {
        if let Some(t) = &cx.request.target {
            argv.extend(["--target".into(), t.clone()]);
        }
    }
    let mut dep_dirs = vec![cx.layout.deps(u.kind)];
    if u.kind == CompileKind::Target {
        dep_dirs.push(cx.layout.deps(CompileKind::Host));
    }
    for d in dep_dirs {
        argv.extend(["-L".into(), format!("dependency={}", d.display())]);
    }
    // Cargo's order: harness arguments, lints, externs, cfgs, flags.
    for arg in harness_args(cx) {
        argv.extend(["--test-args".into(), arg.clone()]);
    }
    argv.extend(pkg.lint_flags.iter().cloned());
    for (name, path) in &externs {
        argv.extend(["--extern".into(), format!("{name}={}", path.display())]);
    }
    if target.is_proc_macro() {
        argv.extend(["--extern".into(), "proc_macro".into()]);
    }
    argv.extend(["-C".into(), "embed-bitcode=no".into()]);
    argv.extend(feature_cfg_flags(u, pkg));
    argv.extend(super::doc::rustdocflags(cx));
    a.program = super::rustdoc(cx);
    a.argv = argv;
    a.cwd = cwd;
    a.env = run_env(s.done, pkg, cx, own_run, None);
    a.inputs = inputs;
    a.script_inputs = ScriptInputs {
        own: own_run,
        link_search: link_search.iter().copied().collect(),
        links_metadata: Vec::new(),
        link_libs: false,
    };
    place_outputs(
        cx,
        &mut a,
        &format!("{}-{}-doc", target.name, u.short_hash()),
    );
    a.test = Some(TestRunInfo {
        label: target.name.clone(),
        rerun: format!("{}--doc", spec_flag(cx, pkg)),
        doc: true,
        harness: true,
        after: None,
        input_globs: input_globs(pkg),
    });
    a
}

/// Appends a run for every test binary of a `test` request and chains
/// all runs (doctests included) in Cargo's order: test binaries sorted by
/// package, target kind and name, then doctests by package.
/// With `--no-run`, nothing runs: returns the test binaries in that order
/// with their labels instead.
pub(super) fn add_test_runs(
    cx: &PlanContext<'_>,
    ug: &UnitGraph,
    actions: &mut Vec<Action>,
) -> Vec<(ActionId, String)> {
    let Some(t) = &cx.request.test else {
        return Vec::new();
    };
    let mut binaries: Vec<usize> = ug
        .roots
        .iter()
        .map(|r| r.index())
        .filter(|&i| ug.units[i].mode == Mode::Test)
        .collect();
    binaries.sort_by_key(|&i| cargo_order(cx, &ug.units[i]));
    if t.no_run {
        return binaries
            .into_iter()
            .map(|i| {
                let u = &ug.units[i];
                let pkg = &cx.model.packages[u.pkg];
                (ActionId(i as u32), label(pkg, &pkg.targets[u.target]))
            })
            .collect();
    }
    let mut doctests: Vec<usize> = (0..ug.units.len())
        .filter(|&i| ug.units[i].mode == Mode::Doctest)
        .collect();
    doctests.sort_by_key(|&i| cargo_order(cx, &ug.units[i]));
    for i in binaries {
        let run = binary_run(cx, ug, actions, i);
        actions.push(run);
    }
    let runs: Vec<usize> = (0..actions.len())
        .filter(|&i| actions[i].kind == ActionKind::TestRun && actions[i].mode == Mode::Test)
        .chain(doctests)
        .collect();
    for w in runs.windows(2) {
        if let Some(info) = actions[w[1]].test.as_mut() {
            info.after = Some(ActionId(w[0] as u32));
        }
    }
    Vec::new()
}

/// What Cargo's `Running` line calls a test binary: `tests/cli.rs` for an
/// integration test, `unittests src/lib.rs` for the others.
fn label(pkg: &Package, target: &crate::workspace::model::Target) -> String {
    let rel = target
        .src_path
        .strip_prefix(pkg.root())
        .unwrap_or(&target.src_path)
        .display()
        .to_string();
    if target.kind == TargetKind::Test {
        rel
    } else {
        format!("unittests {rel}")
    }
}

/// Cargo's order of test binaries: package (name, version, id), then
/// target kind (lib, bins, tests, benches, examples), then name.
fn cargo_order(
    cx: &PlanContext<'_>,
    u: &crate::plan::unit::Unit,
) -> (String, String, String, u8, String) {
    let pkg = &cx.model.packages[u.pkg];
    let t = &pkg.targets[u.target];
    let kind = match t.kind {
        TargetKind::Lib => 0,
        TargetKind::Bin => 1,
        TargetKind::Test => 2,
        TargetKind::Bench => 3,
        TargetKind::Example => 4,
        TargetKind::CustomBuild => 5,
    };
    (
        pkg.name.clone(),
        pkg.version.clone(),
        pkg.id.0.clone(),
        kind,
        t.name.clone(),
    )
}

/// The program of a `run` request: its one root binary or example.
pub(super) fn run_target(
    cx: &PlanContext<'_>,
    ug: &UnitGraph,
    actions: &[Action],
) -> Option<super::RunTarget> {
    if !cx.request.run {
        return None;
    }
    let a = ug.roots.iter().map(|r| &actions[r.index()]).find(|a| {
        a.mode == Mode::Build && matches!(a.target_kind, TargetKind::Bin | TargetKind::Example)
    })?;
    let exe = a.executable.clone()?;
    let program = a
        .uplift
        .iter()
        .find(|up| up.from == exe)
        .map_or(exe, |up| up.to.clone());
    let pkg = &cx.model.packages[ug.units[a.id.index()].pkg];
    Some(super::RunTarget {
        action: a.id,
        program,
        env: run_env(actions, pkg, cx, a.script_inputs.own, None),
    })
}

/// The run of the test binary compiled by unit `i`.
fn binary_run(cx: &PlanContext<'_>, ug: &UnitGraph, actions: &[Action], i: usize) -> Action {
    let u = &ug.units[i];
    let c = &actions[i];
    let pkg = &cx.model.packages[u.pkg];
    let target = &pkg.targets[u.target];
    let id = ActionId(actions.len() as u32);
    let mut a = base_action(cx, u, id.index(), ActionKind::TestRun);
    let exe = c.executable.clone().unwrap_or_default();
    a.program = c
        .uplift
        .iter()
        .find(|up| up.from == exe)
        .map_or(exe.clone(), |up| up.to.clone());
    a.argv = harness_args(cx).to_vec();
    a.deps.push(full(c.id));
    let own = c.script_inputs.own;
    a.deps.extend(own.map(full));
    // Every binary of the build sits beside the test's directory and may
    // be started through it (`deps/../tool`): all are keyed; the
    // package's own are also `CARGO_BIN_EXE_*`.
    let all_bins = actions.iter().filter(|b| {
        b.kind == ActionKind::Compile && b.mode == Mode::Build && b.target_kind == TargetKind::Bin
    });
    a.deps.extend(all_bins.clone().map(|b| full(b.id)));
    let bins: Vec<&Action> = all_bins.filter(|b| b.package_id == c.package_id).collect();
    let bin_exes = matches!(target.kind, TargetKind::Test | TargetKind::Bench).then_some(&bins[..]);
    a.env = run_env(actions, pkg, cx, own, bin_exes);
    a.cwd = pkg.root().to_path_buf();
    a.inputs = c.inputs.clone();
    a.script_inputs = ScriptInputs {
        own,
        link_search: c.script_inputs.link_search.clone(),
        links_metadata: Vec::new(),
        link_libs: false,
    };
    place_outputs(cx, &mut a, &format!("{}-{}", target.name, u.short_hash()));
    a.test = Some(TestRunInfo {
        label: label(pkg, target),
        rerun: format!("{}{}", spec_flag(cx, pkg), target_flag(target)),
        doc: false,
        harness: target.harness,
        after: None,
        input_globs: input_globs(pkg),
    });
    a
}

fn full(action: ActionId) -> ActionDep {
    ActionDep {
        action,
        extern_name: None,
        needs: Needs::Full,
    }
}

/// The arguments every harness gets.
fn harness_args<'a>(cx: &'a PlanContext<'_>) -> &'a [String] {
    cx.request
        .test
        .as_ref()
        .map_or(&[], |t| t.harness_args.as_slice())
}

/// The process environment of a test run, as Cargo's `target_process`:
/// the package's variables, its build script's `OUT_DIR`, the package's
/// binaries for integration tests, and a library path with the build's
/// dynamic libraries and the toolchain's.
fn run_env(
    done: &[Action],
    pkg: &Package,
    cx: &PlanContext<'_>,
    own_run: Option<ActionId>,
    bins: Option<&[&Action]>,
) -> BTreeMap<String, String> {
    let mut env = super::package_env_with_out_dir(cx, pkg, done, own_run);
    for b in bins.unwrap_or_default() {
        let exe = b.uplift.first().map(|up| up.to.clone());
        if let Some(exe) = exe {
            env.insert(
                format!("CARGO_BIN_EXE_{}", b.target_name),
                exe.display().to_string(),
            );
        }
    }
    let kind = CompileKind::Host;
    let sysroot_lib = cx
        .toolchain
        .sysroot
        .join("lib/rustlib")
        .join(cx.triple(kind))
        .join("lib");
    let mut dirs: Vec<PathBuf> = vec![
        cx.layout.uplift(kind).join("deps"),
        cx.layout.uplift(kind),
        cx.layout.deps(kind),
        sysroot_lib,
        cx.toolchain.sysroot.join("lib"),
    ];
    dirs.dedup();
    let joined = std::env::join_paths(&dirs)
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    let var = cx.dylib_path_var();
    let inherited = cx.request.env.get(var).filter(|v| !v.is_empty());
    let value = match inherited {
        Some(v) => format!("{joined}:{v}"),
        None => joined,
    };
    env.insert(var.to_string(), value);
    env
}

/// Where a run's captured output goes.
fn place_outputs(cx: &PlanContext<'_>, a: &mut Action, dir_name: &str) {
    let dir = cx
        .layout
        .internal(a.compile_kind)
        .join("test-runs")
        .join(dir_name);
    a.output_root = cx.layout.internal(a.compile_kind);
    a.outputs = vec![dir.join("stdout"), dir.join("stderr")];
}

/// The package's declared runtime inputs as absolute glob patterns.
fn input_globs(pkg: &Package) -> Vec<String> {
    pkg.test_inputs
        .iter()
        .map(|g| pkg.root().join(g).display().to_string())
        .collect()
}

/// `-p <pkg> ` when Cargo's rerun hint names the package: more than one
/// package could be meant.
fn spec_flag(cx: &PlanContext<'_>, pkg: &Package) -> String {
    let r = cx.request;
    let needs = if !r.packages.is_empty() || !r.exclude.is_empty() {
        true
    } else if r.workspace {
        cx.model.members.len() > 1
    } else {
        cx.selected.len() > 1
    };
    if needs {
        format!("-p {} ", pkg.name)
    } else {
        String::new()
    }
}

/// `--lib`, `--bin x`, `--test x`, `--bench x`, `--example x`.
fn target_flag(t: &crate::workspace::model::Target) -> String {
    match t.kind {
        TargetKind::Lib => "--lib".into(),
        TargetKind::Bin => format!("--bin {}", t.name),
        TargetKind::Test => format!("--test {}", t.name),
        TargetKind::Bench => format!("--bench {}", t.name),
        TargetKind::Example | TargetKind::CustomBuild => format!("--example {}", t.name),
    }
}
