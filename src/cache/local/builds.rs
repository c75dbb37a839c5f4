//! The build log (`builds.jsonl`): one line per build, for hit-rate
//! statistics.

use serde::{Deserialize, Serialize};

use super::{fsutil, open_lock_file, LocalCache};
use crate::cache::CacheError;

/// How many builds the log keeps; older lines are dropped on each write.
pub const BUILD_LOG_LEN: usize = 50;

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
        let lock_path = self.bucket.join("builds.lock");
        let lock = open_lock_file(&lock_path)?;
        lock.lock().map_err(|e| CacheError::io(&lock_path, e))?;
        let mut recs = self.read_build_log()?;
        recs.push(rec.clone());
        let skip = recs.len().saturating_sub(BUILD_LOG_LEN);
        let mut out = Vec::new();
        for r in recs.iter().skip(skip) {
            let line = serde_json::to_vec(r).map_err(|e| {
                CacheError::io(
                    self.log_path(),
                    std::io::Error::new(std::io::ErrorKind::InvalidData, e),
                )
            })?;
            out.extend_from_slice(&line);
            out.push(b'\n');
        }
        fsutil::write_atomic(&self.tmp_dir(), &self.log_path(), &out, fsutil::MODE_META)
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
        Ok(text
            .split(|&b| b == b'\n')
            .filter_map(|line| serde_json::from_slice(line).ok())
            .collect())
    }

    /// `<bucket>/builds.jsonl`.
    pub(super) fn log_path(&self) -> std::path::PathBuf {
        self.bucket.join("builds.jsonl")
    }
}
