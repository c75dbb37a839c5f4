//! Feature resolution per side (target / host), exactly as Cargo's resolver
//! 1 or 2 would, using guppy's `CargoSet`; and the dependency edges that are
//! active for each (package, side), evaluated against the real
//! `rustc --print cfg` of the platform.

use guppy::graph::cargo::{CargoOptions, CargoResolverVersion, CargoSet, InitialsPlatform};
use guppy::graph::feature::{FeatureId, FeatureLabel, FeatureSet};
use guppy::graph::{PackageGraph, PackageLink};
use guppy::platform::{EnabledTernary, Platform, PlatformSpec, TargetFeatures};
use guppy::DependencyKind;
use serde::Serialize;

use super::cli_features::{self, MemberFeatures};
use super::dep_features::{self, Placement, WeakSeeds};
use super::model::WorkspaceModel;
pub use super::seeds::Side;
pub(crate) use super::seeds::{Label, Seed};
use super::toolchain::TargetInfo;
use super::WorkspaceError;

/// One dependency edge from a package, active on some side.
#[derive(Clone, Debug, Serialize)]
pub struct Edge {
    /// Index of the dependency package.
    pub to: usize,
    /// Extern crate name (rename applied, `-` → `_`).
    pub extern_name: String,
    /// Active as a normal dependency.
    pub normal: bool,
    /// Active as a build dependency (evaluated for the host platform).
    pub build: bool,
    /// Active as a dev dependency.
    pub dev: bool,
}

/// What the user asked for, as it influences features.
#[derive(Clone, Debug, Default)]
pub struct FeatureRequest {
    /// Selected packages (indices into the model).
    pub packages: Vec<usize>,
    /// `--features` values, split (`a`, `pkg/a`, `dep?/a`).
    pub features: Vec<String>,
    /// `--all-features`.
    pub all_features: bool,
    /// `--no-default-features`.
    pub no_default_features: bool,
    /// Whether dev-dependencies are part of the build (tests, examples, benches).
    pub include_dev: bool,
}

/// The result: features per package per side, and active edges.
#[derive(Clone, Debug, Serialize)]
pub struct Resolution {
    /// `features[side][package]`: None when the package is not built on that side.
    pub features: [Vec<Option<Vec<String>>>; 2],
    /// `edges[package][side]`.
    pub edges: Vec<[Vec<Edge>; 2]>,
    /// `--features` values (as written) asking a dependency for a feature
    /// the loaded graph was not resolved with: the graph may lack packages
    /// it needs, and must be loaded again with them (see
    /// [`LoadOptions::features`](super::load::LoadOptions::features)).
    pub reload_with: Vec<String>,
}

impl Resolution {
    /// Sorted named features of a package on a side (empty when absent).
    pub fn features_of(&self, side: Side, pkg: usize) -> &[String] {
        self.features[side as usize][pkg].as_deref().unwrap_or(&[])
    }
}

fn platform(info: &TargetInfo) -> Result<PlatformSpec, WorkspaceError> {
    let features = TargetFeatures::features(
        info.values("target_feature")
            .into_iter()
            .map(|s| s.to_string()),
    );
    let p = Platform::new(info.triple.clone(), features)
        .map_err(|e| WorkspaceError::Invalid(format!("unknown target `{}`: {e}", info.triple)))?;
    Ok(PlatformSpec::Platforms(vec![std::sync::Arc::new(p)]))
}

fn graph_err(e: guppy::Error) -> WorkspaceError {
    WorkspaceError::Graph(e.to_string())
}

/// Everything the request turns on, by where it goes.
#[derive(Clone, Debug, Default)]
struct Seeds {
    /// The roots: selected members with their features.
    initials: Vec<Seed>,
    /// Features of dependencies built for the target, or for every side
    /// under resolver 1 (guppy unifies them with the roots' without making
    /// their packages roots).
    target: Vec<Seed>,
    /// Features of dependencies built for the host (resolver 2).
    host: Vec<Seed>,
    /// `dep?/feat` waiting for its optional dependency.
    weak: Vec<WeakSeeds>,
    /// See [`Resolution::reload_with`].
    outside_resolve: Vec<String>,
}

