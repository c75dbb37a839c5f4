//! Layer 5a: `--explain`. After each build the key components of every
//! action are recorded in the target dir; an executed action is compared
//! with the record of the previous build of the same unit, and the
//! differences are reported as typed [`Reason`]s, root causes first.

pub mod identity;
pub mod reason;
mod unchanged;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use identity::UnitIdentity;
pub use reason::Reason;
use reason::{diff, RootCause, Snapshot, TypedFlags};

use crate::exec::events::Outcome;
use crate::exec::Reasons;
use crate::plan::{Action, ActionGraph, ActionKind};

/// Why `cargo hbuild explain` has nothing to show.
#[derive(Debug, thiserror::Error)]
pub enum ExplainError {
    /// No build recorded its units in the target dir.
    #[error("no build has been recorded in `{}`; run `cargo hbuild` first", .0.display())]
    NoRecord(PathBuf),
    /// The last build has no unit of that name.
    #[error("no unit `{0}` in the last build")]
    NoUnit(String),
}

impl ExplainError {
    /// Whether the command line named something that does not exist.
    pub fn is_usage(&self) -> bool {
        matches!(self, ExplainError::NoUnit(_))
    }
}

/// What is kept per unit.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct UnitRecord {
    /// Human name.
    pub display: String,
    /// Package name.
    pub package: String,
    /// Package version.
    pub version: String,
    /// Which unit this is, for matching the next build's units.
    pub identity: UnitIdentity,
    /// Package id.
    pub package_id: String,
    /// Target name.
    pub target: String,
    /// Outcome in the recorded build.
    pub outcome: Outcome,
    /// Snapshot for the next comparison.
    pub snapshot: Snapshot,
    /// Reasons it was executed (empty when not executed).
    pub reasons: Vec<Reason>,
}

/// The record of one build.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct BuildRecord {
    /// Format version.
    pub version: u32,
    /// Units by identity (see [`identity`]).
    pub units: BTreeMap<String, UnitRecord>,
}

/// Version 2: records keyed by unit identity rather than by name; 3: flags
/// of known origin recorded.
const RECORD_VERSION: u32 = 3;

/// Where the record of the last build of a target dir is kept.
pub fn record_path(target_dir: &Path) -> PathBuf {
    target_dir
        .join("hbuild")
        .join("explain")
        .join("last-build.json")
}

fn profile_map(a: &Action) -> BTreeMap<String, String> {
    let v = serde_json::to_value(&a.profile).unwrap_or_default();
    v.as_object()
        .map(|o| {
            o.iter()
                .filter(|(k, _)| k.as_str() != "debuginfo_deferred")
                .map(|(k, v)| (k.clone(), v.to_string().trim_matches('"').to_string()))
                .collect()
        })
        .unwrap_or_default()
}

fn load(target_dir: &Path) -> BuildRecord {
    std::fs::read(record_path(target_dir))
        .ok()
        .and_then(|b| serde_json::from_slice::<BuildRecord>(&b).ok())
        .filter(|r| r.version == RECORD_VERSION)
        .unwrap_or_default()
}

/// One executed unit of a build, and why it ran.
#[derive(Clone, Debug)]
pub struct ExplainedUnit {
    /// The action.
    pub action: usize,
    /// Its name, unique within the build.
    pub unit: String,
    /// Its reasons, its own first.
    pub reasons: Vec<Reason>,
    /// Whether it has reasons of its own (not only changed dependencies).
    pub root_cause: bool,
    /// Where a remote-execution engine ran it.
    pub remote: Option<crate::exec::outcome::RemoteRun>,
}

/// Why each executed action of a build ran, in build order.
#[derive(Clone, Debug, Default)]
pub struct Explanation {
    /// The executed units.
    pub units: Vec<ExplainedUnit>,
}

