//! Background uploads: a queue served by a few threads, each upload sending
//! its CAS blobs first (HEAD, then PUT if missing) and the AC entry last.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use sha2::Digest as _;

use super::client::Failure;
use super::grpc::Source as WireSource;
use super::proto::{self, BlobRef, MetaOutput, Metadata, METADATA_FORMAT, RESERVED_DIR};
use super::{lock, Shared, UploadReport};
use crate::cache::{ActionResult, BlobStore, ENTRY_FORMAT_VERSION};
use crate::core::{ActionKey, Digest, RelPath};

struct Job {
    shared: Arc<Shared>,
    key: ActionKey,
    result: ActionResult,
    store: Arc<dyn BlobStore>,
    /// Outputs whose bytes are not in `store`, by their blake3 digest.
    direct: HashMap<Digest, OutputBytes>,
}

/// Where the bytes of an output that is not in the local store are.
#[derive(Clone, Debug)]
pub enum OutputBytes {
    /// Already in the server's CAS under this reference (an output of a
    /// remote execution that stayed there): it is not sent again, and the
    /// upload fails if the server lacks it.
    InCas(BlobRef),
    /// In memory.
    Bytes(Vec<u8>),
}

#[derive(Default)]
struct Queue {
    jobs: VecDeque<Job>,
    running: usize,
    threads: usize,
    closed: bool,
    report: UploadReport,
}

struct State {
    queue: Mutex<Queue>,
    work: Condvar,
    idle: Condvar,
    abandon: AtomicBool,
}

/// The upload queue and its worker threads (spawned on first use).
pub(super) struct Uploads {
    state: Arc<State>,
    max_threads: usize,
}

enum Outcome {
    Uploaded,
    Failed,
    Skipped,
    Abandoned,
}

impl Uploads {
    pub(super) fn new(max_threads: usize) -> Self {
        Uploads {
            state: Arc::new(State {
                queue: Mutex::new(Queue::default()),
                work: Condvar::new(),
                idle: Condvar::new(),
                abandon: AtomicBool::new(false),
            }),
            max_threads: max_threads.max(1),
        }
    }

    pub(super) fn enqueue(
        &self,
        shared: &Arc<Shared>,
        key: ActionKey,
        result: ActionResult,
        store: Arc<dyn BlobStore>,
    ) {
        let mut q = lock(&self.state.queue);
        if shared.cfg.read_only || q.closed || uploads_off(shared) {
            q.report.skipped += 1;
            return;
        }
        q.jobs.push_back(Job {
            shared: Arc::clone(shared),
            key,
            result,
            store,
            direct: HashMap::new(),
        });
        if q.threads < self.max_threads && q.threads < q.jobs.len() + q.running {
            let state = Arc::clone(&self.state);
            let spawned = std::thread::Builder::new()
                .name("hbuild-remote-upload".into())
                .spawn(move || worker(&state));
            match spawned {
                Ok(_) => q.threads += 1,
                Err(e) if q.threads == 0 => {
                    q.jobs.clear();
                    q.report.failed += 1;
                    drop(q);
                    shared.warn_once("spawn", || format!("cannot start upload thread: {e}"));
                    return;
                }
                Err(_) => {}
            }
        }
        self.state.work.notify_one();
    }

    pub(super) fn finish(&self, timeout: Duration) -> UploadReport {
        let deadline = Instant::now() + timeout;
        let mut q = lock(&self.state.queue);
        q.closed = true;
        self.state.work.notify_all();
        while !(q.jobs.is_empty() && q.running == 0) {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            q = self
                .state
                .idle
                .wait_timeout(q, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        if !(q.jobs.is_empty() && q.running == 0) {
            self.state.abandon.store(true, Ordering::SeqCst);
            q.report.abandoned += (q.jobs.len() + q.running) as u64;
            q.jobs.clear();
        }
        q.report.clone()
    }
}

impl Drop for Uploads {
    fn drop(&mut self) {
        self.state.abandon.store(true, Ordering::SeqCst);
        let mut q = lock(&self.state.queue);
        q.closed = true;
        q.jobs.clear();
        self.state.work.notify_all();
    }
}

fn uploads_off(sh: &Shared) -> bool {
    sh.disabled_reason().is_some() || lock(&sh.uploads_disabled).is_some()
}

fn worker(state: &State) {
    loop {
        let job = {
            let mut q = lock(&state.queue);
            loop {
                if let Some(job) = q.jobs.pop_front() {
                    q.running += 1;
                    break job;
                }
                if q.closed {
                    q.threads -= 1;
                    return;
                }
                q = state.work.wait(q).unwrap_or_else(|e| e.into_inner());
            }
        };
        // A panic must not leave the job counted as running: `finish`
        // would wait for it until its timeout.
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            run(&job, &state.abandon)
        }))
        .unwrap_or_else(|payload| {
            let why = crate::core::panic::panic_message(payload.as_ref());
            job.shared.warn_once("panic", || {
                format!("an upload failed unexpectedly (this is a bug in cargo-hbuild, please report it): {why}")
            });
            Outcome::Failed
        });
        drop(job);
        let mut q = lock(&state.queue);
        q.running -= 1;
        if !state.abandon.load(Ordering::SeqCst) {
            match outcome {
                Outcome::Uploaded => q.report.uploaded += 1,
                Outcome::Failed => q.report.failed += 1,
                Outcome::Skipped => q.report.skipped += 1,
                Outcome::Abandoned => {}
            }
        }
        state.idle.notify_all();
    }
}