/// Resolves features and edges for a request.
pub fn resolve(
    graph: &PackageGraph,
    model: &WorkspaceModel,
    req: &FeatureRequest,
    host: &TargetInfo,
    target: &TargetInfo,
) -> Result<Resolution, WorkspaceError> {
    let host_spec = platform(host)?;
    let target_spec = platform(target)?;
    let resolver = match model.resolver.as_str() {
        "1" => CargoResolverVersion::V1,
        "2" => CargoResolverVersion::V2,
        _ => CargoResolverVersion::V3,
    };
    let placement = Placement {
        unified: resolver == CargoResolverVersion::V1,
        include_dev: req.include_dev,
        target: &target_spec,
        host: &host_spec,
    };
    let mut seeds = initial_features(graph, model, req, placement)?;
    let mut opts = CargoOptions::new();
    opts.set_resolver(resolver)
        .set_include_dev(req.include_dev)
        .set_initials_platform(InitialsPlatform::Standard)
        .set_target_platform(target_spec.clone())
        .set_host_platform(host_spec.clone());
    let (target_fs, host_fs) = loop {
        let (target_fs, host_fs) = feature_sets(graph, model, &seeds, &opts)?;
        if !apply_weak(graph, model, &mut seeds, [&target_fs, &host_fs])? {
            break (target_fs, host_fs);
        }
    };
    let sets = [&target_fs, &host_fs];
    let features = features_by_side(model, sets);
    let edges = active_edges(graph, model, sets, &features, &target_spec, &host_spec)?;
    Ok(Resolution {
        features,
        edges,
        reload_with: seeds.outside_resolve,
    })
}

/// The target and host feature sets of the seeds. Host features of
/// dependencies are unified with the host side of the first resolution in
/// a second one that starts from all of it: guppy has no way to start a
/// build dependency on the host.
fn feature_sets<'g>(
    graph: &'g PackageGraph,
    model: &WorkspaceModel,
    seeds: &Seeds,
    opts: &CargoOptions<'_>,
) -> Result<(FeatureSet<'g>, FeatureSet<'g>), WorkspaceError> {
    let initials = feature_set(graph, model, &seeds.initials)?;
    let target_only = feature_set(graph, model, &seeds.target)?;
    let set = CargoSet::new(initials, target_only, opts).map_err(graph_err)?;
    if seeds.host.is_empty() {
        return Ok((set.target_features().clone(), set.host_features().clone()));
    }
    let host_initials = set
        .host_features()
        .union(&feature_set(graph, model, &seeds.host)?);
    let mut host_opts = opts.clone();
    host_opts
        .set_initials_platform(InitialsPlatform::Host)
        .set_include_dev(false);
    let fgraph = graph.feature_graph();
    let host =
        CargoSet::new(host_initials, fgraph.resolve_none(), &host_opts).map_err(graph_err)?;
    Ok((set.target_features().clone(), host.host_features().clone()))
}

/// The guppy feature set of exactly these seeds.
fn feature_set<'g>(
    graph: &'g PackageGraph,
    model: &WorkspaceModel,
    seeds: &[Seed],
) -> Result<FeatureSet<'g>, WorkspaceError> {
    let pkg_ids: Vec<guppy::PackageId> = seeds
        .iter()
        .map(|s| guppy::PackageId::new(model.packages[s.pkg].id.0.clone()))
        .collect();
    let ids = seeds.iter().zip(&pkg_ids).map(|(s, pid)| match &s.label {
        Label::Base => FeatureId::base(pid),
        Label::Named(f) => FeatureId::new(pid, FeatureLabel::Named(f)),
        Label::OptionalDependency(d) => FeatureId::new(pid, FeatureLabel::OptionalDependency(d)),
    });
    graph.feature_graph().resolve_ids(ids).map_err(graph_err)
}

