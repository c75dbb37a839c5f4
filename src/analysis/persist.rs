//! Persisted analysis: the planned graph is saved in the target dir with
//! the digests of everything it was derived from (manifests, Cargo.lock,
//! config files, toolchain, relevant environment, the request itself and the
//! directory listings of path packages). When none of them changed, the next
//! build skips `cargo metadata`, the rustc probes and planning. On any doubt
//! (unreadable record, other hbuild version, a changed or new input) the
//! record is ignored and the analysis runs again.
//!
//! Secret values ([`crate::core::secret`]) are saved as digests: the
//! environment's to detect a change, the actions' (`[env]` entries of the
//! config files) to find them again in the config when the record is loaded.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{Analysis, AnalysisOptions};
use crate::core::{secret, Digest, FileStamp};
use crate::plan::BuildRequest;
use crate::workspace::config::CargoConfig;
use crate::workspace::model::{Source, WorkspaceModel};
use crate::workspace::toolchain::Toolchain;

/// Format of the saved record; 2 stamps files and directories by
/// [`FileStamp`] (device, inode and ctime added); 3 keeps the origins of
/// flags (for `--explain`).
const FORMAT: u32 = 3;

/// What an analysis was derived from.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inputs {
    /// Files by content (None: the file must not exist).
    pub files: BTreeMap<PathBuf, Option<Digest>>,
    /// Files and directories by [`FileStamp`]: toolchain binaries, and the
    /// directories of path packages (a new file can be a new target).
    pub stamps: BTreeMap<PathBuf, Option<FileStamp>>,
    /// Environment variables that influence the analysis.
    pub env: BTreeMap<String, Option<String>>,
}

fn digest(p: &Path) -> Option<Digest> {
    Digest::of_file(p).ok().map(|(d, _)| d)
}

fn stamp(p: &Path) -> Option<FileStamp> {
    FileStamp::of(p)
}

/// Whether a variable belongs to the families that influence a build
/// whether or not they were set last time: Cargo's, rustc's and hbuild's.
pub fn is_relevant_prefix(k: &str) -> bool {
    // The server settings say how a build is answered, not what it is.
    (k.starts_with("CARGO") || k.starts_with("RUST") || k.starts_with("HBUILD_"))
        && !k.starts_with("HBUILD_SERVER")
}

/// Variables that can change what is planned: Cargo and rustc settings,
/// and what hbuild passes on to build scripts.
fn relevant_env(
    env: &BTreeMap<String, String>,
    extra: &[String],
) -> BTreeMap<String, Option<String>> {
    // Secrets are recorded as digests: a changed token still invalidates.
    let recorded = |k: &str| env.get(k).map(|v| secret::recorded_value(k, v));
    let mut out: BTreeMap<String, Option<String>> = env
        .keys()
        .filter(|k| is_relevant_prefix(k))
        .map(|k| (k.clone(), recorded(k)))
        .collect();
    for k in ["CFLAGS", "CXXFLAGS", "PATH", "HOME"]
        .iter()
        .map(|s| s.to_string())
        .chain(extra.iter().cloned())
    {
        let v = recorded(&k);
        out.insert(k, v);
    }
    out
}

impl Inputs {
    /// Collects the inputs of an analysis that just ran.
    pub fn collect(
        model: &WorkspaceModel,
        config: &CargoConfig,
        toolchain: &Toolchain,
        req: &BuildRequest,
        opts: &AnalysisOptions,
    ) -> Self {
        let mut files = BTreeMap::new();
        let mut stamps = BTreeMap::new();
        let mut add = |p: PathBuf| {
            let d = digest(&p);
            files.insert(p, d);
        };
        add(model.root_manifest.clone());
        add(model.root.join("Cargo.lock"));
        if let Some(m) = &opts.load.manifest_path {
            add(m.clone());
        }
        for p in model.packages.iter().filter(|p| p.source == Source::Path) {
            add(p.manifest_path.clone());
            for e in walkdir::WalkDir::new(p.root())
                .into_iter()
                .filter_entry(|e| {
                    let n = e.file_name().to_string_lossy();
                    e.depth() == 0
                        || (e.file_type().is_dir() && n != "target" && !n.starts_with('.'))
                })
            {
                let Ok(e) = e else { continue };
                if e.file_type().is_dir() {
                    stamps.insert(e.path().to_path_buf(), stamp(e.path()));
                }
            }
        }
        // Config files, present or not: a new one must invalidate.
        for dir in req.cwd.ancestors() {
            for name in ["config.toml", "config"] {
                add(dir.join(".cargo").join(name));
            }
            for name in ["rust-toolchain", "rust-toolchain.toml"] {
                add(dir.join(name));
            }
        }
        if let Some(home) = &req.cargo_home {
            add(home.join("config.toml"));
            add(home.join("config"));
        }
        let rustup_home = req
            .env
            .get("RUSTUP_HOME")
            .map(PathBuf::from)
            .or_else(|| dirs::home_dir().map(|h| h.join(".rustup")));
        if let Some(r) = rustup_home {
            add(r.join("settings.toml"));
        }
        for f in &config.files {
            add(f.clone());
        }
        stamps.insert(
            toolchain.sysroot.join("bin/rustc"),
            stamp(&toolchain.sysroot.join("bin/rustc")),
        );
        if let Ok(rd) = std::fs::read_dir(toolchain.sysroot.join("lib")) {
            for e in rd.flatten() {
                if e.file_name()
                    .to_string_lossy()
                    .starts_with("librustc_driver")
                {
                    stamps.insert(e.path(), stamp(&e.path()));
                }
            }
        }
        let extra: Vec<String> = config.env.keys().cloned().collect();
        Inputs {
            files,
            stamps,
            env: relevant_env(&req.env, &extra),
        }
    }

