//! Target selection: which packages (`-p`, `--workspace`, `--exclude`,
//! default members) and which of their targets and modes (`--lib`,
//! `--bin`, `--all-targets`, ..., gated by `required-features`) a request
//! asks for, as Cargo's `generate_root_units`.

use super::{GraphInputs, RawKey, UnitFor};
use crate::plan::request::{BuildRequest, TargetSelection};
use crate::plan::unit::{CompileKind, Mode};
use crate::plan::PlanError;
use crate::workspace::features::Side;
use crate::workspace::model::{CrateType, Package, TargetKind, WorkspaceModel};
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
    if inp.request.doc.is_some() {
        return doc_targets(&mut pick, sel);
    }
    let test = inp.request.test.as_ref();
    if let Some(t) = test {
        if t.doc_only {
            return pick.out;
        }
        if sel.is_default() {
            // `cargo test`'s default: every tested target, and examples
            // built (not tested) unless they say `test = true`.
            for (i, t) in p.targets.iter().enumerate() {
                let mode = match t.kind {
                    TargetKind::CustomBuild => continue,
                    TargetKind::Example if !t.test => Mode::Build,
                    _ if t.test => Mode::Test,
                    _ => continue,
                };
                pick.push(i, mode, false);
            }
            return pick.out;
        }
    } else if sel.is_default() {
        pick.push_lib();
        pick.push_kind(TargetKind::Bin, Mode::Build);
        return pick.out;
    }
    // Under `test`, every explicitly selected target is tested.
    let lib_mode = if test.is_some() {
        Mode::Test
    } else {
        Mode::Build
    };
    let all = sel.all_targets;
    if sel.lib || all {
        if let Some(l) = p.lib() {
            pick.push(l, lib_mode, false);
        }
    }
    if sel.all_bins || all {
        pick.push_kind(TargetKind::Bin, lib_mode);
    }
    if sel.all_examples || all {
        pick.push_kind(TargetKind::Example, lib_mode);
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
        let mode = if test.is_some() { Mode::Test } else { mode };
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

/// `cargo doc`'s targets: by default the documented library and binaries
/// (not a binary named like the library, whose pages would collide);
/// `--lib`, `--bin(s)`, `--example(s)` as named.
fn doc_targets(pick: &mut Picker<'_>, sel: &TargetSelection) -> Vec<(usize, Mode)> {
    let p = pick.pkg;
    let lib_name = p.lib().map(|l| p.targets[l].name.clone());
    for (i, t) in p.targets.iter().enumerate() {
        let wanted = if sel.is_default() {
            t.doc
                && (t.kind == TargetKind::Lib
                    || (t.kind == TargetKind::Bin
                        && lib_name.as_deref() != Some(&t.name.replace('-', "_"))))
        } else {
            match t.kind {
                TargetKind::Lib => sel.lib,
                TargetKind::Bin => sel.all_bins || sel.bins.contains(&t.name),
                TargetKind::Example => sel.all_examples || sel.examples.contains(&t.name),
                _ => false,
            }
        };
        if wanted {
            let explicit = sel.bins.contains(&t.name) || sel.examples.contains(&t.name);
            pick.push(i, Mode::Doc, explicit);
        }
    }
    std::mem::take(&mut pick.out)
}

/// The library whose doctests `cargo test` runs: with the default
/// selection or `--doc`, a library that allows doctests and whose crate
/// types rustdoc can test; none with `--no-run` (doctests are only built
/// when they run). With `--target` they run for that platform, as Cargo
/// runs them since doctest cross-compilation became stable.
fn doctest_lib(inp: &GraphInputs<'_>, pkg: usize) -> Option<usize> {
    let t = inp.request.test.as_ref()?;
    if t.no_run || !(t.doc_only || inp.request.targets.is_default()) {
        return None;
    }
    let p = &inp.model.packages[pkg];
    let l = p.lib()?;
    let lib = &p.targets[l];
    let testable = lib
        .crate_types
        .iter()
        .any(|c| matches!(c, CrateType::Lib | CrateType::Rlib | CrateType::ProcMacro));
    (lib.doctest && testable).then_some(l)
}

/// The root unit keys of the request, in the order Cargo creates them.
/// Explicitly named targets whose features are off land in `errors`.
pub(super) fn roots(inp: &GraphInputs<'_>, errors: &mut Vec<PlanError>) -> Vec<RawKey> {
    let explicit_target = inp.request.target.is_some();
    let mut out = Vec::new();
    for &pkg in inp.selected {
        let mut picked: Vec<(usize, Mode)> = Vec::new();
        for (target, mode) in targets(inp, pkg, &inp.request.targets, errors) {
            let mode = match &inp.request.check {
                Some(c) => checked(mode, c.test),
                None => mode,
            };
            if !picked.contains(&(target, mode)) {
                picked.push((target, mode));
            }
        }
        for (target, mode) in picked {
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
                    // `cargo test`'s roots all start as tests (examples
                    // only become builds afterwards): unwinding.
                    unwind: mode.is_rustc_test() || inp.request.test.is_some(),
                },
                root: true,
            });
            if mode == Mode::Test && matches!(t.kind, TargetKind::Test | TargetKind::Bench) {
                out.extend(bins_for_tests(inp, pkg));
            }
        }
        if let Some(l) = doctest_lib(inp, pkg) {
            let proc_macro = inp.model.packages[pkg].targets[l].is_proc_macro();
            out.push(RawKey {
                pkg,
                target: l,
                mode: Mode::Doctest,
                kind: if proc_macro || !explicit_target {
                    CompileKind::Host
                } else {
                    CompileKind::Target
                },
                ufor: UnitFor {
                    host: false,
                    host_features: proc_macro,
                    unwind: true,
                },
                root: true,
            });
        }
    }
    out
}

/// The mode `cargo check` gives a root that `cargo build` would build
/// (`Build`) or build as a test (`Test`): checked, as a test for test roots
/// and, under `--profile test` (`legacy_test`), for every root.
fn checked(mode: Mode, legacy_test: bool) -> Mode {
    match mode {
        Mode::Build => Mode::Check { test: legacy_test },
        Mode::Test => Mode::Check { test: true },
        other => other,
    }
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

/// The target selection of `cargo run`: the named `--bin` or `--example`,
/// else the selected package's `default-run`, else its only binary, as
/// Cargo decides it.
pub(crate) fn run_targets(
    model: &WorkspaceModel,
    selected: &[usize],
    sel: &TargetSelection,
) -> Result<TargetSelection, PlanError> {
    let named = sel.bins.len() + sel.examples.len();
    if named > 1 || sel.all_bins || sel.all_examples {
        return Err(PlanError::RunSeveral);
    }
    if named == 1 {
        return Ok(sel.clone());
    }
    let pkgs = || selected.iter().map(|&p| &model.packages[p]);
    let default_runs: Vec<&String> = pkgs().filter_map(|p| p.default_run.as_ref()).collect();
    if let [bin] = default_runs[..] {
        return Ok(TargetSelection {
            bins: vec![bin.clone()],
            ..Default::default()
        });
    }
    let mut bins: Vec<String> = pkgs()
        .flat_map(|p| p.targets.iter().filter(|t| t.kind == TargetKind::Bin))
        .map(|t| t.name.clone())
        .collect();
    bins.sort();
    match bins.len() {
        0 => Err(PlanError::RunNoBinary),
        1 => Ok(TargetSelection {
            bins,
            ..Default::default()
        }),
        _ => Err(PlanError::RunWhichBinary(bins)),
    }
}
