//! Remote execution (REAPI v2 `Execution` service): an action given as its
//! command, environment, working directory, outputs and input files
//! becomes a `Command`, an input-root tree and an `Action`; what the server
//! lacks of them is uploaded (`FindMissingBlobs` first), `Execute` runs it,
//! and the reply names the outputs by digest for [`RemoteExecutor::download`].
//!
//! The caller decides what an action reads and how its paths map into the
//! input root (`exec::remote`); this module only speaks the protocol.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use bazel_remote_apis::build::bazel::remote::execution::v2 as re;
use prost::Message as _;

use super::client::Failure;
use super::exec_config::ExecConfig;
use super::grpc::{Grpc, Source};
use super::proto::BlobRef;
use super::sha_memo::ShaMemo;
use super::tree::{self, TreeFile};
use crate::cache::CacheError;

/// How long one remote action may take, queueing included, when the
/// action sets no timeout of its own.
const DEFAULT_LIMIT: Duration = Duration::from_secs(3600);
/// Largest stdout or stderr held in memory.
const MAX_LOG_BYTES: u64 = 64 << 20;

/// A file of an action's input root.
#[derive(Clone, Debug)]
pub struct ExecInput {
    /// Where it goes in the input root (relative, `/`-separated).
    pub path: String,
    /// Its content.
    pub source: InputSource,
    /// Whether it is executable.
    pub executable: bool,
}

/// Where an input's content comes from.
#[derive(Clone, Debug)]
pub enum InputSource {
    /// A local file (digested once per process while its stamp holds).
    File(PathBuf),
    /// Bytes made for this action (a wrapper script).
    Bytes(Vec<u8>),
    /// A blob the engine's CAS holds (an output of an earlier action left
    /// there, `--remote-download=minimal`): named, never sent.
    Remote(BlobRef),
}

/// One action to execute remotely.
#[derive(Clone, Debug, Default)]
pub struct ExecSpec {
    /// The command line, program first.
    pub arguments: Vec<String>,
    /// The whole environment (nothing is inherited on a worker).
    pub env: BTreeMap<String, String>,
    /// The working directory, relative to the input root.
    pub working_directory: String,
    /// Output files and directories, relative to the working directory.
    pub output_paths: Vec<String>,
    /// The input root's files.
    pub inputs: Vec<ExecInput>,
    /// The action's timeout.
    pub timeout: Option<Duration>,
}

/// An output of a remote action.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecOutput {
    /// Relative to the working directory (files of an output directory
    /// are listed one by one).
    pub path: String,
    /// Its content.
    pub blob: BlobRef,
    /// Whether it is executable.
    pub executable: bool,
}

/// What the engine answered.
#[derive(Clone, Debug)]
pub struct ExecReply {
    /// The command's exit code.
    pub exit_code: i32,
    /// Its standard output.
    pub stdout: Vec<u8>,
    /// Its standard error.
    pub stderr: Vec<u8>,
    /// Its outputs.
    pub outputs: Vec<ExecOutput>,
    /// The worker that ran it, as the engine names it.
    pub worker: String,
    /// The engine answered from its own action cache.
    pub cached: bool,
    /// Time from queueing to a worker starting it, if reported.
    pub queued: Option<Duration>,
    /// Time the command ran on the worker, if reported.
    pub executing: Option<Duration>,
}

/// Why a remote execution gave no reply.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// The engine or the network failed (refused, unavailable, timed out,
    /// an infrastructure error of the engine): building locally is right.
    #[error("{0}")]
    Unavailable(String),
    /// A local problem: an input that cannot be read, a bad input root.
    #[error("{0}")]
    Local(String),
}

impl From<Failure> for ExecError {
    fn from(f: Failure) -> Self {
        match f {
            Failure::Local(m) => ExecError::Local(m),
            Failure::Fault { msg, .. } => ExecError::Unavailable(msg),
            Failure::Invalid(m) | Failure::TooLarge(m) => ExecError::Unavailable(m),
            Failure::NotFound => ExecError::Unavailable("not found".into()),
        }
    }
}

