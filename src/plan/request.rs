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
}

impl BuildRequest {
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
            include_dev: self.targets.needs_dev_deps(),
        }
    }
}
