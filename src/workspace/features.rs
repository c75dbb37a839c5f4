//! Feature resolution per side (target / host), exactly as Cargo's resolver
//! 1 or 2 would, using guppy's `CargoSet`; and the dependency edges that are
//! active for each (package, side), evaluated against the real
//! `rustc --print cfg` of the platform.

use std::collections::BTreeSet;

use guppy::graph::cargo::{CargoOptions, CargoResolverVersion, CargoSet, InitialsPlatform};
use guppy::graph::feature::{FeatureId, FeatureLabel, FeatureSet};
use guppy::graph::{PackageGraph, PackageLink};
use guppy::platform::{EnabledTernary, Platform, PlatformSpec, TargetFeatures};
use guppy::DependencyKind;
use serde::Serialize;

use super::model::WorkspaceModel;
use super::toolchain::TargetInfo;
use super::WorkspaceError;

/// Side of the build a unit is on. Host = build scripts, proc-macros and
/// their dependencies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Side {
    /// Built for the target platform.
    Target = 0,
    /// Built for the host (build-time code).
    Host = 1,
}

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
    /// `--features` values, split (`a`, `pkg/a`).
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
    let fgraph = graph.feature_graph();
    let initial_ids = initial_features(model, req)?;
    let pkg_ids: Vec<guppy::PackageId> = initial_ids
        .iter()
        .map(|(id, _)| guppy::PackageId::new(id.clone()))
        .collect();
    let ids: Vec<FeatureId<'_>> = initial_ids
        .iter()
        .zip(&pkg_ids)
        .map(|((_, f), pid)| match f {
            None => FeatureId::base(pid),
            Some(f) => FeatureId::new(pid, FeatureLabel::Named(f)),
        })
        .collect();
    let initials = fgraph.resolve_ids(ids).map_err(graph_err)?;

    let mut opts = CargoOptions::new();
    opts.set_resolver(match model.resolver.as_str() {
        "1" => CargoResolverVersion::V1,
        "2" => CargoResolverVersion::V2,
        _ => CargoResolverVersion::V3,
    })
    .set_include_dev(req.include_dev)
    .set_initials_platform(InitialsPlatform::Standard)
    .set_target_platform(target_spec.clone())
    .set_host_platform(host_spec.clone());
    let set = CargoSet::new(initials, fgraph.resolve_none(), &opts).map_err(graph_err)?;
    let features = features_by_side(model, &set);
    let edges = active_edges(graph, model, &set, &features, &target_spec, &host_spec)?;
    Ok(Resolution { features, edges })
}

/// The initial feature ids, as (package id, feature; `None` for the base):
/// base, default and requested features of each selected package.
fn initial_features(
    model: &WorkspaceModel,
    req: &FeatureRequest,
) -> Result<Vec<(String, Option<String>)>, WorkspaceError> {
    let mut initial_ids: Vec<(String, Option<String>)> = Vec::new();
    let mut unmatched: BTreeSet<String> = BTreeSet::new();
    for f in &req.features {
        if let Some((pkg, feat)) = f.split_once('/') {
            let Some(p) = model.packages.iter().find(|p| p.is_member && p.name == pkg) else {
                return Err(WorkspaceError::UnknownPackage(pkg.to_string()));
            };
            if !p.declared_features.contains(&feat.to_string()) {
                return Err(WorkspaceError::UnknownFeature {
                    package: p.name.clone(),
                    feature: feat.to_string(),
                });
            }
            initial_ids.push((p.id.0.clone(), Some(feat.to_string())));
        } else {
            unmatched.insert(f.clone());
        }
    }
    for &ix in &req.packages {
        let p = &model.packages[ix];
        initial_ids.push((p.id.0.clone(), None));
        if !req.no_default_features && p.declared_features.iter().any(|f| f == "default") {
            initial_ids.push((p.id.0.clone(), Some("default".into())));
        }
        let wanted: Vec<String> = if req.all_features {
            p.declared_features.clone()
        } else {
            req.features
                .iter()
                .filter(|f| !f.contains('/') && p.declared_features.contains(f))
                .cloned()
                .collect()
        };
        for f in wanted {
            unmatched.remove(&f);
            initial_ids.push((p.id.0.clone(), Some(f)));
        }
    }
    if let Some(f) = unmatched.into_iter().next() {
        let package = req
            .packages
            .first()
            .map(|&i| model.packages[i].name.clone())
            .unwrap_or_default();
        return Err(WorkspaceError::UnknownFeature {
            package,
            feature: f,
        });
    }
    Ok(initial_ids)
}

/// Per side, per package: its sorted features, or `None` when the package
/// is not built on that side.
fn features_by_side(model: &WorkspaceModel, set: &CargoSet<'_>) -> [Vec<Option<Vec<String>>>; 2] {
    let n = model.packages.len();
    let mut features: [Vec<Option<Vec<String>>>; 2] = [vec![None; n], vec![None; n]];
    for (side, fs) in [
        (Side::Target, set.target_features()),
        (Side::Host, set.host_features()),
    ] {
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
    set: &CargoSet<'_>,
    features: &[Vec<Option<Vec<String>>>; 2],
    target_spec: &PlatformSpec,
    host_spec: &PlatformSpec,
) -> Result<Vec<[Vec<Edge>; 2]>, WorkspaceError> {
    let mut edges: Vec<[Vec<Edge>; 2]> = (0..model.packages.len())
        .map(|_| [Vec::new(), Vec::new()])
        .collect();
    for (side, fs, spec) in [
        (Side::Target, set.target_features(), target_spec),
        (Side::Host, set.host_features(), host_spec),
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
