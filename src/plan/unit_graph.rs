//! Building the unit graph: roots from the request, dependencies from the
//! resolved edges, then Cargo's sharing pass (host/target dedup, debuginfo
//! weakening, automatic `strip`), per-unit LTO and identity hashes.

use std::collections::{BTreeSet, HashMap};

use serde::Serialize;

use super::request::{BuildRequest, TargetSelection};
use super::unit::{CompileKind, LtoMode, Mode, Unit, UnitDep};
use super::PlanError;
use crate::core::{Digest, UnitId};
use crate::workspace::features::{Resolution, Side};
use crate::workspace::model::{Source, TargetKind, WorkspaceModel};
use crate::workspace::profiles::{DebugInfo, Lto, Profile, ProfileFor, Profiles};

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
    deps: Vec<(usize, Option<String>)>,
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

struct Builder<'a> {
    inp: &'a GraphInputs<'a>,
    raw: Vec<RawUnit>,
    memo: HashMap<RawKey, usize>,
    explicit_target: bool,
}

/// The unit graph.
#[derive(Debug, Serialize)]
pub struct UnitGraph {
    /// Units, dependencies before dependents.
    pub units: Vec<Unit>,
    /// Root units.
    pub roots: Vec<UnitId>,
}

impl<'a> Builder<'a> {
    fn side(ufor: UnitFor) -> Side {
        if ufor.host_features {
            Side::Host
        } else {
            Side::Target
        }
    }

    fn profile_for(&self, pkg: usize, ufor: UnitFor) -> Result<Profile, PlanError> {
        let p = &self.inp.model.packages[pkg];
        Ok(self.inp.profiles.get(ProfileFor {
            package: &p.name,
            version: &p.version,
            is_member: p.is_member,
            is_local: p.is_local(),
            for_host: ufor.host,
            force_unwind: ufor.unwind,
        })?)
    }

    fn unit(&mut self, key: RawKey) -> Result<usize, PlanError> {
        if let Some(&i) = self.memo.get(&key) {
            return Ok(i);
        }
        let model = self.inp.model;
        let pkg = &model.packages[key.pkg];
        let target = &pkg.targets[key.target];
        let side = Self::side(key.ufor);
        let features = self.inp.resolution.features_of(side, key.pkg).to_vec();
        let profile = match key.mode {
            Mode::RunCustomBuild => {
                // A run gets a stripped profile of the unit it runs for, so
                // unrelated profile settings do not multiply runs.
                let full = self.profile_for(
                    key.pkg,
                    UnitFor {
                        host: false,
                        ..key.ufor
                    },
                )?;
                let mut stripped = self.profile_for(key.pkg, key.ufor)?;
                stripped.opt_level = full.opt_level.clone();
                stripped.debuginfo = full.debuginfo;
                stripped.debuginfo_deferred = false;
                stripped.debug_assertions = full.debug_assertions;
                stripped.root = full.root.clone();
                stripped.overflow_checks = false;
                stripped.lto = Lto::False;
                stripped.panic = "unwind".into();
                stripped.codegen_units = None;
                stripped.incremental = false;
                stripped.strip = None;
                stripped.split_debuginfo = None;
                stripped.rpath = false;
                stripped
            }
            _ => self.profile_for(key.pkg, key.ufor)?,
        };
        let edges = &self.inp.resolution.edges[key.pkg][side as usize];
        let mut deps: Vec<(usize, Option<String>)> = Vec::new();

        match (key.mode, target.kind) {
            (Mode::RunCustomBuild, _) => {
                let script = UnitFor {
                    host: true,
                    host_features: key.ufor.host_features,
                    unwind: true,
                };
                let compile = self.unit(RawKey {
                    pkg: key.pkg,
                    target: key.target,
                    mode: Mode::Build,
                    kind: CompileKind::Host,
                    ufor: script,
                    root: false,
                })?;
                deps.push((compile, None));
                // Runs of direct dependencies with `links` go first: their
                // metadata reaches this script as DEP_* variables.
                for e in edges.iter().filter(|e| e.normal || e.build) {
                    let dp = &model.packages[e.to];
                    let (Some(_), Some(bs)) = (&dp.links, dp.build_script()) else {
                        continue;
                    };
                    if dp.lib().is_none() {
                        continue;
                    }
                    let dep_ufor = if e.normal && !dp.targets[dp.lib().unwrap_or(0)].is_proc_macro()
                    {
                        key.ufor
                    } else {
                        UnitFor::HOST
                    };
                    let kind = if dep_ufor.host {
                        CompileKind::Host
                    } else {
                        key.kind
                    };
                    let run = self.unit(RawKey {
                        pkg: e.to,
                        target: bs,
                        mode: Mode::RunCustomBuild,
                        kind,
                        ufor: dep_ufor,
                        root: false,
                    })?;
                    deps.push((run, None));
                }
            }
            (_, TargetKind::CustomBuild) => {
                for e in edges.iter().filter(|e| e.build) {
                    self.lib_dep(
                        e.to,
                        &e.extern_name,
                        UnitFor::HOST,
                        CompileKind::Host,
                        &mut deps,
                    )?;
                }
            }
            _ => {
                let dev = key.mode == Mode::Test
                    || matches!(
                        target.kind,
                        TargetKind::Example | TargetKind::Test | TargetKind::Bench
                    );
                // Everything a proc-macro links is host code, even when the
                // proc-macro itself is a root built with the normal profile.
                let (dep_ufor, dep_kind) = if target.is_proc_macro() {
                    (UnitFor::HOST, CompileKind::Host)
                } else {
                    (key.ufor, key.kind)
                };
                for e in edges.iter().filter(|e| e.normal || (dev && e.dev)) {
                    self.lib_dep(e.to, &e.extern_name, dep_ufor, dep_kind, &mut deps)?;
                }
                if let Some(bs) = pkg.build_script() {
                    let run = self.unit(RawKey {
                        pkg: key.pkg,
                        target: bs,
                        mode: Mode::RunCustomBuild,
                        kind: key.kind,
                        ufor: UnitFor {
                            host: key.ufor.host,
                            ..key.ufor
                        },
                        root: false,
                    })?;
                    deps.push((run, None));
                }
                let is_lib_itself = target.kind == TargetKind::Lib;
                if !is_lib_itself {
                    if let Some(lib) = pkg.lib() {
                        let name = pkg.targets[lib].crate_name();
                        self.lib_dep_target(key.pkg, lib, &name, key.ufor, key.kind, &mut deps)?;
                    }
                }
            }
        }
        deps.sort();
        deps.dedup();
        let id = self.raw.len();
        self.raw.push(RawUnit {
            key: key.clone(),
            profile,
            features,
            deps,
        });
        self.memo.insert(key, id);
        Ok(id)
    }

