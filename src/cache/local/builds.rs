//! The build log (`builds.jsonl`): one line per build, for hit-rate
//! statistics.

use serde::{Deserialize, Serialize};

use super::{fsutil, open_lock_file, LocalCache};
use crate::cache::CacheError;

/// How many builds the log keeps; older lines are ignored, and dropped
/// once the file exceeds [`TRIM_AFTER_BYTES`].
pub const BUILD_LOG_LEN: usize = 50;

/// Size past which the log is rewritten with its last [`BUILD_LOG_LEN`]
/// lines (a record is about 250 bytes).
const TRIM_AFTER_BYTES: usize = BUILD_LOG_LEN * 1024;

/// Counters of one build, appended to the log by the executor at the end of
/// a build.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildRecord {
    /// When the build finished (Unix seconds).
    pub time_unix: u64,
    /// Actions in the build graph.
    pub actions_total: u64,
    /// Actions that ran (cache misses, corrupt entries, uncacheable ones).
    pub executed: u64,
    /// Actions served from the local cache.
    pub local_hits: u64,
    /// Actions served from the remote cache.
    pub remote_hits: u64,
    /// Actions that may not be cached at all (and therefore always run).
    pub uncacheable: u64,
    /// Remote-cache lookups that missed.
    #[serde(default)]
    pub remote_misses: u64,
    /// Bytes downloaded from the remote cache.
    #[serde(default)]
    pub remote_bytes_down: u64,
    /// Bytes uploaded to the remote cache.
    #[serde(default)]
    pub remote_bytes_up: u64,
    /// Time spent in remote transfers, in milliseconds.
    #[serde(default)]
    pub remote_transfer_ms: u64,
}

impl LocalCache {
    /// Appends `rec` to the build log, keeping only the last
    /// [`BUILD_LOG_LEN`] records. Safe against concurrent writers (they are
    /// serialised by a lock on `builds.lock`, which is independent of the
    /// build lock so it can be called while holding one).
    pub fn record_build(&self, rec: &BuildRecord) -> Result<(), CacheError> {
        use std::io::Write;
        let lock_path = self.bucket.join("builds.lock");
        let lock = open_lock_file(&lock_path)?;
        lock.lock().map_err(|e| CacheError::io(&lock_path, e))?;
        let path = self.log_path();
        let line = log_line(&path, rec)?;
        // Appending is one write; the log is trimmed only once it has grown
        // well past its length, so a no-op does not rewrite it.
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| CacheError::io(&path, e))?;
        f.write_all(&line).map_err(|e| CacheError::io(&path, e))?;
        let len = f.metadata().map_err(|e| CacheError::io(&path, e))?.len();
        if len as usize > TRIM_AFTER_BYTES {
            let mut out = Vec::new();
            for r in &self.read_build_log()? {
                out.extend(log_line(&path, r)?);
            }
            fsutil::write_atomic(&self.tmp_dir(), &path, &out, fsutil::MODE_META)?;
        }
        Ok(())
    }

    /// The logged builds, oldest first. Lines that do not parse (a log from
    /// a newer version, manual edits) are skipped: statistics are not worth
    /// failing a build over.
    pub(super) fn read_build_log(&self) -> Result<Vec<BuildRecord>, CacheError> {
        let path = self.log_path();
        let text = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(CacheError::io(&path, e)),
        };
        let recs: Vec<BuildRecord> = text
            .split(|&b| b == b'\n')
            .filter_map(|line| serde_json::from_slice(line).ok())
            .collect();
        let skip = recs.len().saturating_sub(BUILD_LOG_LEN);
        Ok(recs.into_iter().skip(skip).collect())
    }

    /// `<bucket>/builds.jsonl`.
    pub(super) fn log_path(&self) -> std::path::PathBuf {
        self.bucket.join("builds.jsonl")
    }
}

/// One line of the log at `path`: the record as JSON and a newline.
fn log_line(path: &std::path::Path, rec: &BuildRecord) -> Result<Vec<u8>, CacheError> {
    let mut line = serde_json::to_vec(rec).map_err(|e| {
        CacheError::io(
            path,
            std::io::Error::new(std::io::ErrorKind::InvalidData, e),
        )
    })?;
    line.push(b'\n');
    Ok(line)
}
