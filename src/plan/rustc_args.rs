//! The rustc command line of a unit, in Cargo's order (see Cargo's
//! `build_base_args`), and the environment Cargo sets for rustc and for
//! build-script runs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::unit::{CompileKind, LtoMode, Mode, Unit};
use super::PlanContext;
use crate::workspace::model::{CrateType, Package, Target, TargetKind};
use crate::workspace::profiles::{OptLevel, PanicStrategy, Profile};

/// Whether a unit produces only `lib`/`rlib` (and so can be pipelined).
/// A checked unit produces no library: see [`Mode::is_check`].
pub fn is_rlib_only(unit: &Unit, target: &Target) -> bool {
    unit.mode == Mode::Build
        && target.kind != TargetKind::CustomBuild
        && target
            .crate_types
            .iter()
            .all(|c| matches!(c, CrateType::Lib | CrateType::Rlib))
}

/// Output file names for a unit in its output directory.
pub struct Outputs {
    /// Files written by rustc.
    pub files: Vec<PathBuf>,
    /// The `.rmeta`, for pipelining.
    pub rmeta: Option<PathBuf>,
    /// dep-info.
    pub dep_info: PathBuf,
    /// The executable, for bins/tests/examples/build scripts.
    pub executable: Option<PathBuf>,
}

/// Computes the outputs of a compile unit in `out_dir`.
pub fn outputs(cx: &PlanContext<'_>, unit: &Unit, target: &Target, out_dir: &Path) -> Outputs {
    let crate_name = target.crate_name();
    let h = unit.short_hash();
    let dll = cx.dll_suffix(unit.kind);
    let mut files = Vec::new();
    let mut rmeta = None;
    let mut executable = None;
    if unit.mode.is_check() {
        // rustc names the metadata `lib<crate>` whatever the crate type.
        let m = out_dir.join(format!("lib{crate_name}-{h}.rmeta"));
        files.push(m.clone());
        rmeta = Some(m);
    } else if unit.mode == Mode::Test
        || matches!(
            target.kind,
            TargetKind::Bin | TargetKind::Example | TargetKind::CustomBuild
        ) && unit.mode == Mode::Build
            && !is_lib_like_example(target)
    {
        let exe = out_dir.join(format!("{crate_name}-{h}{}", cx.exe_suffix(unit.kind)));
        files.push(exe.clone());
        executable = Some(exe);
    } else {
        for ct in &target.crate_types {
            let f = match ct.as_str() {
                "lib" | "rlib" => {
                    let r = out_dir.join(format!("lib{crate_name}-{h}.rlib"));
                    let m = out_dir.join(format!("lib{crate_name}-{h}.rmeta"));
                    files.push(m.clone());
                    rmeta = Some(m);
                    r
                }
                "proc-macro" | "dylib" | "cdylib" => {
                    out_dir.join(format!("lib{crate_name}-{h}{dll}"))
                }
                "staticlib" => out_dir.join(format!("lib{crate_name}-{h}.a")),
                other => out_dir.join(format!("lib{crate_name}-{h}.{other}")),
            };
            files.push(f);
        }
        // Only an rlib-only unit emits metadata separately.
        if !is_rlib_only(unit, target) {
            if let Some(m) = rmeta.take() {
                files.retain(|f| f != &m);
            }
        }
    }
    let dep_info = out_dir.join(format!("{crate_name}-{h}.d"));
    files.push(dep_info.clone());
    Outputs {
        files,
        rmeta,
        dep_info,
        executable,
    }
}

fn is_lib_like_example(target: &Target) -> bool {
    target.kind == TargetKind::Example && !target.crate_types.contains(&CrateType::Bin)
}

