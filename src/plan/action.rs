//! Actions: what the executor runs, with every input and output declared.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::unit::{CompileKind, Mode};
use crate::core::{ActionId, PackageId};
use crate::workspace::model::CrateType;
use crate::workspace::model::TargetKind;
use crate::workspace::profiles::Profile;
use crate::workspace::toolchain::ClippyDriver;

/// Kind of action.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ActionKind {
    /// rustc on a library, binary, test, example or proc-macro.
    Compile,
    /// rustc on a `build.rs`.
    BuildScriptCompile,
    /// Execute a compiled build script.
    BuildScriptRun,
    /// Run a test binary, or a library's doctests with `rustdoc --test`.
    TestRun,
    /// Document a target with rustdoc, into a private directory.
    Doc,
    /// Assemble `target/doc/` and its search index from every `Doc`.
    DocIndex,
}

/// What a test run is, for running it in order and reporting it as Cargo
/// does.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct TestRunInfo {
    /// What Cargo's `Running` line names: `unittests src/lib.rs`,
    /// `tests/cli.rs`; for doctests, the library (`Doc-tests calc`).
    pub label: String,
    /// The flags that select this binary alone (`-p calc --lib`), for
    /// "to rerun pass".
    pub rerun: String,
    /// Doctests (`rustdoc --test`) rather than a test binary.
    pub doc: bool,
    /// Whether the binary uses libtest (`harness = false` does not).
    pub harness: bool,
    /// The test run before this one in Cargo's order: runs are one at a
    /// time, in that order (an ordering edge, not an input).
    pub after: Option<ActionId>,
    /// Absolute glob patterns of the declared runtime inputs beyond the
    /// package's files (`[package.metadata.hbuild] test-inputs`), expanded
    /// when the run is keyed.
    pub input_globs: Vec<String>,
}

/// What a dependent needs from a dependency before it can start.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Needs {
    /// The `.rmeta` suffices (pipelining).
    Metadata,
    /// Complete outputs, and those of every transitive dependency.
    Full,
}

/// An edge to a dependency action.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ActionDep {
    /// The dependency.
    pub action: ActionId,
    /// Extern crate name, for library edges.
    pub extern_name: Option<String>,
    /// What is needed.
    pub needs: Needs,
}

/// Flags of a rustc invocation whose origin is the user's configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct FlagOrigins {
    /// From `RUSTFLAGS`, `CARGO_ENCODED_RUSTFLAGS` or `build.rustflags`.
    pub rustflags: Vec<String>,
    /// From the package's `[lints]` table.
    pub lints: Vec<String>,
}

/// How build-script results feed this action at execution time.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ScriptInputs {
    /// The run of this package's own build script: its `rustc-cfg`,
    /// `rustc-check-cfg`, `rustc-env`, `rustc-link-lib` (lib only) and
    /// `rustc-link-arg*` apply.
    pub own: Option<ActionId>,
    /// Runs whose `rustc-link-search` paths apply (own and transitive
    /// linkable dependencies).
    pub link_search: Vec<ActionId>,
    /// For build-script runs: runs of direct dependencies with `links`,
    /// whose metadata becomes `DEP_<LINKS>_<KEY>`.
    pub links_metadata: Vec<(ActionId, String)>,
    /// Whether `rustc-link-lib` of the own script applies (lib target, or
    /// a package without lib).
    pub link_libs: bool,
}

/// An output to copy to Cargo's paths after the action.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Uplift {
    /// Internal file.
    pub from: PathBuf,
    /// Cargo path.
    pub to: PathBuf,
}

/// A declared input file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct InputFile {
    /// Absolute path.
    pub path: PathBuf,
}

/// A target as `cargo metadata` describes it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct TargetMeta {
    /// Kinds (`lib`, `proc-macro`, `cdylib`, `bin`, `custom-build`...).
    pub kind: Vec<String>,
    /// Declared crate types (`lib` for a plain library, `bin` for binaries).
    pub crate_types: Vec<CrateType>,
    /// `required-features`.
    pub required_features: Vec<String>,
    /// Documented by `cargo doc`.
    pub doc: bool,
    /// Doctests run by `cargo test`.
    pub doctest: bool,
    /// Tested by `cargo test`.
    pub test: bool,
}