/// Moves the `dep?/feat` whose optional dependency the member now has on
/// into the seeds; whether any moved.
fn apply_weak(
    graph: &PackageGraph,
    model: &WorkspaceModel,
    seeds: &mut Seeds,
    sets: [&FeatureSet<'_>; 2],
) -> Result<bool, WorkspaceError> {
    let mut waiting = Vec::new();
    let mut moved = false;
    for w in std::mem::take(&mut seeds.weak) {
        let pid = guppy::PackageId::new(model.packages[w.member].id.0.clone());
        let id = graph.metadata(&pid).map_err(graph_err)?.id();
        let label = FeatureLabel::OptionalDependency(&w.dep_name);
        let on = sets
            .iter()
            .any(|fs| fs.contains((id, label)).unwrap_or(false));
        if !on {
            waiting.push(w);
            continue;
        }
        moved = true;
        for (side, seed) in w.seeds {
            match side {
                Side::Target => seeds.target.push(seed),
                Side::Host => seeds.host.push(seed),
            }
        }
    }
    seeds.weak = waiting;
    Ok(moved)
}

/// The seeds of a request: base, default and requested features of each
/// selected member, and the dependency features of `dep-name/feat`, after
/// Cargo's checks of the `--features` values.
fn initial_features(
    graph: &PackageGraph,
    model: &WorkspaceModel,
    req: &FeatureRequest,
    placement: Placement<'_>,
) -> Result<Seeds, WorkspaceError> {
    let cli = cli_features::parse(&req.features)?;
    // Cargo resolves features from the selected members only, in
    // workspace order; other selected packages get what the members ask.
    let selected: Vec<usize> = model
        .members
        .iter()
        .copied()
        .filter(|m| req.packages.contains(m))
        .collect();
    if selected.is_empty() {
        if !cli.is_empty() || req.all_features || req.no_default_features {
            return Err(WorkspaceError::FeaturesOutsideWorkspace);
        }
        let mut seeds = Seeds::default();
        for &m in &model.members {
            member_seeds(model, m, &[], false, false, &mut seeds.initials);
        }
        return Ok(seeds);
    }
    let requests = cli_features::for_members(model, &selected, &cli)
        .map_err(|e| WorkspaceError::UnknownFeatures(Box::new(e)))?;
    let members: Vec<(usize, MemberFeatures)> = selected.into_iter().zip(requests).collect();
    for (m, r) in &members {
        for f in &r.own {
            dep_features::check_hidden_optional(model, *m, f)?;
        }
    }
    let deps = dep_features::seeds(graph, model, &members, placement)?;
    let mut seeds = Seeds::default();
    for (m, r) in &members {
        let (all, no_default) = (req.all_features, req.no_default_features);
        member_seeds(model, *m, &r.own, all, no_default, &mut seeds.initials);
    }
    seeds.initials.extend(deps.member);
    for (side, seed) in deps.by_side {
        match side {
            Side::Target => seeds.target.push(seed),
            Side::Host => seeds.host.push(seed),
        }
    }
    seeds.weak = deps.weak;
    seeds.outside_resolve = deps.outside_resolve;
    Ok(seeds)
}

/// A root member: its base, `default` unless refused, every feature with
/// `--all-features`, and the features asked of it.
fn member_seeds(
    model: &WorkspaceModel,
    m: usize,
    own: &[String],
    all_features: bool,
    no_default_features: bool,
    out: &mut Vec<Seed>,
) {
    let p = &model.packages[m];
    let seed = |label| Seed { pkg: m, label };
    out.push(seed(Label::Base));
    if !no_default_features && p.feature_table.contains_key("default") {
        out.push(seed(Label::Named("default".into())));
    }
    if all_features {
        out.extend(
            p.declared_features
                .iter()
                .map(|f| seed(Label::Named(f.clone()))),
        );
    }
    out.extend(own.iter().map(|f| seed(Label::Named(f.clone()))));
}

/// Per side, per package: its sorted features, or `None` when the package
/// is not built on that side.
fn features_by_side(
    model: &WorkspaceModel,
    [target_fs, host_fs]: [&FeatureSet<'_>; 2],
) -> [Vec<Option<Vec<String>>>; 2] {
    let n = model.packages.len();
    let mut features: [Vec<Option<Vec<String>>>; 2] = [vec![None; n], vec![None; n]];
    for (side, fs) in [(Side::Target, target_fs), (Side::Host, host_fs)] {
        for list in fs.packages_with_features(guppy::graph::DependencyDirection::Forward) {
            let Some(ix) = model.index_of(list.package().id().repr()) else {
                continue;
            };
            let mut names: Vec<String> = list.named_features().map(str::to_string).collect();
            names.sort();
            features[side as usize][ix] = Some(names);
        }
    }
    features
}

/// Per package, per side: the dependency edges active under the resolved
/// features and platforms.
fn active_edges(
    graph: &PackageGraph,
    model: &WorkspaceModel,
    [target_fs, host_fs]: [&FeatureSet<'_>; 2],
    features: &[Vec<Option<Vec<String>>>; 2],
    target_spec: &PlatformSpec,
    host_spec: &PlatformSpec,
) -> Result<Vec<[Vec<Edge>; 2]>, WorkspaceError> {
    let mut edges: Vec<[Vec<Edge>; 2]> = (0..model.packages.len())
        .map(|_| [Vec::new(), Vec::new()])
        .collect();
    for (side, fs, spec) in [
        (Side::Target, target_fs, target_spec),
        (Side::Host, host_fs, host_spec),
    ] {
        for (ix, p) in model.packages.iter().enumerate() {
            if features[side as usize][ix].is_none() {
                continue;
            }
            let pid = guppy::PackageId::new(p.id.0.clone());
            let meta = graph.metadata(&pid).map_err(graph_err)?;
            for link in meta.direct_links() {
                let Some(to) = model.index_of(link.to().id().repr()) else {
                    continue;
                };
                let normal = is_enabled(fs, &link, DependencyKind::Normal, spec);
                let build = is_enabled(fs, &link, DependencyKind::Build, host_spec);
                let dev = is_enabled(fs, &link, DependencyKind::Development, spec);
                if normal || build || dev {
                    edges[ix][side as usize].push(Edge {
                        to,
                        extern_name: link.resolved_name().replace('-', "_"),
                        normal,
                        build,
                        dev,
                    });
                }
            }
        }
    }
    Ok(edges)
}

/// Whether an edge of `kind` is active given the feature set: optional
/// dependencies count only when their `dep:` feature is on. Mirrors guppy's
/// own rule for building a `CargoSet`.
fn is_enabled(
    fs: &FeatureSet<'_>,
    link: &PackageLink<'_>,
    kind: DependencyKind,
    spec: &PlatformSpec,
) -> bool {
    let req = link.req_for_kind(kind);
    if !req.is_present() {
        return false;
    }
    let status = req.status();
    // An optional dependency is on through its `dep:` feature or, when the
    // package never uses `dep:` for it, through the implicit feature of the
    // same name.
    let optional_on = fs
        .contains((
            link.from().id(),
            FeatureLabel::OptionalDependency(link.dep_name()),
        ))
        .unwrap_or(false)
        || fs
            .contains((link.from().id(), FeatureLabel::Named(link.dep_name())))
            .unwrap_or(false);
    if optional_on {
        status.enabled_on(spec) != EnabledTernary::Disabled
    } else {
        status.required_on(spec) != EnabledTernary::Disabled
    }
}
