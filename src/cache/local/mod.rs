//! On-disk local cache: a content-addressed store of blobs (CAS) and an
//! action cache (AC) mapping [`ActionKey`]s to [`ActionResult`]s.
//!
//! # Layout
//!
//! ```text
//! <root>/CACHEDIR.TAG           marks the tree as a cache for backup tools
//! <root>/v1/                    one bucket per layout version
//!     cas/<2 hex>/<64 hex>      blob, mode 0444
//!     cas/<2 hex>/<64 hex>.x    executable variant of the same blob, 0555
//!     ac/<2 hex>/<64 hex>.json  action entry (see [`ENTRY_FORMAT_VERSION`])
//!     tmp/                      temporary files, renamed into place
//!     builds.jsonl              the last [`BUILD_LOG_LEN`] [`BuildRecord`]s
//!     builds.lock               serialises rewrites of builds.jsonl
//!     gc.lock                   shared by builds, exclusive for gc
//!     size.json                 size estimate for [`LocalCache::maybe_auto_gc`]
//! ```
//!
//! # Trust
//!
//! Nothing read from disk is trusted: an entry that does not parse, names
//! another key or format, or references a missing or mis-sized blob is
//! deleted and reported as [`Lookup::Corrupt`]; a blob is re-hashed before
//! it is placed in a target directory (unless this process already verified
//! the very same inode, size and mtime) and deleted if it does not match.
//!
//! # Concurrency
//!
//! Every write goes to a temporary file in `tmp/` and is renamed into place,
//! so readers in other processes or threads never see partial files. A build
//! holds [`LocalCache::lock_shared`] for its whole run; [`LocalCache::gc`]
//! takes the same lock exclusively, so it never deletes a blob that a running
//! build has just inserted but not yet referenced from an entry.

mod blobs;
mod builds;
mod fsutil;
mod gc;
mod size;
mod verified;

use std::collections::BTreeSet;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use super::{ActionResult, BlobStore, CacheError, Lookup, ENTRY_FORMAT_VERSION};
use crate::core::{ActionKey, Digest};

pub use builds::{BuildRecord, BUILD_LOG_LEN};
pub use gc::{CacheStats, GcReport};
pub use size::{parse_size, DEFAULT_MAX_SIZE};

/// Name of the layout-version bucket below the cache root. A layout change
/// gets a new bucket so that old and new hbuild versions never misread each
/// other's files.
const BUCKET: &str = "v1";

/// Content of `CACHEDIR.TAG` (<https://bford.info/cachedir/>): backup and
/// archiving tools skip directories carrying it.
const CACHEDIR_TAG: &str = "Signature: 8a477f597d28d172789f06886806bc55\n\
# This file is a cache directory tag created by cargo-hbuild.\n\
# For information about cache directory tags see https://bford.info/cachedir/\n";

/// The on-disk action cache entry: the result plus what it was stored for,
/// so that an entry copied or renamed to another key, or written by another
/// format version, is detected instead of misread.
#[derive(Serialize, Deserialize)]
struct StoredEntry {
    /// [`ENTRY_FORMAT_VERSION`] of the writer.
    format: u32,
    /// The key the entry was stored under.
    key: ActionKey,
    /// The cached result.
    result: ActionResult,
}

/// Borrowing twin of [`StoredEntry`] for serialisation without a clone.
#[derive(Serialize)]
struct StoredEntryRef<'a> {
    format: u32,
    key: &'a ActionKey,
    result: &'a ActionResult,
}

/// Just the format field, parsed first so that an entry of another format
/// version is reported as such rather than as a parse error.
#[derive(Deserialize)]
struct EntryHeader {
    format: u32,
}

/// The local on-disk cache. Cheap to share: every method takes `&self`, and
/// the type is `Send + Sync`, so one instance can serve all executor threads.
pub struct LocalCache {
    /// The root passed to [`LocalCache::open`].
    root: PathBuf,
    /// `<root>/v1`.
    bucket: PathBuf,
    /// Blob files known to hash to their digest, by stamp: lets repeated
    /// materialisations of a blob, in this process or a later one, skip
    /// the re-hash.
    verified: verified::VerifiedMemo,
    /// Number of [`CacheLockGuard`]s of this instance alive right now, so
    /// that [`LocalCache::gc`] can refuse to deadlock on its own build lock.
    shared_guards: Arc<AtomicUsize>,
    /// Bytes this process added (new blobs and entries) since the size
    /// estimate was last updated; see [`LocalCache::maybe_auto_gc`].
    added_bytes: AtomicU64,
}

/// Proof that the current build holds the cache's shared lock; dropping it
/// releases the lock. See [`LocalCache::lock_shared`].
#[derive(Debug)]
pub struct CacheLockGuard {
    /// The open lock file; closing it releases the `flock`.
    _file: File,
    /// Counter of live guards of the owning [`LocalCache`].
    count: Arc<AtomicUsize>,
}