/// One action of the graph.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct Action {
    /// Index in the graph.
    pub id: ActionId,
    /// Kind.
    pub kind: ActionKind,
    /// Package id.
    pub package_id: PackageId,
    /// Package name.
    pub package_name: String,
    /// Package version.
    pub package_version: String,
    /// Whether the package is a workspace member.
    pub is_member: bool,
    /// Target name.
    pub target_name: String,
    /// Target kind.
    pub target_kind: TargetKind,
    /// Target source path.
    pub src_path: PathBuf,
    /// Target edition.
    pub edition: String,
    /// Package manifest.
    pub manifest_path: PathBuf,
    /// The target as `cargo metadata` describes it (Cargo's JSON messages
    /// print it as it is, whatever this unit's mode).
    pub target_meta: TargetMeta,
    /// Crate types passed (empty in test mode).
    pub crate_types: Vec<CrateType>,
    /// Mode.
    pub mode: Mode,
    /// Host or target.
    pub compile_kind: CompileKind,
    /// Build-time code (build scripts, proc-macros and their dependencies).
    pub for_host: bool,
    /// Profile.
    pub profile: Profile,
    /// Features.
    pub features: Vec<String>,
    /// Program: rustc, or the build script binary (for runs).
    pub program: PathBuf,
    /// Arguments (without the program).
    pub argv: Vec<String>,
    /// The flags of `argv` that come from the user's configuration, by
    /// origin (for `--explain`).
    #[serde(default)]
    pub flag_origins: FlagOrigins,
    /// Environment set for the action (the rest is inherited).
    pub env: BTreeMap<String, String>,
    /// Variables removed from the inherited environment.
    pub env_remove: Vec<String>,
    /// Working directory.
    pub cwd: PathBuf,
    /// Declared source inputs (path packages; registry sources are
    /// identified by package id and version).
    pub inputs: Vec<InputFile>,
    /// Root that outputs are relative to.
    pub output_root: PathBuf,
    /// Declared outputs (files; for runs, the OUT_DIR tree is added at run time).
    pub outputs: Vec<PathBuf>,
    /// `.rmeta` whose appearance unblocks pipelined dependents.
    pub rmeta: Option<PathBuf>,
    /// rustc dep-info file.
    pub dep_info: Option<PathBuf>,
    /// For runs: OUT_DIR.
    pub out_dir: Option<PathBuf>,
    /// Dependencies.
    pub deps: Vec<ActionDep>,
    /// Binaries an integration test or bench needs when it runs
    /// (`CARGO_BIN_EXE_*`); built in the same build but not inputs of the
    /// compile, so a changed binary does not relink the test.
    pub runtime_deps: Vec<ActionId>,
    /// Build-script results that feed this action.
    pub script_inputs: ScriptInputs,
    /// Copies to Cargo's paths.
    pub uplift: Vec<Uplift>,
    /// Requested by the user.
    pub is_root: bool,
    /// Whether the package is local (warnings shown, diagnostics not capped).
    pub is_local: bool,
    /// Path to the executable produced (bins, tests, examples), for reports.
    pub executable: Option<PathBuf>,
    /// The unit identity hash (short form), stable across checkouts.
    pub unit_hash: String,
    /// For test runs: what runs and how it is reported.
    #[serde(default)]
    pub test: Option<TestRunInfo>,
    /// `cargo hbuild clippy`: the `clippy-driver` that runs `program`
    /// (rustc) for this workspace member, with `CLIPPY_ARGS` in `env`.
    #[serde(default)]
    pub lint: Option<ClippyDriver>,
}

impl Action {
    /// Whether `file`, an output of this action, is read by hbuild only:
    /// the dep-info and a build script's raw stdout and stderr, which name
    /// the checkout's paths by nature. Dependents consume the others.
    pub fn is_private_output(&self, file: &Path) -> bool {
        self.dep_info.as_deref() == Some(file)
            || (self.kind == ActionKind::BuildScriptRun && self.outputs.iter().any(|o| o == file))
    }

