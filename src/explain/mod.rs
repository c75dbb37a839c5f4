//! Layer 5a: `--explain`. After each build the key components of every
//! action are recorded in the target dir; an executed action is compared
//! with the record of the previous build of the same unit, and the
//! differences are reported as typed [`Reason`]s, root causes first.

pub mod identity;
pub mod reason;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use identity::UnitIdentity;
pub use reason::Reason;
use reason::{diff, Snapshot};

use crate::exec::events::Outcome;
use crate::exec::Reasons;
use crate::plan::{Action, ActionGraph, ActionKind};
use crate::report::{print_stdout_line, MessageFormat, Reporter};

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

/// Version 2: records keyed by unit identity rather than by name.
const RECORD_VERSION: u32 = 2;

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

/// A one-line form of a reason.
pub fn describe(r: &Reason) -> String {
    match r {
        Reason::FirstBuild => "first build of this unit".into(),
        Reason::NotInCache {
            remote_missed,
            corrupt,
        } => match (corrupt, remote_missed) {
            (Some(c), _) => format!("the cache entry was corrupt and was dropped ({c})"),
            (None, true) => "not in the cache (missed locally and in the remote cache)".into(),
            (None, false) => {
                "not in the cache (new key, or the cache was cleared or evicted)".into()
            }
        },
        Reason::ToolchainChanged => "the toolchain changed".into(),
        Reason::PackageChanged { old, new } => {
            format!("the package changed from `{old}` to `{new}`")
        }
        Reason::FileChanged { path, change } => format!("{path} {change}"),
        Reason::RerunIfChanged { path, change } => {
            format!("build script re-ran because rerun-if-changed file {path} {change}")
        }
        Reason::EnvChanged {
            name,
            old,
            new,
            secret,
        } => {
            if *secret {
                format!("environment variable {name} changed (value hidden)")
            } else {
                let show = |v: &Option<String>| match v.as_deref() {
                    None => "unset".to_string(),
                    Some("") => "\"\"".to_string(),
                    Some(v) => v.to_string(),
                };
                format!(
                    "environment variable {name} changed ({} -> {})",
                    show(old),
                    show(new)
                )
            }
        }
        Reason::FeaturesChanged { added, removed } => {
            let mut parts = Vec::new();
            if !added.is_empty() {
                parts.push(format!("turned on: {}", added.join(", ")));
            }
            if !removed.is_empty() {
                parts.push(format!("turned off: {}", removed.join(", ")));
            }
            format!("features changed ({})", parts.join("; "))
        }
        Reason::ProfileChanged { setting, old, new } => {
            format!("profile setting {setting} changed ({old} -> {new})")
        }
        Reason::FlagsChanged { added, removed } => {
            let mut parts = Vec::new();
            if !added.is_empty() {
                parts.push(format!("added {}", added.join(" ")));
            }
            if !removed.is_empty() {
                parts.push(format!("removed {}", removed.join(" ")));
            }
            format!("compiler flags changed ({})", parts.join("; "))
        }
        Reason::DependencyChanged {
            dependency,
            rebuilt,
            root_cause,
        } => {
            let mut s = match rebuilt {
                Some(r) => format!("because {r} rebuilt"),
                None => format!("because dependency `{dependency}` changed"),
            };
            if let Some(rc) = root_cause {
                s.push_str(&format!(", because {rc}"));
            }
            s
        }
        Reason::BuildScriptChanged => "the build script was rebuilt".into(),
    }
}

