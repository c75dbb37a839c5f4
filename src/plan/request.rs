//! The validated build request: everything the planner needs from the
//! command line and the environment, with no clap types.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::workspace::target_dir::TargetDir;

/// Which targets of the selected packages to build.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TargetSelection {
    /// `--lib`.
    pub lib: bool,
    /// `--bin NAME` (repeatable).
    pub bins: Vec<String>,
    /// `--bins`.
    pub all_bins: bool,
    /// `--example NAME`.
    pub examples: Vec<String>,
    /// `--examples`.
    pub all_examples: bool,
    /// `--test NAME`.
    pub tests: Vec<String>,
    /// `--tests`.
    pub all_tests: bool,
    /// `--bench NAME`.
    pub benches: Vec<String>,
    /// `--benches`.
    pub all_benches: bool,
    /// `--all-targets`.
    pub all_targets: bool,
}

impl TargetSelection {
    /// Nothing explicit: lib + bins, as `cargo build` does.
    pub fn is_default(&self) -> bool {
        *self == TargetSelection::default()
    }

    /// Whether dev-dependencies take part (tests, examples, benches).
    pub fn needs_dev_deps(&self) -> bool {
        self.all_targets
            || self.all_tests
            || self.all_examples
            || self.all_benches
            || !self.tests.is_empty()
            || !self.examples.is_empty()
            || !self.benches.is_empty()
    }
}

/// What `cargo hbuild test` adds to a build: the test runs.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TestRequest {
    /// `--doc`: only the doctests.
    pub doc_only: bool,
    /// `--no-run`: build the test binaries, run nothing.
    pub no_run: bool,
    /// The arguments every harness gets: the name filter, then what
    /// follows `--` (and `--quiet` under `-q`).
    pub harness_args: Vec<String>,
}

/// What `cargo hbuild check` and `cargo hbuild clippy` ask of a build:
/// every unit Cargo would build is checked instead (metadata only), but
/// build scripts and proc-macros, with everything they link.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CheckRequest {
    /// `--profile test`: the root units are checked as tests (`--test`),
    /// Cargo's legacy behaviour.
    pub test: bool,
    /// `clippy`: the workspace members are checked by `clippy-driver`.
    pub clippy: Option<ClippyRequest>,
}

/// What `cargo hbuild clippy` adds to a check.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ClippyRequest {
    /// The arguments after `--` (`-W clippy::pedantic`, `-D warnings`),
    /// which `clippy-driver` gets through `CLIPPY_ARGS`.
    pub args: Vec<String>,
    /// `--no-deps`: only the selected packages are linted; the other
    /// members are checked by rustc.
    pub no_deps: bool,
}

/// A validated build request.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct BuildRequest {
    /// Working directory of the invocation.
    pub cwd: PathBuf,
    /// `-p` specs.
    pub packages: Vec<String>,
    /// `--workspace`.
    pub workspace: bool,
    /// `--exclude`.
    pub exclude: Vec<String>,
    /// Target selection.
    pub targets: TargetSelection,
    /// Requested profile name (`dev`, `release`, custom).
    pub profile: String,
    /// `--features` split on commas and spaces.
    pub features: Vec<String>,
    /// `--all-features`.
    pub all_features: bool,
    /// `--no-default-features`.
    pub no_default_features: bool,
    /// `--target` triple (explicit, even when equal to the host).
    pub target: Option<String>,
    /// The target dir, resolved once from the flag, environment and config.
    pub target_dir: TargetDir,
    /// `-j`.
    pub jobs: usize,
    /// Snapshot of the environment (the engine never reads it directly).
    pub env: BTreeMap<String, String>,
    /// `CARGO_HOME` (for path normalisation in keys).
    pub cargo_home: Option<PathBuf>,
    /// Whether registry build-script warnings are shown (`-vv`).
    pub very_verbose: bool,
    /// `cargo hbuild test`: which tests run, with which arguments.
    #[serde(default)]
    pub test: Option<TestRequest>,
    /// `cargo hbuild run`: build one binary or example to run it.
    #[serde(default)]
    pub run: bool,
    /// `cargo hbuild doc`: document instead of building.
    #[serde(default)]
    pub doc: Option<DocRequest>,
    /// `cargo hbuild check` and `clippy`: metadata-only units.
    #[serde(default)]
    pub check: Option<CheckRequest>,
}

/// What `cargo hbuild doc` asks for.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DocRequest {
    /// `--no-deps`: document the selected packages only.
    pub no_deps: bool,
    /// `--document-private-items`.
    pub private_items: bool,
}

impl BuildRequest {
    /// Whether dev-dependencies take part: `test` always, a build or check
    /// when it selects tests, examples or benches, a check of test roots
    /// (`check --profile test`).
    pub fn needs_dev_deps(&self) -> bool {
        self.test.is_some()
            || self.check.as_ref().is_some_and(|c| c.test)
            || self.targets.needs_dev_deps()
    }

    /// What feature resolution needs of this request, for the selected
    /// packages (model indices).
    pub fn feature_request(
        &self,
        packages: Vec<usize>,
    ) -> crate::workspace::features::FeatureRequest {
        crate::workspace::features::FeatureRequest {
            packages,
            features: self.features.clone(),
            all_features: self.all_features,
            no_default_features: self.no_default_features,
            include_dev: self.needs_dev_deps(),
        }
    }
}