    fn lib_dep(
        &mut self,
        pkg: usize,
        extern_name: &str,
        ufor: UnitFor,
        kind: CompileKind,
        deps: &mut Vec<(usize, Option<String>)>,
    ) -> Result<(), PlanError> {
        let Some(lib) = self.inp.model.packages[pkg].lib() else {
            return Ok(());
        };
        self.lib_dep_target(pkg, lib, extern_name, ufor, kind, deps)
    }

    fn lib_dep_target(
        &mut self,
        pkg: usize,
        lib: usize,
        extern_name: &str,
        ufor: UnitFor,
        kind: CompileKind,
        deps: &mut Vec<(usize, Option<String>)>,
    ) -> Result<(), PlanError> {
        let t = &self.inp.model.packages[pkg].targets[lib];
        let (ufor, kind) = if t.is_proc_macro() {
            (UnitFor::HOST, CompileKind::Host)
        } else if ufor.host {
            (ufor, CompileKind::Host)
        } else {
            (ufor, kind)
        };
        let u = self.unit(RawKey {
            pkg,
            target: lib,
            mode: Mode::Build,
            kind,
            ufor,
            root: false,
        })?;
        deps.push((u, Some(extern_name.to_string())));
        Ok(())
    }
}

/// Which (target, mode) pairs of a package the selection asks for.
fn select_targets(
    inp: &GraphInputs<'_>,
    pkg: usize,
    sel: &TargetSelection,
    explicit_errors: &mut Vec<PlanError>,
) -> Vec<(usize, Mode)> {
    let p = &inp.model.packages[pkg];
    let enabled = inp.resolution.features_of(Side::Target, pkg);
    let has_features = |req: &[String]| req.iter().all(|f| enabled.contains(f));
    let mut out = Vec::new();
    let mut push = |i: usize, mode: Mode, explicit: bool, out: &mut Vec<(usize, Mode)>| {
        let t = &p.targets[i];
        if !has_features(&t.required_features) {
            if explicit {
                explicit_errors.push(PlanError::RequiredFeatures {
                    target: t.name.clone(),
                    package: p.name.clone(),
                    features: t.required_features.join(", "),
                });
            }
            return;
        }
        if !out.contains(&(i, mode)) {
            out.push((i, mode));
        }
    };
    let of_kind = |k: TargetKind| {
        p.targets
            .iter()
            .enumerate()
            .filter(move |(_, t)| t.kind == k)
            .map(|(i, _)| i)
    };
    if sel.is_default() {
        if let Some(l) = p.lib() {
            push(l, Mode::Build, false, &mut out);
        }
        for i in of_kind(TargetKind::Bin) {
            push(i, Mode::Build, false, &mut out);
        }
        return out;
    }
    if sel.lib || sel.all_targets {
        if let Some(l) = p.lib() {
            push(l, Mode::Build, false, &mut out);
        }
    }
    if sel.all_bins || sel.all_targets {
        for i in of_kind(TargetKind::Bin) {
            push(i, Mode::Build, false, &mut out);
        }
    }
    if sel.all_examples || sel.all_targets {
        for i in of_kind(TargetKind::Example) {
            push(i, Mode::Build, false, &mut out);
        }
    }
    if sel.all_tests || sel.all_targets {
        for (i, t) in p.targets.iter().enumerate() {
            if t.test
                && t.kind != TargetKind::CustomBuild
                && (t.kind != TargetKind::Bench || sel.all_targets)
            {
                push(i, Mode::Test, false, &mut out);
            }
        }
    }
    if sel.all_benches || sel.all_targets {
        for i in of_kind(TargetKind::Bench) {
            push(i, Mode::Test, false, &mut out);
        }
    }
    for (names, kind, mode) in [
        (&sel.bins, TargetKind::Bin, Mode::Build),
        (&sel.examples, TargetKind::Example, Mode::Build),
        (&sel.tests, TargetKind::Test, Mode::Test),
        (&sel.benches, TargetKind::Bench, Mode::Test),
    ] {
        for n in names {
            if let Some(i) = p
                .targets
                .iter()
                .position(|t| t.kind == kind && &t.name == n)
            {
                push(i, mode, true, &mut out);
            }
        }
    }
    out
}

