//! A small blocking REAPI v2 client for tests of remote execution: blobs in
//! and out of the CAS, input roots and Actions built from plain values,
//! `Execution.Execute` followed to the end under a deadline, and the
//! outputs of an `ActionResult` read back as bytes.
//!
//! It is deliberately independent of hbuild's own gRPC layer, so that tests
//! can check what hbuild sends and receives against a second opinion.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::future::Future;
use std::time::{Duration, Instant};

use bazel_remote_apis::build::bazel::remote::execution::v2 as re;
use bazel_remote_apis::google::bytestream as bs;
use bazel_remote_apis::google::longrunning::operation::Result as OpResult;
use bazel_remote_apis::google::protobuf::Duration as PbDuration;
use bs::byte_stream_client::ByteStreamClient;
use prost::Message;
use re::content_addressable_storage_client::ContentAddressableStorageClient;
use re::execution_client::ExecutionClient;
use sha2::Digest as _;
use tonic::transport::{Channel, Endpoint};

pub use re::execution_stage::Value as Stage;
pub use re::{ActionResult, Digest, ExecuteResponse, OutputDirectory};

/// Blobs up to this size go through the batch calls, larger ones through
/// ByteStream (BuildGrid caps a batch at ~4 MiB).
const BATCH_LIMIT: usize = 2 << 20;
/// ByteStream write chunk.
const CHUNK: usize = 1 << 20;
/// Deadline of each CAS call.
const CALL_DEADLINE: Duration = Duration::from_secs(60);

