//! What a build of an analysis needs besides the graph, shared by a direct
//! build and the resident server's check of one: executor options, the
//! path normaliser, the file-digest memo's place, the build log record.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::Analysis;
use crate::cache::local::{BuildRecord, LocalCache};
use crate::exec::store::Store;
use crate::exec::{self, BuildSummary, ExecOptions};
use crate::fingerprint::{FileStates, PathNormalizer};
use crate::plan::BuildRequest;
use crate::report::Reporter;

/// How the executor runs, as asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunOptions {
    /// `--keep-going`.
    pub keep_going: bool,
    /// `--strict`.
    pub strict: bool,
    /// `test --no-fail-fast`: every test binary runs, whatever failed.
    #[serde(default)]
    pub no_fail_fast: bool,
    /// Whether passing test results are taken from and put in the cache
    /// (`--no-cache-test-results`, `HBUILD_CACHE_TEST_RESULTS=0` turn it
    /// off).
    #[serde(default = "yes")]
    pub cache_test_results: bool,
    /// `--remote-download`: which outputs of remote hits are downloaded.
    #[serde(default)]
    pub remote_download: crate::cache::remote::Download,
}

fn yes() -> bool {
    true
}

/// Executor options of a build of `analysis`.
pub fn exec_options(
    analysis: &Analysis,
    req: &BuildRequest,
    run: RunOptions,
    store: Arc<Store>,
    file_states: Arc<FileStates>,
    policy: exec::RunPolicy,
) -> ExecOptions {
    ExecOptions {
        jobs: req.jobs,
        keep_going: run.keep_going,
        strict: run.strict,
        no_fail_fast: run.no_fail_fast,
        cache_test_results: run.cache_test_results,
        download: run.remote_download,
        toolchain_id: analysis.toolchain_id.clone(),
        normalizer: normalizer(analysis, req),
        file_states,
        store,
        env: req.env.clone(),
        wrapper: analysis.toolchain.wrapper.clone(),
        target_dir: analysis.layout.target_dir.clone(),
        sysroot: analysis.toolchain.sysroot.clone(),
        cargo_home: req.cargo_home.clone(),
        policy,
        test_hooks: exec::job::TestHooks::from_env(&req.env),
        remote_exec: None,
    }
}

/// The path normaliser of a build of `analysis`.
pub fn normalizer(analysis: &Analysis, req: &BuildRequest) -> PathNormalizer {
    PathNormalizer::new(
        &analysis.workspace_root,
        &analysis.layout.target_dir,
        req.cargo_home.as_deref(),
        &analysis.toolchain.sysroot,
    )
}

/// Where the file-digest memo of a target dir lives.
pub fn file_states_path(target_dir: &Path) -> PathBuf {
    target_dir.join("hbuild").join("file-states.json")
}

/// Where the SHA-256 memo of the files sent to a remote-execution engine
/// lives.
pub fn remote_digests_path(target_dir: &Path) -> PathBuf {
    target_dir.join("hbuild").join("remote-digests.json")
}

/// The status line printed with `-v` when the saved analysis is reused.
pub fn print_reused(reporter: &Reporter) {
    reporter.with_human(|h| {
        h.status(
            "Reusing",
            "the saved analysis: no manifest, lock file, config, toolchain, variable or flag changed",
        )
    });
}

/// Appends a build to the local cache's log (for `cache stats`), and saves
/// the blob verifications it made for later builds.
pub fn record_build(l: &LocalCache, summary: &BuildSummary) {
    l.save_verified();
    let remote = summary.remote.as_ref();
    let _ = l.record_build(&BuildRecord {
        time_unix: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        actions_total: summary.actions_total as u64,
        executed: summary.executed as u64,
        local_hits: summary.local_hits as u64,
        remote_hits: summary.remote_hits as u64,
        uncacheable: summary.uncacheable.len() as u64,
        remote_misses: remote.map_or(0, |r| r.misses),
        remote_bytes_down: remote.map_or(0, |r| r.bytes_down),
        remote_bytes_up: remote.map_or(0, |r| r.bytes_up),
        remote_transfer_ms: remote.map_or(0, |r| r.transfer_time.as_millis() as u64),
    });
}