/// Builds the shared unit graph for a request.
pub fn build(inp: &GraphInputs<'_>) -> Result<UnitGraph, PlanError> {
    let explicit_target = inp.request.target.is_some();
    let mut b = Builder {
        inp,
        raw: Vec::new(),
        memo: HashMap::new(),
        explicit_target,
    };
    let sel = &inp.request.targets;
    let mut errors = Vec::new();
    let mut raw_roots = Vec::new();
    // Every named --bin/--example/--test must exist in some selected package.
    for (names, kind, label) in [
        (&sel.bins, TargetKind::Bin, "bin"),
        (&sel.examples, TargetKind::Example, "example"),
        (&sel.tests, TargetKind::Test, "test"),
        (&sel.benches, TargetKind::Bench, "bench"),
    ] {
        for n in names {
            let found = inp.selected.iter().any(|&p| {
                inp.model.packages[p]
                    .targets
                    .iter()
                    .any(|t| t.kind == kind && &t.name == n)
            });
            if !found {
                let available: Vec<String> = inp
                    .selected
                    .iter()
                    .flat_map(|&p| {
                        inp.model.packages[p]
                            .targets
                            .iter()
                            .filter(|t| t.kind == kind)
                            .map(|t| t.name.clone())
                    })
                    .collect();
                return Err(PlanError::Workspace(
                    crate::workspace::WorkspaceError::UnknownTarget {
                        kind: label,
                        name: n.clone(),
                        hint: if available.is_empty() {
                            String::new()
                        } else {
                            format!(
                                "\n\nAvailable {label} targets:\n    {}",
                                available.join("\n    ")
                            )
                        },
                    },
                ));
            }
        }
    }
    if sel.lib
        && !inp
            .selected
            .iter()
            .any(|&p| inp.model.packages[p].lib().is_some())
    {
        return Err(PlanError::NoLibTarget);
    }
    for &pkg in inp.selected {
        for (target, mode) in select_targets(inp, pkg, sel, &mut errors) {
            let t = &inp.model.packages[pkg].targets[target];
            let ufor = UnitFor {
                host: false,
                host_features: t.is_proc_macro(),
                unwind: mode == Mode::Test,
            };
            let kind = if t.is_proc_macro() || !explicit_target {
                CompileKind::Host
            } else {
                CompileKind::Target
            };
            let id = b.unit(RawKey {
                pkg,
                target,
                mode,
                kind,
                ufor,
                root: true,
            })?;
            raw_roots.push(id);
            // Integration tests and benches need the package's bins
            // (CARGO_BIN_EXE_*); they are built as roots, not as deps, so
            // that a bin change does not relink the tests.
            if mode == Mode::Test && matches!(t.kind, TargetKind::Test | TargetKind::Bench) {
                let p = &inp.model.packages[pkg];
                let enabled = inp.resolution.features_of(Side::Target, pkg);
                for (bi, bt) in p.targets.iter().enumerate() {
                    if bt.kind == TargetKind::Bin
                        && bt.required_features.iter().all(|f| enabled.contains(f))
                    {
                        let k = if explicit_target {
                            CompileKind::Target
                        } else {
                            CompileKind::Host
                        };
                        let id = b.unit(RawKey {
                            pkg,
                            target: bi,
                            mode: Mode::Build,
                            kind: k,
                            ufor: UnitFor {
                                host: false,
                                host_features: false,
                                unwind: false,
                            },
                            root: true,
                        })?;
                        raw_roots.push(id);
                    }
                }
            }
        }
    }
    if let Some(e) = errors.into_iter().next() {
        return Err(e);
    }
    let _ = b.explicit_target;
    share(b, raw_roots)
}

