//! Dependency edges, as Cargo's `unit_dependencies`: library dependencies,
//! a build script's compile and run, `links` metadata from dependencies'
//! runs, and the host side that proc-macros and build scripts pull their
//! dependencies onto. Units are created after their dependencies, so
//! creation order is a valid bottom-up order.

use std::collections::HashMap;

use super::{GraphInputs, RawKey, RawUnit, UnitFor};
use crate::plan::unit::{CompileKind, Mode};
use crate::plan::PlanError;
use crate::workspace::features::{Edge, Side};
use crate::workspace::model::TargetKind;
use crate::workspace::profiles::{Lto, PanicStrategy, Profile, ProfileFor};

/// A raw dependency: the raw unit and its extern name (None for
/// build-script edges).
pub(super) type RawDep = (usize, Option<String>);

/// Creates raw units on demand, each once per [`RawKey`].
pub(super) struct Builder<'a> {
    pub(super) inp: &'a GraphInputs<'a>,
    pub(super) raw: Vec<RawUnit>,
    memo: HashMap<RawKey, usize>,
}

impl<'a> Builder<'a> {
    pub(super) fn new(inp: &'a GraphInputs<'a>) -> Self {
        Builder {
            inp,
            raw: Vec::new(),
            memo: HashMap::new(),
        }
    }

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

    /// A run gets a stripped profile of the unit it runs for, so unrelated
    /// profile settings do not multiply runs.
    fn run_profile(&self, key: &RawKey) -> Result<Profile, PlanError> {
        let full = self.profile_for(
            key.pkg,
            UnitFor {
                host: false,
                ..key.ufor
            },
        )?;
        let mut stripped = self.profile_for(key.pkg, key.ufor)?;
        stripped.opt_level = full.opt_level;
        stripped.debuginfo = full.debuginfo;
        stripped.debuginfo_deferred = false;
        stripped.debug_assertions = full.debug_assertions;
        stripped.root = full.root.clone();
        stripped.overflow_checks = false;
        stripped.lto = Lto::False;
        stripped.panic = PanicStrategy::Unwind;
        stripped.codegen_units = None;
        stripped.incremental = false;
        stripped.strip = None;
        stripped.split_debuginfo = None;
        stripped.rpath = false;
        Ok(stripped)
    }

    /// The raw unit of `key`, created with its dependencies if new.
    pub(super) fn unit(&mut self, key: RawKey) -> Result<usize, PlanError> {
        if let Some(&i) = self.memo.get(&key) {
            return Ok(i);
        }
        let side = Self::side(key.ufor);
        let features = self.inp.resolution.features_of(side, key.pkg).to_vec();
        let profile = match key.mode {
            Mode::RunCustomBuild => self.run_profile(&key)?,
            _ => self.profile_for(key.pkg, key.ufor)?,
        };
        let target_kind = self.inp.model.packages[key.pkg].targets[key.target].kind;
        let mut deps = match (key.mode, target_kind) {
            (Mode::RunCustomBuild, _) => self.run_deps(&key)?,
            (Mode::Doc, _) => self.doc_deps(&key)?,
            (_, TargetKind::CustomBuild) => self.script_compile_deps(&key)?,
            _ => self.compile_deps(&key)?,
        };
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

    fn edges(&self, key: &RawKey) -> &'a [Edge] {
        &self.inp.resolution.edges[key.pkg][Self::side(key.ufor) as usize]
    }