/// Computes the reasons of the executed actions and writes the record for
/// the next build. Rendering is the reporter's.
pub fn record(graph: &ActionGraph, reasons: &Reasons, target_dir: &Path) -> Explanation {
    let ids: Vec<UnitIdentity> = graph.actions.iter().map(UnitIdentity::of).collect();
    let keys = identity::record_keys(&graph.actions, &ids);
    let names = identity::unit_names(&graph.actions);
    let digest = unchanged::of_build(graph, reasons, &ids, &keys, &names);
    if let Some(d) = &digest {
        if unchanged::matches(target_dir, d) {
            return Explanation::default();
        }
    }
    let prev = load(target_dir);
    let prev_ids = prev
        .units
        .iter()
        .map(|(k, u)| (k.clone(), u.identity.clone()))
        .collect();
    let earlier_keys = identity::match_records(&prev_ids, &keys, &ids);
    // Units not built this time keep their last record, so "the previous
    // build of this unit" survives builds of other packages or profiles.
    let mut record = BuildRecord {
        version: RECORD_VERSION,
        units: prev.units.clone(),
    };
    let mut attr = Attribution {
        graph,
        reasons,
        names: &names,
        root_cause: HashMap::new(),
    };
    let mut executed = Explanation::default();
    for a in &graph.actions {
        let Some((outcome, rr)) = reasons.get(&a.id) else {
            continue;
        };
        let Some(current) = &rr.current else { continue };
        let snap = Snapshot {
            components: current.clone(),
            features: a.features.clone(),
            profile: profile_map(a),
            is_run: a.kind == ActionKind::BuildScriptRun,
            flags: TypedFlags {
                rustflags: a.flag_origins.rustflags.clone(),
                lints: a.flag_origins.lints.clone(),
                script: rr.script_flags.clone(),
            },
        };
        let i = a.id.index();
        let earlier = earlier_keys[i].as_ref().and_then(|k| prev.units.get(k));
        let mut rs = Vec::new();
        if *outcome == Outcome::Executed {
            rs = match earlier {
                None => vec![Reason::FirstBuild],
                Some(p) => {
                    let mut rs = diff(&p.snapshot, &snap);
                    rs.extend(attr.changed_deps(a, &p.snapshot, &snap));
                    if rs.is_empty() {
                        rs.push(Reason::NotInCache {
                            remote_missed: rr.miss.remote_missed,
                            corrupt: rr.miss.corrupt.clone(),
                        });
                    }
                    rs
                }
            };
            let is_root_cause = attr.note_root_cause(i, &rs);
            // Root causes come first in every list.
            rs.sort_by_key(|r| matches!(r, Reason::DependencyChanged { .. }));
            executed.units.push(ExplainedUnit {
                action: i,
                unit: names[i].clone(),
                reasons: rs.clone(),
                root_cause: is_root_cause,
                remote: rr.remote.clone(),
            });
        }
        // A unit that was not rebuilt keeps the reasons of its last rebuild.
        if rs.is_empty() {
            if let Some(p) = earlier {
                rs = p.reasons.clone();
            }
        }
        // The earlier record may be kept under another key (the panic
        // strategy changed): this unit's record replaces it.
        if let Some(k) = &earlier_keys[i] {
            record.units.remove(k);
        }
        record.units.insert(
            keys[i].clone(),
            UnitRecord {
                display: names[i].clone(),
                package: a.package_name.clone(),
                version: a.package_version.clone(),
                identity: ids[i].clone(),
                package_id: a.package_id.0.clone(),
                target: a.target_name.clone(),
                outcome: *outcome,
                snapshot: snap,
                reasons: rs,
            },
        );
    }
    unchanged::forget(target_dir);
    if save(&record, target_dir) {
        if let Some(d) = digest {
            unchanged::remember(target_dir, &d);
        }
    }
    executed
}

/// Attributes dependency changes to the units that rebuilt, and those to
/// their root causes.
struct Attribution<'a> {
    graph: &'a ActionGraph,
    reasons: &'a Reasons,
    names: &'a [String],
    /// Root cause per executed action, for attribution downstream.
    root_cause: HashMap<usize, Option<RootCause>>,
}