/// Computes reasons for executed actions, prints them (with `--explain`)
/// and writes the record for the next build.
pub fn record_and_report(
    graph: &ActionGraph,
    reasons: &Reasons,
    target_dir: &Path,
    reporter: &Reporter,
    explain: bool,
    format: MessageFormat,
) {
    let prev = load(target_dir);
    let ids: Vec<UnitIdentity> = graph.actions.iter().map(UnitIdentity::of).collect();
    let keys = identity::record_keys(&graph.actions, &ids);
    let prev_ids = prev
        .units
        .iter()
        .map(|(k, u)| (k.clone(), u.identity.clone()))
        .collect();
    let earlier_keys = identity::match_records(&prev_ids, &keys, &ids);
    let names = identity::unit_names(&graph.actions);
    // Units not built this time keep their last record, so "the previous
    // build of this unit" survives builds of other packages or profiles.
    let mut record = BuildRecord {
        version: RECORD_VERSION,
        units: prev.units.clone(),
    };
    // Root cause text per executed action, for attribution downstream.
    let mut root_cause: HashMap<usize, Option<String>> = HashMap::new();
    let mut executed: Vec<(usize, Vec<Reason>, bool)> = Vec::new();
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
        };
        let i = a.id.index();
        let earlier = earlier_keys[i].as_ref().and_then(|k| prev.units.get(k));
        let mut rs = Vec::new();
        if *outcome == Outcome::Executed {
            match earlier {
                None => rs.push(Reason::FirstBuild),
                Some(p) => {
                    rs = diff(&p.snapshot, &snap);
                    let old_deps: HashMap<&str, _> = p
                        .snapshot
                        .components
                        .deps
                        .iter()
                        .map(|(n, d)| (n.as_str(), *d))
                        .collect();
                    for (i, (name, d)) in current.deps.iter().enumerate() {
                        if old_deps.get(name.as_str()) == Some(d) {
                            continue;
                        }
                        if a.kind == ActionKind::BuildScriptRun
                            && graph.actions[a.deps[i].action.index()].kind
                                == ActionKind::BuildScriptCompile
                        {
                            continue;
                        }
                        let dep = a.deps.get(i).map(|d| d.action.index());
                        let rebuilt = dep.filter(|d| {
                            reasons
                                .get(&graph.actions[*d].id)
                                .is_some_and(|(o, _)| *o == Outcome::Executed)
                        });
                        rs.push(Reason::DependencyChanged {
                            dependency: name.clone(),
                            rebuilt: rebuilt.map(|d| names[d].clone()),
                            root_cause: rebuilt.and_then(|d| root_cause.get(&d).cloned().flatten()),
                        });
                    }
                    if rs.is_empty() {
                        rs.push(Reason::NotInCache {
                            remote_missed: rr.miss.remote_missed,
                            corrupt: rr.miss.corrupt.clone(),
                        });
                    }
                }
            }
            let own: Vec<&Reason> = rs
                .iter()
                .filter(|r| !matches!(r, Reason::DependencyChanged { .. }))
                .collect();
            let is_root_cause = !own.is_empty();
            let rc = if is_root_cause {
                let text = own
                    .iter()
                    .map(|r| describe(r))
                    .collect::<Vec<_>>()
                    .join("; ");
                Some(if matches!(own[0], Reason::FileChanged { .. }) {
                    text
                } else {
                    format!("{}: {text}", names[i])
                })
            } else {
                rs.iter().find_map(|r| match r {
                    Reason::DependencyChanged {
                        rebuilt: Some(x),
                        root_cause,
                        ..
                    } => Some(root_cause.clone().unwrap_or_else(|| format!("{x} rebuilt"))),
                    _ => None,
                })
            };
            // Root causes come first in every list.
            rs.sort_by_key(|r| matches!(r, Reason::DependencyChanged { .. }));
            root_cause.insert(i, rc);
            executed.push((i, rs.clone(), is_root_cause));
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
    let p = record_path(target_dir);
    if let Some(d) = p.parent() {
        let _ = std::fs::create_dir_all(d);
    }
    if let Ok(bytes) = serde_json::to_vec(&record) {
        let tmp = p.with_extension("tmp");
        if std::fs::write(&tmp, bytes).is_ok() {
            let _ = std::fs::rename(tmp, &p);
        }
    }
    if !explain {
        return;
    }
    if let MessageFormat::Json { .. } = format {
        for (i, rs, root) in &executed {
            let a = &graph.actions[*i];
            print_stdout_line(
                &serde_json::json!({
                    "reason": "hbuild-explain",
                    "package_id": a.package_id,
                    "target": crate::report::json::target_json(a),
                    "unit": names[*i],
                    "root_cause": root,
                    "reasons": rs,
                })
                .to_string(),
            );
        }
        return;
    }
    print_human(&names, &executed, reporter);
}

