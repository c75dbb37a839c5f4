//! Units: one rustc invocation or one build-script run, as in Cargo's
//! `unit.rs`.

use serde::Serialize;

use crate::core::{Digest, UnitId};
use crate::workspace::profiles::Profile;

/// What a unit does.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize,
)]
#[serde(into = "ModeName", from = "ModeName")]
pub enum Mode {
    /// Compile normally.
    Build,
    /// Compile with `--test` (or `--cfg test` without a harness).
    Test,
    /// Check only: rustc writes the metadata (`--emit=dep-info,metadata`),
    /// no code; with `test`, the target is checked as a test harness
    /// (`--test`), as `cargo check --tests` does.
    Check {
        /// Checked as a test (`--test` or `--cfg test`).
        test: bool,
    },
    /// Execute a compiled build script.
    RunCustomBuild,
    /// Compile and run a library's documentation tests with `rustdoc --test`.
    Doctest,
    /// Document a target with `rustdoc`.
    Doc,
}

impl Mode {
    /// Whether rustc only checks (Cargo's `is_check`).
    pub fn is_check(self) -> bool {
        matches!(self, Mode::Check { .. })
    }

    /// Whether rustc compiles the target as a test, built or checked
    /// (Cargo's `is_rustc_test`).
    pub fn is_rustc_test(self) -> bool {
        matches!(self, Mode::Test | Mode::Check { test: true })
    }

    /// The mode of the unit a check stands for: `Build` for a plain
    /// check, `Test` for a test check; other modes as they are.
    pub fn built(self) -> Mode {
        match self {
            Mode::Check { test: false } => Mode::Build,
            Mode::Check { test: true } => Mode::Test,
            other => other,
        }
    }
}

/// How a [`Mode`] is written in the plan and in unit hashes: one word.
#[derive(Clone, Copy, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
enum ModeName {
    Build,
    Test,
    Check,
    CheckTest,
    RunCustomBuild,
    Doctest,
    Doc,
}

impl From<Mode> for ModeName {
    fn from(m: Mode) -> Self {
        match m {
            Mode::Build => ModeName::Build,
            Mode::Test => ModeName::Test,
            Mode::Check { test: false } => ModeName::Check,
            Mode::Check { test: true } => ModeName::CheckTest,
            Mode::RunCustomBuild => ModeName::RunCustomBuild,
            Mode::Doctest => ModeName::Doctest,
            Mode::Doc => ModeName::Doc,
        }
    }
}

impl From<ModeName> for Mode {
    fn from(m: ModeName) -> Self {
        match m {
            ModeName::Build => Mode::Build,
            ModeName::Test => Mode::Test,
            ModeName::Check => Mode::Check { test: false },
            ModeName::CheckTest => Mode::Check { test: true },
            ModeName::RunCustomBuild => Mode::RunCustomBuild,
            ModeName::Doctest => Mode::Doctest,
            ModeName::Doc => Mode::Doc,
        }
    }
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

#[cfg(test)]
mod tests {
    use super::Mode;

    #[test]
    fn modes_are_written_as_one_word() {
        let all = [
            (Mode::Build, "build"),
            (Mode::Test, "test"),
            (Mode::Check { test: false }, "check"),
            (Mode::Check { test: true }, "check-test"),
            (Mode::RunCustomBuild, "run-custom-build"),
            (Mode::Doctest, "doctest"),
            (Mode::Doc, "doc"),
        ];
        for (mode, word) in all {
            let json = serde_json::to_string(&mode).unwrap();
            assert_eq!(json, format!("\"{word}\""));
            assert_eq!(serde_json::from_str::<Mode>(&json).unwrap(), mode);
        }
        assert!(Mode::Check { test: true }.is_rustc_test() && Mode::Test.is_rustc_test());
        assert!(!Mode::Check { test: false }.is_rustc_test());
    }
}
