//! A small fixed action graph for the key tests: the keys it yields are
//! pinned, so any change of what enters a key shows as a failing test.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::cache::{ActionResult, OutputFile};
use crate::core::{ActionId, Digest, PackageId, RelPath};
use crate::plan::action::{ActionDep, ActionKind, Needs, ScriptInputs, TargetMeta};
use crate::plan::unit::{CompileKind, Mode};
use crate::plan::{Action, ActionGraph};
use crate::workspace::model::TargetKind;
use crate::workspace::profiles::{DebugInfo, Lto, Profile};

use super::PathNormalizer;

pub(crate) const TOOLCHAIN: &str = "rustc 1.95.0 (fixed)\nhost: x86_64-unknown-linux-gnu";

pub(crate) fn normalizer() -> PathNormalizer {
    PathNormalizer::new(
        std::path::Path::new("/ws"),
        std::path::Path::new("/ws/target"),
        Some(std::path::Path::new("/home/u/.cargo")),
        std::path::Path::new("/sysroot"),
    )
}

fn profile() -> Profile {
    Profile {
        name: "dev".into(),
        root: "debug".into(),
        opt_level: crate::workspace::profiles::OptLevel::O0,
        debuginfo: DebugInfo::Full,
        debuginfo_deferred: false,
        debug_assertions: true,
        overflow_checks: true,
        lto: Lto::False,
        panic: crate::workspace::profiles::PanicStrategy::Unwind,
        codegen_units: None,
        incremental: true,
        strip: None,
        split_debuginfo: None,
        rpath: false,
    }
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

pub(crate) fn action(id: u32, kind: ActionKind, package: &str, name: &str) -> Action {
    let root = PathBuf::from(format!("/ws/target/debug/build-{id}"));
    Action {
        flag_origins: Default::default(),
        id: ActionId(id),
        kind,
        package_id: PackageId(format!(
            "registry+https://github.com/rust-lang/crates.io-index#{package}@1.2.3"
        )),
        package_name: package.into(),
        package_version: "1.2.3".into(),
        is_member: false,
        target_name: name.into(),
        target_kind: TargetKind::Lib,
        src_path: PathBuf::from(format!("/ws/{package}/src/lib.rs")),
        edition: "2021".into(),
        manifest_path: PathBuf::from(format!("/ws/{package}/Cargo.toml")),
        target_meta: TargetMeta::default(),
        crate_types: vec![crate::workspace::model::CrateType::Lib],
        mode: Mode::Build,
        compile_kind: CompileKind::Host,
        for_host: false,
        profile: profile(),
        features: Vec::new(),
        program: PathBuf::from("rustc"),
        argv: Vec::new(),
        env: BTreeMap::new(),
        env_remove: Vec::new(),
        cwd: PathBuf::from(format!("/ws/{package}")),
        inputs: Vec::new(),
        output_root: root,
        outputs: Vec::new(),
        rmeta: None,
        dep_info: None,
        out_dir: None,
        deps: Vec::new(),
        runtime_deps: Vec::new(),
        script_inputs: ScriptInputs::default(),
        uplift: Vec::new(),
        is_root: false,
        is_local: false,
        executable: None,
        unit_hash: format!("{id:016x}"),
        test: None,
        lint: None,
    }
}

/// `dep` (a registry library), `app`'s build script and its run, and
/// `app` (a workspace member depending on both, `dep` pipelined).
pub(crate) fn graph() -> ActionGraph {
    let mut dep = action(0, ActionKind::Compile, "dep", "dep");
    let r = dep.output_root.clone();
    dep.outputs = vec![
        r.join("libdep.rlib"),
        r.join("libdep.rmeta"),
        r.join("dep.d"),
    ];
    dep.rmeta = Some(r.join("libdep.rmeta"));
    dep.dep_info = Some(r.join("dep.d"));
    dep.argv = strings(&[
        "--crate-name",
        "dep",
        "--edition=2021",
        "/home/u/.cargo/registry/src/dep-1.2.3/src/lib.rs",
    ]);

    let mut script = action(
        1,
        ActionKind::BuildScriptCompile,
        "app",
        "build-script-build",
    );
    script.package_id = PackageId("path+file:///ws/app#0.1.0".into());
    script.package_version = "0.1.0".into();
    script.is_member = true;
    script.target_kind = TargetKind::CustomBuild;
    script.executable = Some(script.output_root.join("build-script-build"));

    let mut run = action(2, ActionKind::BuildScriptRun, "app", "build-script-build");
    run.package_id = script.package_id.clone();
    run.package_version = "0.1.0".into();
    run.is_member = true;
    run.mode = Mode::RunCustomBuild;
    run.target_kind = TargetKind::CustomBuild;
    let r = run.output_root.clone();
    run.outputs = vec![r.join("output"), r.join("stderr")];
    run.out_dir = Some(r.join("out"));
    run.env = BTreeMap::from([
        ("OUT_DIR".to_string(), r.join("out").display().to_string()),
        ("NUM_JOBS".to_string(), "2".to_string()),
        (
            "CARGO_MAKEFLAGS".to_string(),
            "-j2 --jobserver-auth=3,4".to_string(),
        ),
    ]);
    run.deps = vec![ActionDep {
        action: ActionId(1),
        extern_name: None,
        needs: Needs::Full,
    }];

    let mut app = action(3, ActionKind::Compile, "app", "app");
    app.package_id = script.package_id.clone();
    app.package_version = "0.1.0".into();
    app.is_member = true;
    app.is_local = true;
    app.argv = strings(&[
        "--crate-name",
        "app",
        "/ws/app/src/lib.rs",
        "-C",
        "incremental=/ws/target/debug/incremental",
        "-C",
        "debuginfo=2",
        "-L",
        "dependency=/ws/target/debug/deps",
        "--extern",
        "dep=/ws/target/debug/build-0/libdep.rmeta",
    ]);
    app.env = BTreeMap::from([
        ("CARGO_MANIFEST_DIR".to_string(), "/ws/app".to_string()),
        ("CARGO_PKG_NAME".to_string(), "app".to_string()),
        ("DEPLOY_TOKEN".to_string(), "hunter2".to_string()),
        (
            "CARGO_MAKEFLAGS".to_string(),
            "-j2 --jobserver-auth=3,4".to_string(),
        ),
    ]);
    app.deps = vec![
        ActionDep {
            action: ActionId(0),
            extern_name: Some("dep".into()),
            needs: Needs::Metadata,
        },
        ActionDep {
            action: ActionId(2),
            extern_name: None,
            needs: Needs::Full,
        },
    ];

    ActionGraph {
        version: 1,
        profile: "dev".into(),
        profile_dir: "debug".into(),
        target_dir: PathBuf::from("/ws/target"),
        workspace_root: PathBuf::from("/ws"),
        actions: vec![dep, script, run, app],
        roots: vec![ActionId(3)],
        test_binaries: Vec::new(),
        run: None,
        doc_pages: Vec::new(),
    }
}

/// Fixed (meta, full) digests of the four actions, as if they had run.
pub(crate) fn dep_digests(i: usize) -> (Digest, Digest) {
    (
        Digest::of_bytes(format!("meta-{i}").as_bytes()),
        Digest::of_bytes(format!("full-{i}").as_bytes()),
    )
}

fn output(a: &Action, name: &str, content: &[u8]) -> OutputFile {
    OutputFile {
        path: RelPath::strip(&a.output_root.join(name), &a.output_root).expect("below the root"),
        digest: Digest::of_bytes(content),
        size: content.len() as u64,
        executable: false,
    }
}

/// A result of `dep` whose dep-info holds `dep_info`, its rlib `rlib`.
pub(crate) fn library_result(g: &ActionGraph, rlib: &[u8], dep_info: &[u8]) -> ActionResult {
    let a = &g.actions[0];
    ActionResult {
        outputs: vec![
            output(a, "dep.d", dep_info),
            output(a, "libdep.rlib", rlib),
            output(a, "libdep.rmeta", b"rmeta"),
        ],
        ..Default::default()
    }
}

/// A result of the build-script run with raw stdout `stdout`, a generated
/// file `generated` and the parsed directives `directives`.
pub(crate) fn script_result(
    g: &ActionGraph,
    stdout: &[u8],
    generated: &[u8],
    directives: &str,
) -> ActionResult {
    let a = &g.actions[2];
    ActionResult {
        outputs: vec![
            output(a, "out/gen.rs", generated),
            output(a, "output", stdout),
            output(a, "stderr", b""),
        ],
        meta: crate::cache::ResultMeta {
            script: Some(directives.to_string()),
            ..Default::default()
        },
        ..Default::default()
    }
}
