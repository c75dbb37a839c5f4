//! `--features` as Cargo reads it: the syntax check, which selected member
//! each value applies to (its own feature, or a feature of the dependency it
//! calls `name` in `name/feat`), and Cargo's error, word for word, when a
//! value matches no selected member.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use super::edit_distance::is_similar;
use super::model::{Package, WorkspaceModel};
use super::WorkspaceError;

/// One `--features` value, parsed as Cargo parses it. The variant order is
/// Cargo's, so that a sorted set is checked and reported in Cargo's order.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum CliFeature {
    /// `feat`.
    Feature(String),
    /// `dep:name`, which the command line refuses.
    Dep(String),
    /// `name/feat` or `name?/feat`.
    DepFeature {
        /// `name`: a selected member, or a dependency name of one.
        dep_name: String,
        /// `feat`.
        dep_feature: String,
        /// Written `name?/feat`: the dependency is not turned on for it.
        weak: bool,
    },
}

impl CliFeature {
    /// Parses one value (`feat`, `dep:name`, `name/feat`, `name?/feat`).
    pub(crate) fn parse(s: &str) -> CliFeature {
        if let Some((dep, feat)) = s.split_once('/') {
            let (dep_name, weak) = match dep.strip_suffix('?') {
                Some(d) => (d, true),
                None => (dep, false),
            };
            return CliFeature::DepFeature {
                dep_name: dep_name.to_string(),
                dep_feature: feat.to_string(),
                weak,
            };
        }
        match s.strip_prefix("dep:") {
            Some(d) => CliFeature::Dep(d.to_string()),
            None => CliFeature::Feature(s.to_string()),
        }
    }
}

impl fmt::Display for CliFeature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliFeature::Feature(n) => write!(f, "{n}"),
            CliFeature::Dep(n) => write!(f, "dep:{n}"),
            CliFeature::DepFeature {
                dep_name,
                dep_feature,
                weak,
            } => {
                let q = if *weak { "?" } else { "" };
                write!(f, "{dep_name}{q}/{dep_feature}")
            }
        }
    }
}

/// Parses the `--features` values and refuses what Cargo refuses before
/// looking at any package.
pub(crate) fn parse(values: &[String]) -> Result<BTreeSet<CliFeature>, WorkspaceError> {
    let set: BTreeSet<CliFeature> = values.iter().map(|v| CliFeature::parse(v)).collect();
    for f in &set {
        match f {
            CliFeature::Feature(_) => {}
            CliFeature::Dep(_) => return Err(WorkspaceError::ExplicitDepFeature(f.to_string())),
            CliFeature::DepFeature { dep_feature, .. } if dep_feature.contains('/') => {
                return Err(WorkspaceError::MultipleSlashes(f.to_string()))
            }
            CliFeature::DepFeature { .. } => {}
        }
    }
    Ok(set)
}

/// `name/feat` for a dependency of a selected member.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct DepFeatureRequest {
    /// The dependency's name in the member's manifest.
    pub(crate) dep_name: String,
    /// The feature of the dependency.
    pub(crate) feature: String,
    /// `name?/feat`.
    pub(crate) weak: bool,
}

/// What the command line asks of one selected member.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct MemberFeatures {
    /// Its own features, from `feat` and `member/feat`.
    pub(crate) own: Vec<String>,
    /// Features of its dependencies, from `dep-name/feat`.
    pub(crate) deps: Vec<DepFeatureRequest>,
}

/// A member's dependencies by manifest name, the last declaration winning,
/// as Cargo indexes them.
fn dependencies_by_name(p: &Package) -> BTreeMap<&str, &super::model::DeclaredDep> {
    p.dependencies
        .iter()
        .map(|d| (d.name.as_str(), d))
        .collect()
}

/// Whether `name` is a feature of `p` or the name of one of its optional
/// dependencies (which Cargo accepts here and checks later).
fn has_feature_or_optional(p: &Package, name: &str) -> bool {
    p.feature_table.contains_key(name)
        || dependencies_by_name(p)
            .get(name)
            .is_some_and(|d| d.optional)
}

/// The part of `features` that applies to member `p`; what matched is
/// added to `found`.
fn matching(
    p: &Package,
    features: &BTreeSet<CliFeature>,
    found: &mut BTreeSet<CliFeature>,
) -> MemberFeatures {
    let deps = dependencies_by_name(p);
    let mut out = MemberFeatures::default();
    for f in features {
        match f {
            CliFeature::Feature(name) if has_feature_or_optional(p, name) => {
                out.own.push(name.clone());
            }
            CliFeature::DepFeature {
                dep_name,
                dep_feature,
                weak,
            } if deps.contains_key(dep_name.as_str()) => out.deps.push(DepFeatureRequest {
                dep_name: dep_name.clone(),
                feature: dep_feature.clone(),
                weak: *weak,
            }),
            // `?` means nothing for a member: it is built or it is not.
            CliFeature::DepFeature {
                dep_name,
                dep_feature,
                ..
            } if *dep_name == p.name && has_feature_or_optional(p, dep_feature) => {
                out.own.push(dep_feature.clone());
            }
            _ => continue,
        }
        found.insert(f.clone());
    }
    out
}

/// Splits the command-line features over the selected members (model
/// indices, in workspace order), as Cargo does with `-p`/`--workspace` in a
/// virtual workspace or under resolver 2: fails with Cargo's message when a
/// value applies to none of them.
pub(crate) fn for_members(
    model: &WorkspaceModel,
    selected: &[usize],
    features: &BTreeSet<CliFeature>,
) -> Result<Vec<MemberFeatures>, UnknownFeatures> {
    let mut found = BTreeSet::new();
    let per_member: Vec<MemberFeatures> = selected
        .iter()
        .map(|&i| matching(&model.packages[i], features, &mut found))
        .collect();
    if found.len() == features.len() {
        return Ok(per_member);
    }
    Err(UnknownFeatures::new(model, selected, features, &found))
}

