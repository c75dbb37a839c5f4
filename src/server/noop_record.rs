//! The no-op record: the server's verification kept on disk, so that an
//! invocation without a server can answer a no-op with one `stat` per path.
//!
//! A direct build that loads its saved analysis stamps ([`FileStamp`])
//! every path its result depends on ([`verify::dependencies`]) before it
//! runs. When the run turns out a no-op (every action fresh), the paths are
//! stamped again; if none moved, and none had changed within a timestamp
//! granule before the first stamping (git's racily clean entries), the
//! record is written: the stamps, the variables the result depends on, and
//! what the run printed. The next identical invocation whose environment
//! matches and whose paths all carry the same stamps prints that output
//! and a fresh `Finished` line without loading the analysis, the stamps
//! or the executor. On any doubt (another binary, a moved path, a changed
//! variable, a busy target dir, an unreadable record) it builds directly.
//!
//! Only invocations the server may answer are recorded (no remote cache,
//! explain or timing report), and only when their closing lines need
//! nothing of the graph: no test binaries, documentation or program to run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::verify;
use crate::analysis::{persist, Analysis};
use crate::core::file_stat::now_ns;
use crate::core::{secret, Digest, FileStamp};
use crate::exec::events::{BuildEvent, EventSink};
use crate::exec::{BuildSummary, Reasons};
use crate::fingerprint::PathNormalizer;
use crate::plan::ActionGraph;
use crate::report::Reporter;
use crate::settings::{ServerUse, Settings};

/// Format of the record; another format is ignored.
const FORMAT: u32 = 1;

/// Paths stamped on one thread; more are split across threads.
const PATHS_PER_THREAD: usize = 4096;

/// What a verified no-op depends on and printed.
#[derive(Serialize, Deserialize)]
struct Record {
    format: u32,
    /// The binary that wrote it ([`super::exe_identity`]).
    exe: String,
    /// [`Settings::invocation_key`] and the output settings.
    key: Digest,
    report: Digest,
    /// Variables the result depends on (secrets as digests; None: unset).
    env: BTreeMap<String, Option<String>>,
    /// Every path the result depends on, with its stamp (None: absent).
    paths: Vec<PathBuf>,
    stamps: Vec<Option<FileStamp>>,
    /// The run's output before its closing lines.
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    /// The counts of the closing lines.
    actions_total: usize,
    profile: String,
    uncacheable: Vec<(String, String)>,
}

fn record_path(settings: &Settings, key: &Digest) -> PathBuf {
    settings
        .request
        .target_dir
        .path
        .join("hbuild")
        .join("noop")
        .join(format!("{}.bin", key.short(32)))
}

fn report_key(settings: &Settings) -> Digest {
    let mut cfg = settings.report.clone();
    cfg.progress = false;
    Digest::of_bytes(&serde_json::to_vec(&cfg).unwrap_or_default())
}

/// The stamps of `paths`, on a few threads when there are many.
fn stamps(paths: &[PathBuf]) -> Vec<Option<FileStamp>> {
    if paths.len() <= PATHS_PER_THREAD {
        return paths.iter().map(|p| FileStamp::of(p)).collect();
    }
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get().min(4));
    let chunk = paths.len().div_ceil(threads);
    std::thread::scope(|s| {
        let parts: Vec<_> = paths
            .chunks(chunk)
            .map(|c| s.spawn(move || c.iter().map(|p| FileStamp::of(p)).collect::<Vec<_>>()))
            .collect();
        parts
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    })
}

/// Whether the environment gives every recorded variable its recorded
/// value and sets no relevant variable the record does not name.
fn env_matches(
    recorded: &BTreeMap<String, Option<String>>,
    env: &BTreeMap<String, String>,
) -> bool {
    let value = |k: &str| env.get(k).map(|v| secret::recorded_value(k, v));
    recorded.iter().all(|(k, v)| value(k) == *v)
        && env
            .keys()
            .filter(|k| persist::is_relevant_prefix(k))
            .all(|k| recorded.contains_key(k))
}

fn load(settings: &Settings) -> Option<Record> {
    let key = settings.invocation_key();
    let bytes = std::fs::read(record_path(settings, &key)).ok()?;
    let r: Record = postcard::from_bytes(&bytes).ok()?;
    (r.format == FORMAT
        && r.key == key
        && r.report == report_key(settings)
        && r.exe == super::exe_identity()
        && r.paths.len() == r.stamps.len())
    .then_some(r)
}

