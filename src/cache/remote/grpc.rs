//! The REAPI v2 gRPC layer (tonic, through `bazel-remote-apis`): one lazy
//! channel, a small runtime of its own so that callers stay blocking, and the
//! classification of every status into the outcomes the cache logic cares
//! about, as the HTTP layer does for its status codes.
//!
//! `GetCapabilities` is asked first (once): the server must offer SHA-256,
//! and its batch limit decides which blobs go through `BatchReadBlobs` /
//! `BatchUpdateBlobs` and which through ByteStream. An hbuild action key is
//! stored under the digest of a well-formed REAPI `Action` whose `Command`
//! names the key (see [`action_for`]), so the entries are ordinary
//! ActionCache entries to the server.

use std::fs::File;
use std::io::{Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use bazel_remote_apis::build::bazel::remote::execution::v2 as re;
use bazel_remote_apis::google::bytestream::{self as bs, byte_stream_client::ByteStreamClient};
use prost::Message as _;
use re::action_cache_client::ActionCacheClient;
use re::capabilities_client::CapabilitiesClient;
use re::content_addressable_storage_client::ContentAddressableStorageClient;
use sha2::Digest as _;
use tonic::metadata::{AsciiMetadataValue, MetadataKey};
use tonic::transport::{Channel, ClientTlsConfig, Endpoint};
use tonic::{Code, Request, Status};

use super::client::Failure;
use super::config::RemoteConfig;
use super::proto::{hex, BlobRef};
use crate::cache::CacheError;
use crate::core::{ActionKey, Digest};

/// Batch limit assumed when the server announces none (REAPI: 0 = no limit;
/// gRPC's default message size is 4 MiB).
const DEFAULT_BATCH_BYTES: u64 = 4 << 20;
/// Room left in a batch message for everything but the blob bytes.
const BATCH_OVERHEAD: u64 = 16 << 10;
/// ByteStream write chunk.
const CHUNK: usize = 1 << 20;

/// What the server said it can do.
#[derive(Clone, Copy, Debug)]
struct Caps {
    max_batch: u64,
}

/// The blocking gRPC client of one REAPI server.
pub(crate) struct Grpc {
    rt: tokio::runtime::Runtime,
    channel: Channel,
    instance: String,
    timeout: Duration,
    metadata: Vec<(MetadataKey<tonic::metadata::Ascii>, AsciiMetadataValue)>,
    caps: OnceLock<Caps>,
    uploads: AtomicU64,
}

impl Grpc {
    /// Builds the runtime and a lazy channel (TLS with the system roots for
    /// `grpcs://`). Sends no request.
    pub(crate) fn new(cfg: &RemoteConfig) -> Result<Self, CacheError> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("hbuild-grpc")
            .enable_all()
            .build()
            .map_err(|e| CacheError::Remote(format!("cannot start the gRPC runtime: {e}")))?;
        let tls = cfg.url.scheme() == "grpcs";
        let host = cfg.url.host_str().unwrap_or_default();
        let port = cfg.url.port().unwrap_or(if tls { 443 } else { 80 });
        let scheme = if tls { "https" } else { "http" };
        let bad = |e: tonic::transport::Error| {
            CacheError::Config(format!("remote cache {}: {e}", cfg.redacted_url()))
        };
        let mut ep = Endpoint::from_shared(format!("{scheme}://{host}:{port}"))
            .map_err(bad)?
            .connect_timeout(cfg.connect_timeout)
            .timeout(cfg.timeout)
            .user_agent(concat!("cargo-hbuild/", env!("CARGO_PKG_VERSION")))
            .map_err(bad)?;
        if tls {
            ep = ep
                .tls_config(ClientTlsConfig::new().with_native_roots().domain_name(host))
                .map_err(bad)?;
        }
        let channel = {
            let _in_rt = rt.enter();
            ep.connect_lazy()
        };
        Ok(Grpc {
            rt,
            channel,
            instance: cfg.instance_name.clone(),
            timeout: cfg.timeout,
            metadata: metadata_of(cfg)?,
            caps: OnceLock::new(),
            uploads: AtomicU64::new(0),
        })
    }

    /// A request carrying the auth metadata and the deadline.
    fn req<T>(&self, msg: T) -> Request<T> {
        let mut r = Request::new(msg);
        r.set_timeout(self.timeout);
        for (k, v) in &self.metadata {
            r.metadata_mut().insert(k.clone(), v.clone());
        }
        r
    }

    /// Runs `fut` to completion on the client's runtime, timing it.
    fn block<T>(
        &self,
        fut: impl std::future::Future<Output = Result<T, Failure>>,
    ) -> (Result<T, Failure>, Duration) {
        let t = Instant::now();
        let limit = self.timeout + Duration::from_secs(1);
        let out = self
            .rt
            .block_on(async { tokio::time::timeout(limit, fut).await });
        match out {
            Ok(v) => (v, t.elapsed()),
            // The per-request deadline normally fires first; this only
            // bounds a stream that stalls between messages.
            Err(_) => (Err(Failure::fault("timed out")), t.elapsed()),
        }
    }

    /// The server's capabilities, asked once per process.
    fn caps(&self) -> Result<Caps, Failure> {
        if let Some(c) = self.caps.get() {
            return Ok(*c);
        }
        let mut client = CapabilitiesClient::new(self.channel.clone());
        let req = self.req(re::GetCapabilitiesRequest {
            instance_name: self.instance.clone(),
        });
        let (res, _) =
            self.block(async { client.get_capabilities(req).await.map_err(|s| classify(&s)) });
        let caps = res?.into_inner();
        let cache = caps
            .cache_capabilities
            .ok_or_else(|| Failure::fault("the server offers no cache (no CacheCapabilities)"))?;
        let sha256 = re::digest_function::Value::Sha256 as i32;
        if !cache.digest_functions.contains(&sha256) {
            return Err(Failure::fault(
                "the server does not offer SHA-256 digests, which hbuild needs",
            ));
        }
        let announced = u64::try_from(cache.max_batch_total_size_bytes).unwrap_or(0);
        let max_batch = if announced == 0 {
            DEFAULT_BATCH_BYTES
        } else {
            announced
        };
        let c = Caps { max_batch };
        let _ = self.caps.set(c);
        Ok(c)
    }

    /// Whether `size` bytes fit in one batch call.
    fn fits_batch(&self, size: u64) -> Result<bool, Failure> {
        Ok(size + BATCH_OVERHEAD <= self.caps()?.max_batch)
    }

    /// `GetActionResult` for `key`; the entry as protobuf bytes.
    pub(crate) fn get_entry(&self, key: &ActionKey) -> (Result<Vec<u8>, Failure>, Duration) {
        if let Err(f) = self.caps() {
            return (Err(f), Duration::ZERO);
        }
        let (res, took) = self.block(async {
            let mut ac = ActionCacheClient::new(self.channel.clone());
            let req = self.req(re::GetActionResultRequest {
                instance_name: self.instance.clone(),
                action_digest: Some(action_for(key).1.to_pb()),
                inline_stdout: false,
                inline_stderr: false,
                digest_function: re::digest_function::Value::Sha256 as i32,
                ..Default::default()
            });
            match ac.get_action_result(req).await {
                Ok(r) => Ok(r.into_inner().encode_to_vec()),
                Err(s) => Err(classify(&s)),
            }
        });
        (res, took)
    }

    /// `UpdateActionResult` for `key`, after the `Command` that names it.
    pub(crate) fn put_entry(
        &self,
        key: &ActionKey,
        body: &[u8],
    ) -> (Result<(), Failure>, Duration) {
        let t = Instant::now();
        let result = match re::ActionResult::decode(body) {
            Ok(r) => r,
            Err(e) => return (Err(Failure::Local(format!("bad entry: {e}"))), t.elapsed()),
        };
        let stored = action_parts(key);
        let action_ref = stored.action.0.clone();
        for (blob, bytes) in [stored.command, stored.action] {
            if let (Err(f), _) = self.write_blob(&blob, Source::Bytes(&bytes)) {
                return (Err(f), t.elapsed());
            }
        }
        let (res, _) = self.block(async {
            let mut ac = ActionCacheClient::new(self.channel.clone());
            let req = self.req(re::UpdateActionResultRequest {
                instance_name: self.instance.clone(),
                action_digest: Some(action_ref.to_pb()),
                action_result: Some(result),
                digest_function: re::digest_function::Value::Sha256 as i32,
                ..Default::default()
            });
            ac.update_action_result(req)
                .await
                .map(|_| ())
                .map_err(|s| classify(&s))
        });
        (res, t.elapsed())
    }

    /// `FindMissingBlobs` for `blobs`: those the server lacks.
    pub(crate) fn missing(&self, blobs: &[BlobRef]) -> (Result<Vec<BlobRef>, Failure>, Duration) {
        if let Err(f) = self.caps() {
            return (Err(f), Duration::ZERO);
        }
        self.block(async {
            let mut cas = ContentAddressableStorageClient::new(self.channel.clone());
            let req = self.req(re::FindMissingBlobsRequest {
                instance_name: self.instance.clone(),
                blob_digests: blobs.iter().map(BlobRef::to_pb).collect(),
                digest_function: re::digest_function::Value::Sha256 as i32,
            });
            let resp = cas
                .find_missing_blobs(req)
                .await
                .map_err(|s| classify(&s))?;
            resp.into_inner()
                .missing_blob_digests
                .iter()
                .map(|d| BlobRef::from_pb(d).map_err(Failure::Invalid))
                .collect()
        })
    }

    /// Reads a whole blob of at most `max` bytes into memory (batch call
    /// when it fits, else ByteStream). The caller verifies its digest.
    pub(crate) fn read_small(
        &self,
        blob: &BlobRef,
        max: u64,
    ) -> (Result<Vec<u8>, Failure>, Duration) {
        if blob.size > max {
            return (
                Err(Failure::Invalid(format!(
                    "{} bytes is too large",
                    blob.size
                ))),
                Duration::ZERO,
            );
        }
        let batch = match self.fits_batch(blob.size) {
            Ok(b) => b,
            Err(f) => return (Err(f), Duration::ZERO),
        };
        if !batch {
            let mut out = Vec::new();
            let (res, took) = self.read_stream(blob, &mut out);
            return (res.map(|_| out), took);
        }
        self.block(async {
            let mut cas = ContentAddressableStorageClient::new(self.channel.clone());
            let req = self.req(re::BatchReadBlobsRequest {
                instance_name: self.instance.clone(),
                digests: vec![blob.to_pb()],
                digest_function: re::digest_function::Value::Sha256 as i32,
                ..Default::default()
            });
            let resp = cas.batch_read_blobs(req).await.map_err(|s| classify(&s))?;
            let one = resp
                .into_inner()
                .responses
                .into_iter()
                .next()
                .ok_or_else(|| Failure::fault("BatchReadBlobs answered nothing"))?;
            let code = one.status.as_ref().map_or(0, |s| s.code);
            if code != 0 {
                let msg = one.status.map(|s| s.message).unwrap_or_default();
                return Err(classify(&Status::new(Code::from(code), msg)));
            }
            if one.data.len() as u64 != blob.size {
                return Err(Failure::Invalid(format!(
                    "body has {} bytes, expected {}",
                    one.data.len(),
                    blob.size
                )));
            }
            Ok(one.data)
        })
    }

    /// Streams a blob into `file` over ByteStream, checking size and
    /// SHA-256 on the way; returns its blake3 digest and size.
    pub(crate) fn read_to_file(
        &self,
        blob: &BlobRef,
        file: &mut File,
    ) -> (Result<(Digest, u64), Failure>, Duration) {
        let (res, took) = self.read_stream(blob, file);
        (res, took)
    }

    fn read_stream(
        &self,
        blob: &BlobRef,
        sink: &mut dyn Write,
    ) -> (Result<(Digest, u64), Failure>, Duration) {
        let name = format!("{}blobs/{}/{}", self.prefix(), blob.sha256, blob.size);
        self.block(async {
            let mut client = ByteStreamClient::new(self.channel.clone());
            // `read_limit` is left at 0 (everything): some servers break on it.
            let req = self.req(bs::ReadRequest {
                resource_name: name,
                read_offset: 0,
                read_limit: 0,
            });
            let mut stream = client
                .read(req)
                .await
                .map_err(|s| classify(&s))?
                .into_inner();
            let mut check = Check::new(blob);
            loop {
                match stream.message().await {
                    Ok(Some(chunk)) => {
                        check.update(&chunk.data)?;
                        sink.write_all(&chunk.data).map_err(|e| {
                            Failure::Local(format!("cannot write scratch file: {e}"))
                        })?;
                    }
                    Ok(None) => break,
                    Err(s) => return Err(classify(&s)),
                }
            }
            sink.flush()
                .map_err(|e| Failure::Local(format!("cannot write scratch file: {e}")))?;
            check.finish()
        })
    }

    /// Writes one blob: a batch call when it fits, else a ByteStream write.
    pub(crate) fn write_blob(
        &self,
        blob: &BlobRef,
        source: Source<'_>,
    ) -> (Result<(), Failure>, Duration) {
        let t = Instant::now();
        let res = match self.fits_batch(blob.size) {
            Err(f) => Err(f),
            Ok(true) => {
                let bytes = match source {
                    Source::Bytes(b) => Ok(b.to_vec()),
                    Source::File(mut f) => {
                        let mut v = Vec::with_capacity(blob.size as usize);
                        f.read_to_end(&mut v)
                            .map(|_| v)
                            .map_err(|e| Failure::Local(format!("cannot read blob: {e}")))
                    }
                };
                bytes.and_then(|b| self.batch_write(blob, b))
            }
            Ok(false) => self.stream_write(blob, source),
        };
        (res, t.elapsed())
    }

    fn batch_write(&self, blob: &BlobRef, data: Vec<u8>) -> Result<(), Failure> {
        self.block(async {
            let mut cas = ContentAddressableStorageClient::new(self.channel.clone());
            let req = self.req(re::BatchUpdateBlobsRequest {
                instance_name: self.instance.clone(),
                requests: vec![re::batch_update_blobs_request::Request {
                    digest: Some(blob.to_pb()),
                    data,
                    compressor: 0,
                }],
                digest_function: re::digest_function::Value::Sha256 as i32,
            });
            let resp = cas
                .batch_update_blobs(req)
                .await
                .map_err(|s| classify(&s))?;
            for r in resp.into_inner().responses {
                if let Some(s) = r.status.filter(|s| s.code != 0) {
                    return Err(classify(&Status::new(Code::from(s.code), s.message)));
                }
            }
            Ok(())
        })
        .0
    }

    fn stream_write(&self, blob: &BlobRef, source: Source<'_>) -> Result<(), Failure> {
        let n = self.uploads.fetch_add(1, Ordering::Relaxed);
        let name = format!(
            "{}uploads/{}/blobs/{}/{}",
            self.prefix(),
            upload_id(n),
            blob.sha256,
            blob.size
        );
        let mut chunks = Vec::new();
        let mut offset = 0i64;
        let mut push = |data: Vec<u8>, last: bool| {
            let len = data.len() as i64;
            chunks.push(bs::WriteRequest {
                resource_name: if offset == 0 {
                    name.clone()
                } else {
                    String::new()
                },
                write_offset: offset,
                finish_write: last,
                data,
            });
            offset += len;
        };
        match source {
            Source::Bytes(b) => {
                let mut it = b.chunks(CHUNK).peekable();
                while let Some(c) = it.next() {
                    push(c.to_vec(), it.peek().is_none());
                }
            }
            Source::File(mut f) => {
                let mut left = blob.size;
                while left > 0 {
                    let mut buf = vec![0u8; CHUNK.min(left as usize)];
                    f.read_exact(&mut buf)
                        .map_err(|e| Failure::Local(format!("cannot read blob: {e}")))?;
                    left -= buf.len() as u64;
                    push(buf, left == 0);
                }
            }
        }
        self.block(async {
            let mut client = ByteStreamClient::new(self.channel.clone());
            let req = self.req(tokio_stream::iter(chunks));
            let resp = client.write(req).await.map_err(|s| classify(&s))?;
            let committed = u64::try_from(resp.into_inner().committed_size).unwrap_or(0);
            if committed != blob.size {
                return Err(Failure::fault(format!(
                    "ByteStream write committed {committed} of {} bytes",
                    blob.size
                )));
            }
            Ok(())
        })
        .0
    }

    /// `Execute` for the action `action` (its blobs uploaded already),
    /// waiting up to `limit` for the final `Operation`; its response.
    pub(crate) fn execute(
        &self,
        action: &BlobRef,
        limit: Duration,
        skip_cache: bool,
    ) -> Result<re::ExecuteResponse, Failure> {
        self.caps()?;
        // A busy engine sheds load with RESOURCE_EXHAUSTED or UNAVAILABLE:
        // wait and ask again, a few times, before calling it down.
        let mut pause = Duration::from_millis(250);
        for _ in 0..6 {
            match self.execute_once(action, limit, skip_cache) {
                Err((Some(Code::ResourceExhausted | Code::Unavailable), _)) => {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_secs(4));
                }
                other => return other.map_err(|(_, f)| f),
            }
        }
        self.execute_once(action, limit, skip_cache)
            .map_err(|(_, f)| f)
    }

    fn execute_once(
        &self,
        action: &BlobRef,
        limit: Duration,
        skip_cache: bool,
    ) -> Result<re::ExecuteResponse, (Option<Code>, Failure)> {
        use bazel_remote_apis::google::longrunning::operation;
        let fail = |s: Status| (Some(s.code()), classify(&s));
        let fut = async {
            let mut client = re::execution_client::ExecutionClient::new(self.channel.clone());
            let mut req = self.req(re::ExecuteRequest {
                instance_name: self.instance.clone(),
                action_digest: Some(action.to_pb()),
                skip_cache_lookup: skip_cache,
                digest_function: re::digest_function::Value::Sha256 as i32,
                ..Default::default()
            });
            req.set_timeout(limit);
            let mut stream = client.execute(req).await.map_err(fail)?.into_inner();
            loop {
                let op = match stream.message().await {
                    Ok(Some(op)) => op,
                    Ok(None) => {
                        return Err((None, Failure::fault("the operation stream ended early")))
                    }
                    Err(s) => return Err(fail(s)),
                };
                if !op.done {
                    continue;
                }
                return match op.result {
                    Some(operation::Result::Response(any)) => {
                        re::ExecuteResponse::decode(any.value.as_slice()).map_err(|e| {
                            (None, Failure::Invalid(format!("bad ExecuteResponse: {e}")))
                        })
                    }
                    Some(operation::Result::Error(s)) => {
                        Err(fail(Status::new(Code::from(s.code), s.message)))
                    }
                    None => Err((
                        None,
                        Failure::Invalid("a finished operation without result".into()),
                    )),
                };
            }
        };
        let out = self
            .rt
            .block_on(async { tokio::time::timeout(limit + Duration::from_secs(1), fut).await });
        out.unwrap_or_else(|_| Err((None, Failure::fault("timed out"))))
    }

    /// `"<instance>/"`, or nothing for the empty instance name.
    fn prefix(&self) -> String {
        if self.instance.is_empty() {
            String::new()
        } else {
            format!("{}/", self.instance)
        }
    }
}