#[allow(clippy::too_many_arguments)]
/// The static part of rustc's argv for a compile unit (everything except
/// build-script-derived flags, which are appended at execution time).
pub fn rustc_argv(
    cx: &PlanContext<'_>,
    unit: &Unit,
    pkg: &Package,
    target: &Target,
    out_dir: &Path,
    src: &str,
    externs: &[(String, PathBuf)],
    dep_dirs: &[PathBuf],
) -> Vec<String> {
    let mut a: Vec<String> = Vec::with_capacity(64);
    let p = &unit.profile;
    push2(&mut a, "--crate-name", target.crate_name());
    a.push(format!("--edition={}", target.edition));
    a.push(src.to_string());
    a.push("--error-format=json".into());
    a.push(format!(
        "--json=diagnostic-rendered-ansi,artifacts,future-incompat{}",
        if cx.short_diagnostics {
            ",diagnostic-short"
        } else {
            ""
        }
    ));
    crate_type_flags(&mut a, unit, target);
    codegen_flags(&mut a, unit);
    a.extend(pkg.lint_flags.iter().cloned());
    assertion_flags(&mut a, p);
    cfg_flags(&mut a, unit, pkg, target);
    output_flags(cx, &mut a, unit, pkg, out_dir);
    link_flags(cx, &mut a, pkg, target, externs, dep_dirs);
    a.extend(cx.rustflags_for(unit.kind).iter().cloned());
    remap_flags(cx, &mut a);
    a
}

fn push2(a: &mut Vec<String>, x: &str, y: String) {
    a.push(x.into());
    a.push(y);
}

/// `--crate-type`, `--emit` and `-C prefer-dynamic`.
fn crate_type_flags(a: &mut Vec<String>, unit: &Unit, target: &Target) {
    let is_build_script = target.kind == TargetKind::CustomBuild;
    if unit.mode == Mode::Build || unit.mode == (Mode::Check { test: false }) {
        if is_build_script {
            push2(a, "--crate-type", "bin".into());
        } else {
            for ct in &target.crate_types {
                push2(a, "--crate-type", ct.as_str().to_string());
            }
        }
    }
    a.push(if unit.mode.is_check() {
        "--emit=dep-info,metadata".into()
    } else if is_rlib_only(unit, target) {
        "--emit=dep-info,metadata,link".into()
    } else {
        "--emit=dep-info,link".into()
    });
    let crate_types_passed = !unit.mode.is_rustc_test();
    if (target.is_proc_macro() && matches!(unit.mode, Mode::Build | Mode::Check { .. }))
        || (crate_types_passed
            && target.crate_types.contains(&CrateType::Dylib)
            && !unit.is_primary)
    {
        push2(a, "-C", "prefer-dynamic".into());
    }
}

/// Optimisation, panic strategy, LTO, codegen units and debuginfo.
fn codegen_flags(a: &mut Vec<String>, unit: &Unit) {
    let p = &unit.profile;
    if p.opt_level != OptLevel::O0 {
        push2(a, "-C", format!("opt-level={}", p.opt_level));
    }
    if p.panic != PanicStrategy::Unwind {
        push2(a, "-C", format!("panic={}", p.panic));
    }
    match &unit.lto {
        LtoMode::Run(None) => push2(a, "-C", "lto".into()),
        LtoMode::Run(Some(s)) => push2(a, "-C", format!("lto={s}")),
        LtoMode::Off => {
            push2(a, "-C", "lto=off".into());
            push2(a, "-C", "embed-bitcode=no".into());
        }
        LtoMode::OnlyBitcode => push2(a, "-C", "linker-plugin-lto".into()),
        LtoMode::ObjectAndBitcode => {}
        LtoMode::OnlyObject => push2(a, "-C", "embed-bitcode=no".into()),
    }
    if let Some(cgu) = p.codegen_units {
        push2(a, "-C", format!("codegen-units={cgu}"));
    }
    if let Some(d) = p.debuginfo.flag() {
        push2(a, "-C", format!("debuginfo={d}"));
        if let Some(s) = &p.split_debuginfo {
            push2(a, "-C", format!("split-debuginfo={s}"));
        }
    }
}

