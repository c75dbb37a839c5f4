//! Remote cache over the Bazel HTTP cache protocol (`/ac/`, `/cas/`), as
//! served by bazel-remote, nginx WebDAV and plain object stores.
//!
//! Layout (see `docs/remote-cache.md`):
//! * `<base>/cas/<sha256>`: blob content (SHA-256, because servers verify it);
//! * `<base>/ac/<action key>`: an REAPI `ActionResult` protobuf whose output
//!   files point at CAS blobs, plus hbuild's metadata blob as the reserved
//!   output [`proto::METADATA_PATH`] (blake3 digests, `meta` map, version).
//!
//! Every answer is verified (paths, sizes, SHA-256, blake3) before it becomes
//! a [`RemoteLookup::Hit`]. No fault of the server fails a build: requests
//! degrade to [`RemoteLookup::Unavailable`], and after
//! [`RemoteConfig::max_consecutive_failures`] consecutive faults the remote is
//! switched off for the rest of the process with one warning. The engine
//! prints nothing: callers drain [`RemoteCache::take_warnings`].

pub mod config;
pub mod exec_config;
pub mod execute;
pub mod proto;

mod client;
mod fetch;
mod grpc;
mod sha_memo;
mod transport;
mod tree;
mod upload;

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;

pub use config::{BasicAuth, Download, RemoteConfig, RemoteFlags};
pub use exec_config::{ExecConfig, ExecFlags};
pub use execute::{ExecError, ExecReply, ExecSpec, ExecStats, RemoteExecutor};

use crate::cache::{ActionResult, BlobStore, CacheError};
use crate::core::{ActionKey, Digest};
use client::Failure;
use proto::BlobRef;
use transport::Transport;
pub use upload::OutputBytes;

/// Largest AC entry body accepted.
pub const MAX_AC_ENTRY_BYTES: u64 = 16 << 20;
/// Largest metadata, stdout or stderr blob accepted (they are held in memory).
pub const MAX_INLINE_BLOB_BYTES: u64 = 64 << 20;

/// Result of [`RemoteCache::get`].
#[derive(Debug)]
pub enum RemoteLookup {
    /// A verified entry; every output blob is now in the local store.
    Hit(ActionResult),
    /// The remote has no entry for this key.
    Miss,
    /// An entry existed but was invalid (unsafe path, digest or size
    /// mismatch, missing blob); it was ignored. The string says why.
    Rejected(String),
    /// The remote could not be asked (fault, or remote switched off).
    Unavailable(String),
}

/// Counters of one process's use of the remote cache.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RemoteStats {
    /// Lookups that returned a verified entry.
    pub hits: u64,
    /// Lookups that found no entry.
    pub misses: u64,
    /// Entries ignored as invalid.
    pub rejected: u64,
    /// Requests that failed because of the server or the network.
    pub faults: u64,
    /// Bytes downloaded (bodies only).
    pub bytes_down: u64,
    /// Of [`RemoteStats::bytes_down`], the bytes of action outputs.
    pub output_bytes_down: u64,
    /// Bytes of the outputs of hits that were left in the remote cache
    /// (`--remote-download=minimal`).
    pub output_bytes_left: u64,
    /// Bytes uploaded (bodies only).
    pub bytes_up: u64,
    /// CAS blobs uploaded.
    pub blobs_uploaded: u64,
    /// CAS blobs not uploaded because the server already had them.
    pub blobs_skipped_existing: u64,
    /// Time spent in requests (summed over threads).
    #[serde(serialize_with = "secs_f64")]
    pub transfer_time: Duration,
    /// Why the remote was switched off, if it was.
    pub disabled_reason: Option<String>,
}

fn secs_f64<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

/// Result of [`RemoteCache::finish`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct UploadReport {
    /// Action results fully uploaded (blobs and AC entry).
    pub uploaded: u64,
    /// Uploads given up (fault, blob too large, invalid local data).
    pub failed: u64,
    /// Uploads not attempted (read-only, remote switched off).
    pub skipped: u64,
    /// Uploads still queued or running when the timeout expired.
    pub abandoned: u64,
}