/// Uploads `result` under `key` on this thread, with the outputs of
/// `direct` taken from where it says; `Err` says why nothing or not all
/// was written (the AC entry is written last, so a failed upload leaves
/// no entry).
pub(super) fn upload_now(
    shared: &Arc<Shared>,
    key: ActionKey,
    result: ActionResult,
    store: Arc<dyn BlobStore>,
    direct: HashMap<Digest, OutputBytes>,
) -> Result<(), String> {
    let job = Job {
        shared: Arc::clone(shared),
        key,
        result,
        store,
        direct,
    };
    match run(&job, &AtomicBool::new(false)) {
        Outcome::Uploaded => Ok(()),
        Outcome::Skipped if shared.cfg.read_only => Err("the remote cache is read-only".into()),
        Outcome::Skipped => Err("uploads to the remote cache are off".into()),
        Outcome::Failed | Outcome::Abandoned => Err(format!(
            "uploading the entry {key} to the remote cache failed"
        )),
    }
}

/// Where the bytes of a CAS blob to upload come from.
enum Source {
    Store(Digest),
    Bytes(Vec<u8>),
    /// The server must have it already.
    Present,
}

fn run(job: &Job, abandon: &AtomicBool) -> Outcome {
    let sh = &*job.shared;
    if sh.cfg.read_only || uploads_off(sh) {
        return Outcome::Skipped;
    }
    let r = &job.result;
    if let Some(o) = r
        .outputs
        .iter()
        .find(|o| o.path.as_str().starts_with(RESERVED_DIR))
    {
        let p = o.path.to_string();
        sh.warn_once("reserved", || {
            format!("not uploading an action with output `{p}`: `{RESERVED_DIR}` is reserved")
        });
        return Outcome::Failed;
    }
    // Verify the local blobs and compute their SHA-256 (the remote keys).
    let mut outputs: Vec<(RelPath, BlobRef, bool)> = Vec::new();
    let mut meta_outputs = Vec::new();
    let mut blobs: BTreeMap<BlobRef, Source> = BTreeMap::new();
    for o in &r.outputs {
        let (blob, source) = match blob_of(job, o) {
            Ok(b) => b,
            Err(why) => {
                sh.warn_once("local", || {
                    format!("not uploading action {}: {why}", job.key)
                });
                return Outcome::Failed;
            }
        };
        meta_outputs.push(MetaOutput {
            path: o.path.clone(),
            blake3: o.digest,
            sha256: blob.sha256.clone(),
            size: o.size,
            executable: o.executable,
        });
        outputs.push((o.path.clone(), blob.clone(), o.executable));
        blobs.insert(blob, source);
    }
    outputs.sort_by(|a, b| a.0.cmp(&b.0));
    meta_outputs.sort_by(|a, b| a.path.cmp(&b.path));
    let meta = Metadata {
        format: METADATA_FORMAT.into(),
        version: ENTRY_FORMAT_VERSION,
        outputs: meta_outputs,
        meta: r.meta.clone(),
    };
    let meta_bytes = match serde_json::to_vec(&meta) {
        Ok(b) => b,
        Err(_) => return Outcome::Failed,
    };
    let meta_ref = BlobRef::of_bytes(&meta_bytes);
    blobs.insert(meta_ref.clone(), Source::Bytes(meta_bytes));
    let mut text = |s: &str| {
        (!s.is_empty()).then(|| {
            let b = BlobRef::of_bytes(s.as_bytes());
            blobs.insert(b.clone(), Source::Bytes(s.as_bytes().to_vec()));
            b
        })
    };
    let stdout = text(&r.stdout);
    let stderr = text(&r.stderr);

    blobs.retain(|b, _| !b.is_empty_blob());
    let wanted: Vec<BlobRef> = blobs.keys().cloned().collect();
    let (res, took) = sh.remote.missing(&wanted);
    sh.add_time(took);
    let missing: BTreeSet<BlobRef> = match res {
        Ok(m) => {
            sh.record_ok();
            m.into_iter().collect()
        }
        Err(f) => {
            sh.record_failure(&format!("asking for the blobs of {}", job.key), &f, true);
            return Outcome::Failed;
        }
    };
    for (blob, source) in blobs {
        if abandon.load(Ordering::SeqCst) {
            return Outcome::Abandoned;
        }
        if !missing.contains(&blob) {
            Shared::add(&sh.counters.blobs_skipped_existing, 1);
            continue;
        }
        if matches!(source, Source::Present) {
            sh.warn_once("evicted", || {
                format!(
                    "not uploading action {}: the server no longer has its output blob {}",
                    job.key, blob.sha256
                )
            });
            return Outcome::Failed;
        }
        if let Err(o) = upload_blob(job, &blob, source) {
            return o;
        }
    }
    if abandon.load(Ordering::SeqCst) {
        return Outcome::Abandoned;
    }
    if uploads_off(sh) {
        // Switched off while this upload ran: leave no entry behind.
        return Outcome::Skipped;
    }
    let body = proto::encode_entry(&outputs, &meta_ref, stdout.as_ref(), stderr.as_ref());
    let len = body.len() as u64;
    let (res, took) = sh.remote.put_entry(&job.key, body);
    sh.add_time(took);
    match res {
        Ok(()) => {
            sh.record_ok();
            Shared::add(&sh.counters.bytes_up, len);
            sh.remember_cas(&meta.outputs);
            Outcome::Uploaded
        }
        Err(f) => {
            sh.record_failure(&format!("PUT AC entry {}", job.key), &f, true);
            Outcome::Failed
        }
    }
}