#[derive(PartialEq, Eq, Hash)]
struct CanonKey {
    pkg: usize,
    target: usize,
    mode: Mode,
    kind: CompileKind,
    profile: Profile,
    features: Vec<String>,
    deps: Vec<UnitDep>,
}

#[derive(PartialEq, Eq, Hash)]
struct ProbeKey {
    pkg: usize,
    target: usize,
    mode: Mode,
    kind: CompileKind,
    profile: Profile,
    features: Vec<String>,
}

fn share(b: Builder<'_>, raw_roots: Vec<usize>) -> Result<UnitGraph, PlanError> {
    let inp = b.inp;
    // Target-side units, used to decide whether a host unit is shared.
    let probes: std::collections::HashSet<ProbeKey> = b
        .raw
        .iter()
        .filter(|r| !r.key.ufor.host)
        .map(|r| ProbeKey {
            pkg: r.key.pkg,
            target: r.key.target,
            mode: r.key.mode,
            kind: r.key.kind,
            profile: r.profile.clone(),
            features: r.features.clone(),
        })
        .collect();
    let mut units: Vec<Unit> = Vec::new();
    let mut index: HashMap<CanonKey, UnitId> = HashMap::new();
    let mut memo: Vec<Option<UnitId>> = vec![None; b.raw.len()];
    // Raw units are created after their dependencies, so index order is a
    // valid bottom-up order.
    for (ri, r) in b.raw.iter().enumerate() {
        let deps: Vec<UnitDep> = r
            .deps
            .iter()
            .map(|(d, name)| UnitDep {
                unit: memo[*d].expect("dependency shared before dependent"),
                extern_name: name.clone(),
            })
            .collect();
        let mut deps = deps;
        // Cargo orders dependencies by unit order: package (name, version,
        // source), then target; this fixes the `--extern` order.
        deps.sort_by(|x, y| {
            unit_order(inp, &units[x.unit.index()]).cmp(&unit_order(inp, &units[y.unit.index()]))
        });
        let mut profile = r.profile.clone();
        if profile.strip.is_none()
            && !profile.debuginfo.is_on()
            && deps
                .iter()
                .all(|d| !units[d.unit.index()].profile.debuginfo.is_on())
        {
            profile.strip = Some("debuginfo".into());
        }
        // Cargo only weakens debuginfo of host units when the build has no
        // explicit `--target` (host and target units may then be shared);
        // with `--target` the deferred value is kept as is.
        if r.key.ufor.host && profile.debuginfo_deferred && inp.request.target.is_some() {
            profile.debuginfo_deferred = false;
        }
        if r.key.ufor.host && profile.debuginfo_deferred {
            profile.debuginfo_deferred = false;
            let probe = ProbeKey {
                pkg: r.key.pkg,
                target: r.key.target,
                mode: r.key.mode,
                kind: r.key.kind,
                profile: profile.clone(),
                features: r.features.clone(),
            };
            if !probes.contains(&probe) {
                profile.debuginfo = DebugInfo::None;
            }
        }
        let key = CanonKey {
            pkg: r.key.pkg,
            target: r.key.target,
            mode: r.key.mode,
            kind: r.key.kind,
            profile: profile.clone(),
            features: r.features.clone(),
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
                let pkg = &inp.model.packages[r.key.pkg];
                units.push(Unit {
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
                    lto: LtoMode::OnlyObject,
                    hash: Digest::of_bytes(b""),
                });
                index.insert(key, id);
                id
            }
        };
        memo[ri] = Some(id);
    }
    let mut roots: Vec<UnitId> = raw_roots
        .iter()
        .map(|&r| memo[r].expect("root shared"))
        .collect();
    roots.sort();
    roots.dedup();
    compute_lto(inp, &mut units, &roots);
    compute_hashes(inp, &mut units);
    Ok(UnitGraph { units, roots })
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