/// Cargo's refusal of `--features` values that no selected member has.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownFeatures {
    /// The selected members, in workspace order.
    pub selected: Vec<String>,
    /// The values that matched nothing, as written, sorted.
    pub unknown: Vec<String>,
    /// What Cargo adds on a `help:` line.
    pub help: Option<FeatureHelp>,
}

/// The `help:` line of [`UnknownFeatures`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FeatureHelp {
    /// Members that are not selected but declare one of the features.
    DeclaredBy(Vec<String>),
    /// Similarly named features of the selected members (at most five).
    Similar(Vec<String>),
}

impl UnknownFeatures {
    fn new(
        model: &WorkspaceModel,
        selected: &[usize],
        features: &BTreeSet<CliFeature>,
        found: &BTreeSet<CliFeature>,
    ) -> UnknownFeatures {
        let missing: Vec<&CliFeature> = features.difference(found).collect();
        let mut unknown: Vec<String> = missing.iter().map(|f| f.to_string()).collect();
        unknown.sort();
        let declared_by: Vec<String> = model
            .members
            .iter()
            .filter(|i| !selected.contains(i))
            .map(|&i| &model.packages[i])
            .filter(|p| unknown.iter().any(|f| p.feature_table.contains_key(f)))
            .map(|p| p.name.clone())
            .collect();
        let members: Vec<&Package> = selected.iter().map(|&i| &model.packages[i]).collect();
        let help = if !declared_by.is_empty() {
            Some(FeatureHelp::DeclaredBy(declared_by))
        } else {
            let similar = suggestions(&members, &missing, features);
            (!similar.is_empty()).then_some(FeatureHelp::Similar(similar))
        };
        UnknownFeatures {
            selected: members.iter().map(|p| p.name.clone()).collect(),
            unknown,
            help,
        }
    }
}

/// Cargo's "similarly named" features for the values that matched nothing:
/// sorted, without duplicates or values already given, at most five.
fn suggestions(
    members: &[&Package],
    missing: &[&CliFeature],
    given: &BTreeSet<CliFeature>,
) -> Vec<String> {
    let mut out: BTreeSet<String> = BTreeSet::new();
    for f in missing {
        match f {
            CliFeature::Feature(typo) => {
                for p in members {
                    let optional = optional_names(p);
                    let names = p.feature_table.keys().map(String::as_str).chain(optional);
                    out.extend(names.filter(|n| is_similar(n, typo)).map(str::to_string));
                }
            }
            CliFeature::DepFeature {
                dep_name,
                dep_feature,
                ..
            } => out.extend(slash_suggestions(members, dep_name, dep_feature)),
            CliFeature::Dep(_) => {}
        }
    }
    out.into_iter()
        .filter(|s| !given.contains(&CliFeature::parse(s)))
        .take(5)
        .collect()
}

/// The names of the optional dependencies of `p`.
fn optional_names(p: &Package) -> impl Iterator<Item = &str> {
    dependencies_by_name(p)
        .into_iter()
        .filter(|(_, d)| d.optional)
        .map(|(n, _)| n)
}

/// Suggestions for a `name/feat` that matched nothing: features that
/// members ask of a similarly named dependency, and features and optional
/// dependencies of a similarly named member. Cargo compares the optional
/// dependencies with `name`, not `feat`; so does this.
fn slash_suggestions(members: &[&Package], dep_name: &str, dep_feature: &str) -> Vec<String> {
    let mut out = Vec::new();
    // A later member's declaration of a name replaces an earlier one's.
    let mut asked: BTreeMap<&str, &[String]> = BTreeMap::new();
    for p in members {
        for (n, d) in dependencies_by_name(p) {
            asked.insert(n, &d.features);
        }
    }
    for (n, feats) in asked.iter().filter(|(n, _)| is_similar(n, dep_name)) {
        for f in feats.iter().filter(|f| is_similar(f, dep_feature)) {
            out.push(format!("{n}/{f}"));
        }
    }
    for p in members.iter().filter(|p| is_similar(&p.name, dep_name)) {
        for o in optional_names(p).filter(|o| is_similar(o, dep_name)) {
            out.push(format!("{}/{o}", p.name));
        }
        for f in p
            .feature_table
            .keys()
            .filter(|f| is_similar(f, dep_feature))
        {
            out.push(format!("{}/{f}", p.name));
        }
    }
    out
}

impl fmt::Display for UnknownFeatures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let these = if self.unknown.len() == 1 {
            "this feature"
        } else {
            "these features"
        };
        let unknown = self.unknown.join(", ");
        match self.selected.as_slice() {
            [one] => write!(f, "the package '{one}' does not contain {these}: {unknown}")?,
            many => write!(
                f,
                "none of the selected packages contains {these}: {unknown}\nselected packages: {}",
                many.join(", ")
            )?,
        }
        match &self.help {
            None => Ok(()),
            Some(FeatureHelp::DeclaredBy(pkgs)) => write!(
                f,
                "\nhelp: package{} with the missing feature{}: {}",
                if pkgs.len() == 1 { "" } else { "s" },
                if self.unknown.len() == 1 { "" } else { "s" },
                pkgs.join(", ")
            ),
            Some(FeatureHelp::Similar(names)) => write!(
                f,
                "\nhelp: there {}: {}",
                if names.len() == 1 {
                    "is a similarly named feature"
                } else {
                    "are similarly named features"
                },
                names.join(", ")
            ),
        }
    }
}

impl std::error::Error for UnknownFeatures {}
