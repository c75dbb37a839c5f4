//! Which earlier record a unit is compared with, and the names explain
//! prints for units.
//!
//! A unit's identity is what Cargo itself keeps apart in one build: the
//! package (name, source and semver-compatible version range, since Cargo
//! allows one version per range and source), the target, the action kind,
//! the mode, the platform and side, and the panic strategy (a library is
//! built with `panic=abort` for binaries and `unwind` for tests in one
//! `--release --all-targets` build). Everything else a unit has (features,
//! flags, files, the exact version within its range) may change between
//! builds and is what explain reports. A record is first looked up by the
//! full identity; a unit whose panic strategy changed is paired with the
//! one leftover record of that identity without the panic strategy.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::plan::unit::{CompileKind, Mode};
use crate::plan::{Action, ActionKind};
use crate::workspace::model::TargetKind;
use crate::workspace::profiles::PanicStrategy;

/// The stable identity of a unit across builds.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct UnitIdentity {
    /// Package name.
    pub package: String,
    /// Package source (`path` for every path package, so that moving a
    /// checkout keeps identities; registry and git sources by URL).
    pub source: String,
    /// Semver-compatible range of the version: `1`, `0.4`, `0.0.3`.
    pub compat: String,
    /// Target kind.
    pub target_kind: TargetKind,
    /// Target name.
    pub target: String,
    /// Action kind.
    pub action: ActionKind,
    /// Mode.
    pub mode: Mode,
    /// Platform.
    pub compile_kind: CompileKind,
    /// Built for the host side.
    pub for_host: bool,
    /// Panic strategy.
    pub panic: PanicStrategy,
}

impl UnitIdentity {
    /// The identity of an action.
    pub fn of(a: &Action) -> Self {
        UnitIdentity {
            package: a.package_name.clone(),
            source: source_of(&a.package_id.0),
            compat: compat_range(&a.package_version),
            target_kind: a.target_kind,
            target: a.target_name.clone(),
            action: a.kind,
            mode: a.mode,
            compile_kind: a.compile_kind,
            for_host: a.for_host,
            panic: a.profile.panic,
        }
    }

    /// The identity as a string, optionally without the panic strategy.
    fn key(&self, with_panic: bool) -> String {
        let side = if self.for_host { "host" } else { "target" };
        let mut k = format!(
            "{}|{}|{}|{}|{}|{:?}|{:?}|{:?}|{side}",
            self.package,
            self.source,
            self.compat,
            self.target_kind.as_str(),
            self.target,
            self.action,
            self.mode,
            self.compile_kind,
        );
        if with_panic {
            k.push_str("|panic=");
            k.push_str(self.panic.as_str());
        }
        k
    }
}

/// `registry+https://…#name@1.0.0` → `registry+https://…`; any path → `path`.
fn source_of(package_id: &str) -> String {
    if package_id.starts_with("path+") {
        return "path".into();
    }
    package_id
        .split_once('#')
        .map_or(package_id, |(s, _)| s)
        .to_string()
}

/// The semver-compatible range a version belongs to, as Cargo's resolver
/// sees it: the major version, or `0.minor`, or `0.0.patch`.
fn compat_range(version: &str) -> String {
    let core = version.split(['-', '+']).next().unwrap_or(version);
    let mut parts = core.split('.');
    let (major, minor, patch) = (
        parts.next().unwrap_or("0"),
        parts.next().unwrap_or("0"),
        parts.next().unwrap_or("0"),
    );
    match (major, minor) {
        ("0", "0") => format!("0.0.{patch}"),
        ("0", _) => format!("0.{minor}"),
        _ => major.to_string(),
    }
}

/// The record keys of a graph's actions: the full identity, made unique
/// with the unit hash should two actions ever share it (then each is only
/// matched with a record of exactly the same unit).
pub(crate) fn record_keys(actions: &[Action], ids: &[UnitIdentity]) -> Vec<String> {
    let keys: Vec<String> = ids.iter().map(|i| i.key(true)).collect();
    let mut count: HashMap<&str, usize> = HashMap::new();
    for k in &keys {
        *count.entry(k).or_default() += 1;
    }
    keys.iter()
        .zip(actions)
        .map(|(k, a)| match count[k.as_str()] {
            1 => k.clone(),
            _ => format!("{k}|{}", a.unit_hash),
        })
        .collect()
}

/// For each action, the key of the earlier record it is compared with:
/// the record of the same key, else the single unmatched record of the
/// same identity without the panic strategy when exactly one unmatched
/// action has that identity too.
pub(crate) fn match_records(
    prev: &BTreeMap<String, UnitIdentity>,
    keys: &[String],
    ids: &[UnitIdentity],
) -> Vec<Option<String>> {
    let mut matched: Vec<Option<String>> = keys
        .iter()
        .map(|k| prev.contains_key(k).then(|| k.clone()))
        .collect();
    let taken: HashSet<&String> = matched.iter().flatten().collect();
    let mut old: HashMap<String, Vec<&String>> = HashMap::new();
    for (k, id) in prev {
        if !taken.contains(k) {
            old.entry(id.key(false)).or_default().push(k);
        }
    }
    let mut new: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, id) in ids.iter().enumerate() {
        if matched[i].is_none() {
            new.entry(id.key(false)).or_default().push(i);
        }
    }
    for (k, is) in new {
        if let ([i], Some([p])) = (is.as_slice(), old.get(&k).map(Vec::as_slice)) {
            matched[*i] = Some((*p).clone());
        }
    }
    matched
}

