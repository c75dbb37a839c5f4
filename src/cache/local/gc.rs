//! Garbage collection (LRU eviction of action entries, then deletion of
//! unreferenced blobs), the cheap automatic trigger, and statistics.

use std::collections::{HashMap, HashSet};
use std::fs::TryLockError;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::builds::BuildRecord;
use super::{fsutil, open_lock_file, EntryHeader, LocalCache, StoredEntry};
use crate::cache::{CacheError, ENTRY_FORMAT_VERSION};
use crate::core::{ActionKey, Digest};

/// A blob or stray file younger than this is never deleted as unreferenced:
/// a writer that does not hold the build lock may have inserted it and not
/// yet written the entry that references it.
const GRACE: Duration = Duration::from_secs(10 * 60);

/// Temporary files older than this are left over from crashed processes.
const TMP_MAX_AGE: Duration = Duration::from_secs(60 * 60);

/// How long [`LocalCache::maybe_auto_gc`] trusts the stored size estimate
/// before measuring the cache again (the estimate misses what other
/// processes added).
const ESTIMATE_MAX_AGE_SECS: u64 = 60 * 60;

/// What a gc run did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct GcReport {
    /// Action entries deleted (evicted, or unreadable).
    pub entries_removed: u64,
    /// Distinct blobs deleted (a blob's executable variant is part of it).
    pub blobs_removed: u64,
    /// Size of entries and blobs before the run, in bytes.
    pub bytes_before: u64,
    /// Size of entries and blobs after the run, in bytes.
    pub bytes_after: u64,
}

/// A summary of the cache's content and recent effectiveness.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CacheStats {
    /// Number of action entries.
    pub entries: u64,
    /// Number of distinct blobs.
    pub blobs: u64,
    /// Total size of entries and blobs (both variants), in bytes.
    pub total_bytes: u64,
    /// The recorded builds, oldest first (at most
    /// [`super::BUILD_LOG_LEN`]).
    pub recent_builds: Vec<BuildRecord>,
    /// Fraction of cacheable actions of [`CacheStats::recent_builds`] that
    /// were served from a cache (local or remote), or `None` if they had no
    /// cacheable action.
    pub hit_rate: Option<f64>,
}

/// The size estimate kept in `size.json` between builds.
#[derive(Debug, Serialize, Deserialize)]
struct SizeEstimate {
    /// Estimated bytes of entries and blobs.
    bytes: u64,
    /// When the cache was last actually measured (Unix seconds).
    measured_unix: u64,
}

/// One action entry seen by a gc scan.
struct EntryInfo {
    path: PathBuf,
    len: u64,
    mtime: SystemTime,
    /// Distinct digests of its outputs.
    digests: Vec<Digest>,
}

/// The files of one blob (plain and/or executable variant).
#[derive(Default)]
struct BlobInfo {
    files: Vec<(PathBuf, u64)>,
    /// The newest mtime of its files.
    newest: Option<SystemTime>,
}

impl BlobInfo {
    fn bytes(&self) -> u64 {
        self.files.iter().map(|(_, len)| len).sum()
    }
}

/// Everything a gc scan found.
#[derive(Default)]
struct Scan {
    entries: Vec<EntryInfo>,
    /// Entries that do not parse or belong to another key or format.
    bad_entries: Vec<(PathBuf, u64)>,
    blobs: HashMap<Digest, BlobInfo>,
    /// Files in `ac/` or `cas/` that hbuild does not name that way.
    strays: Vec<(PathBuf, u64, SystemTime)>,
}

/// Whether a file with this mtime is older than `age` at `now`. Files with
/// unknown or future mtimes count as young, which errs on keeping them.
fn older_than(mtime: Option<SystemTime>, now: SystemTime, age: Duration) -> bool {
    mtime
        .and_then(|m| now.duration_since(m).ok())
        .is_some_and(|d| d >= age)
}