/// The SHA-256 digest of `data`.
pub fn digest(data: &[u8]) -> Digest {
    Digest {
        hash: hex(&sha2::Sha256::digest(data)),
        size_bytes: data.len() as i64,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `google.rpc.Code` values the tests look at.
pub mod code {
    /// OK.
    pub const OK: i32 = 0;
    /// CANCELLED.
    pub const CANCELLED: i32 = 1;
    /// INVALID_ARGUMENT.
    pub const INVALID_ARGUMENT: i32 = 3;
    /// DEADLINE_EXCEEDED.
    pub const DEADLINE_EXCEEDED: i32 = 4;
    /// FAILED_PRECONDITION.
    pub const FAILED_PRECONDITION: i32 = 9;
}

/// A blocking client of one REAPI server and instance.
pub struct Reapi {
    rt: tokio::runtime::Runtime,
    channel: Channel,
    instance: String,
}

/// How an `Execute` call ended.
#[derive(Clone, Debug)]
pub struct Execution {
    /// The Operation's name as the server gave it.
    pub operation: String,
    /// Every stage the Operation stream reported, in order (repeats kept:
    /// a re-queued action may show `Queued` again).
    pub stages: Vec<Stage>,
    /// The final response.
    pub response: ExecuteResponse,
    /// From the call to the final Operation.
    pub elapsed: Duration,
}

impl Execution {
    /// The action's result (panics if the response has none).
    pub fn result(&self) -> &ActionResult {
        self.response
            .result
            .as_ref()
            .unwrap_or_else(|| panic!("the ExecuteResponse has no result: {:?}", self.response))
    }

    /// The response's status code (`code::OK` when it has none).
    pub fn status_code(&self) -> i32 {
        self.response.status.as_ref().map_or(code::OK, |s| s.code)
    }

    /// The response's status message.
    pub fn status_message(&self) -> &str {
        self.response
            .status
            .as_ref()
            .map_or("", |s| s.message.as_str())
    }
}

/// One entry of a flattened output directory or input root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Entry {
    /// A file's bytes and executable bit.
    File(Vec<u8>, bool),
    /// A directory (listed so that empty ones show).
    Dir,
    /// A symlink's target.
    Symlink(String),
}

impl Reapi {
    /// A client of `url` (`grpc://host:port`, any path ignored) for
    /// `instance`. Connects lazily.
    pub fn connect(url: &str, instance: &str) -> Reapi {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("test-reapi")
            .enable_all()
            .build()
            .unwrap();
        let rest = url
            .strip_prefix("grpc://")
            .unwrap_or_else(|| panic!("not a grpc:// URL: {url}"));
        let authority = rest.split('/').next().unwrap();
        let channel = {
            let _in_rt = rt.enter();
            Endpoint::from_shared(format!("http://{authority}"))
                .unwrap()
                .connect_timeout(Duration::from_secs(10))
                .connect_lazy()
        };
        Reapi {
            rt,
            channel,
            instance: instance.to_string(),
        }
    }

    /// The instance name requests carry.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    fn block<T>(&self, what: &str, limit: Duration, fut: impl Future<Output = T>) -> T {
        self.rt
            .block_on(async { tokio::time::timeout(limit, fut).await })
            .unwrap_or_else(|_| panic!("{what} did not finish within {limit:?}"))
    }

    fn req<T>(msg: T, limit: Duration) -> tonic::Request<T> {
        let mut r = tonic::Request::new(msg);
        r.set_timeout(limit);
        r
    }

    fn resource(&self, tail: String) -> String {
        if self.instance.is_empty() {
            tail
        } else {
            format!("{}/{tail}", self.instance)
        }
    }

    /// Uploads `data` (batch or ByteStream by size); returns its digest.
    pub fn upload(&self, data: &[u8]) -> Digest {
        let d = digest(data);
        if data.len() <= BATCH_LIMIT {
            let mut cas = ContentAddressableStorageClient::new(self.channel.clone());
            let req = re::BatchUpdateBlobsRequest {
                instance_name: self.instance.clone(),
                requests: vec![re::batch_update_blobs_request::Request {
                    digest: Some(d.clone()),
                    data: data.to_vec(),
                    ..Default::default()
                }],
                ..Default::default()
            };
            let resp = self
                .block("BatchUpdateBlobs", CALL_DEADLINE, async {
                    cas.batch_update_blobs(Self::req(req, CALL_DEADLINE)).await
                })
                .unwrap_or_else(|s| panic!("BatchUpdateBlobs failed: {s}"))
                .into_inner();
            for r in resp.responses {
                let status = r.status.unwrap_or_default();
                assert_eq!(status.code, code::OK, "upload of {}: {status:?}", d.hash);
            }
        } else {
            let name = self.resource(format!(
                "uploads/{}/blobs/{}/{}",
                upload_id(),
                d.hash,
                d.size_bytes
            ));
            let chunks: Vec<bs::WriteRequest> = data
                .chunks(CHUNK)
                .enumerate()
                .map(|(i, c)| bs::WriteRequest {
                    resource_name: if i == 0 { name.clone() } else { String::new() },
                    write_offset: (i * CHUNK) as i64,
                    finish_write: i * CHUNK + c.len() == data.len(),
                    data: c.to_vec(),
                })
                .collect();
            let mut client = ByteStreamClient::new(self.channel.clone());
            let resp = self
                .block("ByteStream.Write", CALL_DEADLINE, async {
                    client
                        .write(Self::req(tokio_stream::iter(chunks), CALL_DEADLINE))
                        .await
                })
                .unwrap_or_else(|s| panic!("ByteStream.Write failed: {s}"))
                .into_inner();
            assert_eq!(resp.committed_size, data.len() as i64);
        }
        d
    }

    /// Uploads the encoding of `msg`; returns its digest.
    pub fn upload_message(&self, msg: &impl Message) -> Digest {
        self.upload(&msg.encode_to_vec())
    }

    /// Reads a blob whole (checking its digest); `None` if the CAS lacks it.
    pub fn try_read(&self, d: &Digest) -> Option<Vec<u8>> {
        if d.size_bytes == 0 {
            return Some(Vec::new());
        }
        let data = if (d.size_bytes as usize) <= BATCH_LIMIT {
            let mut cas = ContentAddressableStorageClient::new(self.channel.clone());
            let req = re::BatchReadBlobsRequest {
                instance_name: self.instance.clone(),
                digests: vec![d.clone()],
                ..Default::default()
            };
            let resp = self
                .block("BatchReadBlobs", CALL_DEADLINE, async {
                    cas.batch_read_blobs(Self::req(req, CALL_DEADLINE)).await
                })
                .unwrap_or_else(|s| panic!("BatchReadBlobs failed: {s}"))
                .into_inner();
            let r = resp.responses.into_iter().next().unwrap();
            let status = r.status.unwrap_or_default();
            if status.code == 5 {
                return None;
            }
            assert_eq!(status.code, code::OK, "read of {}: {status:?}", d.hash);
            r.data.to_vec()
        } else {
            // No read_limit: BuildGrid 0.4.4 answers DATA_LOSS to one.
            let mut client = ByteStreamClient::new(self.channel.clone());
            let req = bs::ReadRequest {
                resource_name: self.resource(format!("blobs/{}/{}", d.hash, d.size_bytes)),
                read_offset: 0,
                read_limit: 0,
            };
            let got = self.block("ByteStream.Read", CALL_DEADLINE, async {
                let mut stream = match client.read(Self::req(req, CALL_DEADLINE)).await {
                    Ok(s) => s.into_inner(),
                    Err(s) => return Err(s),
                };
                let mut data = Vec::new();
                while let Some(msg) = stream.message().await? {
                    data.extend_from_slice(&msg.data);
                }
                Ok(data)
            });
            match got {
                Ok(data) => data,
                Err(s) if s.code() == tonic::Code::NotFound => return None,
                Err(s) => panic!("ByteStream.Read of {} failed: {s}", d.hash),
            }
        };
        assert_eq!(digest(&data), *d, "the CAS returned other bytes");
        Some(data)
    }

    /// Reads a blob whole (panics if the CAS lacks it).
    pub fn read(&self, d: &Digest) -> Vec<u8> {
        self.try_read(d)
            .unwrap_or_else(|| panic!("the CAS lacks {}/{}", d.hash, d.size_bytes))
    }

    /// Reads and decodes a message.
    pub fn read_message<M: Message + Default>(&self, d: &Digest) -> M {
        M::decode(&self.read(d)[..]).unwrap()
    }

    /// Runs `Execute` (no cache lookup) and follows the Operation stream to
    /// its end, reconnecting with `WaitExecution` if the stream breaks.
    /// Panics if it has not ended within `limit`.
    pub fn execute(&self, action: &Digest, limit: Duration) -> Execution {
        self.execute_with(action, true, limit)
    }

    /// [`Reapi::execute`], choosing whether the server may answer from its
    /// ActionCache.
    pub fn execute_with(
        &self,
        action: &Digest,
        skip_cache_lookup: bool,
        limit: Duration,
    ) -> Execution {
        let start = Instant::now();
        let mut client = ExecutionClient::new(self.channel.clone());
        let req = re::ExecuteRequest {
            instance_name: self.instance.clone(),
            skip_cache_lookup,
            action_digest: Some(action.clone()),
            ..Default::default()
        };
        let what = format!("Execute of action {}", action.hash);
        self.block(&what, limit, async {
            let mut stages = Vec::new();
            let mut name = String::new();
            let mut stream = client
                .execute(Self::req(req, limit))
                .await
                .unwrap_or_else(|s| panic!("Execute failed: {s}"))
                .into_inner();
            loop {
                let op = match stream.message().await {
                    Ok(Some(op)) => op,
                    Ok(None) | Err(_) if !name.is_empty() => {
                        let left = limit.saturating_sub(start.elapsed());
                        let wait = re::WaitExecutionRequest { name: name.clone() };
                        stream = client
                            .wait_execution(Self::req(wait, left))
                            .await
                            .unwrap_or_else(|s| panic!("WaitExecution({name}) failed: {s}"))
                            .into_inner();
                        continue;
                    }
                    Ok(None) => panic!("the Execute stream ended before naming an Operation"),
                    Err(s) => panic!("the Execute stream failed: {s}"),
                };
                name = op.name.clone();
                if let Some(md) = &op.metadata {
                    if let Ok(md) = re::ExecuteOperationMetadata::decode(&md.value[..]) {
                        if let Ok(stage) = Stage::try_from(md.stage) {
                            stages.push(stage);
                        }
                    }
                }
                if !op.done {
                    continue;
                }
                let response = match op.result {
                    Some(OpResult::Response(any)) => {
                        ExecuteResponse::decode(&any.value[..]).unwrap()
                    }
                    Some(OpResult::Error(status)) => {
                        panic!("Operation {name} failed: {status:?}")
                    }
                    None => panic!("Operation {name} is done without a result"),
                };
                return Execution {
                    operation: name,
                    stages,
                    response,
                    elapsed: start.elapsed(),
                };
            }
        })
    }

    /// The bytes and executable bit of output file `path`, if the result
    /// has it.
    pub fn output_file(&self, result: &ActionResult, path: &str) -> Option<(Vec<u8>, bool)> {
        let f = result.output_files.iter().find(|f| f.path == path)?;
        Some((self.read(f.digest.as_ref().unwrap()), f.is_executable))
    }

    /// The bytes of output file `path` (panics, listing the outputs, if the
    /// result lacks it).
    pub fn output_bytes(&self, result: &ActionResult, path: &str) -> Vec<u8> {
        self.output_file(result, path)
            .unwrap_or_else(|| {
                panic!(
                    "no output file {path:?}; files: {:?}, directories: {:?}",
                    result
                        .output_files
                        .iter()
                        .map(|f| &f.path)
                        .collect::<Vec<_>>(),
                    result
                        .output_directories
                        .iter()
                        .map(|d| &d.path)
                        .collect::<Vec<_>>()
                )
            })
            .0
    }

    /// The action's stdout.
    pub fn stdout(&self, result: &ActionResult) -> String {
        self.stream(&result.stdout_raw, result.stdout_digest.as_ref())
    }

    /// The action's stderr.
    pub fn stderr(&self, result: &ActionResult) -> String {
        self.stream(&result.stderr_raw, result.stderr_digest.as_ref())
    }

    fn stream(&self, raw: &[u8], d: Option<&Digest>) -> String {
        let bytes = match d {
            Some(d) if raw.is_empty() => self.read(d),
            _ => raw.to_vec(),
        };
        String::from_utf8(bytes).unwrap()
    }

    /// An output directory flattened from its `Tree`: relative path ->
    /// entry, directories included.
    pub fn tree_entries(&self, dir: &OutputDirectory) -> BTreeMap<String, Entry> {
        let tree: re::Tree = self.read_message(
            dir.tree_digest
                .as_ref()
                .unwrap_or_else(|| panic!("output directory {} has no tree", dir.path)),
        );
        let children: BTreeMap<String, re::Directory> = tree
            .children
            .iter()
            .map(|c| (digest(&c.encode_to_vec()).hash, c.clone()))
            .collect();
        let mut out = BTreeMap::new();
        self.flatten(tree.root.as_ref().unwrap(), "", &children, &mut out);
        out
    }

    fn flatten(
        &self,
        dir: &re::Directory,
        prefix: &str,
        children: &BTreeMap<String, re::Directory>,
        out: &mut BTreeMap<String, Entry>,
    ) {
        for f in &dir.files {
            let data = self.read(f.digest.as_ref().unwrap());
            out.insert(
                format!("{prefix}{}", f.name),
                Entry::File(data, f.is_executable),
            );
        }
        for s in &dir.symlinks {
            out.insert(
                format!("{prefix}{}", s.name),
                Entry::Symlink(s.target.clone()),
            );
        }
        for d in &dir.directories {
            let path = format!("{prefix}{}", d.name);
            let hash = &d.digest.as_ref().unwrap().hash;
            let child = children
                .get(hash)
                .unwrap_or_else(|| panic!("the Tree lacks directory {path} ({hash})"));
            out.insert(path.clone(), Entry::Dir);
            self.flatten(child, &format!("{path}/"), children, out);
        }
    }
}