/// Where a blob to write comes from.
pub(crate) enum Source<'a> {
    /// Bytes in memory.
    Bytes(&'a [u8]),
    /// An open file of the blob's size.
    File(File),
}

/// Size and SHA-256 checks while a blob streams in.
struct Check<'a> {
    blob: &'a BlobRef,
    sha: sha2::Sha256,
    b3: blake3::Hasher,
    size: u64,
}

impl<'a> Check<'a> {
    fn new(blob: &'a BlobRef) -> Self {
        Check {
            blob,
            sha: sha2::Sha256::new(),
            b3: blake3::Hasher::new(),
            size: 0,
        }
    }

    fn update(&mut self, data: &[u8]) -> Result<(), Failure> {
        self.size += data.len() as u64;
        if self.size > self.blob.size {
            return Err(Failure::Invalid(format!(
                "blob {} is longer than {}",
                self.blob.sha256, self.blob.size
            )));
        }
        self.sha.update(data);
        self.b3.update(data);
        Ok(())
    }

    fn finish(self) -> Result<(Digest, u64), Failure> {
        if self.size != self.blob.size {
            return Err(Failure::Invalid(format!(
                "blob {} has {} bytes, expected {}",
                self.blob.sha256, self.size, self.blob.size
            )));
        }
        let got = hex(&self.sha.finalize());
        if got != self.blob.sha256 {
            return Err(Failure::Invalid(format!(
                "blob {} has SHA-256 {got}",
                self.blob.sha256
            )));
        }
        Ok((
            Digest::from_bytes(*self.b3.finalize().as_bytes()),
            self.size,
        ))
    }
}

