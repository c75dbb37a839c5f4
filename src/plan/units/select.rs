//! Target selection: which packages (`-p`, `--workspace`, `--exclude`,
//! default members) and which of their targets and modes (`--lib`,
//! `--bin`, `--all-targets`, ..., gated by `required-features`) a request
//! asks for, as Cargo's `generate_root_units`.

use super::{GraphInputs, RawKey, UnitFor};
use crate::plan::request::{BuildRequest, TargetSelection};
use crate::plan::unit::{CompileKind, Mode};
use crate::plan::PlanError;
use crate::workspace::features::Side;
use crate::workspace::model::{Package, TargetKind, WorkspaceModel};
use crate::workspace::WorkspaceError;

/// `-p`/`--workspace`/`--exclude`/default members → sorted package indices.
pub(crate) fn packages(
    model: &WorkspaceModel,
    req: &BuildRequest,
) -> Result<Vec<usize>, WorkspaceError> {
    let matches = |spec: &str, i: usize| {
        let p = &model.packages[i];
        let (name, ver) = spec.split_once('@').unwrap_or((spec, ""));
        (p.name == name || p.id.0 == spec) && (ver.is_empty() || p.version == ver)
    };
    let mut out: Vec<usize> = if req.workspace {
        model.members.clone()
    } else if !req.packages.is_empty() {
        let mut v = Vec::new();
        for spec in &req.packages {
            let found: Vec<usize> = (0..model.packages.len())
                .filter(|&i| matches(spec, i))
                .collect();
            if found.is_empty() {
                return Err(WorkspaceError::UnknownPackage(spec.clone()));
            }
            v.extend(found);
        }
        v
    } else {
        // The package whose manifest is in the current directory, else
        // the default members.
        let here = model.members.iter().copied().find(|&i| {
            model.packages[i].root() == req.cwd
                && model.packages[i].manifest_path != model.root_manifest
        });
        match here {
            Some(i) => vec![i],
            None => model.default_members.clone(),
        }
    };
    for ex in &req.exclude {
        if !model.members.iter().any(|&i| matches(ex, i)) {
            return Err(WorkspaceError::UnknownExclude(ex.clone()));
        }
        out.retain(|&i| !matches(ex, i));
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// The explicitly named targets of a selection, with their kind and label.
fn named(sel: &TargetSelection) -> [(&Vec<String>, TargetKind, &'static str, Mode); 4] {
    [
        (&sel.bins, TargetKind::Bin, "bin", Mode::Build),
        (&sel.examples, TargetKind::Example, "example", Mode::Build),
        (&sel.tests, TargetKind::Test, "test", Mode::Test),
        (&sel.benches, TargetKind::Bench, "bench", Mode::Test),
    ]
}

/// Fails unless every named `--bin`/`--example`/`--test`/`--bench` exists
/// in some selected package, and `--lib` finds a library.
pub(super) fn check_named(inp: &GraphInputs<'_>) -> Result<(), PlanError> {
    let sel = &inp.request.targets;
    let selected = || inp.selected.iter().map(|&p| &inp.model.packages[p]);
    for (names, kind, label, _) in named(sel) {
        for n in names {
            let found =
                selected().any(|p| p.targets.iter().any(|t| t.kind == kind && &t.name == n));
            if found {
                continue;
            }
            let available: Vec<String> = selected()
                .flat_map(|p| p.targets.iter().filter(|t| t.kind == kind))
                .map(|t| t.name.clone())
                .collect();
            let hint = if available.is_empty() {
                String::new()
            } else {
                format!(
                    "\n\nAvailable {label} targets:\n    {}",
                    available.join("\n    ")
                )
            };
            return Err(PlanError::Workspace(WorkspaceError::UnknownTarget {
                kind: label,
                name: n.clone(),
                hint,
            }));
        }
    }
    if sel.lib && !selected().any(|p| p.lib().is_some()) {
        return Err(PlanError::NoLibTarget);
    }
    Ok(())
}

/// Collects (target, mode) pairs in order, dropping those whose
/// `required-features` are off (an error when the target was named).
struct Picker<'a> {
    pkg: &'a Package,
    enabled: &'a [String],
    out: Vec<(usize, Mode)>,
    errors: &'a mut Vec<PlanError>,
}

impl Picker<'_> {
    fn push(&mut self, i: usize, mode: Mode, explicit: bool) {
        let t = &self.pkg.targets[i];
        if !t.required_features.iter().all(|f| self.enabled.contains(f)) {
            if explicit {
                self.errors.push(PlanError::RequiredFeatures {
                    target: t.name.clone(),
                    package: self.pkg.name.clone(),
                    features: t.required_features.join(", "),
                });
            }
            return;
        }
        if !self.out.contains(&(i, mode)) {
            self.out.push((i, mode));
        }
    }

    fn push_kind(&mut self, kind: TargetKind, mode: Mode) {
        for i in 0..self.pkg.targets.len() {
            if self.pkg.targets[i].kind == kind {
                self.push(i, mode, false);
            }
        }
    }

    fn push_lib(&mut self) {
        if let Some(l) = self.pkg.lib() {
            self.push(l, Mode::Build, false);
        }
    }
}

/// Which (target, mode) pairs of a package the selection asks for.
pub(super) fn targets(
    inp: &GraphInputs<'_>,
    pkg: usize,
    sel: &TargetSelection,
    explicit_errors: &mut Vec<PlanError>,
) -> Vec<(usize, Mode)> {
    let p = &inp.model.packages[pkg];
    let mut pick = Picker {
        pkg: p,
        enabled: inp.resolution.features_of(Side::Target, pkg),
        out: Vec::new(),
        errors: explicit_errors,
    };
    if sel.is_default() {
        pick.push_lib();
        pick.push_kind(TargetKind::Bin, Mode::Build);
        return pick.out;
    }
    let all = sel.all_targets;
    if sel.lib || all {
        pick.push_lib();
    }
    if sel.all_bins || all {
        pick.push_kind(TargetKind::Bin, Mode::Build);
    }
    if sel.all_examples || all {
        pick.push_kind(TargetKind::Example, Mode::Build);
    }
    if sel.all_tests || all {
        for (i, t) in p.targets.iter().enumerate() {
            if t.test && t.kind != TargetKind::CustomBuild && (t.kind != TargetKind::Bench || all) {
                pick.push(i, Mode::Test, false);
            }
        }
    }
    if sel.all_benches || all {
        pick.push_kind(TargetKind::Bench, Mode::Test);
    }
    for (names, kind, _, mode) in named(sel) {
        for n in names {
            if let Some(i) = p
                .targets
                .iter()
                .position(|t| t.kind == kind && &t.name == n)
            {
                pick.push(i, mode, true);
            }
        }
    }
    pick.out
}

/// The root unit keys of the request, in the order Cargo creates them.
/// Explicitly named targets whose features are off land in `errors`.
pub(super) fn roots(inp: &GraphInputs<'_>, errors: &mut Vec<PlanError>) -> Vec<RawKey> {
    let explicit_target = inp.request.target.is_some();
    let mut out = Vec::new();
    for &pkg in inp.selected {
        for (target, mode) in targets(inp, pkg, &inp.request.targets, errors) {
            let t = &inp.model.packages[pkg].targets[target];
            let kind = if t.is_proc_macro() || !explicit_target {
                CompileKind::Host
            } else {
                CompileKind::Target
            };
            out.push(RawKey {
                pkg,
                target,
                mode,
                kind,
                ufor: UnitFor {
                    host: false,
                    host_features: t.is_proc_macro(),
                    unwind: mode == Mode::Test,
                },
                root: true,
            });
            if mode == Mode::Test && matches!(t.kind, TargetKind::Test | TargetKind::Bench) {
                out.extend(bins_for_tests(inp, pkg));
            }
        }
    }
    out
}

/// Integration tests and benches need the package's bins
/// (`CARGO_BIN_EXE_*`); they are built as roots, not as deps, so that a bin
/// change does not relink the tests.
fn bins_for_tests(inp: &GraphInputs<'_>, pkg: usize) -> Vec<RawKey> {
    let p = &inp.model.packages[pkg];
    let enabled = inp.resolution.features_of(Side::Target, pkg);
    let kind = if inp.request.target.is_some() {
        CompileKind::Target
    } else {
        CompileKind::Host
    };
    p.targets
        .iter()
        .enumerate()
        .filter(|(_, bt)| {
            bt.kind == TargetKind::Bin && bt.required_features.iter().all(|f| enabled.contains(f))
        })
        .map(|(bi, _)| RawKey {
            pkg,
            target: bi,
            mode: Mode::Build,
            kind,
            ufor: UnitFor {
                host: false,
                host_features: false,
                unwind: false,
            },
            root: true,
        })
        .collect()
}