/// debug-assertions / overflow-checks only when they differ from what
/// rustc implies for the opt-level.
fn assertion_flags(a: &mut Vec<String>, p: &Profile) {
    if p.opt_level == OptLevel::O0 {
        if !p.debug_assertions {
            push2(a, "-C", "debug-assertions=off".into());
            if p.overflow_checks {
                push2(a, "-C", "overflow-checks=on".into());
            }
        } else if !p.overflow_checks {
            push2(a, "-C", "overflow-checks=off".into());
        }
    } else if p.debug_assertions {
        push2(a, "-C", "debug-assertions=on".into());
        if !p.overflow_checks {
            push2(a, "-C", "overflow-checks=off".into());
        }
    } else if p.overflow_checks {
        push2(a, "-C", "overflow-checks=on".into());
    }
}

/// `--test`, features and `--check-cfg`.
fn cfg_flags(a: &mut Vec<String>, unit: &Unit, pkg: &Package, target: &Target) {
    if unit.mode.is_rustc_test() {
        if target.harness {
            a.push("--test".into());
        } else {
            push2(a, "--cfg", "test".into());
        }
    }
    a.extend(feature_cfg_flags(unit, pkg));
}

/// `--cfg feature=...` per enabled feature and Cargo's two `--check-cfg`.
pub fn feature_cfg_flags(unit: &Unit, pkg: &Package) -> Vec<String> {
    let mut a = Vec::new();
    for f in &unit.features {
        push2(&mut a, "--cfg", format!("feature=\"{f}\""));
    }
    push2(&mut a, "--check-cfg", "cfg(docsrs,test)".into());
    let values: Vec<String> = pkg
        .declared_features
        .iter()
        .map(|f| format!("\"{f}\""))
        .collect();
    push2(
        &mut a,
        "--check-cfg",
        format!("cfg(feature, values({}))", values.join(", ")),
    );
    a
}

/// `-C metadata`, output location, target, linker, incremental and strip.
fn output_flags(
    cx: &PlanContext<'_>,
    a: &mut Vec<String>,
    unit: &Unit,
    pkg: &Package,
    out_dir: &Path,
) {
    let p = &unit.profile;
    let h = unit.short_hash();
    push2(a, "-C", format!("metadata={h}"));
    push2(a, "-C", format!("extra-filename=-{h}"));
    if p.rpath {
        push2(a, "-C", "rpath".into());
    }
    push2(a, "--out-dir", out_dir.display().to_string());
    if unit.kind == CompileKind::Target {
        if let Some(t) = &cx.request.target {
            push2(a, "--target", t.clone());
        }
    }
    if let Some(l) = cx.linker(unit.kind) {
        push2(a, "-C", format!("linker={}", l.display()));
    }
    if p.incremental && pkg.is_local() {
        push2(
            a,
            "-C",
            format!("incremental={}", cx.layout.incremental(unit.kind).display()),
        );
    }
    if let Some(s) = &p.strip {
        if s != "none" {
            push2(a, "-C", format!("strip={s}"));
        }
    }
}

/// `-L dependency=`, `--extern` and `--cap-lints`.
fn link_flags(
    cx: &PlanContext<'_>,
    a: &mut Vec<String>,
    pkg: &Package,
    target: &Target,
    externs: &[(String, PathBuf)],
    dep_dirs: &[PathBuf],
) {
    for d in dep_dirs {
        push2(a, "-L", format!("dependency={}", d.display()));
    }
    for (name, path) in externs {
        push2(a, "--extern", format!("{name}={}", path.display()));
    }
    if target.is_proc_macro() {
        push2(a, "--extern", "proc_macro".into());
    }
    if !pkg.is_local() {
        push2(
            a,
            "--cap-lints",
            if cx.request.very_verbose {
                "warn".into()
            } else {
                "allow".into()
            },
        );
    }
}