fn upload_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let h = hex(&sha2::Sha256::digest(format!(
        "{}-{t}-{n}",
        std::process::id()
    )));
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// An input root described path by path; parents are implied.
#[derive(Clone, Debug, Default)]
pub struct InputRoot {
    entries: BTreeMap<String, Entry>,
}

#[derive(Default)]
struct DirNode {
    files: BTreeMap<String, (Vec<u8>, bool)>,
    dirs: BTreeMap<String, DirNode>,
    symlinks: BTreeMap<String, String>,
}

impl InputRoot {
    /// An empty input root.
    pub fn new() -> InputRoot {
        InputRoot::default()
    }

    /// Adds a file.
    pub fn file(mut self, path: &str, contents: &[u8], executable: bool) -> InputRoot {
        self.entries
            .insert(path.to_string(), Entry::File(contents.to_vec(), executable));
        self
    }

    /// Adds a directory (for an empty one; parents of files are implied).
    pub fn dir(mut self, path: &str) -> InputRoot {
        self.entries.insert(path.to_string(), Entry::Dir);
        self
    }

    /// Adds a symlink.
    pub fn symlink(mut self, path: &str, target: &str) -> InputRoot {
        self.entries
            .insert(path.to_string(), Entry::Symlink(target.to_string()));
        self
    }