/// Counters of a build's remote executions.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ExecStats {
    /// Actions the engine ran.
    pub executed: u64,
    /// Actions the engine answered from its action cache.
    pub engine_cached: u64,
    /// Blobs uploaded (inputs, trees, commands, actions).
    pub blobs_uploaded: u64,
    /// Bytes uploaded.
    pub bytes_up: u64,
    /// Bytes of outputs downloaded.
    pub bytes_down: u64,
    /// Total queueing time reported by the engine, in milliseconds.
    pub queued_ms: u64,
    /// Total execution time reported by the engine, in milliseconds.
    pub executing_ms: u64,
}

#[derive(Default)]
struct Counters {
    executed: AtomicU64,
    engine_cached: AtomicU64,
    blobs_uploaded: AtomicU64,
    bytes_up: AtomicU64,
    bytes_down: AtomicU64,
    queued_ms: AtomicU64,
    executing_ms: AtomicU64,
}

/// A client of one remote-execution engine. `Send + Sync`.
pub struct RemoteExecutor {
    cfg: ExecConfig,
    grpc: Grpc,
    digests: ShaMemo,
    counters: Counters,
    disabled: Mutex<Option<String>>,
    /// Blobs the engine has (found or uploaded in this build). Held while
    /// an action uploads, so that concurrent actions needing the same
    /// blobs (the toolchain) send them once.
    present: Mutex<HashSet<BlobRef>>,
}

impl RemoteExecutor {
    /// Builds the client (a lazy channel). Sends no request.
    pub fn new(cfg: ExecConfig) -> Result<Self, CacheError> {
        if !cfg.remote.is_grpc() {
            return Err(CacheError::Config(format!(
                "remote executor {}: only grpc:// and grpcs:// engines execute actions",
                cfg.remote.redacted_url()
            )));
        }
        Ok(RemoteExecutor {
            grpc: Grpc::new(&cfg.remote)?,
            cfg,
            digests: ShaMemo::default(),
            counters: Counters::default(),
            disabled: Mutex::new(None),
            present: Mutex::new(HashSet::new()),
        })
    }

    /// The engine's server configuration.
    pub fn remote_config(&self) -> &super::RemoteConfig {
        &self.cfg.remote
    }

    /// The engine's URL, without credentials.
    pub fn url(&self) -> String {
        self.cfg.remote.redacted_url()
    }

    /// Whether build-script runs go to the engine (`--remote-build-scripts`).
    pub fn build_scripts(&self) -> bool {
        self.cfg.build_scripts
    }

    /// Whether local fallback is forbidden (`--remote-only`).
    pub fn only(&self) -> bool {
        self.cfg.only
    }

    /// Why remote execution is off for the rest of the run, if it is.
    pub fn disabled(&self) -> Option<String> {
        lock(&self.disabled).clone()
    }

    /// Switches remote execution off for the rest of the run; true the
    /// first time (the caller warns once).
    pub fn disable(&self, why: &str) -> bool {
        let mut d = lock(&self.disabled);
        if d.is_some() {
            return false;
        }
        *d = Some(why.to_string());
        true
    }

