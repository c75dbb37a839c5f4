//! Building the unit graph, as Cargo's `unit_dependencies` and
//! `rebuild_unit_graph_shared`: a pure function of the model, the feature
//! resolution, the profiles and the request.
//!
//! * [`select`]: packages and root targets/modes of the request.
//! * [`edges`]: dependency units and edges (libraries, build scripts,
//!   `links` metadata, the host side).
//! * [`share`]: Cargo's sharing pass (dedup, debuginfo weakening,
//!   automatic `strip`).
//! * [`lto`]: per-unit LTO.
//! * [`hash`]: unit identity hashes.

mod edges;
mod hash;
mod lto;
pub(crate) mod select;
mod share;

#[cfg(test)]
mod feature_tests;
#[cfg(test)]
mod tests;

use serde::Serialize;

use super::request::BuildRequest;
use super::unit::{CompileKind, Mode, Unit};
use super::PlanError;
use crate::core::UnitId;
use crate::workspace::features::Resolution;
use crate::workspace::model::WorkspaceModel;
use crate::workspace::profiles::{Profile, Profiles};

/// How a unit is reached, as Cargo's `UnitFor`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct UnitFor {
    host: bool,
    host_features: bool,
    unwind: bool,
}

impl UnitFor {
    /// Build-time code and everything it links: host platform, host
    /// features, always `panic=unwind`.
    const HOST: UnitFor = UnitFor {
        host: true,
        host_features: true,
        unwind: true,
    };
}

/// A unit before sharing: how it was reached, not yet what it is.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct RawKey {
    pkg: usize,
    target: usize,
    mode: Mode,
    kind: CompileKind,
    ufor: UnitFor,
    root: bool,
}

struct RawUnit {
    key: RawKey,
    profile: Profile,
    features: Vec<String>,
    deps: Vec<edges::RawDep>,
}

/// Inputs the unit graph needs.
pub struct GraphInputs<'a> {
    /// The model.
    pub model: &'a WorkspaceModel,
    /// Features and edges.
    pub resolution: &'a Resolution,
    /// Profiles.
    pub profiles: &'a Profiles,
    /// The request.
    pub request: &'a BuildRequest,
    /// Selected packages.
    pub selected: &'a [usize],
    /// `rustc -vV` (enters unit hashes).
    pub rustc_version: &'a str,
    /// Target rustflags and host rustflags (enter unit hashes).
    pub rustflags: [&'a [String]; 2],
}

/// The unit graph.
#[derive(Debug, Serialize)]
pub struct UnitGraph {
    /// Units, dependencies before dependents.
    pub units: Vec<Unit>,
    /// Root units.
    pub roots: Vec<UnitId>,
}

/// Builds the shared unit graph for a request.
pub fn build(inp: &GraphInputs<'_>) -> Result<UnitGraph, PlanError> {
    select::check_named(inp)?;
    let mut errors = Vec::new();
    let root_keys = select::roots(inp, &mut errors);
    let mut b = edges::Builder::new(inp);
    let raw_roots = root_keys
        .into_iter()
        .map(|k| b.unit(k))
        .collect::<Result<Vec<usize>, PlanError>>()?;
    if let Some(e) = errors.into_iter().next() {
        return Err(e);
    }
    let shared = share::share(&b);
    let mut units = shared.units;
    let mut roots: Vec<UnitId> = raw_roots.iter().map(|&r| shared.of_raw[r]).collect();
    roots.sort();
    roots.dedup();
    lto::compute(inp, &mut units, &roots);
    hash::compute(inp, &mut units);
    Ok(UnitGraph { units, roots })
}