impl std::fmt::Debug for LocalCache {
    // Not derived: the verification memo can hold a million entries.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalCache")
            .field("root", &self.root)
            .finish_non_exhaustive()
    }
}

impl Drop for CacheLockGuard {
    fn drop(&mut self) {
        self.count.fetch_sub(1, Ordering::SeqCst);
    }
}

impl LocalCache {
    /// The default cache root: `<user cache dir>/hbuild` (for example
    /// `~/.cache/hbuild` on Linux), or `None` if the platform has no cache
    /// directory. `HBUILD_CACHE_DIR` / `--cache-dir` are the CLI's business.
    pub fn default_root() -> Option<PathBuf> {
        dirs::cache_dir().map(|d| d.join("hbuild"))
    }

    /// Opens (creating if needed) the cache rooted at `root`.
    pub fn open(root: &Path) -> Result<LocalCache, CacheError> {
        let bucket = root.join(BUCKET);
        for dir in [bucket.join("cas"), bucket.join("ac"), bucket.join("tmp")] {
            std::fs::create_dir_all(&dir).map_err(|e| CacheError::io(&dir, e))?;
        }
        let cache = LocalCache {
            root: root.to_path_buf(),
            verified: verified::VerifiedMemo::new(bucket.join("verified")),
            bucket,
            shared_guards: Arc::new(AtomicUsize::new(0)),
            added_bytes: AtomicU64::new(0),
        };
        let tag = root.join("CACHEDIR.TAG");
        if !tag.exists() {
            // Atomic so that a concurrent `open` never sees a half tag.
            fsutil::write_atomic(
                &cache.tmp_dir(),
                &tag,
                CACHEDIR_TAG.as_bytes(),
                fsutil::MODE_META,
            )?;
        }
        Ok(cache)
    }

    /// The root this cache was opened with.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Takes the cache's shared build lock, blocking while a gc runs. The
    /// executor calls this once per build and keeps the guard until the
    /// build's last `put`, so that a concurrent gc cannot delete blobs the
    /// build inserted but has not referenced yet.
    ///
    /// Do not call [`LocalCache::gc`] while holding the guard (it would wait
    /// for itself; it returns an error instead), and call
    /// [`LocalCache::maybe_auto_gc`] after dropping it (it skips otherwise).
    pub fn lock_shared(&self) -> Result<CacheLockGuard, CacheError> {
        let path = self.lock_path();
        let file = open_lock_file(&path)?;
        file.lock_shared().map_err(|e| CacheError::io(&path, e))?;
        self.shared_guards.fetch_add(1, Ordering::SeqCst);
        Ok(CacheLockGuard {
            _file: file,
            count: Arc::clone(&self.shared_guards),
        })
    }

