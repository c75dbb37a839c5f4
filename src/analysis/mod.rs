//! Analysis: from a [`BuildRequest`] to the [`ActionGraph`], running the
//! workspace layer (toolchain, config, metadata, features) and the planner.
//! [`persist`] saves the result with the digests of everything it was derived
//! from, so an unchanged workspace skips `cargo metadata` and planning.

pub mod persist;
pub mod run;

use std::path::PathBuf;

use crate::plan::layout::Layout;
use crate::plan::unit_graph::{self, GraphInputs};
use crate::plan::{graph, ActionGraph, BuildRequest, PlanContext, PlanError};
use crate::workspace::config::CargoConfig;
use crate::workspace::features::{self, FeatureRequest};
use crate::workspace::load::{self, LoadOptions};
use crate::workspace::model::WorkspaceModel;
use crate::workspace::profiles::Profiles;
use crate::workspace::rust_version::{RustVersionCheck, RustcVersion};
use crate::workspace::target_dir::TargetDirOrigin;
use crate::workspace::toolchain::{find_cargo, Toolchain};
use crate::workspace::WorkspaceError;

/// Everything derived from the workspace that a build needs.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct Analysis {
    /// Workspace root.
    pub workspace_root: PathBuf,
    /// Toolchain.
    pub toolchain: Toolchain,
    /// Toolchain identity for keys: `rustc -vV` and the linker.
    pub toolchain_id: String,
    /// The planned actions.
    pub graph: ActionGraph,
    /// Layout.
    pub layout: Layout,
    /// What the analysis was derived from (for [`persist`]).
    pub inputs: persist::Inputs,
    /// Units whose `rust-version` this rustc does not satisfy. Kept rather
    /// than failed on, so that `--ignore-rust-version` decides per build
    /// (the rustc is an input of the saved analysis, so this stays true).
    pub rust_version: RustVersionCheck,
}

/// Options of the analysis that are not part of the build request proper.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct AnalysisOptions {
    /// Passed to `cargo metadata`.
    pub load: LoadOptions,
    /// `--message-format short`.
    pub short_diagnostics: bool,
}

/// Runs the analysis.
pub fn analyse(req: &BuildRequest, opts: &AnalysisOptions) -> Result<Analysis, PlanError> {
    let config = CargoConfig::load(&req.cwd, req.cargo_home.as_deref(), &req.env)?;
    let rustc = config
        .rustc
        .clone()
        .unwrap_or_else(|| PathBuf::from("rustc"));
    let mut toolchain =
        Toolchain::probe(rustc, find_cargo(&req.env), config.rustc_wrapper.clone())?;
    if config.rustc.is_none() {
        toolchain.bypass_rustup_proxy(req.env.get("PATH").map(String::as_str));
    }
    let loaded = load::load(&toolchain.cargo, &req.cwd, &opts.load)?;
    let model = loaded.model;

    let target_triple = req.target.clone().or_else(|| config.build_target.clone());
    let host_probe = toolchain.target_info(None, &[])?;
    let target_probe = toolchain.target_info(target_triple.as_deref(), &[])?;
    let target_flags = config.rustflags(&req.env, &target_probe)?;
    // Flags like `--cfg x` change what `cfg()` dependencies match.
    let target_info = if target_flags.is_empty() {
        target_probe
    } else {
        toolchain.target_info(target_triple.as_deref(), &target_flags)?
    };
    let (host_flags, host_info) = if target_triple.is_some() {
        (Vec::new(), host_probe)
    } else {
        (target_flags.clone(), target_info.clone())
    };
    let linker_target = config.linker(&target_info)?;
    let linker_host = config.linker(&host_info)?;

    let selected = select_packages(&model, req)?;
    let profiles = Profiles::load(
        &model.root_manifest,
        &req.profile,
        incremental_setting(&req.env),
    )?;
    let freq = FeatureRequest {
        packages: selected.clone(),
        features: req.features.clone(),
        all_features: req.all_features,
        no_default_features: req.no_default_features,
        include_dev: req.targets.needs_dev_deps(),
    };
    let resolution = features::resolve(&loaded.graph, &model, &freq, &host_info, &target_info)?;
    let mut req_eff = req.clone();
    req_eff.target = target_triple.clone();
    let ug = unit_graph::build(&GraphInputs {
        model: &model,
        resolution: &resolution,
        profiles: &profiles,
        request: &req_eff,
        selected: &selected,
        rustc_version: &toolchain.version_verbose,
        rustflags: [&target_flags, &host_flags],
    })?;
    // The request's target dir was resolved once, before the analysis, so
    // that the saved analysis, the server and the lock are found there. By
    // default it is `<workspace root>/target` with the root found from the
    // manifests; should that ever disagree with Cargo's own answer, Cargo's
    // wins: artifacts must land where Cargo puts them (the saved analysis is
    // then merely not found again).
    let target_dir = match req.target_dir.origin {
        TargetDirOrigin::WorkspaceDefault => model.target_dir.clone(),
        _ => req.target_dir.path.clone(),
    };
    let layout = Layout {
        target_dir,
        profile_dir: profiles.dir_name(),
        triple: target_triple,
    };
    let cx = PlanContext {
        model: &model,
        request: &req_eff,
        toolchain: &toolchain,
        config: &config,
        host_info: &host_info,
        target_info: &target_info,
        layout: layout.clone(),
        rustflags: [target_flags, host_flags],
        linkers: [linker_target, linker_host],
        short_diagnostics: opts.short_diagnostics,
    };
    let graph = graph::build(&cx, &ug);
    let toolchain_id = format!(
        "{}\nlinker: {}",
        toolchain.version_verbose,
        cx.linker(crate::plan::unit::CompileKind::Target)
            .map(|l| l.display().to_string())
            .unwrap_or_else(|| "default".into())
    );
    let inputs = persist::Inputs::collect(&model, &config, &toolchain, req, opts);
    let rust_version = rust_version_check(&model, &ug, &toolchain);
    Ok(Analysis {
        workspace_root: model.root.clone(),
        graph,
        toolchain,
        toolchain_id,
        layout,
        inputs,
        rust_version,
    })
}