impl Attribution<'_> {
    /// The dependencies whose digests differ from the recorded build's
    /// (a build script's own binary is reported as such, not here).
    fn changed_deps(&self, a: &Action, old: &Snapshot, new: &Snapshot) -> Vec<Reason> {
        let old_deps: HashMap<&str, _> = old
            .components
            .deps
            .iter()
            .map(|(n, d)| (n.as_str(), *d))
            .collect();
        let mut out = Vec::new();
        for (i, (name, d)) in new.components.deps.iter().enumerate() {
            if old_deps.get(name.as_str()) == Some(d) {
                continue;
            }
            let dep = a.deps.get(i).map(|d| d.action.index());
            if a.kind == ActionKind::BuildScriptRun
                && dep.is_some_and(|d| self.graph.actions[d].kind == ActionKind::BuildScriptCompile)
            {
                continue;
            }
            let rebuilt = dep.filter(|d| {
                self.reasons
                    .get(&self.graph.actions[*d].id)
                    .is_some_and(|(o, _)| *o == Outcome::Executed)
            });
            out.push(Reason::DependencyChanged {
                dependency: name.clone(),
                rebuilt: rebuilt.map(|d| self.names[d].clone()),
                root_cause: rebuilt.and_then(|d| self.root_cause.get(&d).cloned().flatten()),
            });
        }
        out
    }

    /// Notes the root cause of executed action `i` for its dependents, and
    /// says whether it is one itself (it has reasons of its own).
    fn note_root_cause(&mut self, i: usize, rs: &[Reason]) -> bool {
        let own: Vec<Reason> = rs
            .iter()
            .filter(|r| !matches!(r, Reason::DependencyChanged { .. }))
            .cloned()
            .collect();
        let is_root_cause = !own.is_empty();
        let rc = if is_root_cause {
            Some(RootCause {
                unit: self.names[i].clone(),
                reasons: own,
            })
        } else {
            rs.iter().find_map(|r| match r {
                Reason::DependencyChanged {
                    rebuilt: Some(x),
                    root_cause,
                    ..
                } => Some(root_cause.clone().unwrap_or_else(|| RootCause {
                    unit: x.clone(),
                    reasons: Vec::new(),
                })),
                _ => None,
            })
        };
        self.root_cause.insert(i, rc);
        is_root_cause
    }
}

/// Writes the record atomically; a record that cannot be written only
/// costs the next build its explanations.
fn save(record: &BuildRecord, target_dir: &Path) -> bool {
    let p = record_path(target_dir);
    if let Some(d) = p.parent() {
        let _ = std::fs::create_dir_all(d);
    }
    serde_json::to_vec(record).is_ok_and(|bytes| replace(&p, &bytes))
}

/// Replaces `path` with `bytes` through a temp file beside it, so that a
/// reader sees the old file or the new one; whether it was replaced.
fn replace(path: &Path, bytes: &[u8]) -> bool {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    std::fs::write(&tmp, bytes).is_ok() && std::fs::rename(&tmp, path).is_ok()
}

/// Whether `name` or `name@version` (a version prefix such as `bitflags@1`
/// is enough) names the package of a record.
fn spec_matches(spec: &str, u: &UnitRecord) -> bool {
    match spec.split_once('@') {
        Some((name, version)) => {
            u.package == name
                && (u.version == version || u.version.starts_with(&format!("{version}.")))
        }
        None => u.package == spec,
    }
}

/// The records of the last build in `target_dir` of the units that `unit`
/// (`<package>[@<version>][:<target>]`) names.
pub fn find_units(target_dir: &Path, unit: &str) -> Result<Vec<UnitRecord>, ExplainError> {
    let record = load(target_dir);
    if record.units.is_empty() {
        return Err(ExplainError::NoRecord(target_dir.to_path_buf()));
    }
    let (pkg, target) = unit
        .split_once(':')
        .map(|(p, t)| (p, Some(t)))
        .unwrap_or((unit, None));
    let matching: Vec<UnitRecord> = record
        .units
        .into_values()
        .filter(|u| spec_matches(pkg, u) && target.is_none_or(|t| u.target == t))
        .collect();
    if matching.is_empty() {
        return Err(ExplainError::NoUnit(unit.to_string()));
    }
    Ok(matching)
}
