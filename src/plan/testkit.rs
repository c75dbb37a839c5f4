//! Test support: plans captured `cargo metadata` JSON from
//! `testdata/metadata/` without running cargo or rustc.
//!
//! The captured JSON has its absolute prefixes replaced by placeholders:
//! `{WORKSPACE}` (the fixture's root under `testdata/workspaces/`) and
//! `{REGISTRY}` (the registry source directory). The model loader reads
//! the manifests it names, so `{WORKSPACE}` becomes the checked-in fixture
//! and `{REGISTRY}` a temporary directory of empty stub manifests: registry
//! manifests only contribute lints and harness flags, which units do not
//! depend on.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::request::{BuildRequest, TargetSelection};
use super::unit::{CompileKind, Mode, Unit};
use super::units::{self, GraphInputs, UnitGraph};
use super::PlanError;
use crate::workspace::features::{self, Resolution};
use crate::workspace::load::{self, Loaded};
use crate::workspace::profiles::Profiles;
use crate::workspace::target_dir::{TargetDir, TargetDirOrigin};
use crate::workspace::toolchain::TargetInfo;

/// A fixed `rustc -vV`, so that pinned hashes do not follow the installed
/// toolchain.
pub(crate) const RUSTC_VV: &str = "rustc 1.95.0 (59807616e 2026-04-14)\nbinary: rustc\ncommit-hash: 59807616e1fa2540724bfbac14d7976d7e4a3860\ncommit-date: 2026-04-14\nhost: x86_64-unknown-linux-gnu\nrelease: 1.95.0\nLLVM version: 22.1.2\n";

/// The host triple of [`linux_info`].
pub(crate) const HOST: &str = "x86_64-unknown-linux-gnu";

/// `rustc --print cfg` of x86_64 Linux.
pub(crate) fn linux_info() -> TargetInfo {
    let cfg = "debug_assertions\npanic=\"unwind\"\ntarget_abi=\"\"\ntarget_arch=\"x86_64\"\n\
        target_endian=\"little\"\ntarget_env=\"gnu\"\ntarget_family=\"unix\"\n\
        target_feature=\"fxsr\"\ntarget_feature=\"sse\"\ntarget_feature=\"sse2\"\n\
        target_has_atomic=\"16\"\ntarget_has_atomic=\"32\"\ntarget_has_atomic=\"64\"\n\
        target_has_atomic=\"8\"\ntarget_has_atomic=\"ptr\"\ntarget_os=\"linux\"\n\
        target_pointer_width=\"64\"\ntarget_vendor=\"unknown\"\nunix";
    TargetInfo {
        triple: HOST.into(),
        cfg: cfg.lines().map(str::to_string).collect(),
    }
}

/// A loaded fixture.
pub(crate) struct Fixture {
    /// The model and guppy graph.
    pub(crate) loaded: Loaded,
    _registry: tempfile::TempDir,
}

fn repo_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

impl Fixture {
    /// Loads `testdata/metadata/<name>.json` over `testdata/workspaces/<name>`.
    pub(crate) fn load(name: &str) -> Fixture {
        let text = std::fs::read_to_string(repo_path(&format!("testdata/metadata/{name}.json")))
            .expect("captured metadata");
        let registry = tempfile::tempdir().expect("tempdir");
        let ws = repo_path(&format!("testdata/workspaces/{name}"));
        let json = text
            .replace("{WORKSPACE}", &ws.display().to_string())
            .replace("{REGISTRY}", &registry.path().display().to_string());
        write_registry_stubs(&json, registry.path());
        let loaded = load::from_json(json).expect("fixture metadata loads");
        Fixture {
            loaded,
            _registry: registry,
        }
    }

    /// `kitchen-sink`.
    pub(crate) fn kitchen_sink() -> Fixture {
        Fixture::load("kitchen-sink")
    }

    /// A plain `cargo build` in the workspace root.
    pub(crate) fn request(&self) -> BuildRequest {
        let root = self.loaded.model.root.clone();
        BuildRequest {
            cwd: root.clone(),
            packages: Vec::new(),
            workspace: false,
            exclude: Vec::new(),
            targets: TargetSelection::default(),
            profile: "dev".into(),
            features: Vec::new(),
            all_features: false,
            no_default_features: false,
            target: None,
            target_dir: TargetDir {
                path: root.join("target"),
                origin: TargetDirOrigin::WorkspaceDefault,
            },
            jobs: 2,
            env: Default::default(),
            cargo_home: None,
            test: None,
            run: false,
            doc: None,
            check: None,
            very_verbose: false,
        }
    }