impl LocalCache {
    /// Evicts least-recently-used action entries until entries and blobs
    /// take at most `max_size` bytes, and deletes blobs no entry references
    /// any more (and leftovers of crashed processes). Blocks while builds
    /// hold the shared lock; fails if this very instance holds one.
    pub fn gc(&self, max_size: u64) -> Result<GcReport, CacheError> {
        if self.shared_guards.load(Ordering::SeqCst) > 0 {
            return Err(CacheError::Config(format!(
                "cannot gc the cache at `{}` while this process holds its build lock",
                self.root.display()
            )));
        }
        let path = self.lock_path();
        let lock = open_lock_file(&path)?;
        lock.lock().map_err(|e| CacheError::io(&path, e))?;
        self.gc_locked(max_size, max_size)
    }

    /// Runs a gc if the cache probably exceeds `limit`, shrinking it to 90%
    /// of `limit` so that the next builds do not immediately trigger another
    /// one. Cheap in the common case: it reads a small size estimate
    /// (updated with what this process added) and only measures the cache
    /// when the estimate exceeds `limit` or is over an hour old.
    ///
    /// Returns `None` without doing anything if a build holds the lock (call
    /// it after dropping this process's [`super::CacheLockGuard`]).
    pub fn maybe_auto_gc(&self, limit: u64) -> Result<Option<GcReport>, CacheError> {
        if self.shared_guards.load(Ordering::SeqCst) > 0 {
            return Ok(None);
        }
        let path = self.lock_path();
        let lock = open_lock_file(&path)?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => return Ok(None),
            Err(TryLockError::Error(e)) => return Err(CacheError::io(&path, e)),
        }
        let added = self.added_bytes.swap(0, Ordering::Relaxed);
        let now = fsutil::unix_now();
        if let Some(est) = self.read_estimate() {
            let fresh = est.measured_unix <= now && now - est.measured_unix < ESTIMATE_MAX_AGE_SECS;
            let bytes = est.bytes.saturating_add(added);
            if fresh && bytes <= limit {
                if added > 0 {
                    self.write_estimate(bytes, est.measured_unix)?;
                }
                return Ok(None);
            }
        }
        let measured = self.census()?.total_bytes;
        if measured <= limit {
            self.write_estimate(measured, now)?;
            return Ok(None);
        }
        self.gc_locked(limit, limit / 10 * 9).map(Some)
    }

    /// Counts entries and blobs, their total size, and summarises the build
    /// log.
    pub fn stats(&self) -> Result<CacheStats, CacheError> {
        let mut stats = self.census()?;
        stats.recent_builds = self.read_build_log()?;
        let (mut hits, mut cacheable) = (0u64, 0u64);
        for b in &stats.recent_builds {
            hits = hits.saturating_add(b.local_hits.saturating_add(b.remote_hits));
            cacheable = cacheable.saturating_add(b.actions_total.saturating_sub(b.uncacheable));
        }
        stats.hit_rate = (cacheable > 0).then(|| hits as f64 / cacheable as f64);
        Ok(stats)
    }

    /// Metadata-only walk: entry and blob counts and total bytes.
    fn census(&self) -> Result<CacheStats, CacheError> {
        let mut stats = CacheStats {
            entries: 0,
            blobs: 0,
            total_bytes: 0,
            recent_builds: Vec::new(),
            hit_rate: None,
        };
        for (path, meta) in shard_files(&self.bucket.join("ac"))? {
            stats.total_bytes += meta.len();
            if entry_key_of(&path).is_some() {
                stats.entries += 1;
            }
        }
        let mut digests = HashSet::new();
        for (path, meta) in shard_files(&self.bucket.join("cas"))? {
            stats.total_bytes += meta.len();
            if let Some((d, _)) = blob_name_of(&path) {
                digests.insert(d);
            }
        }
        stats.blobs = digests.len() as u64;
        Ok(stats)
    }

    /// The gc proper; the caller holds the exclusive lock. Evicts only if
    /// the size exceeds `limit`, and then down to `target`.
    fn gc_locked(&self, limit: u64, target: u64) -> Result<GcReport, CacheError> {
        let now = SystemTime::now();
        self.clean_tmp(now)?;
        let scan = self.scan()?;
        let mut report = GcReport::default();
        let mut total: u64 = scan.entries.iter().map(|e| e.len).sum::<u64>()
            + scan.bad_entries.iter().map(|(_, len)| len).sum::<u64>()
            + scan.blobs.values().map(BlobInfo::bytes).sum::<u64>()
            + scan.strays.iter().map(|(_, len, _)| len).sum::<u64>();
        report.bytes_before = total;

        for (path, len) in &scan.bad_entries {
            remove(path)?;
            report.entries_removed += 1;
            total = total.saturating_sub(*len);
        }
        for (path, len, mtime) in &scan.strays {
            if older_than(Some(*mtime), now, GRACE) {
                remove(path)?;
                total = total.saturating_sub(*len);
            }
        }

        let mut refs: HashMap<Digest, usize> = HashMap::new();
        for e in &scan.entries {
            for d in &e.digests {
                *refs.entry(*d).or_default() += 1;
            }
        }
        let mut blobs = scan.blobs;
        let orphans: Vec<Digest> = blobs
            .iter()
            .filter(|(d, b)| !refs.contains_key(d) && older_than(b.newest, now, GRACE))
            .map(|(d, _)| *d)
            .collect();
        for d in orphans {
            if let Some(b) = blobs.remove(&d) {
                total = total.saturating_sub(self.remove_blob(&d, &b)?);
                report.blobs_removed += 1;
            }
        }

        if total > limit {
            let mut entries = scan.entries;
            entries.sort_by(|a, b| a.mtime.cmp(&b.mtime).then_with(|| a.path.cmp(&b.path)));
            for e in entries {
                if total <= target {
                    break;
                }
                remove(&e.path)?;
                report.entries_removed += 1;
                total = total.saturating_sub(e.len);
                for d in &e.digests {
                    let Some(count) = refs.get_mut(d) else {
                        continue;
                    };
                    *count = count.saturating_sub(1);
                    if *count == 0 {
                        if let Some(b) = blobs.remove(d) {
                            total = total.saturating_sub(self.remove_blob(d, &b)?);
                            report.blobs_removed += 1;
                        }
                    }
                }
            }
        }
        report.bytes_after = total;
        if report.blobs_removed > 0 {
            self.verified.clear();
        }
        self.added_bytes.store(0, Ordering::Relaxed);
        self.write_estimate(total, fsutil::unix_now())?;
        Ok(report)
    }

    /// Deletes every file of a blob; returns the bytes freed.
    fn remove_blob(&self, digest: &Digest, blob: &BlobInfo) -> Result<u64, CacheError> {
        for (path, _) in &blob.files {
            self.forget_verified(*digest, path.extension().is_some());
            remove(path)?;
        }
        Ok(blob.bytes())
    }

    /// Deletes temporary files left behind by crashed processes.
    fn clean_tmp(&self, now: SystemTime) -> Result<(), CacheError> {
        for (path, meta) in fsutil::list_dir(&self.tmp_dir())? {
            if meta.is_file() && older_than(meta.modified().ok(), now, TMP_MAX_AGE) {
                remove(&path)?;
            }
        }
        Ok(())
    }

    /// Reads every entry (for the digests it references) and lists every
    /// blob.
    fn scan(&self) -> Result<Scan, CacheError> {
        let mut scan = Scan::default();
        for (path, meta) in shard_files(&self.bucket.join("ac"))? {
            let mtime = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
            let Some(key) = entry_key_of(&path) else {
                scan.strays.push((path, meta.len(), mtime));
                continue;
            };
            let bytes = match std::fs::read(&path) {
                Ok(b) => b,
                // Replaced or removed concurrently: nothing to account for.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(CacheError::io(&path, e)),
            };
            match entry_digests(&key, &bytes) {
                Some(digests) => scan.entries.push(EntryInfo {
                    path,
                    len: meta.len(),
                    mtime,
                    digests,
                }),
                None => scan.bad_entries.push((path, meta.len())),
            }
        }
        for (path, meta) in shard_files(&self.bucket.join("cas"))? {
            let mtime = meta.modified().ok();
            let Some((digest, _)) = blob_name_of(&path) else {
                scan.strays
                    .push((path, meta.len(), mtime.unwrap_or(SystemTime::UNIX_EPOCH)));
                continue;
            };
            let b = scan.blobs.entry(digest).or_default();
            b.files.push((path, meta.len()));
            b.newest = match (b.newest, mtime) {
                (Some(a), Some(m)) => Some(a.max(m)),
                (a, m) => a.or(m),
            };
        }
        Ok(scan)
    }

    /// `<bucket>/size.json`.
    fn estimate_path(&self) -> PathBuf {
        self.bucket.join("size.json")
    }

    /// The stored size estimate; a missing or unreadable one is `None`
    /// (which makes the caller measure).
    fn read_estimate(&self) -> Option<SizeEstimate> {
        let bytes = std::fs::read(self.estimate_path()).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    fn write_estimate(&self, bytes: u64, measured_unix: u64) -> Result<(), CacheError> {
        let est = SizeEstimate {
            bytes,
            measured_unix,
        };
        let path = self.estimate_path();
        let json = serde_json::to_vec(&est).map_err(|e| {
            CacheError::io(
                &path,
                std::io::Error::new(std::io::ErrorKind::InvalidData, e),
            )
        })?;
        fsutil::write_atomic(&self.tmp_dir(), &path, &json, fsutil::MODE_META)
    }
}