#[derive(Default)]
struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
    rejected: AtomicU64,
    faults: AtomicU64,
    bytes_down: AtomicU64,
    output_bytes_down: AtomicU64,
    output_bytes_left: AtomicU64,
    bytes_up: AtomicU64,
    blobs_uploaded: AtomicU64,
    blobs_skipped_existing: AtomicU64,
    transfer_nanos: AtomicU64,
}

/// State shared by callers and upload threads.
pub(crate) struct Shared {
    cfg: RemoteConfig,
    remote: Transport,
    counters: Counters,
    consecutive_faults: AtomicU32,
    disabled: Mutex<Option<String>>,
    uploads_disabled: Mutex<Option<String>>,
    warnings: Mutex<Vec<String>>,
    warned: Mutex<BTreeSet<&'static str>>,
    /// The CAS blobs of outputs this process saw the server hold, by
    /// their blake3 digest: what a remote execution may name by digest
    /// instead of sending.
    cas_refs: Mutex<HashMap<Digest, BlobRef>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    fn add_time(&self, d: Duration) {
        let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        Self::add(&self.counters.transfer_nanos, nanos);
    }

    /// Why the remote is off, if it is.
    /// Records that the server holds the blobs of `outputs`.
    fn remember_cas(&self, outputs: &[proto::MetaOutput]) {
        let mut refs = lock(&self.cas_refs);
        for m in outputs {
            let blob = BlobRef {
                sha256: m.sha256.clone(),
                size: m.size,
            };
            refs.insert(m.blake3, blob);
        }
    }

    fn disabled_reason(&self) -> Option<String> {
        lock(&self.disabled).clone()
    }

    fn warn(&self, msg: String) {
        lock(&self.warnings).push(msg);
    }

    /// Records `msg` unless a warning with the same `key` was recorded.
    fn warn_once(&self, key: &'static str, msg: impl FnOnce() -> String) {
        if lock(&self.warned).insert(key) {
            self.warn(msg());
        }
    }

    /// The server answered sensibly: the run of faults is over.
    fn record_ok(&self) {
        self.consecutive_faults.store(0, Ordering::Relaxed);
    }

    /// Books a failure of a request about `what`; faults may switch the
    /// remote off. Returns the text for a `Rejected`/`Unavailable`.
    fn record_failure(&self, what: &str, failure: &Failure, upload: bool) -> String {
        match failure {
            Failure::Fault { msg, auth } => {
                Self::add(&self.counters.faults, 1);
                if *auth {
                    self.warn_once("auth", || {
                        format!(
                            "remote cache {}: authentication failed ({msg}); check the \
                             credentials (HBUILD_REMOTE_CACHE_TOKEN, user:password in the URL, \
                             or headers)",
                            self.cfg.redacted_url()
                        )
                    });
                    if upload {
                        let mut off = lock(&self.uploads_disabled);
                        if off.is_none() {
                            *off = Some(format!("uploads refused: {msg}"));
                        }
                    }
                }
                let n = self.consecutive_faults.fetch_add(1, Ordering::Relaxed) + 1;
                if n >= self.cfg.max_consecutive_failures.max(1) {
                    self.disable(format!("{n} consecutive failures, last: {what}: {msg}"));
                }
                format!("{what}: {msg}")
            }
            Failure::Invalid(msg) => {
                self.record_ok();
                format!("{what}: {msg}")
            }
            Failure::NotFound => {
                self.record_ok();
                format!("{what}: not found")
            }
            Failure::TooLarge(msg) => {
                self.record_ok();
                self.warn_once("too-large", || {
                    format!(
                        "remote cache {} refused a blob as too large or is full ({msg}); \
                         such outputs are not uploaded",
                        self.cfg.redacted_url()
                    )
                });
                format!("{what}: too large ({msg})")
            }
            Failure::Local(msg) => format!("{what}: {msg}"),
        }
    }