/// Keeps absolute paths of this checkout out of the outputs, so the same
/// sources give the same bytes wherever they are checked out (the last
/// matching prefix wins in rustc, so the most specific comes last).
fn remap_flags(cx: &PlanContext<'_>, a: &mut Vec<String>) {
    a.push(format!("--remap-path-prefix={}=.", cx.model.root.display()));
    a.push(format!(
        "--remap-path-prefix={}=/hbuild/target",
        cx.layout.target_dir.display()
    ));
    if let Some(home) = &cx.request.cargo_home {
        a.push(format!("--remap-path-prefix={}=/cargo", home.display()));
    }
}

/// `CARGO_PKG_*`, `CARGO`, `CARGO_MANIFEST_*`: shared by rustc and build scripts.
pub fn package_env(cx: &PlanContext<'_>, pkg: &Package) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    let (core, pre) = pkg.version.split_once('-').unwrap_or((&pkg.version, ""));
    let mut parts = core.split('.');
    let mut set = |k: &str, v: String| {
        env.insert(k.to_string(), v);
    };
    set("CARGO", cx.toolchain.cargo.display().to_string());
    set("CARGO_MANIFEST_DIR", pkg.root().display().to_string());
    set(
        "CARGO_MANIFEST_PATH",
        pkg.manifest_path.display().to_string(),
    );
    set("CARGO_PKG_NAME", pkg.name.clone());
    set("CARGO_PKG_VERSION", pkg.version.clone());
    set(
        "CARGO_PKG_VERSION_MAJOR",
        parts.next().unwrap_or("0").to_string(),
    );
    set(
        "CARGO_PKG_VERSION_MINOR",
        parts.next().unwrap_or("0").to_string(),
    );
    set(
        "CARGO_PKG_VERSION_PATCH",
        parts
            .next()
            .unwrap_or("0")
            .split('+')
            .next()
            .unwrap_or("0")
            .to_string(),
    );
    set(
        "CARGO_PKG_VERSION_PRE",
        pre.split('+').next().unwrap_or("").to_string(),
    );
    set("CARGO_PKG_AUTHORS", pkg.authors.join(":"));
    set("CARGO_PKG_DESCRIPTION", pkg.description.clone());
    set("CARGO_PKG_HOMEPAGE", pkg.homepage.clone());
    set("CARGO_PKG_REPOSITORY", pkg.repository.clone());
    set("CARGO_PKG_LICENSE", pkg.license.clone());
    set("CARGO_PKG_LICENSE_FILE", pkg.license_file.clone());
    set("CARGO_PKG_RUST_VERSION", pkg.rust_version.clone());
    set("CARGO_PKG_README", pkg.readme.clone());
    for (k, e) in &cx.config.env {
        if e.force || !cx.request.env.contains_key(k) {
            env.insert(k.clone(), e.value.clone());
        }
    }
    env
}

/// `CARGO_CFG_*` for a build script, from `rustc --print cfg` of the unit's
/// platform, adjusted for the profile and features as Cargo does.
pub fn cfg_env(cx: &PlanContext<'_>, unit: &Unit) -> BTreeMap<String, String> {
    let info = cx.target_info(unit.kind);
    let mut grouped: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in &info.cfg {
        let (k, v) = match line.split_once('=') {
            Some((k, v)) => (k.to_string(), Some(v.trim_matches('"').to_string())),
            None => (line.clone(), None),
        };
        if k == "debug_assertions" || k == "feature" {
            continue;
        }
        let e = grouped.entry(k).or_default();
        if let Some(v) = v {
            e.push(v);
        }
    }
    let mut env = BTreeMap::new();
    for (k, vs) in grouped {
        env.insert(format!("CARGO_CFG_{}", k.to_uppercase()), vs.join(","));
    }
    if unit.profile.debug_assertions {
        env.insert("CARGO_CFG_DEBUG_ASSERTIONS".into(), String::new());
    }
    if !unit.features.is_empty() {
        env.insert("CARGO_CFG_FEATURE".into(), unit.features.join(","));
    }
    env
}