/// Removes a file; already gone is fine.
fn remove(path: &Path) -> Result<(), CacheError> {
    fsutil::remove_quietly(path).map_err(|e| CacheError::io(path, e))
}

/// Every regular file one level below the shard directories of `dir`
/// (`dir/<shard>/<file>`). Anything else at the shard level is ignored.
fn shard_files(dir: &Path) -> Result<Vec<(PathBuf, std::fs::Metadata)>, CacheError> {
    let mut out = Vec::new();
    for (shard, meta) in fsutil::list_dir(dir)? {
        if !meta.is_dir() {
            continue;
        }
        for (path, meta) in fsutil::list_dir(&shard)? {
            if meta.is_file() {
                out.push((path, meta));
            }
        }
    }
    Ok(out)
}

/// The key an entry file is named after (`<64 hex>.json`).
fn entry_key_of(path: &Path) -> Option<ActionKey> {
    let name = path.file_name()?.to_str()?;
    let hex = name.strip_suffix(".json")?;
    hex.parse().ok().map(ActionKey)
}

/// The digest and variant a blob file is named after (`<64 hex>` or
/// `<64 hex>.x`).
fn blob_name_of(path: &Path) -> Option<(Digest, bool)> {
    let name = path.file_name()?.to_str()?;
    match name.strip_suffix(".x") {
        Some(hex) => hex.parse().ok().map(|d| (d, true)),
        None => name.parse().ok().map(|d| (d, false)),
    }
}

/// The distinct digests an entry references, or `None` if the entry is
/// unusable (does not parse, other format or key).
fn entry_digests(key: &ActionKey, bytes: &[u8]) -> Option<Vec<Digest>> {
    let header: EntryHeader = serde_json::from_slice(bytes).ok()?;
    if header.format != ENTRY_FORMAT_VERSION {
        return None;
    }
    let entry: StoredEntry = serde_json::from_slice(bytes).ok()?;
    if entry.key != *key {
        return None;
    }
    let mut digests: Vec<Digest> = entry.result.outputs.iter().map(|o| o.digest).collect();
    digests.sort();
    digests.dedup();
    Some(digests)
}

#[cfg(test)]
mod tests;
