//! The owned workspace model: packages, targets and manifest facts that
//! `cargo metadata` does not carry (lints, test harness flags).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::core::PackageId;

/// Where a package comes from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Source {
    /// A path package (member or not).
    Path,
    /// A registry package; the string is the registry URL.
    Registry {
        /// Registry source string.
        url: String,
    },
    /// A git package.
    Git {
        /// Git source string.
        url: String,
    },
}

/// The kind of a target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TargetKind {
    /// `[lib]` (any crate types) or a proc-macro.
    Lib,
    /// `[[bin]]`.
    Bin,
    /// `[[example]]`.
    Example,
    /// `[[test]]` (integration test).
    Test,
    /// `[[bench]]`.
    Bench,
    /// `build.rs`.
    CustomBuild,
}

impl TargetKind {
    /// Cargo's name for the kind (`lib`, `bin`, `custom-build`...).
    pub fn as_str(self) -> &'static str {
        match self {
            TargetKind::Lib => "lib",
            TargetKind::Bin => "bin",
            TargetKind::Example => "example",
            TargetKind::Test => "test",
            TargetKind::Bench => "bench",
            TargetKind::CustomBuild => "custom-build",
        }
    }
}

/// A crate type (`--crate-type`), as `cargo metadata` lists it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "String", from = "String")]
pub enum CrateType {
    /// `bin`.
    Bin,
    /// `lib`: the compiler's default library type (an rlib).
    Lib,
    /// `rlib`.
    Rlib,
    /// `dylib`.
    Dylib,
    /// `cdylib`.
    Cdylib,
    /// `staticlib`.
    Staticlib,
    /// `proc-macro`.
    ProcMacro,
    /// A type this version does not know, passed to rustc as written.
    Other(String),
}

impl CrateType {
    /// The name rustc and Cargo use.
    pub fn as_str(&self) -> &str {
        match self {
            CrateType::Bin => "bin",
            CrateType::Lib => "lib",
            CrateType::Rlib => "rlib",
            CrateType::Dylib => "dylib",
            CrateType::Cdylib => "cdylib",
            CrateType::Staticlib => "staticlib",
            CrateType::ProcMacro => "proc-macro",
            CrateType::Other(s) => s,
        }
    }
}

impl From<String> for CrateType {
    fn from(s: String) -> Self {
        match s.as_str() {
            "bin" => CrateType::Bin,
            "lib" => CrateType::Lib,
            "rlib" => CrateType::Rlib,
            "dylib" => CrateType::Dylib,
            "cdylib" => CrateType::Cdylib,
            "staticlib" => CrateType::Staticlib,
            "proc-macro" => CrateType::ProcMacro,
            _ => CrateType::Other(s),
        }
    }
}

impl From<CrateType> for String {
    fn from(c: CrateType) -> Self {
        c.as_str().to_string()
    }
}

/// One target of a package.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Target {
    /// Target name as written (`app-cli`).
    pub name: String,
    /// Kind.
    pub kind: TargetKind,
    /// Crate types (`lib`, `rlib`, `cdylib`, `proc-macro`, `bin`...).
    pub crate_types: Vec<CrateType>,
    /// Absolute source path.
    pub src_path: PathBuf,
    /// Edition.
    pub edition: String,
    /// `required-features`.
    pub required_features: Vec<String>,
    /// Built by `--tests` / in test mode.
    pub test: bool,
    /// `harness` (false means `--cfg test` instead of `--test`).
    pub harness: bool,
    /// Original `kind` list from metadata (e.g. `["lib"]`, `["proc-macro"]`).
    pub metadata_kind: Vec<String>,
    /// `doctest` flag (reported in JSON).
    pub doctest: bool,
    /// `doc` flag (reported in JSON).
    pub doc: bool,
}

impl Target {
    /// The crate name rustc sees: the target name with `-` replaced by `_`.
    /// A build script's target is named after its file stem, as Cargo does
    /// (`build.rs` is `build-script-build`, `build/main.rs` is
    /// `build-script-main`), so its crate is `build_script_<stem>`.
    pub fn crate_name(&self) -> String {
        self.name.replace('-', "_")
    }

    /// Whether this is a proc-macro library.
    pub fn is_proc_macro(&self) -> bool {
        self.crate_types.contains(&CrateType::ProcMacro)
    }

