//! Layer 4: running the action graph on hbuild's own scheduler.
//!
//! The coordinator (this module) owns all build state. Worker threads run
//! one action each ([`worker::run`]) and report back over a channel; the
//! coordinator starts ready actions (longest remaining path first), up to
//! `-j`, holding one jobserver token per extra running action so that rustc
//! and build scripts share the same `-j` budget. Dependents that only need
//! a crate's metadata start as soon as its `.rmeta` is written. Whatever
//! happens in an action, a panic included, ends as a message to the
//! coordinator ([`job`]), so a build always ends.

pub mod dep_info;
pub mod events;
mod invoke;
pub mod job;
pub mod lock;
pub mod process;
pub mod queue;
pub mod script_output;
pub mod stamp;
pub mod store;
pub mod worker;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::core::ActionId;
use crate::fingerprint::{FileStates, PathNormalizer};
use crate::plan::action::Needs;
use crate::plan::ActionGraph;
use events::{BuildEvent, EventSink, FailureCause, Outcome};
use job::{Ended, TestHooks};
use queue::{DepQueue, Wait};
use script_output::ScriptOutput;
use store::Store;
use worker::{DepResult, Failure, RunReason};

/// Why a build could not run at all (an action's failure is not an error
/// of the executor: it is reported as an event and fails the build).
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// The jobserver could not be created (file descriptors exhausted).
    #[error("cannot create the jobserver for {jobs} jobs: {source}")]
    Jobserver {
        /// `-j`.
        jobs: usize,
        /// The OS error.
        source: std::io::Error,
    },
    /// A thread the executor needs could not be started.
    #[error("cannot start {what}: {source}")]
    Thread {
        /// Which thread.
        what: &'static str,
        /// The OS error.
        source: std::io::Error,
    },
    /// The thread pool that hashes files could not be started.
    #[error("cannot start the file-hashing thread pool: {0}")]
    ThreadPool(String),
}

/// Counts reported at the end of a build.
#[derive(Clone, Debug, Default, Serialize)]
pub struct BuildSummary {
    /// Whether the build succeeded.
    pub success: bool,
    /// Actions in the graph.
    pub actions_total: usize,
    /// Actions executed.
    pub executed: usize,
    /// Fresh (already up to date in the target dir).
    pub fresh: usize,
    /// Local cache hits.
    pub local_hits: usize,
    /// Remote cache hits.
    pub remote_hits: usize,
    /// Actions not run because the build failed first.
    pub skipped: usize,
    /// Actions that cannot be cached, with the reason.
    pub uncacheable: Vec<(String, String)>,
    /// Wall time.
    pub elapsed: Duration,
    /// Profile name.
    pub profile: String,
    /// Remote cache statistics, when configured.
    pub remote: Option<crate::cache::remote::RemoteStats>,
}

/// Options of one execution.
pub struct ExecOptions {
    /// `-j`.
    pub jobs: usize,
    /// `--keep-going`.
    pub keep_going: bool,
    /// `--strict`.
    pub strict: bool,
    /// `rustc -vV` (+ linker).
    pub toolchain_id: String,
    /// Path normaliser for keys.
    pub normalizer: PathNormalizer,
    /// File digest memo.
    pub file_states: Arc<FileStates>,
    /// Caches.
    pub store: Arc<Store>,
    /// The environment hbuild was started with.
    pub env: BTreeMap<String, String>,
    /// `RUSTC_WRAPPER`.
    pub wrapper: Option<PathBuf>,
    /// Target dir.
    pub target_dir: PathBuf,
    /// Sysroot.
    pub sysroot: PathBuf,
    /// Cargo home.
    pub cargo_home: Option<PathBuf>,
    /// Only check: an action that is not fresh fails instead of running or
    /// being restored, and nothing in the target dir is written. The
    /// resident server verifies a finished build this way.
    pub fresh_only: bool,
    /// Faults injected by the integration tests.
    pub test_hooks: TestHooks,
}

/// State shared with workers (read-only apart from thread-safe parts).
pub struct ExecShared {
    /// The graph.
    pub graph: Arc<ActionGraph>,
    /// Normaliser.
    pub normalizer: PathNormalizer,
    /// Toolchain identity.
    pub toolchain_id: String,
    /// File memo.
    pub file_states: Arc<FileStates>,
    /// Caches.
    pub store: Arc<Store>,
    /// Environment.
    pub env: BTreeMap<String, String>,
    /// Jobserver shared with children.
    pub jobserver: jobserver::Client,
    /// `--strict`.
    pub strict: bool,
    /// Wrapper.
    pub wrapper: Option<PathBuf>,
    /// Target dir.
    pub target_dir: PathBuf,
    /// Sysroot.
    pub sysroot: PathBuf,
    /// Cargo home.
    pub cargo_home: Option<PathBuf>,
    /// See [`ExecOptions::fresh_only`].
    pub fresh_only: bool,
    /// See [`ExecOptions::test_hooks`].
    pub test_hooks: TestHooks,
    sink: Arc<dyn EventSink>,
    scripts: Mutex<HashMap<ActionId, Arc<ScriptOutput>>>,
}

