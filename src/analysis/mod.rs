//! Analysis: from a [`BuildRequest`] to the [`ActionGraph`], running the
//! workspace layer (toolchain, config, metadata, features) and the planner.
//! [`persist`] saves the result with the digests of everything it was derived
//! from, so an unchanged workspace skips `cargo metadata` and planning.

pub mod persist;
pub mod run;
pub mod sources;

use std::path::PathBuf;

use crate::plan::layout::Layout;
use crate::plan::units::{self, select, GraphInputs};
use crate::plan::{graph, ActionGraph, BuildRequest, PlanContext, PlanError};
use crate::workspace::config::CargoConfig;
use crate::workspace::features::{self, Resolution};
use crate::workspace::load::{self, LoadOptions, Loaded};
use crate::workspace::model::WorkspaceModel;
use crate::workspace::profiles::Profiles;
use crate::workspace::rust_version::{RustVersionCheck, RustcVersion};
use crate::workspace::target_dir::TargetDirOrigin;
use crate::workspace::toolchain::{find_cargo, TargetInfo, Toolchain};

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
    let config = CargoConfig::load(
        &req.cwd,
        req.cargo_home.as_deref(),
        &opts.load.config,
        &req.env,
    )?;
    // `cargo metadata` and rustc's probes are independent processes: they
    // run at once. A toolchain error wins, then a manifest error, as they
    // would have stopped the build before the platform probes.
    let (loaded, probed) = std::thread::scope(|s| {
        let metadata = s.spawn(|| load::load(&find_cargo(&req.env), &req.cwd, &opts.load));
        let probed = probe_toolchain(req, &config).and_then(|toolchain| {
            let clippy_driver = match req.check.as_ref().and_then(|c| c.clippy.as_ref()) {
                Some(_) => Some(toolchain.clippy_driver(req.env.get("PATH").map(String::as_str))?),
                None => None,
            };
            let platforms = probe_platforms(req, &config, &toolchain);
            Ok((toolchain, clippy_driver, platforms))
        });
        let loaded = metadata
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (loaded, probed)
    });
    let (toolchain, clippy_driver, platforms) = probed?;
    let loaded = loaded?;
    let Platforms {
        triple: target_triple,
        host_info,
        target_info,
        host_flags,
        target_flags,
        linkers,
    } = platforms?;
    let (loaded, selected, profiles, resolution) = select_and_resolve(
        req,
        opts,
        &toolchain,
        &config,
        loaded,
        [&host_info, &target_info],
    )?;
    let model = loaded.model;
    let mut req_eff = req.clone();
    req_eff.target = target_triple.clone();
    if req.run {
        req_eff.targets = select::run_targets(&model, &selected, &req.targets)?;
    }
    let ug = units::build(&GraphInputs {
        model: &model,
        resolution: &resolution,
        profiles: &profiles,
        request: &req_eff,
        selected: &selected,
        rustc_version: &toolchain.version_verbose,
        rustflags: [&target_flags, &host_flags],
    })?;
    let layout = Layout {
        target_dir: target_dir(req, &model),
        profile_dir: profiles.dir_name(),
        triple: target_triple,
    };
    let package_files = sources::list_unit_packages(&model, &ug);
    let cx = PlanContext {
        model: &model,
        request: &req_eff,
        toolchain: &toolchain,
        config: &config,
        host_info: &host_info,
        target_info: &target_info,
        layout: layout.clone(),
        rustflags: [target_flags, host_flags],
        linkers,
        short_diagnostics: opts.short_diagnostics,
        package_files: &package_files,
        selected: &selected,
        clippy_driver: clippy_driver.as_ref(),
    };
    let graph = graph::build(&cx, &ug);
    let toolchain_id = format!(
        "{}\nlinker: {}",
        toolchain.version_verbose,
        cx.linker(crate::plan::unit::CompileKind::Target)
            .map(|l| l.display().to_string())
            .unwrap_or_else(|| "default".into())
    );
    let mut inputs = persist::Inputs::collect(&model, &config, &toolchain, req, opts);
    if let Some(d) = &clippy_driver {
        inputs.add_binary(&d.path);
    }
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