    /// Switches the remote off for the rest of the process (one warning).
    fn disable(&self, reason: String) {
        let mut d = lock(&self.disabled);
        if d.is_none() {
            self.warn(format!(
                "remote cache {} switched off for the rest of this run: {reason}",
                self.cfg.redacted_url()
            ));
            *d = Some(reason);
        }
    }
}

/// A client of one remote cache. Cheap to share: `Send + Sync`, all methods
/// take `&self`.
pub struct RemoteCache {
    shared: Arc<Shared>,
    uploads: upload::Uploads,
}

impl RemoteCache {
    /// Builds the HTTP client (rustls, bounded pool, timeouts). Sends no
    /// request.
    pub fn new(cfg: RemoteConfig) -> Result<RemoteCache, CacheError> {
        let remote = Transport::new(&cfg)?;
        let threads = (cfg.max_connections / 2).clamp(1, 4);
        let shared = Arc::new(Shared {
            cfg,
            remote,
            counters: Counters::default(),
            consecutive_faults: AtomicU32::new(0),
            disabled: Mutex::new(None),
            uploads_disabled: Mutex::new(None),
            warnings: Mutex::new(Vec::new()),
            warned: Mutex::new(BTreeSet::new()),
            cas_refs: Mutex::new(HashMap::new()),
        });
        Ok(RemoteCache {
            uploads: upload::Uploads::new(threads),
            shared,
        })
    }

    /// The configuration in use.
    pub fn config(&self) -> &RemoteConfig {
        &self.shared.cfg
    }

    /// Looks `key` up. On a hit every output blob has been downloaded,
    /// verified (size, SHA-256, blake3) and adopted into `store`, and the
    /// returned result carries the local (blake3) digests.
    pub fn get(&self, key: &ActionKey, store: &dyn BlobStore) -> RemoteLookup {
        self.lookup(key, Some(store))
    }

    /// Looks `key` up without downloading its outputs
    /// (`--remote-download=minimal`): the entry and its metadata are
    /// verified, and the result names each output by its digest and size
    /// only. Nothing is adopted into a local store.
    pub fn get_digests(&self, key: &ActionKey) -> RemoteLookup {
        self.lookup(key, None)
    }

    fn lookup(&self, key: &ActionKey, store: Option<&dyn BlobStore>) -> RemoteLookup {
        let c = &self.shared.counters;
        if let Some(reason) = self.shared.disabled_reason() {
            return RemoteLookup::Unavailable(format!("remote cache is off: {reason}"));
        }
        let res = fetch::get(&self.shared, key, store);
        match &res {
            RemoteLookup::Hit(_) => Shared::add(&c.hits, 1),
            RemoteLookup::Miss => Shared::add(&c.misses, 1),
            RemoteLookup::Rejected(_) => Shared::add(&c.rejected, 1),
            RemoteLookup::Unavailable(_) => {}
        }
        res
    }

    /// Queues `result` for upload under `key`, reading its blobs from
    /// `store`. Returns at once; background threads do the work. Does
    /// nothing in read-only mode or when the remote is off.
    pub fn upload(&self, key: ActionKey, result: ActionResult, store: Arc<dyn BlobStore>) {
        self.uploads.enqueue(&self.shared, key, result, store);
    }

    /// Uploads `result` under `key` now, on this thread: its outputs from
    /// `store`, but those in `direct` (by blake3 digest) from where it
    /// says. For entries that must be in the remote cache before the build
    /// goes on: the outputs of a remote execution left in the engine's CAS,
    /// which later builds and local actions fetch through the entry.
    pub fn upload_now(
        &self,
        key: ActionKey,
        result: ActionResult,
        store: Arc<dyn BlobStore>,
        direct: HashMap<Digest, upload::OutputBytes>,
    ) -> Result<(), String> {
        upload::upload_now(&self.shared, key, result, store, direct)
    }