/// Uploads one blob the server lacks.
fn upload_blob(job: &Job, blob: &BlobRef, source: Source) -> Result<(), Outcome> {
    let sh = &*job.shared;
    let fail = |what: &str, f: Failure| {
        sh.record_failure(&format!("{what} blob {}", blob.sha256), &f, true);
        Outcome::Failed
    };
    let (res, took) = match source {
        Source::Bytes(bytes) => sh.remote.write_blob(blob, WireSource::Bytes(&bytes)),
        Source::Present => return Err(Outcome::Failed),
        Source::Store(digest) => match job.store.open_blob(&digest) {
            Ok(file) => sh.remote.write_blob(blob, WireSource::File(file)),
            Err(e) => return Err(fail("open", Failure::Local(e.to_string()))),
        },
    };
    sh.add_time(took);
    match res {
        Ok(()) => {
            sh.record_ok();
            Shared::add(&sh.counters.blobs_uploaded, 1);
            Shared::add(&sh.counters.bytes_up, blob.size);
            Ok(())
        }
        Err(f) => Err(fail("PUT", f)),
    }
}

/// The CAS reference of output `o` and where its bytes come from.
fn blob_of(job: &Job, o: &crate::cache::OutputFile) -> Result<(BlobRef, Source), String> {
    match job.direct.get(&o.digest) {
        Some(OutputBytes::InCas(b)) if b.size == o.size => Ok((b.clone(), Source::Present)),
        Some(OutputBytes::InCas(b)) => Err(format!(
            "output `{}` has {} bytes, its CAS blob {}",
            o.path, o.size, b.size
        )),
        Some(OutputBytes::Bytes(v)) => Ok((BlobRef::of_bytes(v), Source::Bytes(v.clone()))),
        None => {
            let b = local_sha256(job.store.as_ref(), &o.digest, o.size)?;
            Ok((b, Source::Store(o.digest)))
        }
    }
}

/// Reads a local blob once: checks its blake3 digest and size (never upload
/// corrupt data) and returns its SHA-256 reference.
fn local_sha256(store: &dyn BlobStore, digest: &Digest, size: u64) -> Result<BlobRef, String> {
    let mut file = store.open_blob(digest).map_err(|e| e.to_string())?;
    let mut sha = sha2::Sha256::new();
    let mut b3 = blake3::Hasher::new();
    let mut n = 0u64;
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let k = file
            .read(&mut buf)
            .map_err(|e| format!("reading blob {digest}: {e}"))?;
        if k == 0 {
            break;
        }
        n += k as u64;
        sha.update(&buf[..k]);
        b3.update(&buf[..k]);
    }
    if Digest::from_bytes(*b3.finalize().as_bytes()) != *digest || n != size {
        return Err(format!(
            "local blob {digest} does not match its digest or size"
        ));
    }
    Ok(BlobRef {
        sha256: proto::hex(&sha.finalize()),
        size,
    })
}
