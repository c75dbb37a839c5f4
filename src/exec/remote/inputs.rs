//! Everything a remote compile reads, as input-root files: the toolchain
//! (rustc, its libraries and the standard library of every installed
//! target), the package's sources, the outputs of its dependencies (their
//! whole transitive closure, since rustc looks for indirect dependencies
//! in `-L dependency=` directories) and the wrapper script.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use super::script::{self, in_root, ScriptCall};
use crate::cache::remote::execute::{ExecInput, ExecSpec, InputSource};
use crate::cache::remote::proto::BlobRef;
use crate::core::ActionId;
use crate::fingerprint::PathNormalizer;
use crate::plan::action::ActionKind;
use crate::plan::{Action, ActionGraph};

/// The files of the toolchain and of registry packages, listed once per
/// build.
#[derive(Default)]
pub(super) struct Listings {
    toolchain: OnceLock<Arc<Vec<PathBuf>>>,
    packages: Mutex<HashMap<PathBuf, Arc<Vec<PathBuf>>>>,
}

impl Listings {
    /// What rustc needs of the sysroot: `bin/rustc`, the shared libraries
    /// of `lib/`, and `lib/rustlib/<target>/{lib,bin}` of every target.
    fn toolchain(&self, sysroot: &Path) -> Arc<Vec<PathBuf>> {
        self.toolchain
            .get_or_init(|| {
                let mut files = vec![sysroot.join("bin/rustc")];
                let lib = sysroot.join("lib");
                for e in std::fs::read_dir(&lib).into_iter().flatten().flatten() {
                    let p = e.path();
                    if p.is_file() {
                        files.push(p);
                    }
                }
                let rustlib = lib.join("rustlib");
                for t in std::fs::read_dir(&rustlib).into_iter().flatten().flatten() {
                    for sub in ["lib", "bin"] {
                        files.extend(walk(&t.path().join(sub)));
                    }
                }
                files.sort();
                Arc::new(files)
            })
            .clone()
    }

    /// Every file under a registry or git package's root.
    fn package(&self, root: &Path) -> Arc<Vec<PathBuf>> {
        let mut m = self.packages.lock().unwrap_or_else(|e| e.into_inner());
        m.entry(root.to_path_buf())
            .or_insert_with(|| Arc::new(walk(root)))
            .clone()
    }
}

/// Regular files below `dir`, links followed (a worker gets copies).
fn walk(dir: &Path) -> Vec<PathBuf> {
    walkdir::WalkDir::new(dir)
        .follow_links(true)
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .collect()
}

/// An output of a dependency left in the engine's CAS (builds without
/// the bytes): named in an input root by digest, never sent.
pub(crate) struct RemoteFile {
    /// Where it belongs on this machine.
    pub(crate) path: PathBuf,
    /// Its blob in the engine's CAS.
    pub(crate) blob: BlobRef,
    /// Whether it is executable.
    pub(crate) executable: bool,
}

/// Where a dependency's outputs are.
pub(crate) enum DepFiles {
    /// On this machine.
    Local,
    /// In the engine's CAS, those not on this machine.
    Remote(Vec<RemoteFile>),
    /// In the remote cache, but not known to be in the engine's CAS: why.
    Unknown(String),
}

/// What a spec needs from the build.
pub(super) struct SpecContext<'a> {
    pub(super) graph: &'a ActionGraph,
    pub(super) norm: &'a PathNormalizer,
    pub(super) sysroot: &'a Path,
    pub(super) listings: &'a Listings,
    /// Where each dependency's outputs are.
    pub(super) dep_files: &'a dyn Fn(&Action) -> DepFiles,
    /// The digest helper, when this action's outputs may stay in the
    /// engine's CAS.
    pub(super) helper: Option<&'a Path>,
}

/// The remote form of compile action `a` run as `argv` with `env`; an
/// error says why it cannot run remotely (a file outside the known roots).
pub(super) fn compile_spec(
    cx: &SpecContext<'_>,
    a: &Action,
    argv: &[String],
    env: &BTreeMap<String, String>,
) -> Result<ExecSpec, String> {
    let rustc = cx.sysroot.join("bin/rustc");
    spec(
        cx,
        a,
        Run {
            program: &rustc,
            argv,
            env,
            out_dirs: &[],
            digest: cx.helper,
        },
        &a.outputs,
    )
}

/// The remote form of build-script run `a` of `program` with `env`: its
/// OUT_DIR is the output, made empty before it runs; build scripts that
/// call rustc get the toolchain's.
pub(super) fn script_spec(
    cx: &SpecContext<'_>,
    a: &Action,
    program: &Path,
    env: &BTreeMap<String, String>,
) -> Result<ExecSpec, String> {
    let out_dir = a
        .out_dir
        .clone()
        .ok_or("a build-script run without OUT_DIR")?;
    let mut env = env.clone();
    env.insert(
        "RUSTC".into(),
        cx.sysroot.join("bin/rustc").display().to_string(),
    );
    let dirs = [out_dir.clone()];
    spec(
        cx,
        a,
        Run {
            program,
            argv: &[],
            env: &env,
            out_dirs: &dirs,
            digest: None,
        },
        &dirs,
    )
}