    /// Runs `spec` on the engine and waits for its reply.
    pub fn execute(&self, spec: &ExecSpec) -> Result<ExecReply, ExecError> {
        let (files, made) = self.digest_inputs(&spec.inputs)?;
        let root = tree::build(&files).map_err(ExecError::Local)?;
        let platform = re::Platform {
            properties: self
                .cfg
                .platform
                .iter()
                .map(|(name, value)| re::platform::Property {
                    name: name.clone(),
                    value: value.clone(),
                })
                .collect(),
        };
        // Engines before REAPI 2.2 read the platform from the Command.
        #[allow(deprecated)]
        let command = re::Command {
            arguments: spec.arguments.clone(),
            environment_variables: spec
                .env
                .iter()
                .map(|(name, value)| re::command::EnvironmentVariable {
                    name: name.clone(),
                    value: value.clone(),
                })
                .collect(),
            output_paths: sorted(&spec.output_paths),
            working_directory: spec.working_directory.clone(),
            platform: Some(platform.clone()),
            ..Default::default()
        }
        .encode_to_vec();
        let command_ref = BlobRef::of_bytes(&command);
        let action = re::Action {
            command_digest: Some(command_ref.to_pb()),
            input_root_digest: Some(root.root.to_pb()),
            timeout: spec.timeout.map(prost_duration),
            do_not_cache: self.cfg.skip_cache,
            platform: Some(platform),
            ..Default::default()
        }
        .encode_to_vec();
        let action_ref = BlobRef::of_bytes(&action);
        let mut local: HashMap<BlobRef, &Path> = HashMap::new();
        for (f, input) in files.iter().zip(&spec.inputs) {
            if let InputSource::File(p) = &input.source {
                local.insert(f.blob.clone(), p.as_path());
            }
        }
        let mut bytes: HashMap<BlobRef, &[u8]> = HashMap::new();
        for (b, v) in &root.directories {
            bytes.insert(b.clone(), v);
        }
        for (b, v) in &made {
            bytes.insert(b.clone(), v);
        }
        bytes.insert(command_ref.clone(), &command);
        bytes.insert(action_ref.clone(), &action);
        let named = spec.inputs.iter().filter_map(|i| match &i.source {
            InputSource::Remote(b) => Some(b),
            _ => None,
        });
        let all: Vec<BlobRef> = local
            .keys()
            .chain(bytes.keys())
            .chain(named)
            .cloned()
            .collect();
        self.upload_missing(&all, &local, &bytes)?;
        let limit = spec.timeout.map_or(DEFAULT_LIMIT, |t| t * 2);
        let resp = self.grpc.execute(&action_ref, limit, self.cfg.skip_cache)?;
        self.reply(resp)
    }

    /// Uploads what the engine lacks of `all`, reading it from `local`
    /// files or `bytes`.
    fn upload_missing(
        &self,
        all: &[BlobRef],
        local: &HashMap<BlobRef, &Path>,
        bytes: &HashMap<BlobRef, &[u8]>,
    ) -> Result<(), ExecError> {
        let mut present = lock(&self.present);
        let ask: Vec<BlobRef> = all
            .iter()
            .filter(|b| !present.contains(*b))
            .cloned()
            .collect();
        if ask.is_empty() {
            return Ok(());
        }
        let (missing, _) = self.grpc.missing(&ask);
        let missing: HashSet<BlobRef> = missing?.into_iter().collect();
        for blob in &missing {
            let source = match (bytes.get(blob), local.get(blob)) {
                (Some(b), _) => Source::Bytes(b),
                (None, Some(p)) => Source::File(File::open(p).map_err(|e| {
                    ExecError::Local(format!("cannot read `{}`: {e}", p.display()))
                })?),
                // Named by digest only: the engine lost it since.
                (None, None) if blob.is_empty_blob() => continue,
                (None, None) => {
                    return Err(ExecError::Local(format!(
                        "the engine no longer holds input blob {}",
                        blob.sha256
                    )))
                }
            };
            let (res, _) = self.grpc.write_blob(blob, source);
            res?;
            self.counters.blobs_uploaded.fetch_add(1, Ordering::Relaxed);
            self.counters
                .bytes_up
                .fetch_add(blob.size, Ordering::Relaxed);
        }
        present.extend(ask);
        Ok(())
    }