    /// A short human name: `serde`, `app (bin "app-cli")`, `app (build script)`.
    /// A checked unit is named like the unit it checks.
    pub fn display_name(&self) -> String {
        match (self.kind, self.target_kind, self.mode.built()) {
            (ActionKind::BuildScriptCompile, ..) => format!("{} (build script)", self.package_name),
            (ActionKind::BuildScriptRun, ..) => format!("{} (build script run)", self.package_name),
            (ActionKind::TestRun, _, Mode::Doctest) => format!("{} (doctests)", self.package_name),
            (ActionKind::DocIndex, ..) => "documentation index".into(),
            (ActionKind::Doc, TargetKind::Lib, _) => format!("{} (doc)", self.package_name),
            (ActionKind::Doc, k, _) => format!(
                "{} ({} \"{}\" doc)",
                self.package_name,
                k.as_str(),
                self.target_name
            ),
            (ActionKind::TestRun, ..) => format!(
                "{} ({} \"{}\" test run)",
                self.package_name,
                self.target_kind.as_str(),
                self.target_name
            ),
            (_, TargetKind::Lib, Mode::Build) => self.package_name.clone(),
            (_, TargetKind::Lib, _) => format!("{} (lib test)", self.package_name),
            (_, k, Mode::Test) => format!(
                "{} ({} test \"{}\")",
                self.package_name,
                k.as_str(),
                self.target_name
            ),
            (_, k, _) => format!(
                "{} ({} \"{}\")",
                self.package_name,
                k.as_str(),
                self.target_name
            ),
        }
    }

    /// Cargo's description for failure messages: `lib`, `bin "x"`, `test "x"`, `build script`.
    pub fn cargo_target_desc(&self) -> String {
        target_desc(self.kind, self.target_kind, self.mode, &self.target_name)
    }
}

/// Cargo's `descriptive_pkg_name` without the package: the target, and
/// ` test` for a unit compiled (or checked) as a test whose target is not
/// a test or bench already.
fn target_desc(kind: ActionKind, target_kind: TargetKind, mode: Mode, name: &str) -> String {
    match (kind, target_kind, mode.built()) {
        (ActionKind::BuildScriptCompile, ..) => "build script".into(),
        (ActionKind::BuildScriptRun, ..) => "build script".into(),
        (_, _, Mode::Doctest) => "doctest".into(),
        (ActionKind::DocIndex, ..) => "doc".into(),
        (ActionKind::Doc, TargetKind::Lib, _) => "lib".into(),
        (_, TargetKind::Lib, Mode::Build) => "lib".into(),
        (_, TargetKind::Lib, _) => "lib test".into(),
        (_, k @ (TargetKind::Test | TargetKind::Bench), _) => format!("{} \"{name}\"", k.as_str()),
        (_, k, Mode::Test) => format!("{} \"{name}\" test", k.as_str()),
        (_, k, _) => format!("{} \"{name}\"", k.as_str()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_described_as_cargo_describes_them() {
        let desc = |k, m| target_desc(ActionKind::Compile, k, m, "x");
        let check_test = Mode::Check { test: true };
        assert_eq!(desc(TargetKind::Lib, Mode::Check { test: false }), "lib");
        assert_eq!(desc(TargetKind::Lib, check_test), "lib test");
        assert_eq!(desc(TargetKind::Bin, check_test), "bin \"x\" test");
        assert_eq!(desc(TargetKind::Bin, Mode::Build), "bin \"x\"");
        assert_eq!(desc(TargetKind::Test, check_test), "test \"x\"");
        // A bench is a bench, whether built as a test or checked.
        assert_eq!(desc(TargetKind::Bench, Mode::Test), "bench \"x\"");
        assert_eq!(desc(TargetKind::Bench, check_test), "bench \"x\"");
        assert_eq!(
            target_desc(
                ActionKind::BuildScriptCompile,
                TargetKind::CustomBuild,
                Mode::Build,
                "b"
            ),
            "build script"
        );
    }
}
