//! Layer 2: the planner. A pure function from the workspace model and a
//! [`BuildRequest`] to an [`ActionGraph`]: every rustc invocation and
//! build-script run, with argv, environment, inputs and outputs declared.
//! It does no IO: the files of path packages come in as [`PackageFiles`],
//! listed by the analysis.
//!
//! * [`units`]: units and their edges (Cargo's unit graph).
//! * [`rustc_args`]: command lines and environments.
//! * [`graph`]: units → actions, edges with pipelining needs.
//! * [`layout`]: where outputs go.

pub mod action;
pub mod graph;
pub mod layout;
pub mod request;
pub mod rustc_args;
pub mod unit;
pub mod units;

#[cfg(test)]
pub(crate) mod testkit;

use std::collections::BTreeMap;
use std::path::PathBuf;

pub use action::{Action, ActionKind};
pub use graph::ActionGraph;
pub use request::{BuildRequest, TargetSelection};

use crate::workspace::config::CargoConfig;
use crate::workspace::model::WorkspaceModel;
use crate::workspace::toolchain::{ClippyDriver, TargetInfo, Toolchain};
use crate::workspace::WorkspaceError;
use layout::Layout;
use unit::CompileKind;

/// Errors of the planner.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// A workspace-level problem (unknown package, feature, target...).
    #[error(transparent)]
    Workspace(#[from] WorkspaceError),
    /// `--lib` but no selected package has a library.
    #[error("no library targets found in the selected packages")]
    NoLibTarget,
    /// `run` in packages without a binary.
    #[error("a bin target must be available for `cargo run`")]
    RunNoBinary,
    /// `run` with several binaries and none named.
    #[error("`cargo run` could not determine which binary to run. Use the `--bin` option to specify a binary, or the `default-run` manifest key.\navailable binaries: {}", .0.join(", "))]
    RunWhichBinary(Vec<String>),
    /// `run` with several targets named.
    #[error("`cargo run` can run at most one executable, but multiple were specified")]
    RunSeveral,
    /// An explicitly requested target needs features that are off.
    #[error("target `{target}` in package `{package}` requires the features: `{features}`\nConsider enabling them by passing, e.g., `--features=\"{features}\"`")]
    RequiredFeatures {
        /// Target.
        target: String,
        /// Package.
        package: String,
        /// Missing features.
        features: String,
    },
}

/// Everything the planner reads, resolved once.
pub struct PlanContext<'a> {
    /// The model.
    pub model: &'a WorkspaceModel,
    /// The request.
    pub request: &'a BuildRequest,
    /// The toolchain.
    pub toolchain: &'a Toolchain,
    /// Config files.
    pub config: &'a CargoConfig,
    /// Host platform facts.
    pub host_info: &'a TargetInfo,
    /// `--target` platform facts (equal to host when absent).
    pub target_info: &'a TargetInfo,
    /// Layout.
    pub layout: Layout,
    /// `[target units, host units]` rustflags.
    pub rustflags: [Vec<String>; 2],
    /// `[target units, host units]` linkers.
    pub linkers: [Option<PathBuf>; 2],
    /// `--message-format short`.
    pub short_diagnostics: bool,
    /// The listed files of the path packages.
    pub package_files: &'a PackageFiles,
    /// The selected packages (model indices).
    pub selected: &'a [usize],
    /// `clippy`: the driver that checks workspace members.
    pub clippy_driver: Option<&'a ClippyDriver>,
}

/// The files of each path package with units, listed by the caller (the
/// planner does no filesystem IO): the declared inputs of its actions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PackageFiles(BTreeMap<usize, Vec<PathBuf>>);

impl PackageFiles {
    /// Records the sorted files of a package (by model index).
    pub fn insert(&mut self, pkg: usize, files: Vec<PathBuf>) {
        self.0.insert(pkg, files);
    }

    /// Whether a package's files are recorded.
    pub fn contains(&self, pkg: usize) -> bool {
        self.0.contains_key(&pkg)
    }

    /// The files of a package; none for packages not recorded (registry
    /// and git packages are immutable, so they declare no inputs).
    pub fn of(&self, pkg: usize) -> &[PathBuf] {
        self.0.get(&pkg).map(Vec::as_slice).unwrap_or(&[])
    }
}

impl PlanContext<'_> {
    fn side(&self, kind: CompileKind) -> usize {
        match kind {
            CompileKind::Target => 0,
            CompileKind::Host if self.request.target.is_some() => 1,
            CompileKind::Host => 0,
        }
    }

    /// Rustflags of units of a kind.
    pub fn rustflags_for(&self, kind: CompileKind) -> &[String] {
        &self.rustflags[self.side(kind)]
    }

    /// Linker of units of a kind.
    pub fn linker(&self, kind: CompileKind) -> Option<&PathBuf> {
        self.linkers[self.side(kind)].as_ref()
    }

    /// Platform facts of a kind.
    pub fn target_info(&self, kind: CompileKind) -> &TargetInfo {
        match kind {
            CompileKind::Target => self.target_info,
            CompileKind::Host if self.request.target.is_some() => self.host_info,
            CompileKind::Host => self.target_info,
        }
    }

    /// The triple of a kind.
    pub fn triple(&self, kind: CompileKind) -> &str {
        &self.target_info(kind).triple
    }

    /// Dynamic library suffix for a kind.
    pub fn dll_suffix(&self, kind: CompileKind) -> &'static str {
        match self.target_info(kind).os() {
            "macos" | "ios" => ".dylib",
            "windows" => ".dll",
            _ => ".so",
        }
    }

    /// The variable through which programs of the host find dynamic
    /// libraries (Cargo's `dylib_path_envvar`).
    pub fn dylib_path_var(&self) -> &'static str {
        match self.host_info.os() {
            "windows" => "PATH",
            "macos" | "ios" => "DYLD_FALLBACK_LIBRARY_PATH",
            _ => "LD_LIBRARY_PATH",
        }
    }

    /// Executable suffix for a kind.
    pub fn exe_suffix(&self, kind: CompileKind) -> &'static str {
        match self.target_info(kind).os() {
            "windows" => ".exe",
            _ => "",
        }
    }
}