    /// The server's CAS reference of an output with blake3 digest `d`, if
    /// this process saw the server hold it (an entry looked up without its
    /// bytes, or uploaded).
    pub fn cas_ref(&self, d: &Digest) -> Option<BlobRef> {
        lock(&self.shared.cas_refs).get(d).cloned()
    }

    /// Whether this cache is the server `other` names (same URL and REAPI
    /// instance): blobs one holds, the other does.
    pub fn is_server(&self, other: &RemoteConfig) -> bool {
        let own = &self.shared.cfg;
        own.url == other.url && own.instance_name == other.instance_name
    }

    /// Waits up to `timeout` for queued uploads; what is still queued or
    /// running then is abandoned (an abandoned upload never writes its AC
    /// entry after this returns, unless that PUT was already in flight).
    /// Uploads queued after `finish` are skipped. Call it once, before the
    /// process exits.
    pub fn finish(&self, timeout: Duration) -> UploadReport {
        self.uploads.finish(timeout)
    }

    /// Warnings recorded since the last call (each returned once). The
    /// caller prints them; they never contain credentials.
    pub fn take_warnings(&self) -> Vec<String> {
        std::mem::take(&mut *lock(&self.shared.warnings))
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> RemoteStats {
        let c = &self.shared.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        RemoteStats {
            hits: get(&c.hits),
            misses: get(&c.misses),
            rejected: get(&c.rejected),
            faults: get(&c.faults),
            bytes_down: get(&c.bytes_down),
            output_bytes_down: get(&c.output_bytes_down),
            output_bytes_left: get(&c.output_bytes_left),
            bytes_up: get(&c.bytes_up),
            blobs_uploaded: get(&c.blobs_uploaded),
            blobs_skipped_existing: get(&c.blobs_skipped_existing),
            transfer_time: Duration::from_nanos(get(&c.transfer_nanos)),
            disabled_reason: self.shared.disabled_reason(),
        }
    }
}

impl std::fmt::Debug for RemoteCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteCache")
            .field("config", &self.shared.cfg)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn remote_cache_is_send_and_sync() {
        assert_send_sync::<RemoteCache>();
    }

    #[test]
    fn stats_serialize() {
        let s = RemoteStats {
            hits: 2,
            transfer_time: Duration::from_millis(1500),
            ..Default::default()
        };
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["hits"], 2);
        assert_eq!(v["transfer_time"], 1.5);
        assert!(v["disabled_reason"].is_null());
    }

    #[test]
    fn disabling_warns_once() {
        let mut cfg = RemoteConfig::new("http://127.0.0.1:9/").unwrap();
        cfg.max_consecutive_failures = 2;
        let rc = RemoteCache::new(cfg).unwrap();
        let f = Failure::Fault {
            msg: "boom".into(),
            auth: false,
        };
        for _ in 0..5 {
            rc.shared.record_failure("GET x", &f, false);
        }
        let w = rc.take_warnings();
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(
            w[0].contains("switched off") && w[0].contains("boom"),
            "{w:?}"
        );
        assert!(rc.take_warnings().is_empty());
        assert_eq!(rc.stats().faults, 5);
        assert!(rc.stats().disabled_reason.is_some());
    }

    #[test]
    fn success_resets_the_fault_run() {
        let rc = RemoteCache::new(RemoteConfig::new("http://127.0.0.1:9/").unwrap()).unwrap();
        let f = Failure::Fault {
            msg: "boom".into(),
            auth: false,
        };
        for _ in 0..10 {
            rc.shared.record_failure("GET x", &f, false);
            rc.shared.record_failure("GET x", &f, false);
            rc.shared.record_failure("GET y", &Failure::NotFound, false);
        }
        assert!(rc.stats().disabled_reason.is_none());
        assert!(rc.take_warnings().is_empty());
    }
}
