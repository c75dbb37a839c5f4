//! Unit identity hashes (Cargo's `-C metadata` / `extra-filename`): a
//! location-independent digest of everything that makes a unit distinct,
//! its dependencies' hashes included. They name output files, so changing
//! what enters them renames every artifact.

use std::collections::BTreeSet;

use serde::Serialize;

use super::GraphInputs;
use crate::core::Digest;
use crate::plan::unit::{CompileKind, LtoMode, Mode, Unit};
use crate::workspace::model::{Source, TargetKind, WorkspaceModel};
use crate::workspace::profiles::Profile;

/// A location-independent identity for a package: registry packages by
/// source and version, path packages by their path relative to the
/// workspace root.
pub fn package_identity(model: &WorkspaceModel, pkg: usize) -> String {
    let p = &model.packages[pkg];
    match &p.source {
        Source::Registry { url } | Source::Git { url } => format!("{url}#{}@{}", p.name, p.version),
        Source::Path => {
            let rel = p
                .root()
                .strip_prefix(&model.root)
                .map(|r| r.to_string_lossy().into_owned());
            format!(
                "path+{}#{}@{}",
                rel.unwrap_or_else(|_| "<outside>".into()),
                p.name,
                p.version
            )
        }
    }
}

/// What enters a unit's hash, serialised to JSON in this field order.
#[derive(Serialize)]
struct HashInput<'a> {
    version: u32,
    package: String,
    target: &'a str,
    target_kind: TargetKind,
    mode: Mode,
    kind: CompileKind,
    triple: Option<&'a str>,
    for_host: bool,
    profile: &'a Profile,
    features: &'a [String],
    lto: &'a LtoMode,
    rustc: &'a str,
    rustflags: &'a [String],
    deps: BTreeSet<String>,
}

/// Sets `hash` on every unit; dependencies come before dependents.
pub(super) fn compute(inp: &GraphInputs<'_>, units: &mut [Unit]) {
    for i in 0..units.len() {
        units[i].hash = unit_hash(inp, units, &units[i]);
    }
}

fn unit_hash(inp: &GraphInputs<'_>, units: &[Unit], u: &Unit) -> Digest {
    let t = &inp.model.packages[u.pkg].targets[u.target];
    let flags_side = if u.kind == CompileKind::Host && inp.request.target.is_some() {
        1
    } else {
        0
    };
    // Incremental compilation is how rustc runs, not what it builds: the
    // same unit with and without it shares its name and its cache keys.
    let mut profile = u.profile.clone();
    profile.incremental = false;
    let h = HashInput {
        version: 1,
        package: package_identity(inp.model, u.pkg),
        target: &t.name,
        target_kind: t.kind,
        mode: u.mode,
        kind: u.kind,
        triple: match u.kind {
            CompileKind::Target => inp.request.target.as_deref(),
            CompileKind::Host => None,
        },
        for_host: u.for_host && u.mode != Mode::Build,
        profile: &profile,
        features: &u.features,
        lto: &u.lto,
        rustc: inp.rustc_version,
        rustflags: inp.rustflags[flags_side],
        deps: u
            .deps
            .iter()
            .map(|d| units[d.unit.index()].hash.to_hex())
            .collect(),
    };
    let json = serde_json::to_vec(&h).expect("hash input serialises");
    Digest::of_bytes(&json)
}