    /// Turns the engine's response into a reply, reading stdout, stderr
    /// and output directory trees.
    fn reply(&self, resp: re::ExecuteResponse) -> Result<ExecReply, ExecError> {
        if let Some(s) = resp.status.as_ref().filter(|s| s.code != 0) {
            let status = tonic::Status::new(tonic::Code::from(s.code), s.message.clone());
            return Err(ExecError::Unavailable(format!(
                "the engine failed the action: {:?}: {}",
                status.code(),
                status.message()
            )));
        }
        let result = resp
            .result
            .ok_or_else(|| ExecError::Unavailable("the engine sent no ActionResult".into()))?;
        let mut outputs = Vec::new();
        for f in &result.output_files {
            outputs.push(ExecOutput {
                path: f.path.clone(),
                blob: pb_blob(f.digest.as_ref())?,
                executable: f.is_executable,
            });
        }
        for d in &result.output_directories {
            let tree_ref = pb_blob(d.tree_digest.as_ref())?;
            let bytes = self.read(&tree_ref, MAX_LOG_BYTES)?;
            let tree = re::Tree::decode(bytes.as_slice())
                .map_err(|e| ExecError::Unavailable(format!("bad Tree for `{}`: {e}", d.path)))?;
            flatten_tree(&tree, &d.path, &mut outputs)?;
        }
        let stdout = self.log(&result.stdout_raw, result.stdout_digest.as_ref())?;
        let stderr = self.log(&result.stderr_raw, result.stderr_digest.as_ref())?;
        let meta = result.execution_metadata.unwrap_or_default();
        let queued = span(&meta.queued_timestamp, &meta.worker_start_timestamp);
        let executing = span(
            &meta.execution_start_timestamp,
            &meta.execution_completed_timestamp,
        );
        let c = &self.counters;
        if resp.cached_result {
            c.engine_cached.fetch_add(1, Ordering::Relaxed);
        } else {
            c.executed.fetch_add(1, Ordering::Relaxed);
        }
        let ms = |d: Option<Duration>| d.map_or(0, |d| d.as_millis() as u64);
        c.queued_ms.fetch_add(ms(queued), Ordering::Relaxed);
        c.executing_ms.fetch_add(ms(executing), Ordering::Relaxed);
        Ok(ExecReply {
            exit_code: result.exit_code,
            stdout,
            stderr,
            outputs,
            worker: meta.worker,
            cached: resp.cached_result,
            queued,
            executing,
        })
    }

    fn log(&self, raw: &[u8], digest: Option<&re::Digest>) -> Result<Vec<u8>, ExecError> {
        match digest {
            Some(d) if raw.is_empty() && d.size_bytes > 0 => {
                self.read(&pb_blob(Some(d))?, MAX_LOG_BYTES)
            }
            _ => Ok(raw.to_vec()),
        }
    }

    /// A whole blob in memory, verified.
    fn read(&self, blob: &BlobRef, max: u64) -> Result<Vec<u8>, ExecError> {
        let (res, _) = self.grpc.read_small(blob, max);
        let bytes = res?;
        if BlobRef::of_bytes(&bytes) != *blob {
            return Err(ExecError::Unavailable(format!(
                "blob {} does not match its digest",
                blob.sha256
            )));
        }
        self.counters
            .bytes_down
            .fetch_add(blob.size, Ordering::Relaxed);
        Ok(bytes)
    }

    /// A small output's bytes (at most 64 MiB), verified.
    pub fn read_output(&self, out: &ExecOutput) -> Result<Vec<u8>, ExecError> {
        if out.blob.is_empty_blob() {
            return Ok(Vec::new());
        }
        self.read(&out.blob, MAX_LOG_BYTES)
    }