/// Answers an invocation from its no-op record: prints what the recorded
/// no-op printed and returns its exit code when nothing it depends on
/// moved; None when it must build. A build that is to start a server builds
/// directly: the server then checks it and answers the next no-op.
pub fn answer(settings: &Settings, started: Instant) -> Option<i32> {
    let starts_server = matches!(settings.server, ServerUse::Start | ServerUse::AutoStart);
    if starts_server || !settings.server_may_answer() {
        return None;
    }
    let r = load(settings)?;
    if !env_matches(&r.env, settings.env()) {
        return None;
    }
    let target_dir = &settings.request.target_dir.path;
    let _lock = crate::exec::lock::try_lock_target_dir(target_dir).ok()??;
    if stamps(&r.paths) != r.stamps {
        return None;
    }
    let reporter = Reporter::new(settings.report.clone());
    if settings.report.verbose > 0 {
        reporter.with_human(|h| {
            h.status(
                "Reusing",
                &format!(
                    "the no-op record of the last build: none of the {} paths it depends on changed",
                    r.paths.len()
                ),
            )
        });
    }
    crate::report::write_raw(&r.stdout, &r.stderr);
    let summary = BuildSummary {
        success: true,
        actions_total: r.actions_total,
        fresh: r.actions_total,
        uncacheable: r.uncacheable,
        elapsed: started.elapsed(),
        profile: r.profile,
        ..BuildSummary::default()
    };
    let cache = settings
        .cache
        .dir
        .as_deref()
        .filter(|_| !settings.cache.disabled);
    if let Some(Ok(l)) = cache.map(crate::cache::local::LocalCache::open) {
        crate::analysis::run::record_build(&l, &summary);
    }
    reporter.event(&ActionGraph::default(), BuildEvent::Finished(summary));
    Some(0)
}

/// The stamps a direct build took before it ran, to record it if it turns
/// out a no-op.
pub struct Pending {
    paths: Vec<PathBuf>,
    stamps: Vec<Option<FileStamp>>,
    taken_ns: i128,
    /// Where the explain record is in `paths`: the build itself rewrites it.
    explain_at: usize,
    normalizer: PathNormalizer,
    events: Arc<Tee>,
}

/// Forwards a build's events to its reporter and keeps them.
struct Tee {
    inner: Arc<dyn EventSink>,
    kept: Mutex<Vec<BuildEvent>>,
}

impl EventSink for Tee {
    fn event(&self, graph: &ActionGraph, event: BuildEvent) {
        self.kept.lock().expect("event lock").push(event.clone());
        self.inner.event(graph, event);
    }
}

/// Whether a graph's closing lines are those of any no-op: nothing of it
/// but counts is printed when the build ends.
fn plain_ending(graph: &ActionGraph) -> bool {
    graph.test_binaries.is_empty() && graph.doc_pages.is_empty() && graph.run.is_none()
}

impl Pending {
    /// Stamps what a build of `analysis` (loaded, not planned now) depends
    /// on, when its invocation can be recorded; `sink` is where its events
    /// go, and [`Pending::sink`] what the build must report to instead.
    pub fn before(
        settings: &Settings,
        analysis: &Analysis,
        sink: Arc<dyn EventSink>,
    ) -> Option<Pending> {
        if !settings.server_may_answer() || !plain_ending(&analysis.graph) {
            return None;
        }
        let deps = verify::dependencies(analysis, &settings.request, &settings.analysis);
        let mut paths = deps.files;
        paths.extend(deps.listings);
        let explain = crate::explain::record_path(&analysis.layout.target_dir);
        paths.push(explain.clone());
        paths.sort();
        paths.dedup();
        let explain_at = paths.binary_search(&explain).ok()?;
        let taken_ns = now_ns();
        let stamps = stamps(&paths);
        Some(Pending {
            paths,
            stamps,
            taken_ns,
            explain_at,
            normalizer: crate::analysis::run::normalizer(analysis, &settings.request),
            events: Arc::new(Tee {
                inner: sink,
                kept: Mutex::new(Vec::new()),
            }),
        })
    }

    /// The sink the build reports to.
    pub fn sink(&self) -> Arc<dyn EventSink> {
        self.events.clone()
    }

