//! `--features dep-name/feat` for a dependency of a selected member: Cargo's
//! resolver checks that the dependency has the feature (and words the
//! refusal its own way), then its feature resolver turns the feature on
//! where the dependency is built: on the target for a normal (or, with dev
//! units, dev) dependency, on the host for a build dependency or a
//! proc-macro; everywhere under resolver 1. An optional dependency is turned
//! on too, unless written `dep-name?/feat`.

use std::fmt;

use guppy::graph::{PackageGraph, PackageLink};
use guppy::platform::{EnabledTernary, PlatformSpec};
use guppy::DependencyKind;

use super::cli_features::{CliFeature, DepFeatureRequest, MemberFeatures};
use super::edit_distance::closest;
use super::model::{Package, WorkspaceModel};
use super::seeds::{Label, Seed, Side};
use super::WorkspaceError;

/// How the feature resolver places a dependency's features.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Placement<'a> {
    /// Resolver 1: one feature set for every side, platform and kind.
    pub(crate) unified: bool,
    /// Dev-dependencies take part (tests, examples, benches).
    pub(crate) include_dev: bool,
    /// The target platform.
    pub(crate) target: &'a PlatformSpec,
    /// The host platform.
    pub(crate) host: &'a PlatformSpec,
}

/// A `dep-name?/feat` of an optional dependency: it applies only once
/// something else turns the dependency on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct WeakSeeds {
    /// The member (model index).
    pub(crate) member: usize,
    /// The dependency's name in the member's manifest.
    pub(crate) dep_name: String,
    /// What applies then, per side.
    pub(crate) seeds: Vec<(Side, Seed)>,
}

/// What the dependency features of the command line add to the resolution.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct DepSeeds {
    /// Features of the members: the optional dependencies turned on.
    pub(crate) member: Vec<Seed>,
    /// Features of dependencies, per side (all on the target under resolver 1).
    pub(crate) by_side: Vec<(Side, Seed)>,
    /// Features waiting for their optional dependency.
    pub(crate) weak: Vec<WeakSeeds>,
    /// The values (as written) asking a dependency for a feature that the
    /// loaded resolve did not turn on, so that it may lack packages the
    /// feature needs.
    pub(crate) outside_resolve: Vec<String>,
}

/// Checks every member's dependency features as Cargo's resolver does and
/// places them. `members` pairs model indices with their requests.
pub(crate) fn seeds(
    graph: &PackageGraph,
    model: &WorkspaceModel,
    members: &[(usize, MemberFeatures)],
    placement: Placement<'_>,
) -> Result<DepSeeds, WorkspaceError> {
    let mut out = DepSeeds::default();
    for (m, req) in members {
        for d in &req.deps {
            let links = links_named(graph, model, *m, &d.dep_name)?;
            for link in &links {
                check_feature(model, *m, link, &d.feature)?;
            }
            let resolved = |l: &PackageLink<'_>| {
                index_of(model, l)
                    .is_ok_and(|i| model.packages[i].resolved_features.contains(&d.feature))
            };
            if !links.iter().all(resolved) {
                out.outside_resolve.push(
                    CliFeature::DepFeature {
                        dep_name: d.dep_name.clone(),
                        dep_feature: d.feature.clone(),
                        weak: d.weak,
                    }
                    .to_string(),
                );
            }
            for link in &links {
                place(model, *m, link, d, placement, &mut out);
            }
        }
    }
    Ok(out)
}

/// The edges from member `m` to the dependency it calls `name`; two when
/// it names two versions of one package that way.
fn links_named<'g>(
    graph: &'g PackageGraph,
    model: &WorkspaceModel,
    m: usize,
    name: &str,
) -> Result<Vec<PackageLink<'g>>, WorkspaceError> {
    let pid = guppy::PackageId::new(model.packages[m].id.0.clone());
    let meta = graph
        .metadata(&pid)
        .map_err(|e| WorkspaceError::Graph(e.to_string()))?;
    let exact: Vec<PackageLink<'g>> = meta
        .direct_links()
        .filter(|l| l.dep_name() == name)
        .collect();
    if !exact.is_empty() {
        return Ok(exact);
    }
    // guppy keeps one spelling of a name declared as both `a-b` and `a_b`.
    let norm = |s: &str| s.replace('-', "_");
    Ok(meta
        .direct_links()
        .filter(|l| norm(l.dep_name()) == norm(name))
        .collect())
}

fn index_of(model: &WorkspaceModel, link: &PackageLink<'_>) -> Result<usize, WorkspaceError> {
    model
        .index_of(link.to().id().repr())
        .ok_or_else(|| WorkspaceError::Graph(format!("unknown package `{}`", link.to().id())))
}