/// What the wrapper script runs.
struct Run<'a> {
    program: &'a Path,
    argv: &'a [String],
    env: &'a BTreeMap<String, String>,
    /// Directories made before it runs.
    out_dirs: &'a [PathBuf],
    /// The digest helper, to report the outputs' digests with.
    digest: Option<&'a Path>,
}

fn spec(
    cx: &SpecContext<'_>,
    a: &Action,
    run: Run<'_>,
    outputs: &[PathBuf],
) -> Result<ExecSpec, String> {
    let mut files: BTreeSet<PathBuf> = BTreeSet::new();
    files.extend(cx.listings.toolchain(cx.sysroot).iter().cloned());
    if !a.inputs.is_empty() {
        files.extend(a.inputs.iter().map(|i| i.path.clone()));
    } else if let Some(root) = a.manifest_path.parent() {
        files.extend(cx.listings.package(root).iter().cloned());
    }
    let mut named = Vec::new();
    for id in closure(cx.graph, a) {
        let dep = &cx.graph.actions[id.index()];
        match (cx.dep_files)(dep) {
            DepFiles::Local => files.extend(produced(dep)),
            DepFiles::Remote(left) => {
                files.extend(produced(dep));
                for r in left.into_iter().filter(|r| consumed(dep, &r.path)) {
                    named.push(ExecInput {
                        path: mapped(cx, &r.path, "it reads")?,
                        executable: r.executable,
                        source: InputSource::Remote(r.blob),
                    });
                }
            }
            DepFiles::Unknown(why) => return Err(why),
        }
    }
    let mut inputs = Vec::with_capacity(files.len() + named.len() + 2);
    for f in &files {
        inputs.push(ExecInput {
            path: mapped(cx, f, "it reads")?,
            executable: super::super::store::is_executable(f),
            source: InputSource::File(f.clone()),
        });
    }
    inputs.extend(named);
    let mut digested = Vec::new();
    if let Some(helper) = run.digest {
        inputs.push(ExecInput {
            path: script::HELPER.into(),
            executable: true,
            source: InputSource::File(helper.to_path_buf()),
        });
        for o in outputs.iter().filter(|o| a.dep_info.as_ref() != Some(*o)) {
            digested.push(mapped(cx, o, "its output is")?);
        }
    }
    let mut env = run.env.clone();
    // The worker's own C toolchain links; nothing else is inherited.
    env.entry("PATH".into())
        .or_insert_with(|| "/usr/local/bin:/usr/bin:/bin".into());
    let program = mapped(cx, run.program, "it runs")?;
    let text = script::script(
        cx.norm,
        &ScriptCall {
            program: &program,
            argv: run.argv,
            env: &env,
            cwd: &a.cwd,
            mkdirs: run.out_dirs,
            digest: run.digest.map(|_| digested.as_slice()),
        },
    )?;
    inputs.push(ExecInput {
        path: script::SCRIPT.into(),
        executable: false,
        source: InputSource::Bytes(text.into_bytes()),
    });
    let mut output_paths = vec![script::ROOT_FILE.to_string()];
    if run.digest.is_some() {
        output_paths.push(script::DIGESTS_FILE.to_string());
    }
    for o in outputs {
        output_paths.push(mapped(cx, o, "its output is")?);
    }
    Ok(ExecSpec {
        arguments: vec!["/bin/sh".into(), script::SCRIPT.into()],
        env: BTreeMap::from([("PATH".into(), "/usr/bin:/bin".into())]),
        working_directory: String::new(),
        output_paths,
        inputs,
        timeout: None,
    })
}

/// `p` in the input root, or why it cannot be there.
fn mapped(cx: &SpecContext<'_>, p: &Path, what: &str) -> Result<String, String> {
    in_root(cx.norm, p).ok_or_else(|| {
        format!(
            "{what} `{}`, outside the workspace, target dir, cargo home and toolchain",
            p.display()
        )
    })
}

/// The actions whose outputs a compile of `a` may read: its direct
/// dependencies, and through library and build-script compiles, theirs.
fn closure(graph: &ActionGraph, a: &Action) -> Vec<ActionId> {
    let mut seen = BTreeSet::new();
    let mut stack: Vec<ActionId> = a.deps.iter().map(|d| d.action).collect();
    while let Some(id) = stack.pop() {
        if !seen.insert(id) {
            continue;
        }
        let d = &graph.actions[id.index()];
        if matches!(d.kind, ActionKind::Compile) {
            stack.extend(d.deps.iter().map(|x| x.action));
        }
    }
    seen.into_iter().collect()
}

/// What of an action's outputs a dependent compile may read: a run's
/// OUT_DIR, a compile's outputs but its dep-info (which names this
/// checkout's paths, and would make the same action differ between two
/// checkouts).
fn produced(a: &Action) -> Vec<PathBuf> {
    if a.kind == ActionKind::BuildScriptRun {
        return a.out_dir.as_deref().map(walk).unwrap_or_default();
    }
    a.outputs
        .iter()
        .filter(|o| o.is_file() && consumed(a, o))
        .cloned()
        .collect()
}

/// Whether output `p` of `a` is one a dependent compile may read (see
/// [`produced`]).
fn consumed(a: &Action, p: &Path) -> bool {
    match (&a.kind, &a.out_dir) {
        (ActionKind::BuildScriptRun, Some(od)) => p.starts_with(od),
        _ => a.outputs.iter().any(|o| o == p) && a.dep_info.as_deref() != Some(p),
    }
}