    /// Records a tool the analysis probed (its identity is planned), by
    /// [`FileStamp`], as the toolchain's rustc.
    pub fn add_binary(&mut self, path: &Path) {
        self.stamps.insert(path.to_path_buf(), stamp(path));
    }

    /// Whether every input is as recorded.
    fn unchanged(&self, env: &BTreeMap<String, String>) -> bool {
        let extra: Vec<String> = self
            .env
            .keys()
            .filter(|k| {
                !(k.starts_with("CARGO") || k.starts_with("RUST") || k.starts_with("HBUILD_"))
            })
            .cloned()
            .collect();
        relevant_env(env, &extra) == self.env
            && self.stamps.iter().all(|(p, s)| stamp(p) == *s)
            && self.files.iter().all(|(p, d)| digest(p) == *d)
    }
}

/// Identity of a request: everything that selects what is planned. The
/// whole request but its environment snapshot (whose relevant variables
/// are inputs of their own), so that no new field can be forgotten.
fn request_key(req: &BuildRequest, opts: &AnalysisOptions) -> Digest {
    let mut request = req.clone();
    request.env.clear();
    let text = format!(
        "{FORMAT}\n{}\n{}\n{}",
        env!("CARGO_PKG_VERSION"),
        serde_json::to_string(&request).unwrap_or_default(),
        serde_json::to_string(opts).unwrap_or_default(),
    );
    Digest::of_bytes(text.as_bytes())
}

#[derive(Serialize, Deserialize)]
struct Saved {
    format: u32,
    version: String,
    analysis: Analysis,
}

fn record_name(req: &BuildRequest, opts: &AnalysisOptions) -> String {
    format!("{}.json", request_key(req, opts).short(32))
}

/// Where the saved analysis of this request is: under the request's target
/// dir, resolved once from flags, environment and config files.
fn record_path(req: &BuildRequest, opts: &AnalysisOptions) -> PathBuf {
    req.target_dir
        .path
        .join("hbuild")
        .join("analysis")
        .join(record_name(req, opts))
}

/// The saved analysis file of this request, if one exists.
pub fn record_file(req: &BuildRequest, opts: &AnalysisOptions) -> Option<PathBuf> {
    Some(record_path(req, opts)).filter(|p| p.is_file())
}

/// A saved analysis whose inputs are all unchanged, if any.
pub fn load(req: &BuildRequest, opts: &AnalysisOptions) -> Option<Analysis> {
    let bytes = std::fs::read(record_path(req, opts)).ok()?;
    let saved: Saved = serde_json::from_slice(&bytes).ok()?;
    if saved.format != FORMAT || saved.version != env!("CARGO_PKG_VERSION") {
        return None;
    }
    if !saved.analysis.inputs.unchanged(&req.env) {
        return None;
    }
    let mut analysis = saved.analysis;
    restore_secrets(&mut analysis, req, opts).then_some(analysis)
}

/// Replaces the secret values of the actions' environments (`[env]` entries
/// of the config files, the only source of planned secrets) by their
/// digests, returning what [`put_back_secrets`] needs to undo it.
fn take_secrets(analysis: &mut Analysis) -> Vec<(usize, String, String)> {
    let mut taken = Vec::new();
    for (i, a) in analysis.graph.actions.iter_mut().enumerate() {
        for (k, v) in a.env.iter_mut() {
            let recorded = secret::recorded_value(k, v);
            if recorded != *v {
                taken.push((i, k.clone(), std::mem::replace(v, recorded)));
            }
        }
    }
    taken
}

fn put_back_secrets(analysis: &mut Analysis, taken: Vec<(usize, String, String)>) {
    for (i, k, v) in taken {
        analysis.graph.actions[i].env.insert(k, v);
    }
}

/// Puts the secret values of a loaded analysis back, from the config files
/// (unchanged, or the record would not have been loaded). False when one
/// cannot be found with the recorded digest: the analysis must run again.
fn restore_secrets(analysis: &mut Analysis, req: &BuildRequest, opts: &AnalysisOptions) -> bool {
    let digested = |v: &String| secret::is_digest(v);
    if !analysis
        .graph
        .actions
        .iter()
        .any(|a| a.env.values().any(digested))
    {
        return true;
    }
    let Ok(config) = CargoConfig::load(
        &req.cwd,
        req.cargo_home.as_deref(),
        &opts.load.config,
        &req.env,
    ) else {
        return false;
    };
    for a in &mut analysis.graph.actions {
        for (k, v) in a.env.iter_mut().filter(|(_, v)| digested(v)) {
            match config.env.get(k) {
                Some(e) if secret::recorded_value(k, &e.value) == *v => v.clone_from(&e.value),
                _ => return false,
            }
        }
    }
    true
}

/// Saves an analysis (best effort: a failure only costs the next build time).
pub fn save(mut analysis: Analysis, req: &BuildRequest, opts: &AnalysisOptions) -> Analysis {
    let dir = analysis.layout.target_dir.join("hbuild").join("analysis");
    let secrets = take_secrets(&mut analysis);
    let mut saved = Saved {
        format: FORMAT,
        version: env!("CARGO_PKG_VERSION").to_string(),
        analysis,
    };
    if std::fs::create_dir_all(&dir).is_ok() {
        if let Ok(bytes) = serde_json::to_vec(&saved) {
            let tmp = dir.join(format!(".{}.tmp", std::process::id()));
            if std::fs::write(&tmp, bytes).is_ok() {
                let _ = std::fs::rename(&tmp, dir.join(record_name(req, opts)));
            }
        }
    }
    put_back_secrets(&mut saved.analysis, secrets);
    saved.analysis
}
