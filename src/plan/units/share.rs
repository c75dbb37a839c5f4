//! Cargo's sharing pass (`rebuild_unit_graph_shared`): raw units that end
//! up identical (same package, target, mode, kind, profile, features and
//! dependencies) become one unit. On the way, host units whose debuginfo
//! was deferred lose it unless an identical target unit exists, and units
//! with no debuginfo anywhere below them get `strip = "debuginfo"`.

use std::collections::{HashMap, HashSet};

use super::edges::Builder;
use super::{GraphInputs, RawUnit};
use crate::core::{Digest, UnitId};
use crate::plan::unit::{CompileKind, LtoMode, Mode, Unit, UnitDep};
use crate::workspace::model::TargetKind;
use crate::workspace::profiles::{DebugInfo, Profile};

#[derive(PartialEq, Eq, Hash)]
struct CanonKey {
    probe: ProbeKey,
    deps: Vec<UnitDep>,
}

/// A unit without its dependencies: what a host unit is compared with to
/// decide whether it may share a target unit's debuginfo.
#[derive(PartialEq, Eq, Hash)]
struct ProbeKey {
    pkg: usize,
    target: usize,
    mode: Mode,
    kind: CompileKind,
    profile: Profile,
    features: Vec<String>,
}

impl ProbeKey {
    fn new(r: &RawUnit, profile: Profile) -> Self {
        ProbeKey {
            pkg: r.key.pkg,
            target: r.key.target,
            mode: r.key.mode,
            kind: r.key.kind,
            profile,
            features: r.features.clone(),
        }
    }
}

/// The shared units (dependencies first) and, per raw unit, its shared id.
pub(super) struct Shared {
    pub(super) units: Vec<Unit>,
    pub(super) of_raw: Vec<UnitId>,
}

/// Deduplicates the raw units of `b`.
pub(super) fn share(b: &Builder<'_>) -> Shared {
    let inp = b.inp;
    // Target-side units, used to decide whether a host unit is shared.
    let probes: HashSet<ProbeKey> = b
        .raw
        .iter()
        .filter(|r| !r.key.ufor.host)
        .map(|r| ProbeKey::new(r, r.profile.clone()))
        .collect();
    let mut units: Vec<Unit> = Vec::new();
    let mut index: HashMap<CanonKey, UnitId> = HashMap::new();
    let mut of_raw: Vec<UnitId> = Vec::with_capacity(b.raw.len());
    // Raw units are created after their dependencies, so index order is a
    // valid bottom-up order.
    for r in &b.raw {
        let deps = shared_deps(inp, &units, &of_raw, r);
        let profile = shared_profile(inp, &units, &probes, r, &deps);
        let key = CanonKey {
            probe: ProbeKey::new(r, profile.clone()),
            deps: deps.clone(),
        };
        let id = match index.get(&key) {
            Some(&id) => {
                if r.key.root {
                    units[id.index()].is_root = true;
                }
                id
            }
            None => {
                let id = UnitId(units.len() as u32);
                units.push(new_unit(inp, r, profile, deps));
                index.insert(key, id);
                id
            }
        };
        of_raw.push(id);
    }
    Shared { units, of_raw }
}

/// A raw unit's dependencies as shared units, in Cargo's unit order:
/// package (name, version, source), then target; this fixes the
/// `--extern` order.
fn shared_deps(
    inp: &GraphInputs<'_>,
    units: &[Unit],
    of_raw: &[UnitId],
    r: &RawUnit,
) -> Vec<UnitDep> {
    let mut deps: Vec<UnitDep> = r
        .deps
        .iter()
        .map(|(d, name)| UnitDep {
            unit: of_raw[*d],
            extern_name: name.clone(),
        })
        .collect();
    deps.sort_by(|x, y| {
        unit_order(inp, &units[x.unit.index()]).cmp(&unit_order(inp, &units[y.unit.index()]))
    });
    deps
}

/// The profile after automatic `strip` and host debuginfo weakening.
fn shared_profile(
    inp: &GraphInputs<'_>,
    units: &[Unit],
    probes: &HashSet<ProbeKey>,
    r: &RawUnit,
    deps: &[UnitDep],
) -> Profile {
    let mut profile = r.profile.clone();
    if profile.strip.is_none()
        && !profile.debuginfo.is_on()
        && deps
            .iter()
            .all(|d| !units[d.unit.index()].profile.debuginfo.is_on())
    {
        profile.strip = Some("debuginfo".into());
    }
    if r.key.ufor.host && profile.debuginfo_deferred {
        profile.debuginfo_deferred = false;
        // Cargo only weakens debuginfo of host units when the build has no
        // explicit `--target` (host and target units may then be shared);
        // with `--target` the deferred value is kept as is.
        if inp.request.target.is_none() && !probes.contains(&ProbeKey::new(r, profile.clone())) {
            profile.debuginfo = DebugInfo::None;
        }
    }
    profile
}

fn new_unit(inp: &GraphInputs<'_>, r: &RawUnit, profile: Profile, deps: Vec<UnitDep>) -> Unit {
    let pkg = &inp.model.packages[r.key.pkg];
    Unit {
        pkg: r.key.pkg,
        target: r.key.target,
        mode: r.key.mode,
        kind: r.key.kind,
        for_host: r.key.ufor.host,
        profile,
        features: r.features.clone(),
        deps,
        is_root: r.key.root,
        is_primary: inp.selected.contains(&r.key.pkg) && pkg.is_member,
        // Filled in by the LTO and hash passes.
        lto: LtoMode::OnlyObject,
        hash: Digest::of_bytes(b""),
    }
}

fn unit_order<'a>(
    inp: &'a GraphInputs<'_>,
    u: &Unit,
) -> (&'a str, &'a str, &'a str, TargetKind, &'a str, Mode) {
    let p = &inp.model.packages[u.pkg];
    let t = &p.targets[u.target];
    (
        p.name.as_str(),
        p.version.as_str(),
        p.id.0.as_str(),
        t.kind,
        t.name.as_str(),
        u.mode,
    )
}
