//! Per-unit LTO, as Cargo's `lto.rs`: each root decides from its profile
//! and crate types, and the decision flows down to its dependencies, which
//! then need bitcode, objects or both; a unit reached from several roots
//! merges what they need.

use std::collections::HashMap;

use super::GraphInputs;
use crate::core::UnitId;
use crate::plan::unit::{LtoMode, Mode, Unit};
use crate::workspace::model::CrateType;
use crate::workspace::profiles::Lto;

/// Sets `lto` on every unit reachable from `roots`.
pub(super) fn compute(inp: &GraphInputs<'_>, units: &mut [Unit], roots: &[UnitId]) {
    let mut map: HashMap<UnitId, LtoMode> = HashMap::new();
    for &r in roots {
        let lto = root_lto(inp, &units[r.index()]);
        walk(inp, units, &mut map, r, lto);
    }
    for (id, m) in map {
        units[id.index()].lto = m;
    }
}

fn root_lto(inp: &GraphInputs<'_>, u: &Unit) -> LtoMode {
    let t = &inp.model.packages[u.pkg].targets[u.target];
    match u.profile.lto {
        Lto::False => LtoMode::OnlyObject,
        Lto::Off => LtoMode::Off,
        _ if t.for_host() => LtoMode::OnlyObject,
        _ if needs_object(&t.crate_types) => when_needs_object(&t.crate_types),
        _ => LtoMode::OnlyBitcode,
    }
}

fn crate_types(inp: &GraphInputs<'_>, u: &Unit) -> Vec<CrateType> {
    if u.mode == Mode::Test {
        return vec![CrateType::Bin];
    }
    inp.model.packages[u.pkg].targets[u.target]
        .crate_types
        .clone()
}

fn can_lto(ct: &CrateType) -> bool {
    matches!(
        ct,
        CrateType::Bin | CrateType::Staticlib | CrateType::Cdylib
    )
}

fn needs_object(cts: &[CrateType]) -> bool {
    cts.iter().any(|c| {
        can_lto(c)
            || matches!(
                c,
                CrateType::Dylib | CrateType::Cdylib | CrateType::ProcMacro
            )
    })
}

fn when_needs_object(cts: &[CrateType]) -> LtoMode {
    if cts.iter().all(|c| *c == CrateType::Dylib) {
        LtoMode::OnlyObject
    } else {
        LtoMode::ObjectAndBitcode
    }
}

/// What a unit needs when its dependent needs `parent`.
fn unit_lto(inp: &GraphInputs<'_>, u: &Unit, parent: &LtoMode) -> LtoMode {
    let t = &inp.model.packages[u.pkg].targets[u.target];
    let cts = crate_types(inp, u);
    if t.for_host() || u.mode == Mode::RunCustomBuild {
        return LtoMode::OnlyObject;
    }
    if cts.iter().all(can_lto) {
        return match &u.profile.lto {
            Lto::Thin => LtoMode::Run(Some("thin".into())),
            Lto::Fat => LtoMode::Run(None),
            Lto::Off => LtoMode::Off,
            Lto::False => LtoMode::OnlyObject,
        };
    }
    match (parent, needs_object(&cts)) {
        (LtoMode::Run(_), false) => LtoMode::OnlyBitcode,
        (LtoMode::Run(_), true) | (LtoMode::OnlyBitcode, true) => when_needs_object(&cts),
        (LtoMode::Off, _) => LtoMode::Off,
        _ => parent.clone(),
    }
}

/// Merges what two dependents need of one unit.
fn merge(new: &LtoMode, old: &LtoMode) -> LtoMode {
    match (new, old) {
        (LtoMode::OnlyBitcode, LtoMode::OnlyBitcode) => LtoMode::OnlyBitcode,
        (LtoMode::OnlyObject, LtoMode::OnlyObject) => LtoMode::OnlyObject,
        (LtoMode::Run(s), _) | (_, LtoMode::Run(s)) => LtoMode::Run(s.clone()),
        (LtoMode::Off, _) | (_, LtoMode::Off) => LtoMode::Off,
        _ => LtoMode::ObjectAndBitcode,
    }
}

fn walk(
    inp: &GraphInputs<'_>,
    units: &[Unit],
    map: &mut HashMap<UnitId, LtoMode>,
    id: UnitId,
    parent: LtoMode,
) {
    let lto = unit_lto(inp, &units[id.index()], &parent);
    let merged = match map.get(&id) {
        None => lto,
        Some(old) => {
            let m = merge(&lto, old);
            if &m == old {
                return;
            }
            m
        }
    };
    map.insert(id, merged.clone());
    for d in &units[id.index()].deps {
        walk(inp, units, map, d.unit, merged.clone());
    }
}