    /// The workspace's own profiles for a request.
    pub(crate) fn profiles(&self, req: &BuildRequest) -> Profiles {
        Profiles::load(&self.loaded.model.root_manifest, &req.profile, None).expect("profiles")
    }

    /// Plans the unit graph of a request.
    pub(crate) fn plan(&self, req: &BuildRequest) -> Result<UnitGraph, PlanError> {
        self.plan_with(req, &self.profiles(req))
    }

    /// Plans the unit graph of a request with the given profiles.
    pub(crate) fn plan_with(
        &self,
        req: &BuildRequest,
        profiles: &Profiles,
    ) -> Result<UnitGraph, PlanError> {
        self.plan_edited(req, profiles, |_| {})
    }

    /// Plans with the given profiles after `edit` changed the feature
    /// resolution (to reach cases the fixture's manifests do not).
    pub(crate) fn plan_edited(
        &self,
        req: &BuildRequest,
        profiles: &Profiles,
        edit: impl FnOnce(&mut Resolution),
    ) -> Result<UnitGraph, PlanError> {
        let model = &self.loaded.model;
        let selected = units::select::packages(model, req)?;
        let info = linux_info();
        let freq = req.feature_request(selected.clone());
        let mut resolution = features::resolve(&self.loaded.graph, model, &freq, &info, &info)?;
        edit(&mut resolution);
        let flags: Vec<String> = Vec::new();
        units::build(&GraphInputs {
            model,
            resolution: &resolution,
            profiles,
            request: req,
            selected: &selected,
            rustc_version: RUSTC_VV,
            rustflags: [&flags, &flags],
        })
    }

    /// The model index of a package.
    pub(crate) fn pkg(&self, name: &str) -> usize {
        let packages = &self.loaded.model.packages;
        packages
            .iter()
            .position(|p| p.name == name)
            .unwrap_or_else(|| panic!("no package `{name}`"))
    }

    /// A unit as `package target-kind:target mode kind[ for-host]`.
    pub(crate) fn describe(&self, u: &Unit) -> String {
        let p = &self.loaded.model.packages[u.pkg];
        let t = &p.targets[u.target];
        let mode = match u.mode {
            Mode::Build => "build",
            Mode::Test => "test",
            Mode::Check { test: false } => "check",
            Mode::Check { test: true } => "check-test",
            Mode::RunCustomBuild => "run",
            Mode::Doctest => "doctest",
            Mode::Doc => "doc",
        };
        let kind = match u.kind {
            CompileKind::Host => "host",
            CompileKind::Target => "target",
        };
        let host = if u.for_host { " for-host" } else { "" };
        format!(
            "{} {}:{} {mode} {kind}{host}",
            p.name,
            t.kind.as_str(),
            t.name
        )
    }

    /// Every unit, described.
    pub(crate) fn unit_set(&self, ug: &UnitGraph) -> BTreeSet<String> {
        ug.units.iter().map(|u| self.describe(u)).collect()
    }

    /// The root units, described.
    pub(crate) fn root_set(&self, ug: &UnitGraph) -> BTreeSet<String> {
        ug.roots
            .iter()
            .map(|r| self.describe(&ug.units[r.index()]))
            .collect()
    }

    /// The units described as `what`; panics unless there is at least one.
    pub(crate) fn find<'g>(&self, ug: &'g UnitGraph, what: &str) -> Vec<&'g Unit> {
        let found: Vec<&Unit> = ug
            .units
            .iter()
            .filter(|u| self.describe(u) == what)
            .collect();
        assert!(!found.is_empty(), "no unit `{what}`");
        found
    }

    /// The dependencies of a unit, described.
    pub(crate) fn dep_set(&self, ug: &UnitGraph, u: &Unit) -> BTreeSet<String> {
        u.deps
            .iter()
            .map(|d| self.describe(&ug.units[d.unit.index()]))
            .collect()
    }
}

/// Writes an empty manifest for every registry package of the metadata.
fn write_registry_stubs(json: &str, registry: &Path) {
    let meta: serde_json::Value = serde_json::from_str(json).expect("metadata JSON");
    for p in meta["packages"].as_array().expect("packages") {
        let manifest = Path::new(p["manifest_path"].as_str().expect("manifest_path"));
        if manifest.starts_with(registry) {
            std::fs::create_dir_all(manifest.parent().expect("parent")).expect("stub dir");
            std::fs::write(manifest, "").expect("stub manifest");
        }
    }
}

/// `s` as a set of owned strings, for comparing with [`Fixture::unit_set`].
pub(crate) fn set(s: &[&str]) -> BTreeSet<String> {
    s.iter().map(|x| x.to_string()).collect()
}