    /// Uploads every blob and Directory (entries sorted by name, as REAPI
    /// requires); returns the root Directory's digest.
    pub fn upload(&self, client: &Reapi) -> Digest {
        let mut root = DirNode::default();
        for (path, entry) in &self.entries {
            let mut parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
            let name = parts.pop().expect("an empty path in an input root");
            let mut node = &mut root;
            for p in parts {
                node = node.dirs.entry(p.to_string()).or_default();
            }
            match entry {
                Entry::File(data, exec) => {
                    node.files.insert(name.to_string(), (data.clone(), *exec));
                }
                Entry::Dir => {
                    node.dirs.entry(name.to_string()).or_default();
                }
                Entry::Symlink(t) => {
                    node.symlinks.insert(name.to_string(), t.clone());
                }
            }
        }
        upload_dir(client, &root)
    }
}

/// A Directory holding one file of digest `file` (which need not be in the
/// CAS: for tests of missing inputs).
pub fn directory_with_file(name: &str, file: &Digest) -> re::Directory {
    re::Directory {
        files: vec![re::FileNode {
            name: name.to_string(),
            digest: Some(file.clone()),
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn upload_dir(client: &Reapi, node: &DirNode) -> Digest {
    let dir = re::Directory {
        files: node
            .files
            .iter()
            .map(|(name, (data, exec))| re::FileNode {
                name: name.clone(),
                digest: Some(client.upload(data)),
                is_executable: *exec,
                ..Default::default()
            })
            .collect(),
        directories: node
            .dirs
            .iter()
            .map(|(name, sub)| re::DirectoryNode {
                name: name.clone(),
                digest: Some(upload_dir(client, sub)),
            })
            .collect(),
        symlinks: node
            .symlinks
            .iter()
            .map(|(name, target)| re::SymlinkNode {
                name: name.clone(),
                target: target.clone(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    client.upload_message(&dir)
}

/// A Command and the Action around it.
#[derive(Clone, Debug, Default)]
pub struct ActionSpec {
    /// `Command.arguments`.
    pub arguments: Vec<String>,
    /// `Command.environment_variables` (sorted by name on upload).
    pub env: Vec<(String, String)>,
    /// `Command.working_directory`.
    pub working_directory: String,
    /// REAPI v2.1 `output_paths`.
    pub output_paths: Vec<String>,
    /// Pre-v2.1 `output_files`.
    pub output_files: Vec<String>,
    /// Pre-v2.1 `output_directories`.
    pub output_directories: Vec<String>,
    /// `Action.timeout`.
    pub timeout: Option<Duration>,
    /// `Action.do_not_cache`.
    pub do_not_cache: bool,
    /// `Action.salt`, to make otherwise equal actions distinct.
    pub salt: Vec<u8>,
}

impl ActionSpec {
    /// `/bin/sh -c script` with `PATH=/usr/bin:/bin` as the whole
    /// environment.
    pub fn shell(script: &str) -> ActionSpec {
        ActionSpec {
            arguments: vec!["/bin/sh".into(), "-c".into(), script.into()],
            env: vec![("PATH".into(), "/usr/bin:/bin".into())],
            ..Default::default()
        }
    }

    /// Sets `output_paths`.
    pub fn outputs(mut self, paths: &[&str]) -> ActionSpec {
        self.output_paths = paths.iter().map(|p| p.to_string()).collect();
        self
    }

    /// The Command message.
    #[allow(deprecated)]
    pub fn command(&self) -> re::Command {
        let mut env = self.env.clone();
        env.sort();
        let sorted = |v: &[String]| {
            let mut v = v.to_vec();
            v.sort();
            v
        };
        re::Command {
            arguments: self.arguments.clone(),
            environment_variables: env
                .into_iter()
                .map(|(name, value)| re::command::EnvironmentVariable { name, value })
                .collect(),
            output_paths: sorted(&self.output_paths),
            output_files: sorted(&self.output_files),
            output_directories: sorted(&self.output_directories),
            working_directory: self.working_directory.clone(),
            ..Default::default()
        }
    }

    /// Uploads the Command and the Action (over `input_root`); returns the
    /// Action's digest.
    pub fn upload(&self, client: &Reapi, input_root: &Digest) -> Digest {
        let command = client.upload_message(&self.command());
        let action = re::Action {
            command_digest: Some(command),
            input_root_digest: Some(input_root.clone()),
            timeout: self.timeout.map(|t| PbDuration {
                seconds: t.as_secs() as i64,
                nanos: t.subsec_nanos() as i32,
            }),
            do_not_cache: self.do_not_cache,
            salt: self.salt.clone(),
            ..Default::default()
        };
        client.upload_message(&action)
    }
}