/// Fails as Cargo's resolver does when the dependency lacks the feature.
fn check_feature(
    model: &WorkspaceModel,
    m: usize,
    link: &PackageLink<'_>,
    feature: &str,
) -> Result<(), WorkspaceError> {
    let dep = &model.packages[index_of(model, link)?];
    if dep.feature_table.contains_key(feature) {
        return Ok(());
    }
    let member = &model.packages[m];
    let req = member
        .dependencies
        .iter()
        .find(|d| d.name == link.dep_name() && d.package == dep.name)
        .map(|d| d.req.clone())
        .unwrap_or_else(|| link.version_req().to_string());
    Err(WorkspaceError::MissingDependencyFeature(Box::new(
        MissingDependencyFeature {
            member: member.name.clone(),
            member_id: describe(member),
            dependency: dep.name.clone(),
            req,
            version: dep.version.clone(),
            feature: feature.to_string(),
            reason: MissingReason::of(dep, feature),
        },
    )))
}

/// Where one requested dependency feature applies, through one edge.
fn place(
    model: &WorkspaceModel,
    m: usize,
    link: &PackageLink<'_>,
    req: &DepFeatureRequest,
    placement: Placement<'_>,
    out: &mut DepSeeds,
) {
    let Some(dep) = model.index_of(link.to().id().repr()) else {
        return;
    };
    let seed = Seed {
        pkg: dep,
        label: Label::Named(req.feature.clone()),
    };
    let member_is_proc_macro = link.from().is_proc_macro();
    let mut weak = Vec::new();
    for (side, optional) in sides(link, member_is_proc_macro, placement) {
        if optional && req.weak {
            weak.push((side, seed.clone()));
            continue;
        }
        if optional {
            out.member.push(Seed {
                pkg: m,
                label: Label::OptionalDependency(req.dep_name.clone()),
            });
            // Cargo also turns on a feature of the dependency's name, when
            // the member has one (the implicit feature, unless `dep:` hid it).
            if model.packages[m].feature_table.contains_key(&req.dep_name) {
                out.member.push(Seed {
                    pkg: m,
                    label: Label::Named(req.dep_name.clone()),
                });
            }
        }
        out.by_side.push((side, seed.clone()));
    }
    if !weak.is_empty() {
        out.weak.push(WeakSeeds {
            member: m,
            dep_name: req.dep_name.clone(),
            seeds: weak,
        });
    }
}

/// The sides the edge's declarations put the dependency's features on,
/// each with whether the declaration is optional. Under resolver 2 a
/// declaration counts only on a platform it is active for, dev ones only
/// with dev units; a proc-macro member is resolved for the host as well.
fn sides(
    link: &PackageLink<'_>,
    member_is_proc_macro: bool,
    placement: Placement<'_>,
) -> Vec<(Side, bool)> {
    let kinds = [
        DependencyKind::Normal,
        DependencyKind::Development,
        DependencyKind::Build,
    ];
    let mut out = Vec::new();
    if placement.unified {
        for kind in kinds {
            let status = link.req_for_kind(kind).status();
            if !status.required_status().is_never() {
                out.push((Side::Target, false));
            } else if !status.optional_status().is_never() {
                out.push((Side::Target, true));
            }
        }
        return out;
    }
    let lib_side = if link.to().is_proc_macro() {
        Side::Host
    } else {
        Side::Target
    };
    let mut consider = |kind: DependencyKind, platform: &PlatformSpec, side: Side| {
        let status = link.req_for_kind(kind).status();
        if status.required_on(platform) != EnabledTernary::Disabled {
            out.push((side, false));
        } else if status.enabled_on(platform) != EnabledTernary::Disabled {
            out.push((side, true));
        }
    };
    consider(DependencyKind::Normal, placement.target, lib_side);
    if placement.include_dev {
        consider(DependencyKind::Development, placement.target, lib_side);
    }
    consider(DependencyKind::Build, placement.host, Side::Host);
    if member_is_proc_macro {
        consider(DependencyKind::Normal, placement.host, Side::Host);
        if placement.include_dev {
            consider(DependencyKind::Development, placement.host, Side::Host);
        }
    }
    out
}

/// Fails as Cargo's resolver does when a member's own feature (`feat` or
/// `member/feat`) names an optional dependency that `dep:` keeps from
/// having a feature of its name: Cargo accepts the value at first, then
/// refuses it while resolving.
pub(crate) fn check_hidden_optional(
    model: &WorkspaceModel,
    m: usize,
    feature: &str,
) -> Result<(), WorkspaceError> {
    let p = &model.packages[m];
    if p.feature_table.contains_key(feature) {
        return Ok(());
    }
    let enabled_by: Vec<String> = p
        .feature_table
        .iter()
        .filter(|(_, values)| {
            values.iter().any(|v| match CliFeature::parse(v) {
                CliFeature::Dep(d) => d == feature,
                CliFeature::DepFeature { dep_name, weak, .. } => !weak && dep_name == feature,
                CliFeature::Feature(_) => false,
            })
        })
        .map(|(name, _)| name.clone())
        .collect();
    Err(WorkspaceError::HiddenOptionalDependency(Box::new(
        HiddenOptionalDependency {
            package_id: describe(p),
            feature: feature.to_string(),
            enabled_by,
        },
    )))
}