/// Names for explain's output, unique within the graph: the usual display
/// name, qualified where units share it by version (`bitflags v1.3.2`),
/// side (`(host)`), panic strategy (`(panic=abort)`), and as a last resort
/// the unit hash.
pub(crate) fn unit_names(actions: &[Action]) -> Vec<String> {
    let base: Vec<String> = actions.iter().map(Action::display_name).collect();
    let mut groups: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, b) in base.iter().enumerate() {
        groups.entry(b).or_default().push(i);
    }
    let mut names = base.clone();
    for group in groups.values().filter(|g| g.len() > 1) {
        let differ = |f: &dyn Fn(&Action) -> String| {
            let first = f(&actions[group[0]]);
            group.iter().any(|i| f(&actions[*i]) != first)
        };
        let by_version = differ(&|a| a.package_version.clone());
        let by_side = differ(&|a| a.for_host.to_string());
        let by_panic = differ(&|a| a.profile.panic.to_string());
        for &i in group {
            let a = &actions[i];
            let mut n = base[i].clone();
            if by_version {
                n = format!(
                    "{} v{}{}",
                    a.package_name,
                    a.package_version,
                    &base[i][a.package_name.len()..]
                );
            }
            if by_side {
                n.push_str(if a.for_host { " (host)" } else { " (target)" });
            }
            if by_panic {
                n.push_str(&format!(" (panic={})", a.profile.panic));
            }
            names[i] = n;
        }
    }
    let mut count: HashMap<String, usize> = HashMap::new();
    for n in &names {
        *count.entry(n.clone()).or_default() += 1;
    }
    names
        .into_iter()
        .zip(actions)
        .map(|(n, a)| match count[&n] {
            1 => n,
            _ => format!("{n} [{}]", a.unit_hash),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compatible_ranges_follow_cargo() {
        assert_eq!(compat_range("1.3.2"), "1");
        assert_eq!(compat_range("2.0.0-rc.1"), "2");
        assert_eq!(compat_range("0.4.8"), "0.4");
        assert_eq!(compat_range("0.0.3"), "0.0.3");
    }

    #[test]
    fn sources_drop_the_fragment_and_paths() {
        assert_eq!(
            source_of("registry+https://github.com/rust-lang/crates.io-index#itoa@1.0.1"),
            "registry+https://github.com/rust-lang/crates.io-index"
        );
        assert_eq!(source_of("path+file:///w/crates/app#0.3.1"), "path");
    }

    fn id(compat: &str, panic: &str) -> UnitIdentity {
        UnitIdentity {
            package: "bitflags".into(),
            source: "registry+x".into(),
            compat: compat.into(),
            target_kind: TargetKind::Lib,
            target: "bitflags".into(),
            action: ActionKind::Compile,
            mode: Mode::Build,
            compile_kind: CompileKind::Host,
            for_host: false,
            panic: if panic == "abort" {
                PanicStrategy::Abort
            } else {
                PanicStrategy::Unwind
            },
        }
    }

    fn prev(ids: &[UnitIdentity]) -> BTreeMap<String, UnitIdentity> {
        ids.iter().map(|i| (i.key(true), i.clone())).collect()
    }

    #[test]
    fn each_version_and_panic_strategy_matches_its_own_record() {
        let ids = [
            id("1", "unwind"),
            id("2", "unwind"),
            id("1", "abort"),
            id("2", "abort"),
        ];
        let keys: Vec<String> = ids.iter().map(|i| i.key(true)).collect();
        let m = match_records(&prev(&ids), &keys, &ids);
        assert_eq!(m, keys.iter().cloned().map(Some).collect::<Vec<_>>());
    }

    #[test]
    fn a_changed_panic_strategy_pairs_only_when_unambiguous() {
        let old = prev(&[id("1", "unwind"), id("2", "unwind")]);
        // One unit switched to abort: paired with its unwind record.
        let ids = [id("1", "abort"), id("2", "unwind")];
        let keys: Vec<String> = ids.iter().map(|i| i.key(true)).collect();
        let m = match_records(&old, &keys, &ids);
        assert_eq!(m[0], Some(id("1", "unwind").key(true)));
        assert_eq!(m[1], Some(keys[1].clone()));
        // Two abort copies and one unwind record: no guess.
        let ids = [id("1", "abort"), id("1", "abort")];
        let keys = vec!["a".to_string(), "b".to_string()];
        let m = match_records(&prev(&[id("1", "unwind")]), &keys, &ids);
        assert_eq!(m, vec![None, None]);
    }

    #[test]
    fn another_major_version_is_not_the_same_unit() {
        let ids = [id("2", "unwind")];
        let keys: Vec<String> = ids.iter().map(|i| i.key(true)).collect();
        let m = match_records(&prev(&[id("1", "unwind")]), &keys, &ids);
        assert_eq!(m, vec![None]);
    }
}