/// Checks every unit's package, as Cargo does (one entry per unit).
fn rust_version_check(
    model: &WorkspaceModel,
    ug: &unit_graph::UnitGraph,
    toolchain: &Toolchain,
) -> RustVersionCheck {
    // A rustc whose version cannot be read cannot be compared; Cargo itself
    // would not have got this far.
    let Some(rustc) = RustcVersion::from_verbose(&toolchain.version_verbose) else {
        return RustVersionCheck::default();
    };
    RustVersionCheck::new(
        &rustc,
        ug.units.iter().map(|u| {
            let p = &model.packages[u.pkg];
            (
                p.name.as_str(),
                p.version.as_str(),
                p.rust_version.as_str(),
                p.is_local(),
            )
        }),
    )
}

/// `-p`/`--workspace`/`--exclude`/default members → package indices.
fn select_packages(
    model: &WorkspaceModel,
    req: &BuildRequest,
) -> Result<Vec<usize>, WorkspaceError> {
    let matches = |spec: &str, i: usize| {
        let p = &model.packages[i];
        let (name, ver) = spec.split_once('@').unwrap_or((spec, ""));
        (p.name == name || p.id.0 == spec) && (ver.is_empty() || p.version == ver)
    };
    let mut out: Vec<usize> = if req.workspace {
        model.members.clone()
    } else if !req.packages.is_empty() {
        let mut v = Vec::new();
        for spec in &req.packages {
            let found: Vec<usize> = (0..model.packages.len())
                .filter(|&i| matches(spec, i))
                .collect();
            if found.is_empty() {
                return Err(WorkspaceError::UnknownPackage(spec.clone()));
            }
            v.extend(found);
        }
        v
    } else {
        // The package whose manifest is in the current directory, else
        // the default members.
        let here = model.members.iter().copied().find(|&i| {
            model.packages[i].root() == req.cwd
                && model.packages[i].manifest_path != model.root_manifest
        });
        match here {
            Some(i) => vec![i],
            None => model.default_members.clone(),
        }
    };
    for ex in &req.exclude {
        if !model.members.iter().any(|&i| matches(ex, i)) {
            return Err(WorkspaceError::UnknownExclude(ex.clone()));
        }
        out.retain(|&i| !matches(ex, i));
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// `CARGO_INCREMENTAL` overrides the profiles' `incremental` (on for path
/// packages in `dev`, as with Cargo). Incremental compilation is an
/// execution strategy, not an input: it stays out of action keys, and its
/// outputs (rustc names objects per session, so they are not reproducible)
/// are cached locally but never uploaded.
fn incremental_setting(env: &std::collections::BTreeMap<String, String>) -> Option<bool> {
    match env.get("CARGO_INCREMENTAL").map(String::as_str) {
        Some("1") => Some(true),
        Some("0") => Some(false),
        _ => None,
    }
}
