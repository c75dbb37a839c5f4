//! Builds without the bytes (`--remote-download=minimal`): which remote
//! hits download their outputs, and fetching the outputs that stayed in
//! the remote cache once a local action needs them.
//!
//! An action whose outputs stayed remote still gives its dependents the
//! digests of its entry, so their keys are those of a full download. What
//! a local run reads of its dependencies' outputs is not declared file by
//! file (rustc finds transitive crates itself), so a local run first
//! fetches every output left remote among its transitive dependencies.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use super::super::remote::{DepFiles, RemoteFile};
use super::super::stamp::{load_stamp, restamp_fetched, stamp_path, RecordedOutput};
use super::super::ExecShared;
use super::outputs::{clean_outputs, restamp_at_finish, uplift};
use super::Failure;
use crate::cache::remote::Download;
use crate::cache::ActionResult;
use crate::core::{ActionId, ActionKey};
use crate::plan::action::ActionKind;
use crate::plan::unit::Mode;
use crate::plan::{Action, ActionGraph};

/// The outputs of this build that stayed in the remote cache.
pub struct LeftRemote {
    minimal: bool,
    /// The digest helper, when the outputs of remote runs may stay in the
    /// engine's CAS: the engine is the remote cache, which takes uploads.
    remote_runs: Option<PathBuf>,
    /// What the test runs of this build run: the runs need their test
    /// binaries, not the user, so those are no final artifacts.
    run_by_tests: HashSet<ActionId>,
    /// Actions whose outputs are left remote, by the key of their entry.
    left: Mutex<HashMap<ActionId, Arc<Pending>>>,
}

/// Outputs to fetch once: the first dependent fetches, the others wait.
struct Pending {
    key: ActionKey,
    /// The entry, when known (a stamp names outputs without their CAS
    /// blobs; a remote input root needs those).
    result: OnceLock<ActionResult>,
    fetched: Mutex<Option<Result<(), String>>>,
}

impl LeftRemote {
    /// The state of a build of `graph` that downloads as `download` says;
    /// `remote_runs`: the digest helper, when remote runs may leave their
    /// outputs in the engine's CAS.
    pub fn new(download: Download, graph: &ActionGraph, remote_runs: Option<PathBuf>) -> Self {
        let minimal = download == Download::Minimal;
        let run_by_tests = if minimal {
            let runs = graph
                .actions
                .iter()
                .filter(|a| a.kind == ActionKind::TestRun);
            runs.flat_map(|r| r.deps.iter().map(|d| d.action)).collect()
        } else {
            HashSet::new()
        };
        LeftRemote {
            minimal,
            remote_runs: remote_runs.filter(|_| minimal),
            run_by_tests,
            left: Mutex::new(HashMap::new()),
        }
    }

    /// Whether outputs may stay in the remote cache.
    pub fn minimal(&self) -> bool {
        self.minimal
    }