    /// Running a build script: its compiled script, then the runs of direct
    /// dependencies with `links` (their metadata reaches this script as
    /// `DEP_*` variables).
    fn run_deps(&mut self, key: &RawKey) -> Result<Vec<RawDep>, PlanError> {
        let model = self.inp.model;
        let compile = self.unit(RawKey {
            pkg: key.pkg,
            target: key.target,
            mode: Mode::Build,
            kind: CompileKind::Host,
            ufor: UnitFor {
                host: true,
                host_features: key.ufor.host_features,
                unwind: true,
            },
            root: false,
        })?;
        let mut deps = vec![(compile, None)];
        for e in self.edges(key).iter().filter(|e| e.normal || e.build) {
            let dp = &model.packages[e.to];
            let (Some(_), Some(bs), Some(lib)) = (&dp.links, dp.build_script(), dp.lib()) else {
                continue;
            };
            let dep_ufor = if e.normal && !dp.targets[lib].is_proc_macro() {
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
        Ok(deps)
    }

    /// Compiling a build script: its build-dependencies, on the host.
    fn script_compile_deps(&mut self, key: &RawKey) -> Result<Vec<RawDep>, PlanError> {
        let mut deps = Vec::new();
        for e in self.edges(key).iter().filter(|e| e.build) {
            let to = DepTo {
                ufor: UnitFor::HOST,
                kind: CompileKind::Host,
                parent: Mode::Build,
            };
            self.lib_dep(e.to, &e.extern_name, to, &mut deps)?;
        }
        Ok(deps)
    }

    /// Compiling a target: normal (and for tests, examples and benches, dev)
    /// dependencies, the package's build-script run, and its own library.
    fn compile_deps(&mut self, key: &RawKey) -> Result<Vec<RawDep>, PlanError> {
        let pkg = &self.inp.model.packages[key.pkg];
        let target = &pkg.targets[key.target];
        let dev = key.mode.is_rustc_test()
            || key.mode == Mode::Doctest
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
        let mut deps = Vec::new();
        for e in self
            .edges(key)
            .iter()
            .filter(|e| e.normal || (dev && e.dev))
        {
            let to = DepTo {
                ufor: dep_ufor,
                kind: dep_kind,
                parent: key.mode,
            };
            self.lib_dep(e.to, &e.extern_name, to, &mut deps)?;
        }
        self.own_script_run(key, &mut deps)?;
        // A doctest links its own library, like any test of the package.
        if target.kind != TargetKind::Lib || key.mode == Mode::Doctest {
            if let Some(lib) = pkg.lib() {
                let name = pkg.targets[lib].crate_name();
                let to = DepTo {
                    ufor: key.ufor,
                    kind: key.kind,
                    parent: key.mode,
                };
                self.lib_dep_target(key.pkg, lib, &name, to, &mut deps)?;
            }
        }
        Ok(deps)
    }

    /// Documenting a target, as Cargo's `compute_deps_doc`: each normal
    /// dependency's library compiled (rustdoc reads its metadata), and
    /// documented too unless `--no-deps`; the package's build-script run;
    /// for a binary or example, its own library and that library's docs.
    fn doc_deps(&mut self, key: &RawKey) -> Result<Vec<RawDep>, PlanError> {
        let with_deps = self.inp.request.doc.as_ref().is_some_and(|d| !d.no_deps);
        // What a proc-macro links is host code, its docs included.
        let (ufor, kind) = if self.inp.model.packages[key.pkg].targets[key.target].is_proc_macro() {
            (UnitFor::HOST, CompileKind::Host)
        } else {
            (key.ufor, key.kind)
        };
        let mut deps = Vec::new();
        for e in self.edges(key).iter().filter(|e| e.normal) {
            let Some(lib) = self.inp.model.packages[e.to].lib() else {
                continue;
            };
            self.lib_dep_target(e.to, lib, &e.extern_name, doc_dep_to(ufor, kind), &mut deps)?;
            if with_deps && self.inp.model.packages[e.to].targets[lib].doc {
                self.doc_dep(e.to, lib, &e.extern_name, ufor, kind, &mut deps)?;
            }
        }
        let pkg = &self.inp.model.packages[key.pkg];
        self.own_script_run(key, &mut deps)?;
        let target = &pkg.targets[key.target];
        if target.kind != TargetKind::Lib {
            if let Some(lib) = pkg.lib() {
                let name = pkg.targets[lib].crate_name();
                let to = doc_dep_to(key.ufor, key.kind);
                self.lib_dep_target(key.pkg, lib, &name, to, &mut deps)?;
                self.doc_dep(key.pkg, lib, &name, key.ufor, key.kind, &mut deps)?;
            }
        }
        Ok(deps)
    }

    /// The run of the package's own build script, if it has one: its
    /// `OUT_DIR`, cfgs and variables reach the unit.
    fn own_script_run(&mut self, key: &RawKey, deps: &mut Vec<RawDep>) -> Result<(), PlanError> {
        if let Some(bs) = self.inp.model.packages[key.pkg].build_script() {
            let run = self.unit(RawKey {
                pkg: key.pkg,
                target: bs,
                mode: Mode::RunCustomBuild,
                kind: key.kind,
                ufor: key.ufor,
                root: false,
            })?;
            deps.push((run, None));
        }
        Ok(())
    }

    /// The documentation of a library, as a dependency of other docs
    /// (their cross-crate links need it first), under its extern name as
    /// Cargo records it (no `--extern` comes of it: docs are no library).
    fn doc_dep(
        &mut self,
        pkg: usize,
        lib: usize,
        extern_name: &str,
        ufor: UnitFor,
        kind: CompileKind,
        deps: &mut Vec<RawDep>,
    ) -> Result<(), PlanError> {
        let (ufor, kind) = if self.inp.model.packages[pkg].targets[lib].is_proc_macro() {
            (UnitFor::HOST, CompileKind::Host)
        } else {
            (ufor, kind)
        };
        let u = self.unit(RawKey {
            pkg,
            target: lib,
            mode: Mode::Doc,
            kind,
            ufor,
            root: false,
        })?;
        deps.push((u, Some(extern_name.to_string())));
        Ok(())
    }

    fn lib_dep(
        &mut self,
        pkg: usize,
        extern_name: &str,
        to: DepTo,
        deps: &mut Vec<RawDep>,
    ) -> Result<(), PlanError> {
        let Some(lib) = self.inp.model.packages[pkg].lib() else {
            return Ok(());
        };
        self.lib_dep_target(pkg, lib, extern_name, to, deps)
    }

    /// A library edge: proc-macros and everything below host code are
    /// built for the host; below a checked unit, libraries are checked too
    /// (never as tests), proc-macros built (Cargo's `check_or_build_mode`).
    fn lib_dep_target(
        &mut self,
        pkg: usize,
        lib: usize,
        extern_name: &str,
        to: DepTo,
        deps: &mut Vec<RawDep>,
    ) -> Result<(), PlanError> {
        let t = &self.inp.model.packages[pkg].targets[lib];
        let (ufor, kind) = if t.is_proc_macro() {
            (UnitFor::HOST, CompileKind::Host)
        } else if to.ufor.host {
            (to.ufor, CompileKind::Host)
        } else {
            (to.ufor, to.kind)
        };
        let mode = if to.parent.is_check() && !t.for_host() {
            Mode::Check { test: false }
        } else {
            Mode::Build
        };
        let u = self.unit(RawKey {
            pkg,
            target: lib,
            mode,
            kind,
            ufor,
            root: false,
        })?;
        deps.push((u, Some(extern_name.to_string())));
        Ok(())
    }
}

/// rustdoc reads its dependencies' metadata: libraries are checked, as
/// Cargo's `check_or_build_mode` does for documentation.
fn doc_dep_to(ufor: UnitFor, kind: CompileKind) -> DepTo {
    DepTo {
        ufor,
        kind,
        parent: Mode::Check { test: false },
    }
}

/// How a library edge is reached: from which side and platform, and the
/// mode of the unit that depends on it.
#[derive(Clone, Copy)]
struct DepTo {
    ufor: UnitFor,
    kind: CompileKind,
    parent: Mode,
}