/// A workspace package as Cargo names it in resolver errors:
/// `app v0.3.1 (/path/to/app)`.
fn describe(p: &Package) -> String {
    format!("{} v{} ({})", p.name, p.version, p.root().display())
}

/// Why the dependency does not have the feature, with Cargo's hint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MissingReason {
    /// It has a feature of a similar name.
    Similar(String),
    /// These are its features (sorted).
    Available(Vec<String>),
    /// It has no features at all.
    NoFeatures,
    /// The name is one of its required dependencies.
    RequiredDependency,
    /// The name is an optional dependency that `dep:` hides.
    HiddenOptionalDependency,
}

impl MissingReason {
    fn of(dep: &Package, feature: &str) -> MissingReason {
        let same_name: Vec<bool> = dep
            .dependencies
            .iter()
            .filter(|d| d.name == feature)
            .map(|d| d.optional)
            .collect();
        if same_name.iter().any(|&o| o) {
            return MissingReason::HiddenOptionalDependency;
        }
        if !same_name.is_empty() {
            return MissingReason::RequiredDependency;
        }
        let names = dep.feature_table.keys().map(String::as_str);
        match closest(feature, names) {
            Some(c) => MissingReason::Similar(c.to_string()),
            None if dep.feature_table.is_empty() => MissingReason::NoFeatures,
            None => MissingReason::Available(dep.feature_table.keys().cloned().collect()),
        }
    }
}

/// Cargo's resolver error for `--features dep/feat` when the dependency
/// lacks `feat`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MissingDependencyFeature {
    /// The member asking (`app`).
    pub member: String,
    /// The member as Cargo names it (`app v0.3.1 (/path)`).
    pub member_id: String,
    /// The dependency's package name.
    pub dependency: String,
    /// The version requirement of the declaration.
    pub req: String,
    /// The locked version of the dependency.
    pub version: String,
    /// The feature asked for.
    pub feature: String,
    /// Why it is missing.
    pub reason: MissingReason,
}

impl fmt::Display for MissingDependencyFeature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dep = &self.dependency;
        write!(
            f,
            "failed to select a version for `{dep}`.\n    ... required by package `{}`\n\
             versions that meet the requirements `{}` (locked to {v}) are: {v}\n\n\
             package `{}` depends on `{dep}` with feature `{}` but `{dep}` does not have that feature.\n",
            self.member_id,
            self.req,
            self.member,
            self.feature,
            v = self.version,
        )?;
        match &self.reason {
            MissingReason::Similar(c) => writeln!(f, " package `{dep}` does have feature `{c}`")?,
            MissingReason::Available(all) => writeln!(f, " available features: {}", all.join(", "))?,
            MissingReason::NoFeatures => {}
            MissingReason::RequiredDependency => writeln!(
                f,
                " A required dependency with that name exists, but only optional dependencies can be used as features."
            )?,
            MissingReason::HiddenOptionalDependency => writeln!(
                f,
                " An optional dependency with that name exists, but that dependency uses the \"dep:\" \
                 syntax in the features table, so it does not have an implicit feature with that name."
            )?,
        }
        write!(
            f,
            "\n\nfailed to select a version for `{dep}` which could resolve this conflict"
        )
    }
}

impl std::error::Error for MissingDependencyFeature {}

/// Cargo's resolver error for a member's own feature that names an
/// optional dependency hidden by `dep:`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HiddenOptionalDependency {
    /// The member as Cargo names it (`app v0.3.1 (/path)`).
    pub package_id: String,
    /// The feature asked for.
    pub feature: String,
    /// The member's features that turn the dependency on (sorted).
    pub enabled_by: Vec<String>,
}

impl fmt::Display for HiddenOptionalDependency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "package `{}` does not have feature `{}`\n\n\
             help: an optional dependency with that name exists, but the `features` table \
             includes it with the \"dep:\" syntax so it does not have an implicit feature with that name",
            self.package_id, self.feature
        )?;
        if self.enabled_by.is_empty() {
            return Ok(());
        }
        write!(
            f,
            "\nDependency `{}` would be enabled by these features:",
            self.feature
        )?;
        for name in self.enabled_by.iter().take(3) {
            write!(f, "\n\t- `{name}`")?;
        }
        if self.enabled_by.len() > 3 {
            write!(f, "\n\t  ...")?;
        }
        Ok(())
    }
}

impl std::error::Error for HiddenOptionalDependency {}
