//! Units: one rustc invocation or one build-script run, as in Cargo's
//! `unit.rs`.

use serde::Serialize;

use crate::core::{Digest, UnitId};
use crate::workspace::profiles::Profile;

/// What a unit does.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Compile normally.
    Build,
    /// Compile with `--test` (or `--cfg test` without a harness).
    Test,
    /// Execute a compiled build script.
    RunCustomBuild,
}

/// Where a unit's output runs.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum CompileKind {
    /// The host (also every unit when no `--target` was given).
    Host,
    /// The explicit `--target` triple.
    Target,
}

/// LTO mode computed per unit from all roots (Cargo's `lto.rs`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LtoMode {
    /// `-C lto[=x]`.
    Run(Option<String>),
    /// `-C lto=off -C embed-bitcode=no`.
    Off,
    /// `-C linker-plugin-lto`.
    OnlyBitcode,
    /// Nothing (rustc default).
    ObjectAndBitcode,
    /// `-C embed-bitcode=no`.
    OnlyObject,
}

/// An edge to a dependency unit.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
pub struct UnitDep {
    /// The dependency.
    pub unit: UnitId,
    /// Extern crate name for library edges; None for build-script edges.
    pub extern_name: Option<String>,
}

/// One unit of the final (shared, deduplicated) graph.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct Unit {
    /// Package index in the model.
    pub pkg: usize,
    /// Target index in the package.
    pub target: usize,
    /// Mode.
    pub mode: Mode,
    /// Compile kind.
    pub kind: CompileKind,
    /// Built for the host side (build-override profile, host features).
    pub for_host: bool,
    /// Resolved profile.
    pub profile: Profile,
    /// Sorted features.
    pub features: Vec<String>,
    /// Dependencies, sorted by unit.
    pub deps: Vec<UnitDep>,
    /// Requested by the user (root of the graph).
    pub is_root: bool,
    /// Package is a selected package (`CARGO_PRIMARY_PACKAGE`).
    pub is_primary: bool,
    /// LTO mode.
    pub lto: LtoMode,
    /// Stable identity hash (location independent); names output files.
    pub hash: Digest,
}

impl Unit {
    /// 16-hex-digit suffix for file names and `-C metadata`.
    pub fn short_hash(&self) -> String {
        self.hash.short(16)
    }
}