    /// Writes the record when the build was a no-op whose paths stayed put
    /// and had settled before they were stamped (best effort).
    pub fn finish(
        mut self,
        settings: &Settings,
        analysis_env: &BTreeMap<String, Option<String>>,
        graph: &ActionGraph,
        reasons: &Reasons,
        summary: &BuildSummary,
    ) {
        let noop = summary.success
            && summary.fresh == summary.actions_total
            && summary.executed == 0
            && summary.skipped == 0
            && summary.tests.is_none()
            && summary.remote.is_none()
            && summary.remote_exec.is_none();
        // The explain record is stamped as this build left it (after the
        // other paths, which had to settle): a later build replacing it
        // moves other paths too, or moves its stamp.
        let settled =
            self.stamps.iter().enumerate().all(|(i, s)| {
                i == self.explain_at || s.is_none_or(|s| s.settled_by(self.taken_ns))
            });
        self.stamps[self.explain_at] = FileStamp::of(&self.paths[self.explain_at]);
        if !noop || !settled {
            return;
        }
        let Some(record) = self.record(settings, analysis_env, graph, reasons, summary) else {
            return;
        };
        if stamps(&record.paths) == record.stamps {
            write(&record_path(settings, &record.key), &record);
        }
    }

    fn record(
        self,
        settings: &Settings,
        analysis_env: &BTreeMap<String, Option<String>>,
        graph: &ActionGraph,
        reasons: &Reasons,
        summary: &BuildSummary,
    ) -> Option<Record> {
        let tracked = verify::tracked_env(graph, reasons, &self.normalizer, |p| {
            self.paths.binary_search_by(|x| x.as_path().cmp(p)).is_ok()
        })
        .ok()?;
        let env = settings.env();
        let recorded = |k: &String| env.get(k).map(|v| secret::recorded_value(k, v));
        let names = analysis_env.keys().chain(tracked.iter());
        let env = names.map(|k| (k.clone(), recorded(k))).collect();
        let events = std::mem::take(&mut *self.events.kept.lock().expect("event lock"));
        let (stdout, stderr) = verify::replay(&settings.report, graph, events, None);
        Some(Record {
            format: FORMAT,
            exe: super::exe_identity(),
            key: settings.invocation_key(),
            report: report_key(settings),
            env,
            paths: self.paths,
            stamps: self.stamps,
            stdout,
            stderr,
            actions_total: summary.actions_total,
            profile: summary.profile.clone(),
            uncacheable: summary.uncacheable.clone(),
        })
    }
}

/// Writes the record atomically (a failure only costs the next no-op time).
fn write(path: &Path, record: &Record) {
    let Some(dir) = path.parent() else { return };
    let Ok(bytes) = postcard::to_stdvec(record) else {
        return;
    };
    if std::fs::create_dir_all(dir).is_ok() {
        let tmp = dir.join(format!(".{}.tmp", std::process::id()));
        if std::fs::write(&tmp, bytes).is_ok() {
            let _ = std::fs::rename(&tmp, path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_environment_matches_only_with_every_recorded_value_and_no_new_relevant_variable() {
        let token = "CARGO_REGISTRIES_X_TOKEN";
        let recorded: BTreeMap<String, Option<String>> = [
            ("GREETING", Some("hi".to_string())),
            ("RUSTFLAGS", None),
            (token, Some(secret::recorded_value(token, "s3cret"))),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        assert!(recorded[token].as_deref() != Some("s3cret"));
        let base = [("GREETING", "hi"), (token, "s3cret"), ("TERM", "xterm")];
        assert!(env_matches(&recorded, &env(&base)));
        let changed = [("GREETING", "ho"), (token, "s3cret")];
        assert!(!env_matches(&recorded, &env(&changed)));
        let other_token = [("GREETING", "hi"), (token, "other")];
        assert!(!env_matches(&recorded, &env(&other_token)));
        let unset = [(token, "s3cret")];
        assert!(!env_matches(&recorded, &env(&unset)));
        let mut flags = env(&base);
        flags.insert("RUSTFLAGS".into(), "-Copt-level=1".into());
        assert!(!env_matches(&recorded, &flags));
        let mut new_cargo_var = env(&base);
        new_cargo_var.insert("CARGO_PROFILE_DEV_DEBUG".into(), "0".into());
        assert!(!env_matches(&recorded, &new_cargo_var));
    }

    #[test]
    fn many_paths_are_stamped_on_threads_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let paths: Vec<PathBuf> = (0..PATHS_PER_THREAD * 2 + 7)
            .map(|i| dir.path().join(format!("f{i}")))
            .collect();
        for p in paths.iter().step_by(3) {
            std::fs::write(p, p.to_string_lossy().as_bytes()).unwrap();
        }
        let one_by_one: Vec<_> = paths.iter().map(|p| FileStamp::of(p)).collect();
        assert_eq!(stamps(&paths), one_by_one);
        assert_eq!(
            one_by_one.iter().filter(|s| s.is_some()).count(),
            paths.len().div_ceil(3)
        );
    }
}