/// A gRPC status as one of the outcomes of [`Failure`].
pub(crate) fn classify(s: &Status) -> Failure {
    let msg = format!("{:?}: {}", s.code(), clip(s.message()));
    match s.code() {
        Code::NotFound => Failure::NotFound,
        Code::Unauthenticated | Code::PermissionDenied => Failure::Fault {
            msg: format!("authentication failed ({msg})"),
            auth: true,
        },
        Code::ResourceExhausted => Failure::TooLarge(msg),
        Code::DataLoss => Failure::Invalid(msg),
        _ => Failure::fault(msg),
    }
}

fn clip(s: &str) -> String {
    s.chars().take(160).collect()
}

/// A unique-enough ByteStream upload id (UUID-shaped, as servers expect).
fn upload_id(n: u64) -> String {
    let seed = format!("{}-{n}-{:?}", std::process::id(), Instant::now());
    let h = blake3::hash(seed.as_bytes()).to_hex();
    let h = h.as_str();
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// The auth metadata sent with every call: bearer token and custom headers.
fn metadata_of(
    cfg: &RemoteConfig,
) -> Result<Vec<(MetadataKey<tonic::metadata::Ascii>, AsciiMetadataValue)>, CacheError> {
    let mut out = Vec::new();
    let mut add = |name: &str, value: &str| {
        let key = MetadataKey::from_bytes(name.to_ascii_lowercase().as_bytes())
            .map_err(|_| CacheError::Config(format!("invalid header name `{name}`")))?;
        let value = AsciiMetadataValue::try_from(value)
            .map_err(|_| CacheError::Config(format!("invalid value for header `{name}`")))?;
        out.push((key, value));
        Ok::<(), CacheError>(())
    };
    if let Some(token) = &cfg.bearer_token {
        add("authorization", &format!("Bearer {token}"))?;
    }
    for (name, value) in &cfg.headers {
        add(name, value)?;
    }
    Ok(out)
}

/// A blob with its digest.
type Blob = (BlobRef, Vec<u8>);

/// The REAPI messages an hbuild key is stored under.
struct StoredAction {
    /// The `Command` naming the key.
    command: Blob,
    /// The `Action` running it in an empty input root; its digest is the
    /// ActionCache key.
    action: Blob,
}

/// The REAPI `Action` an hbuild key is stored under, and its digest: a
/// `Command` naming the key, run in an empty input root.
pub(crate) fn action_for(key: &ActionKey) -> (Vec<u8>, BlobRef) {
    let (digest, bytes) = action_parts(key).action;
    (bytes, digest)
}

fn action_parts(key: &ActionKey) -> StoredAction {
    let command = re::Command {
        arguments: vec!["cargo-hbuild".into(), "action".into(), key.0.to_hex()],
        ..Default::default()
    }
    .encode_to_vec();
    let command_ref = BlobRef::of_bytes(&command);
    let empty_dir = BlobRef::of_bytes(&re::Directory::default().encode_to_vec());
    let action = re::Action {
        command_digest: Some(command_ref.to_pb()),
        input_root_digest: Some(empty_dir.to_pb()),
        ..Default::default()
    }
    .encode_to_vec();
    StoredAction {
        command: (command_ref, command),
        action: (BlobRef::of_bytes(&action), action),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_key_has_its_own_well_formed_action() {
        let a = ActionKey(Digest::of_bytes(b"a"));
        let b = ActionKey(Digest::of_bytes(b"b"));
        let (bytes, digest) = action_for(&a);
        assert_eq!(BlobRef::of_bytes(&bytes), digest);
        assert_ne!(action_for(&b).1, digest);
        let action = re::Action::decode(bytes.as_slice()).unwrap();
        let cmd = action_parts(&a).command;
        assert_eq!(action.command_digest, Some(cmd.0.to_pb()));
        let command = re::Command::decode(cmd.1.as_slice()).unwrap();
        assert_eq!(command.arguments[2], a.0.to_hex());
    }

    #[test]
    fn statuses_are_classified() {
        assert!(matches!(
            classify(&Status::not_found("x")),
            Failure::NotFound
        ));
        assert!(matches!(
            classify(&Status::unauthenticated("x")),
            Failure::Fault { auth: true, .. }
        ));
        assert!(matches!(
            classify(&Status::unavailable("x")),
            Failure::Fault { auth: false, .. }
        ));
        assert!(matches!(
            classify(&Status::resource_exhausted("x")),
            Failure::TooLarge(_)
        ));
    }

    #[test]
    fn upload_ids_are_uuid_shaped_and_differ() {
        let a = upload_id(1);
        assert_eq!(a.len(), 36);
        assert_eq!(a.matches('-').count(), 4);
        assert_ne!(a, upload_id(2));
    }
}