fn print_human(names: &[String], executed: &[(usize, Vec<Reason>, bool)], reporter: &Reporter) {
    reporter.with_human(|h| {
        if executed.is_empty() {
            h.status(
                "Explain",
                "nothing rebuilt: every action was fresh or cached",
            );
            return;
        }
        let roots: Vec<_> = executed.iter().filter(|(_, _, r)| *r).collect();
        let followers: Vec<_> = executed.iter().filter(|(_, _, r)| !*r).collect();
        // Units with the same own reasons (RUSTFLAGS, a profile change) are
        // listed once, unless -v asks for every unit.
        let mut groups: Vec<(Vec<String>, Vec<String>)> = Vec::new();
        for (i, rs, _) in &roots {
            let own: Vec<String> = rs
                .iter()
                .filter(|r| !matches!(r, Reason::DependencyChanged { .. }))
                .map(describe)
                .collect();
            let name = names[*i].clone();
            match groups
                .iter_mut()
                .find(|(o, _)| *o == own && h.verbose() == 0)
            {
                Some((_, names)) => names.push(name),
                None => groups.push((own, vec![name])),
            }
        }
        for (own, names) in &groups {
            let who = match names.len() {
                1 => names[0].clone(),
                n => format!("{} and {} more unit(s)", names[0], n - 1),
            };
            h.status("Rebuilt", &who);
            for r in own {
                h.line(&format!("             - {r}"));
            }
        }
        if !followers.is_empty() {
            h.status(
                "Rebuilt",
                &format!("{} more unit(s) only because of the above", followers.len()),
            );
            if h.verbose() > 0 {
                for (i, rs, _) in &followers {
                    h.line(&format!("             {}:", names[*i]));
                    for r in rs {
                        h.line(&format!("               - {}", describe(r)));
                    }
                }
            }
        }
    });
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

/// Prints the reasons the last build's record in `target_dir` holds for
/// the units `unit` (`<package>[@<version>][:<target>]`) names.
pub fn explain_units(target_dir: &Path, unit: &str, json: bool) -> Result<(), ExplainError> {
    let record = load(target_dir);
    if record.units.is_empty() {
        return Err(ExplainError::NoRecord(target_dir.to_path_buf()));
    }
    let (pkg, target) = unit
        .split_once(':')
        .map(|(p, t)| (p, Some(t)))
        .unwrap_or((unit, None));
    let matching: Vec<&UnitRecord> = record
        .units
        .values()
        .filter(|u| spec_matches(pkg, u) && target.is_none_or(|t| u.target == t))
        .collect();
    if matching.is_empty() {
        return Err(ExplainError::NoUnit(unit.to_string()));
    }
    for u in matching {
        if json {
            print_stdout_line(&serde_json::json!({"reason": "hbuild-explain", "package_id": u.package_id, "unit": u.display, "outcome": u.outcome, "reasons": u.reasons}).to_string());
            continue;
        }
        let outcome = match u.outcome {
            Outcome::Executed => "rebuilt in the last build",
            Outcome::Fresh => "fresh in the last build",
            Outcome::LocalHit => "restored from the local cache in the last build",
            Outcome::RemoteHit => "restored from the remote cache in the last build",
        };
        crate::report::eprint_locked(&format!("{}: {outcome}\n", u.display));
        if u.outcome != Outcome::Executed && !u.reasons.is_empty() {
            crate::report::eprint_locked("  last rebuilt because:\n");
        }
        for r in &u.reasons {
            crate::report::eprint_locked(&format!("  - {}\n", describe(r)));
        }
    }
    Ok(())
}