impl ExecShared {
    /// Sends an event to the sink.
    pub fn emit(&self, e: BuildEvent) {
        self.sink.event(&self.graph, e);
    }

    /// A finished build script's output (for transitive `-L` paths).
    pub fn script_output(&self, id: ActionId) -> Option<Arc<ScriptOutput>> {
        self.scripts_lock().get(&id).cloned()
    }

    // A worker that panicked while holding the lock left the map whole:
    // its insertions are single calls.
    fn scripts_lock(&self) -> std::sync::MutexGuard<'_, HashMap<ActionId, Arc<ScriptOutput>>> {
        self.scripts.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

enum Msg {
    Meta(ActionId, DepResult),
    Done(ActionId, Ended, Duration),
    Token(std::io::Result<jobserver::Acquired>),
}

/// Per-action explain data collected during the build.
pub type Reasons = BTreeMap<ActionId, (Outcome, RunReason)>;

/// Starts rayon's global pool now, so that failing to start its threads
/// is an error rather than a panic on first use. Idempotent: a pool that
/// already exists (an earlier build in the server) is kept.
fn start_thread_pool() -> Result<(), ExecError> {
    match rayon::ThreadPoolBuilder::new().build_global() {
        Ok(()) => Ok(()),
        // Only the OS failures have a source; the others say that a pool
        // already exists.
        Err(e) if std::error::Error::source(&e).is_none() => Ok(()),
        Err(e) => Err(ExecError::ThreadPool(e.to_string())),
    }
}

/// Runs the graph. Returns the summary and the per-action reasons, or an
/// error if the build could not start.
pub fn execute(
    graph: Arc<ActionGraph>,
    opts: ExecOptions,
    sink: Arc<dyn EventSink>,
) -> Result<(BuildSummary, Reasons), ExecError> {
    let start = Instant::now();
    let n = graph.actions.len();
    let jobs = opts.jobs.max(1);
    start_thread_pool()?;
    let client =
        jobserver::Client::new(jobs).map_err(|source| ExecError::Jobserver { jobs, source })?;
    let sh = Arc::new(ExecShared {
        graph: graph.clone(),
        normalizer: opts.normalizer,
        toolchain_id: opts.toolchain_id,
        file_states: opts.file_states,
        store: opts.store,
        env: opts.env,
        jobserver: client.clone(),
        strict: opts.strict,
        wrapper: opts.wrapper,
        target_dir: opts.target_dir,
        sysroot: opts.sysroot,
        cargo_home: opts.cargo_home,
        fresh_only: opts.fresh_only,
        test_hooks: opts.test_hooks,
        sink,
        scripts: Mutex::new(HashMap::new()),
    });

    let mut queue = DepQueue::new(
        graph
            .actions
            .iter()
            .map(|a| {
                a.deps
                    .iter()
                    .map(|d| {
                        let w = match d.needs {
                            Needs::Metadata => Wait::Metadata,
                            Needs::Full => Wait::Full,
                        };
                        (d.action.index(), w)
                    })
                    .collect()
            })
            .collect(),
    );

    let (tx, rx) = mpsc::channel::<Msg>();
    let token_tx = Mutex::new(tx.clone());
    let helper = client
        .clone()
        .into_helper_thread(move |t| {
            let _ = token_tx
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .send(Msg::Token(t));
        })
        .map_err(|source| ExecError::Thread {
            what: "the jobserver helper thread",
            source,
        })?;
    sh.emit(BuildEvent::Started { total: n });

    let mut meta: Vec<Option<DepResult>> = vec![None; n];
    let mut done: Vec<Option<DepResult>> = vec![None; n];
    let mut tokens: Vec<jobserver::Acquired> = Vec::new();
    let mut running = 0usize;
    let mut requested = 0usize;
    let mut failed = false;
    let mut failures = 0usize;
    let mut summary = BuildSummary {
        actions_total: n,
        profile: graph.profile.clone(),
        ..Default::default()
    };
    let mut reasons: Reasons = BTreeMap::new();

    loop {
        // Start what we can: the first job runs on the implicit token,
        // every further one on a jobserver token.
        while !failed && queue.ready_len() > 0 && running < jobs {
            if running > 0 && tokens.len() < running {
                if requested < queue.ready_len().min(jobs - 1) {
                    helper.request_token();
                    requested += 1;
                }
                break;
            }
            let i = queue.pop().expect("a ready action");
            running += 1;
            let deps: Vec<DepResult> = graph.actions[i]
                .deps
                .iter()
                .map(|d| match d.needs {
                    Needs::Metadata => meta[d.action.index()].clone().expect("metadata ready"),
                    Needs::Full => done[d.action.index()].clone().expect("dependency done"),
                })
                .collect();
            if let Err(e) = spawn_worker(&sh, &tx, ActionId(i as u32), deps) {
                // Handled like the action's own failure, by the loop below.
                let _ = tx.send(Msg::Done(
                    ActionId(i as u32),
                    Ended::Reported(Box::new(Err(Failure {
                        errors: 0,
                        warnings: 0,
                        message: format!(
                            "cannot start a thread to run {}: {e}",
                            graph.actions[i].display_name()
                        ),
                    }))),
                    Duration::ZERO,
                ));
            }
        }
        if running == 0 && (failed || queue.ready_len() == 0) {
            break;
        }
        let Ok(msg) = rx.recv() else { break };
        match msg {
            Msg::Token(t) => {
                requested = requested.saturating_sub(1);
                if let Ok(t) = t {
                    tokens.push(t);
                }
            }
            Msg::Meta(id, r) => {
                let i = id.index();
                if meta[i].is_none() {
                    meta[i] = Some(r);
                    queue.metadata_ready(i);
                }
            }
            Msg::Done(id, ended, dur) => {
                let i = id.index();
                running -= 1;
                // Release a token: the number held never exceeds running - 1.
                if tokens.len() > running.saturating_sub(1) {
                    tokens.pop();
                }
                let a = &graph.actions[i];
                let (res, cause) = match ended {
                    Ended::Reported(r) => (*r, FailureCause::Action),
                    Ended::Panicked(message) => {
                        discard_stamp(&sh, a);
                        let failure = Failure {
                            errors: 0,
                            warnings: 0,
                            message,
                        };
                        (Err(failure), FailureCause::Internal)
                    }
                };
                match res {
                    Ok(f) => {
                        match f.outcome {
                            Outcome::Fresh => summary.fresh += 1,
                            Outcome::LocalHit => summary.local_hits += 1,
                            Outcome::RemoteHit => summary.remote_hits += 1,
                            Outcome::Executed => summary.executed += 1,
                        }
                        if let Some(s) = &f.result.script {
                            sh.scripts_lock().insert(id, s.clone());
                        }
                        sh.emit(BuildEvent::ActionFinished {
                            id,
                            outcome: f.outcome,
                            warnings: 0,
                            duration: dur,
                        });
                        if let Some(why) = &f.uncacheable {
                            summary.uncacheable.push((a.display_name(), why.clone()));
                        }
                        reasons.insert(id, (f.outcome, f.reason));
                        if meta[i].is_none() {
                            meta[i] = Some(f.result.clone());
                        }
                        done[i] = Some(f.result);
                        queue.finish(i);
                    }
                    Err(e) => {
                        sh.emit(BuildEvent::ActionFailed {
                            id,
                            cause,
                            errors: e.errors,
                            warnings: e.warnings,
                            message: e.message,
                        });
                        failures += 1;
                        // With --keep-going, dependents of a failed action
                        // simply never become ready.
                        if !opts.keep_going {
                            failed = true;
                        }
                    }
                }
            }
        }
    }
    drop(helper);
    summary.success = failures == 0 && done.iter().all(Option::is_some);
    summary.skipped = done.iter().filter(|d| d.is_none()).count();
    // Outputs are copied into the cache while the build goes on; the build
    // is over when they are stored.
    sh.store.finish_saving();
    summary.elapsed = start.elapsed();
    for w in sh.store.take_warnings() {
        sh.emit(BuildEvent::Warning(w));
    }
    Ok((summary, reasons))
}

/// Starts the thread of action `id`; it reports to `tx` however it ends.
fn spawn_worker(
    sh: &Arc<ExecShared>,
    tx: &mpsc::Sender<Msg>,
    id: ActionId,
    deps: Vec<DepResult>,
) -> std::io::Result<()> {
    let sh = Arc::clone(sh);
    let tx = tx.clone();
    std::thread::Builder::new()
        .name(format!("hbuild-action-{}", id.index()))
        .spawn(move || {
            let tx_meta = tx.clone();
            let on_meta = move |r: DepResult| {
                let _ = tx_meta.send(Msg::Meta(id, r));
            };
            job::run_reporting(tx, id, || {
                worker::run(&sh, &sh.graph.actions[id.index()], &deps, &on_meta)
            });
        })
        .map(drop)
}

/// Removes the stamp of an action that panicked: wherever the panic struck,
/// the next build runs the action again rather than trusting what it left.
/// A check-only run writes nothing, stamps included.
fn discard_stamp(sh: &ExecShared, a: &crate::plan::Action) {
    if !sh.fresh_only {
        let _ = std::fs::remove_file(worker::stamp_path(a));
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_thread_pool_may_be_started_by_every_build() {
        // The server runs many builds in one process.
        super::start_thread_pool().unwrap();
        super::start_thread_pool().unwrap();
    }
}