/// Selects the packages and resolves the features; loads the workspace
/// again when the command line asks a dependency for a feature the first
/// resolve did not have: the feature may turn on optional dependencies of
/// its own, which only a resolve with it lists.
fn select_and_resolve(
    req: &BuildRequest,
    opts: &AnalysisOptions,
    toolchain: &Toolchain,
    config: &CargoConfig,
    mut loaded: Loaded,
    [host_info, target_info]: [&TargetInfo; 2],
) -> Result<(Loaded, Vec<usize>, Profiles, Resolution), PlanError> {
    let mut selected = select::packages(&loaded.model, req)?;
    let profiles = Profiles::load_with_config(
        &loaded.model.root_manifest,
        config,
        &req.env,
        &req.profile,
        incremental_setting(&req.env),
    )?;
    let resolve = |loaded: &Loaded, selected: &[usize]| {
        let freq = req.feature_request(selected.to_vec());
        features::resolve(&loaded.graph, &loaded.model, &freq, host_info, target_info)
    };
    let mut resolution = resolve(&loaded, &selected)?;
    if !resolution.reload_with.is_empty() {
        let mut load_opts = opts.load.clone();
        load_opts.features = resolution.reload_with.clone();
        loaded = load::load(&toolchain.cargo, &req.cwd, &load_opts)?;
        selected = select::packages(&loaded.model, req)?;
        resolution = resolve(&loaded, &selected)?;
    }
    Ok((loaded, selected, profiles, resolution))
}

/// The rustc named by the config (else `rustc`), probed.
fn probe_toolchain(req: &BuildRequest, config: &CargoConfig) -> Result<Toolchain, PlanError> {
    let rustc = config
        .rustc
        .clone()
        .unwrap_or_else(|| PathBuf::from("rustc"));
    let mut toolchain =
        Toolchain::probe(rustc, find_cargo(&req.env), config.rustc_wrapper.clone())?;
    if config.rustc.is_none() {
        toolchain.bypass_rustup_proxy(req.env.get("PATH").map(String::as_str));
    }
    Ok(toolchain)
}

/// Host and target platform facts, with the rustflags and linkers of each.
struct Platforms {
    /// `--target` or `build.target`.
    triple: Option<String>,
    host_info: TargetInfo,
    target_info: TargetInfo,
    host_flags: Vec<String>,
    target_flags: Vec<String>,
    /// `[target units, host units]`.
    linkers: [Option<PathBuf>; 2],
}

fn probe_platforms(
    req: &BuildRequest,
    config: &CargoConfig,
    toolchain: &Toolchain,
) -> Result<Platforms, PlanError> {
    let triple = req.target.clone().or_else(|| config.build_target.clone());
    // Without `--target` the host is the target: one probe serves both.
    let host_probe = match &triple {
        Some(_) => Some(toolchain.target_info(None, &[])?),
        None => None,
    };
    let target_probe = toolchain.target_info(triple.as_deref(), &[])?;
    let target_flags = config.rustflags(&req.env, &target_probe)?;
    // Flags like `--cfg x` change what `cfg()` dependencies match.
    let target_info = if target_flags.is_empty() {
        target_probe
    } else {
        toolchain.target_info(triple.as_deref(), &target_flags)?
    };
    let (host_flags, host_info) = match host_probe {
        Some(host) => (Vec::new(), host),
        None => (target_flags.clone(), target_info.clone()),
    };
    let linkers = [config.linker(&target_info)?, config.linker(&host_info)?];
    Ok(Platforms {
        triple,
        host_info,
        target_info,
        host_flags,
        target_flags,
        linkers,
    })
}

/// The request's target dir was resolved once, before the analysis, so
/// that the saved analysis, the server and the lock are found there. By
/// default it is `<workspace root>/target` with the root found from the
/// manifests; should that ever disagree with Cargo's own answer, Cargo's
/// wins: artifacts must land where Cargo puts them (the saved analysis is
/// then merely not found again).
fn target_dir(req: &BuildRequest, model: &WorkspaceModel) -> PathBuf {
    match req.target_dir.origin {
        TargetDirOrigin::WorkspaceDefault => model.target_dir.clone(),
        _ => req.target_dir.path.clone(),
    }
}

/// Checks every unit's package, as Cargo does (one entry per unit).
fn rust_version_check(
    model: &WorkspaceModel,
    ug: &units::UnitGraph,
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