    /// Writes the output `out` to `to` (through a scratch file beside it,
    /// renamed once verified), with its executable bit.
    pub fn download(&self, out: &ExecOutput, to: &Path) -> Result<(), ExecError> {
        let dir = to.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)
            .map_err(|e| ExecError::Local(format!("cannot create `{}`: {e}", dir.display())))?;
        let mut tmp = tempfile::NamedTempFile::new_in(dir)
            .map_err(|e| ExecError::Local(format!("cannot write in `{}`: {e}", dir.display())))?;
        if out.blob.size <= 1 << 20 {
            let bytes = if out.blob.is_empty_blob() {
                Vec::new()
            } else {
                self.read(&out.blob, 1 << 20)?
            };
            tmp.write_all(&bytes)
                .map_err(|e| ExecError::Local(format!("cannot write `{}`: {e}", to.display())))?;
        } else {
            let (res, _) = self.grpc.read_to_file(&out.blob, tmp.as_file_mut());
            res?;
            self.counters
                .bytes_down
                .fetch_add(out.blob.size, Ordering::Relaxed);
        }
        let mode = if out.executable { 0o755 } else { 0o644 };
        set_mode(tmp.path(), mode)?;
        tmp.persist(to)
            .map_err(|e| ExecError::Local(format!("cannot write `{}`: {e}", to.display())))?;
        Ok(())
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> ExecStats {
        let c = &self.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        ExecStats {
            executed: get(&c.executed),
            engine_cached: get(&c.engine_cached),
            blobs_uploaded: get(&c.blobs_uploaded),
            bytes_up: get(&c.bytes_up),
            bytes_down: get(&c.bytes_down),
            queued_ms: get(&c.queued_ms),
            executing_ms: get(&c.executing_ms),
        }
    }

    /// The tree files of `inputs`, and the blobs made in memory.
    #[allow(clippy::type_complexity)]
    fn digest_inputs(
        &self,
        inputs: &[ExecInput],
    ) -> Result<(Vec<TreeFile>, Vec<(BlobRef, Vec<u8>)>), ExecError> {
        let mut files = Vec::with_capacity(inputs.len());
        let mut made = Vec::new();
        for i in inputs {
            let blob = match &i.source {
                InputSource::File(p) => self.digest_file(p)?,
                InputSource::Bytes(b) => {
                    let blob = BlobRef::of_bytes(b);
                    made.push((blob.clone(), b.clone()));
                    blob
                }
                InputSource::Remote(b) => b.clone(),
            };
            files.push(TreeFile {
                path: i.path.clone(),
                blob,
                executable: i.executable,
            });
        }
        Ok((files, made))
    }

    /// The SHA-256 reference of a local file, memoised by its stamp.
    fn digest_file(&self, p: &Path) -> Result<BlobRef, ExecError> {
        self.digests
            .digest(p)
            .map_err(|e| ExecError::Local(format!("cannot read `{}`: {e}", p.display())))
    }

    /// Loads the digests saved by an earlier build at `path` (see
    /// [`Self::save_digests`]); files whose stamps are unchanged are not
    /// read again.
    pub fn load_digests(&mut self, path: &Path) {
        self.digests = ShaMemo::load(path);
    }

    /// Saves the digests of this build's input files at `path`.
    pub fn save_digests(&self, path: &Path) -> std::io::Result<()> {
        self.digests.save(path)
    }
}

impl std::fmt::Debug for RemoteExecutor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteExecutor")
            .field("url", &self.url())
            .finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn sorted(v: &[String]) -> Vec<String> {
    let mut v = v.to_vec();
    v.sort();
    v.dedup();
    v
}

fn pb_blob(d: Option<&re::Digest>) -> Result<BlobRef, ExecError> {
    let d = d.ok_or_else(|| ExecError::Unavailable("an output without digest".into()))?;
    BlobRef::from_pb(d).map_err(ExecError::Unavailable)
}

fn prost_duration(d: Duration) -> bazel_remote_apis::google::protobuf::Duration {
    bazel_remote_apis::google::protobuf::Duration {
        seconds: d.as_secs() as i64,
        nanos: d.subsec_nanos() as i32,
    }
}

type Stamp = Option<bazel_remote_apis::google::protobuf::Timestamp>;

/// The time between two engine timestamps, when both are set and ordered.
fn span(from: &Stamp, to: &Stamp) -> Option<Duration> {
    let (a, b) = (from.as_ref()?, to.as_ref()?);
    let ns = |t: &bazel_remote_apis::google::protobuf::Timestamp| {
        i128::from(t.seconds) * 1_000_000_000 + i128::from(t.nanos)
    };
    let d = ns(b) - ns(a);
    (d >= 0).then(|| Duration::from_nanos(d as u64))
}