    /// Whether the target is linked on the host (proc-macro, build script).
    pub fn for_host(&self) -> bool {
        self.kind == TargetKind::CustomBuild || self.is_proc_macro()
    }
}

/// One dependency declaration of a manifest (one per section and platform).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeclaredDep {
    /// The name features refer to it by: the key in the manifest, i.e. the
    /// rename of `myutil = { package = "util" }`.
    pub name: String,
    /// The name of the package it resolves to.
    pub package: String,
    /// `optional = true`.
    pub optional: bool,
    /// `features = [...]`.
    pub features: Vec<String>,
    /// The version requirement, as Cargo prints it (`^1`, `*`).
    pub req: String,
}

/// One package of the resolved graph.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Package {
    /// Package id (PackageIdSpec URL form).
    pub id: PackageId,
    /// Name.
    pub name: String,
    /// Version.
    pub version: String,
    /// Absolute path of its manifest.
    pub manifest_path: PathBuf,
    /// Source.
    pub source: Source,
    /// Whether it is a workspace member.
    pub is_member: bool,
    /// Edition of the package.
    pub edition: String,
    /// `links`.
    pub links: Option<String>,
    /// Targets (lib first when present).
    pub targets: Vec<Target>,
    /// Every declared feature (incl. implicit ones for optional deps), sorted.
    pub declared_features: Vec<String>,
    /// The `[features]` table (implicit features of optional dependencies
    /// included), as `cargo metadata` lists it.
    #[serde(default)]
    pub feature_table: BTreeMap<String, Vec<String>>,
    /// The features `cargo metadata` resolved it with (every feature of the
    /// members): a feature outside them may need packages the graph lacks.
    #[serde(default)]
    pub resolved_features: BTreeSet<String>,
    /// The dependency declarations, in Cargo's order (normal, dev, build,
    /// then per platform; by name within each), as `cargo metadata` lists
    /// them.
    #[serde(default)]
    pub dependencies: Vec<DeclaredDep>,
    /// `authors`.
    pub authors: Vec<String>,
    /// `description`.
    pub description: String,
    /// `homepage`.
    pub homepage: String,
    /// `repository`.
    pub repository: String,
    /// `license`.
    pub license: String,
    /// `license-file`.
    pub license_file: String,
    /// `rust-version`.
    pub rust_version: String,
    /// `readme`.
    pub readme: String,
    /// rustc flags from `[lints]`, in Cargo's order.
    pub lint_flags: Vec<String>,
    /// `default-run`: the binary `cargo run` runs when none is named.
    #[serde(default)]
    pub default_run: Option<String>,
    /// `[package.metadata.hbuild] test-inputs`: glob patterns, relative to
    /// the package root, of files its tests read besides the package's own.
    #[serde(default)]
    pub test_inputs: Vec<String>,
}

impl Package {
    /// Directory containing the manifest.
    pub fn root(&self) -> &Path {
        self.manifest_path.parent().unwrap_or(Path::new("/"))
    }

    /// Path packages are "local": never capped, incremental allowed.
    pub fn is_local(&self) -> bool {
        self.source == Source::Path
    }

    /// Index of the library target, if any.
    pub fn lib(&self) -> Option<usize> {
        self.targets.iter().position(|t| t.kind == TargetKind::Lib)
    }

    /// Index of the build script target, if any.
    pub fn build_script(&self) -> Option<usize> {
        self.targets
            .iter()
            .position(|t| t.kind == TargetKind::CustomBuild)
    }
}

/// The whole workspace as hbuild sees it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WorkspaceModel {
    /// Workspace root directory.
    pub root: PathBuf,
    /// Root manifest.
    pub root_manifest: PathBuf,
    /// Target directory from metadata (before `--target-dir` overrides).
    pub target_dir: PathBuf,
    /// Packages, in metadata order.
    pub packages: Vec<Package>,
    /// Indices of workspace members.
    pub members: Vec<usize>,
    /// Indices of default members.
    pub default_members: Vec<usize>,
    /// Resolver version (`1`, `2`, `3`).
    pub resolver: String,
    /// Package id → index.
    #[serde(skip)]
    pub by_id: HashMap<String, usize>,
}

impl WorkspaceModel {
    /// Index of a package by id.
    pub fn index_of(&self, id: &str) -> Option<usize> {
        self.by_id.get(id).copied()
    }
}