fn crate_types_for_lto(inp: &GraphInputs<'_>, u: &Unit) -> Vec<String> {
    if u.mode == Mode::Test {
        return vec!["bin".into()];
    }
    inp.model.packages[u.pkg].targets[u.target]
        .crate_types
        .clone()
}

fn can_lto(ct: &str) -> bool {
    matches!(ct, "bin" | "staticlib" | "cdylib")
}

fn needs_object(cts: &[String]) -> bool {
    cts.iter()
        .any(|c| can_lto(c) || matches!(c.as_str(), "dylib" | "cdylib" | "proc-macro"))
}

fn when_needs_object(cts: &[String]) -> LtoMode {
    if cts.iter().all(|c| c == "dylib") {
        LtoMode::OnlyObject
    } else {
        LtoMode::ObjectAndBitcode
    }
}

fn compute_lto(inp: &GraphInputs<'_>, units: &mut [Unit], roots: &[UnitId]) {
    let mut map: HashMap<UnitId, LtoMode> = HashMap::new();
    for &r in roots {
        let u = &units[r.index()];
        let t = &inp.model.packages[u.pkg].targets[u.target];
        let root_lto = match u.profile.lto {
            Lto::False => LtoMode::OnlyObject,
            Lto::Off => LtoMode::Off,
            _ => {
                let cts = t.crate_types.clone();
                if t.for_host() {
                    LtoMode::OnlyObject
                } else if needs_object(&cts) {
                    when_needs_object(&cts)
                } else {
                    LtoMode::OnlyBitcode
                }
            }
        };
        lto_walk(inp, units, &mut map, r, root_lto);
    }
    for (id, m) in map {
        units[id.index()].lto = m;
    }
}

fn lto_walk(
    inp: &GraphInputs<'_>,
    units: &[Unit],
    map: &mut HashMap<UnitId, LtoMode>,
    id: UnitId,
    parent: LtoMode,
) {
    let u = &units[id.index()];
    let t = &inp.model.packages[u.pkg].targets[u.target];
    let cts = crate_types_for_lto(inp, u);
    let lto = if t.for_host() || u.mode == Mode::RunCustomBuild {
        LtoMode::OnlyObject
    } else if cts.iter().all(|c| can_lto(c)) {
        match &u.profile.lto {
            Lto::Thin => LtoMode::Run(Some("thin".into())),
            Lto::Fat => LtoMode::Run(None),
            Lto::Off => LtoMode::Off,
            Lto::False => LtoMode::OnlyObject,
        }
    } else {
        match (&parent, needs_object(&cts)) {
            (LtoMode::Run(_), false) => LtoMode::OnlyBitcode,
            (LtoMode::Run(_), true) | (LtoMode::OnlyBitcode, true) => when_needs_object(&cts),
            (LtoMode::Off, _) => LtoMode::Off,
            _ => parent.clone(),
        }
    };
    let merged = match map.get(&id) {
        None => lto,
        Some(old) => {
            let m = match (&lto, old) {
                (LtoMode::OnlyBitcode, LtoMode::OnlyBitcode) => LtoMode::OnlyBitcode,
                (LtoMode::OnlyObject, LtoMode::OnlyObject) => LtoMode::OnlyObject,
                (LtoMode::Run(s), _) | (_, LtoMode::Run(s)) => LtoMode::Run(s.clone()),
                (LtoMode::Off, _) | (_, LtoMode::Off) => LtoMode::Off,
                _ => LtoMode::ObjectAndBitcode,
            };
            if &m == old {
                return;
            }
            m
        }
    };
    map.insert(id, merged.clone());
    for d in &units[id.index()].deps {
        lto_walk(inp, units, map, d.unit, merged.clone());
    }
}

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

fn compute_hashes(inp: &GraphInputs<'_>, units: &mut [Unit]) {
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
    for i in 0..units.len() {
        let u = &units[i];
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
        units[i].hash = Digest::of_bytes(&json);
    }
}