/// The files of an output directory's `Tree`, below `base`.
fn flatten_tree(tree: &re::Tree, base: &str, out: &mut Vec<ExecOutput>) -> Result<(), ExecError> {
    let by_digest: HashMap<BlobRef, &re::Directory> = tree
        .children
        .iter()
        .map(|d| (BlobRef::of_bytes(&d.encode_to_vec()), d))
        .collect();
    let root = tree
        .root
        .as_ref()
        .ok_or_else(|| ExecError::Unavailable(format!("the Tree of `{base}` has no root")))?;
    let mut stack = vec![(base.to_string(), root)];
    while let Some((dir, d)) = stack.pop() {
        for f in &d.files {
            check_name(&f.name)?;
            out.push(ExecOutput {
                path: format!("{dir}/{}", f.name),
                blob: pb_blob(f.digest.as_ref())?,
                executable: f.is_executable,
            });
        }
        for sub in &d.directories {
            check_name(&sub.name)?;
            let child = by_digest
                .get(&pb_blob(sub.digest.as_ref())?)
                .ok_or_else(|| {
                    ExecError::Unavailable(format!("the Tree of `{base}` lacks `{}`", sub.name))
                })?;
            stack.push((format!("{dir}/{}", sub.name), child));
        }
    }
    Ok(())
}

fn check_name(name: &str) -> Result<(), ExecError> {
    if name.is_empty() || name == "." || name == ".." || name.contains('/') {
        return Err(ExecError::Unavailable(format!(
            "an output tree names `{name}`, which is not a file name"
        )));
    }
    Ok(())
}

#[cfg(unix)]
fn set_mode(p: &Path, mode: u32) -> Result<(), ExecError> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode))
        .map_err(|e| ExecError::Local(format!("cannot set the mode of `{}`: {e}", p.display())))
}

#[cfg(not(unix))]
fn set_mode(_: &Path, _: u32) -> Result<(), ExecError> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, content: &[u8]) -> re::FileNode {
        re::FileNode {
            name: name.into(),
            digest: Some(BlobRef::of_bytes(content).to_pb()),
            is_executable: false,
            node_properties: None,
        }
    }

    #[test]
    fn output_trees_flatten_to_files_below_their_path() {
        let child = re::Directory {
            files: vec![node("b.txt", b"b")],
            ..Default::default()
        };
        let root = re::Directory {
            files: vec![node("a.txt", b"a")],
            directories: vec![re::DirectoryNode {
                name: "sub".into(),
                digest: Some(BlobRef::of_bytes(&child.encode_to_vec()).to_pb()),
            }],
            ..Default::default()
        };
        let tree = re::Tree {
            root: Some(root),
            children: vec![child],
        };
        let mut out = Vec::new();
        flatten_tree(&tree, "out", &mut out).unwrap();
        let paths: Vec<_> = out.iter().map(|o| o.path.as_str()).collect();
        assert_eq!(paths, ["out/a.txt", "out/sub/b.txt"]);
        assert_eq!(out[1].blob, BlobRef::of_bytes(b"b"));
    }

    #[test]
    fn output_trees_with_escaping_names_are_refused() {
        let root = re::Directory {
            files: vec![node("../evil", b"x")],
            ..Default::default()
        };
        let tree = re::Tree {
            root: Some(root),
            children: vec![],
        };
        let err = flatten_tree(&tree, "out", &mut Vec::new()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "an output tree names `../evil`, which is not a file name"
        );
    }

    #[test]
    fn spans_need_both_ends_in_order() {
        let t = |s: i64, n: i32| {
            Some(bazel_remote_apis::google::protobuf::Timestamp {
                seconds: s,
                nanos: n,
            })
        };
        assert_eq!(span(&t(1, 0), &t(2, 500)), Some(Duration::new(1, 500)));
        assert_eq!(span(&t(2, 0), &t(1, 0)), None);
        assert_eq!(span(&None, &t(1, 0)), None);
    }
}