    /// The digest helper, when the outputs of remote runs may stay in the
    /// engine's CAS.
    pub(crate) fn remote_runs(&self) -> Option<&Path> {
        self.remote_runs.as_deref()
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, HashMap<ActionId, Arc<Pending>>> {
        self.left.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Whether a remote hit of `a` downloads its outputs: always, unless the
/// build is minimal and they are no final artifact (binaries and libraries
/// uplifted to Cargo's paths, test binaries no test run of this build runs,
/// documentation, test results). A build script is no final artifact: its
/// run needs it.
pub(super) fn wants_bytes(sh: &ExecShared, a: &Action) -> bool {
    let lr = &sh.left_remote;
    match a.kind {
        _ if !lr.minimal => true,
        // A test binary is linked into `deps/` as Cargo does, but only its
        // run needs it, unless no run of this build does (`--no-run`).
        ActionKind::Compile if a.mode == Mode::Test => !lr.run_by_tests.contains(&a.id),
        ActionKind::Compile => !a.uplift.is_empty() || a.executable.is_some(),
        ActionKind::Doc | ActionKind::DocIndex | ActionKind::TestRun => true,
        ActionKind::BuildScriptCompile | ActionKind::BuildScriptRun => false,
    }
}

/// Records that `a`'s outputs, of the entry under `key` (`r`, when known),
/// stayed remote.
pub(super) fn note(sh: &ExecShared, a: &Action, key: ActionKey, r: Option<&ActionResult>) {
    let result = OnceLock::new();
    if let Some(r) = r {
        let _ = result.set(r.clone());
    }
    let pending = Arc::new(Pending {
        key,
        result,
        fetched: Mutex::new(None),
    });
    sh.left_remote.pending().insert(a.id, pending);
}

/// Where `dep`'s outputs are, for the input root of a remote run: those it
/// left in the remote cache are named by their blobs, which the engine
/// holds when it is the remote cache (the entry is looked up again, once,
/// when only a stamp named them).
pub(super) fn dep_files(sh: &ExecShared, dep: &Action) -> DepFiles {
    let Some(p) = sh.left_remote.pending().get(&dep.id).cloned() else {
        return DepFiles::Local;
    };
    let (Some(remote), Some(_)) = (sh.store.remote(), sh.left_remote.remote_runs()) else {
        return DepFiles::Unknown(format!(
            "the outputs of {} are not on the engine",
            dep.display_name()
        ));
    };
    let result = match p.result.get() {
        Some(r) => r,
        None => match remote.get_digests(&p.key) {
            crate::cache::remote::RemoteLookup::Hit(r) => p.result.get_or_init(|| r),
            _ => {
                return DepFiles::Unknown(format!(
                    "the remote cache no longer has the outputs of {}",
                    dep.display_name()
                ))
            }
        },
    };
    let mut files = Vec::new();
    for o in &result.outputs {
        let path = o.path.under(&dep.output_root);
        if path.is_file() {
            continue;
        }
        let Some(blob) = remote.cas_ref(&o.digest) else {
            return DepFiles::Unknown(format!(
                "the engine's blob of `{}` is not known",
                path.display()
            ));
        };
        files.push(RemoteFile {
            path,
            blob,
            executable: o.executable,
        });
    }
    DepFiles::Remote(files)
}

/// Fetches what stayed remote among what `a` reads of its dependencies,
/// before `a` runs locally. A fetch that fails fails `a`, and removes the stamps
/// of what is still left remote (see `forget_unfetched`).
pub(super) fn fetch_for(sh: &ExecShared, a: &Action) -> Result<(), Failure> {
    if !sh.left_remote.minimal || sh.left_remote.pending().is_empty() {
        return Ok(());
    }
    // A build script's run reads its program and what the runs it
    // depends on wrote, not the libraries its program was linked from.
    let needed: Vec<ActionId> = match a.kind {
        ActionKind::BuildScriptRun => direct(a).collect(),
        _ => transitive_deps(sh, a),
    };
    for id in needed {
        let Some(p) = sh.left_remote.pending().get(&id).cloned() else {
            continue;
        };
        let dep = &sh.graph.actions[id.index()];
        let mut fetched = p.fetched.lock().unwrap_or_else(PoisonError::into_inner);
        let outcome = fetched
            .get_or_insert_with(|| download(sh, dep, p.key))
            .clone();
        drop(fetched);
        if let Err(why) = outcome {
            forget_unfetched(sh);
            return Err(Failure::other(format!(
                "cannot fetch the outputs of {} from the remote cache, which {} needs: {why}; \
                 the next build restores or rebuilds what this one left there",
                dep.display_name(),
                a.display_name()
            )));
        }
    }
    Ok(())
}

/// Removes the stamps of what this build left remote and did not fetch:
/// when one fetch failed, the others may too, and the next build restores
/// or rebuilds them all at once. An entry the remote no longer fully holds
/// is no hit then.
fn forget_unfetched(sh: &ExecShared) {
    let pending: Vec<(ActionId, Arc<Pending>)> = sh
        .left_remote
        .pending()
        .iter()
        .map(|(id, p)| (*id, p.clone()))
        .collect();
    for (id, p) in pending {
        // One being fetched right now is left to its own outcome.
        let Ok(fetched) = p.fetched.try_lock() else {
            continue;
        };
        if !matches!(*fetched, Some(Ok(()))) {
            let _ = std::fs::remove_file(stamp_path(&sh.graph.actions[id.index()]));
        }
    }
}

/// Every action `a` depends on, directly or not, runtime dependencies
/// included.
fn transitive_deps(sh: &ExecShared, a: &Action) -> Vec<ActionId> {
    let mut seen = HashSet::new();
    let mut todo: Vec<ActionId> = direct(a).collect();
    let mut out = Vec::new();
    while let Some(id) = todo.pop() {
        if seen.insert(id) {
            out.push(id);
            todo.extend(direct(&sh.graph.actions[id.index()]));
        }
    }
    out
}

fn direct(a: &Action) -> impl Iterator<Item = ActionId> + '_ {
    a.deps
        .iter()
        .map(|d| d.action)
        .chain(a.runtime_deps.iter().copied())
}

/// Downloads `dep`'s entry under `key` with its outputs, puts them in
/// place and brings its stamp up to date.
fn download(sh: &ExecShared, dep: &Action, key: ActionKey) -> Result<(), String> {
    let stamp = load_stamp(dep)
        .filter(|s| s.key == key)
        .ok_or("its stamp changed during the build")?;
    let (found, miss) = sh.store.lookup(&key);
    let Some((r, _)) = found else {
        return Err(match miss.remote_unavailable {
            Some(why) => why,
            None => "the remote cache no longer has its entry".into(),
        });
    };
    if !same_outputs(&r, &stamp.outputs) {
        return Err(
            "the cache's entry now holds other outputs than the ones this build keyed on".into(),
        );
    }
    clean_outputs(dep);
    sh.store.materialize(&r, &dep.output_root)?;
    uplift(dep).map_err(|f| f.message)?;
    restamp_fetched(&stamp_path(dep), &dep.output_root, key);
    if load_stamp(dep).is_none_or(|s| s.left_remote()) {
        return Err("the fetched outputs did not stay in place".into());
    }
    // Linking the same blobs elsewhere later moves their ctimes.
    restamp_at_finish(sh, dep, key, false);
    Ok(())
}

fn same_outputs(r: &ActionResult, recorded: &[RecordedOutput]) -> bool {
    let mut got: Vec<_> = r.outputs.iter().map(|o| (&o.path, o.digest)).collect();
    let mut want: Vec<_> = recorded.iter().map(|o| (&o.path, o.digest)).collect();
    got.sort();
    want.sort();
    got == want
}