    /// Looks up the entry of `key`. A hit has been checked for format, key
    /// and presence and size of every referenced blob (blob *content* is
    /// verified later, by [`LocalCache::materialize`]). An unusable entry is
    /// deleted and reported as [`Lookup::Corrupt`]. A hit refreshes the
    /// entry's mtime, which is what gc's LRU order uses.
    pub fn get(&self, key: &ActionKey) -> Result<Lookup<ActionResult>, CacheError> {
        let path = self.entry_path(key);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Lookup::Miss),
            Err(e) => return Err(CacheError::io(&path, e)),
        };
        match self.check_entry(key, &bytes) {
            Ok(result) => {
                // Best effort: a read-only shared cache still serves hits,
                // it just cannot track recency.
                let _ = File::options()
                    .write(true)
                    .open(&path)
                    .and_then(|f| f.set_modified(SystemTime::now()));
                Ok(Lookup::Hit(result))
            }
            Err(why) => {
                let why = format!("entry `{}`: {why}", path.display());
                // Never trust it again, even if deleting fails.
                Ok(Lookup::Corrupt(match fsutil::remove_quietly(&path) {
                    Ok(()) => why,
                    Err(e) => format!("{why} (and removing it failed: {e})"),
                }))
            }
        }
    }

    /// Parses and validates an entry; the error says why it is unusable.
    fn check_entry(&self, key: &ActionKey, bytes: &[u8]) -> Result<ActionResult, String> {
        let header: EntryHeader =
            serde_json::from_slice(bytes).map_err(|e| format!("does not parse: {e}"))?;
        if header.format != ENTRY_FORMAT_VERSION {
            return Err(format!(
                "has format version {}, expected {ENTRY_FORMAT_VERSION}",
                header.format
            ));
        }
        let entry: StoredEntry =
            serde_json::from_slice(bytes).map_err(|e| format!("does not parse: {e}"))?;
        if entry.key != *key {
            return Err(format!("was stored for key {}", entry.key));
        }
        check_unique_paths(&entry.result).map_err(|p| format!("lists output `{p}` twice"))?;
        for out in &entry.result.outputs {
            let blob = self.any_variant(&out.digest);
            match std::fs::metadata(&blob) {
                Ok(meta) if meta.len() == out.size => {}
                Ok(meta) => {
                    return Err(format!(
                        "output `{}` has size {} but blob {} has {}",
                        out.path,
                        out.size,
                        out.digest,
                        meta.len()
                    ))
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    return Err(format!(
                        "output `{}` references missing blob {}",
                        out.path, out.digest
                    ))
                }
                Err(e) => return Err(format!("cannot stat blob `{}`: {e}", blob.display())),
            }
        }
        Ok(entry.result)
    }

    /// Stores `result` under `key`, atomically replacing any previous entry.
    /// Every output's blob must already be in the CAS with the stated size
    /// (insert them first with [`LocalCache::insert_file`]); otherwise the
    /// entry is not written and [`CacheError::MissingBlob`] or
    /// [`CacheError::Corrupt`] is returned. Output paths must be unique.
    pub fn put(&self, key: &ActionKey, result: &ActionResult) -> Result<(), CacheError> {
        check_unique_paths(result).map_err(|p| {
            CacheError::Config(format!(
                "refusing to cache action {key}: output `{p}` is listed twice"
            ))
        })?;
        for out in &result.outputs {
            let blob = self.any_variant(&out.digest);
            match std::fs::metadata(&blob) {
                Ok(meta) if meta.len() == out.size => {}
                Ok(meta) => {
                    return Err(CacheError::Corrupt {
                        digest: out.digest,
                        why: format!(
                            "output `{}` of action {key} says {} bytes but `{}` has {}",
                            out.path,
                            out.size,
                            blob.display(),
                            meta.len()
                        ),
                    })
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    return Err(CacheError::MissingBlob(out.digest))
                }
                Err(e) => return Err(CacheError::io(&blob, e)),
            }
        }
        let entry = StoredEntryRef {
            format: ENTRY_FORMAT_VERSION,
            key,
            result,
        };
        let path = self.entry_path(key);
        let bytes = serde_json::to_vec(&entry)
            .map_err(|e| CacheError::io(&path, io::Error::new(io::ErrorKind::InvalidData, e)))?;
        fsutil::write_atomic(&self.tmp_dir(), &path, &bytes, fsutil::MODE_META)?;
        self.added_bytes
            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
        Ok(())
    }

    /// `<bucket>/ac/<2 hex>/<64 hex>.json`.
    fn entry_path(&self, key: &ActionKey) -> PathBuf {
        let hex = key.0.to_hex();
        let mut p = self.bucket.join("ac");
        p.push(&hex[..2]);
        p.push(format!("{hex}.json"));
        p
    }

    /// `<bucket>/cas/<2 hex>/<64 hex>` or, for the executable variant,
    /// `<64 hex>.x`.
    fn blob_path(&self, digest: &Digest, executable: bool) -> PathBuf {
        let hex = digest.to_hex();
        let mut p = self.bucket.join("cas");
        p.push(&hex[..2]);
        p.push(if executable { format!("{hex}.x") } else { hex });
        p
    }

    /// The file holding `digest`: the plain blob, or else its executable
    /// variant (a blob adopted from an executable output has only that).
    fn any_variant(&self, digest: &Digest) -> PathBuf {
        let plain = self.blob_path(digest, false);
        if plain.exists() {
            plain
        } else {
            self.blob_path(digest, true)
        }
    }

    /// `<bucket>/tmp`: temporary files, on the same filesystem as the store.
    fn tmp_dir(&self) -> PathBuf {
        self.bucket.join("tmp")
    }

    /// `<bucket>/gc.lock`.
    fn lock_path(&self) -> PathBuf {
        self.bucket.join("gc.lock")
    }

    /// Saves the verifications of this process for later ones (best
    /// effort). Called after each build.
    pub fn save_verified(&self) {
        self.verified.save(&self.tmp_dir());
    }

    /// Forgets a verification (the file is being deleted or replaced).
    fn forget_verified(&self, digest: Digest, executable: bool) {
        self.verified.forget(digest, executable);
    }
}

/// Opens (creating) a lock file for `flock`-style locking.
fn open_lock_file(path: &Path) -> Result<File, CacheError> {
    File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| CacheError::io(path, e))
}

/// `Err(path)` with the first output path listed twice. Two outputs with one
/// path would make materialisation order-dependent.
fn check_unique_paths(result: &ActionResult) -> Result<(), String> {
    let mut seen = BTreeSet::new();
    for out in &result.outputs {
        if !seen.insert(out.path.as_str()) {
            return Err(out.path.to_string());
        }
    }
    Ok(())
}

impl BlobStore for LocalCache {
    fn open_blob(&self, digest: &Digest) -> Result<File, CacheError> {
        let path = self.any_variant(digest);
        File::open(&path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => CacheError::MissingBlob(*digest),
            _ => CacheError::io(&path, e),
        })
    }

    fn adopt_file(&self, file: &Path) -> Result<(Digest, u64), CacheError> {
        self.adopt(file)
    }

    fn scratch_dir(&self) -> PathBuf {
        self.tmp_dir()
    }
}

#[cfg(test)]
mod tests;
