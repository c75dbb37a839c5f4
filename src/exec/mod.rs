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

mod clock;
pub mod dep_info;
mod diagnostics;
mod doc_index;
pub mod events;
mod invoke;
pub mod job;
mod lint;
mod location;
pub mod lock;
pub(crate) mod observe;
pub mod outcome;
pub mod policy;
mod pool;
pub mod process;
pub mod queue;
pub mod remote;
pub mod script_output;
pub mod stamp;
pub mod store;
mod tally;
mod test_run;
pub mod worker;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde::Serialize;

use crate::core::ActionId;
use crate::fingerprint::{FileStates, KeyContext, PathNormalizer};
use crate::plan::action::Needs;
use crate::plan::ActionGraph;
use clock::Clock;
use events::{BuildEvent, EventSink, Outcome};
use job::{Ended, TestHooks};
use outcome::{DepResult, Failure, RunReason};
pub use policy::RunPolicy;
use queue::{DepQueue, Wait};
use script_output::ScriptOutput;
use store::Store;
use tally::Tally;

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
    /// Remote-execution statistics, with `--remote-executor`.
    pub remote_exec: Option<crate::cache::remote::ExecStats>,
    /// Test runs, when the build has any.
    pub tests: Option<TestSummary>,
}

/// What the test runs of a `test` build did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct TestSummary {
    /// Test runs in the graph (binaries and doctests).
    pub total: usize,
    /// Runs executed now.
    pub run: usize,
    /// Passing results taken from the target dir or a cache.
    pub cached: usize,
    /// Runs that passed (now or cached).
    pub passed: usize,
    /// Runs that failed.
    pub failed: usize,
    /// The rerun flags of the failed runs, in Cargo's order.
    pub failures: Vec<String>,
    /// The exit code of the first failed run, when it exited with one.
    pub first_exit_code: Option<i32>,
    /// Whether every run ran whatever failed (`--no-fail-fast`).
    pub no_fail_fast: bool,
}

/// Options of one execution.
pub struct ExecOptions {
    /// `-j`.
    pub jobs: usize,
    /// `--keep-going`.
    pub keep_going: bool,
    /// `--strict`.
    pub strict: bool,
    /// `test --no-fail-fast`.
    pub no_fail_fast: bool,
    /// Whether passing test results come from the cache.
    pub cache_test_results: bool,
    /// `--remote-download`: which outputs of remote hits are downloaded.
    pub download: crate::cache::remote::Download,
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
    /// Build, or only check that the build is a no-op (the resident
    /// server's verification of a finished build).
    pub policy: RunPolicy,
    /// Faults injected by the integration tests.
    pub test_hooks: TestHooks,
    /// `--remote-executor`: compile actions run on this engine.
    pub remote_exec: Option<Arc<remote::RemoteExec>>,
}

/// The digest helper, when the outputs of remote runs may stay in the
/// engine's CAS (`--remote-download=minimal`): the engine is the remote
/// cache, which takes uploads, so that the entry naming them is there for
/// later builds and local actions to fetch them through.
fn remote_runs_helper(store: &Store, rx: Option<&remote::RemoteExec>) -> Option<PathBuf> {
    let (rx, cache) = (rx?, store.remote()?);
    let same = cache.is_server(rx.executor().remote_config());
    if !same || cache.config().read_only {
        return None;
    }
    remote::digests::helper_beside_exe()
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
    /// See [`ExecOptions::cache_test_results`].
    pub cache_test_results: bool,
    /// How test runs see which files they open.
    pub observer: test_run::Observer,
    /// Wrapper.
    pub wrapper: Option<PathBuf>,
    /// Target dir.
    pub target_dir: PathBuf,
    /// Sysroot.
    pub sysroot: PathBuf,
    /// Cargo home.
    pub cargo_home: Option<PathBuf>,
    /// See [`ExecOptions::policy`].
    pub policy: RunPolicy,
    /// See [`ExecOptions::test_hooks`].
    pub test_hooks: TestHooks,
    /// See [`ExecOptions::remote_exec`].
    pub remote_exec: Option<Arc<remote::RemoteExec>>,
    /// The outputs of remote hits left in the remote cache.
    pub(crate) left_remote: worker::lazy::LeftRemote,
    /// The threads actions run on.
    pool: pool::Pool,
    sink: Arc<dyn EventSink>,
    scripts: Mutex<HashMap<ActionId, Arc<ScriptOutput>>>,
    /// Events of test runs held back while the rest of the build goes on
    /// (`None` once it ended, or in a build without test runs).
    held: Mutex<Option<Vec<BuildEvent>>>,
}

impl ExecShared {
    /// The shared state of an execution of `graph` with `opts` (its `jobs`
    /// and `keep_going` are the coordinator's).
    fn new(
        graph: Arc<ActionGraph>,
        opts: ExecOptions,
        jobserver: jobserver::Client,
        sink: Arc<dyn EventSink>,
    ) -> Self {
        let ExecOptions {
            jobs: _,
            keep_going: _,
            no_fail_fast: _,
            cache_test_results,
            download,
            strict,
            toolchain_id,
            normalizer,
            file_states,
            store,
            env,
            wrapper,
            target_dir,
            sysroot,
            cargo_home,
            policy,
            test_hooks,
            remote_exec,
        } = opts;
        let has_tests = graph.actions.iter().any(|a| a.test.is_some());
        let observer =
            test_run::Observer::new(has_tests, &target_dir, env.get("CC").map(PathBuf::from));
        let remote_runs = remote_runs_helper(&store, remote_exec.as_deref());
        ExecShared {
            left_remote: worker::lazy::LeftRemote::new(download, &graph, remote_runs),
            pool: pool::Pool::new(),
            held: Mutex::new(has_tests.then(Vec::new)),
            cache_test_results,
            observer,
            graph,
            normalizer,
            toolchain_id,
            file_states,
            store,
            env,
            jobserver,
            strict,
            wrapper,
            target_dir,
            sysroot,
            cargo_home,
            policy,
            test_hooks,
            remote_exec,
            sink,
            scripts: Mutex::new(HashMap::new()),
        }
    }

    /// What identifies this build in every action's key.
    pub fn key_context(&self) -> KeyContext<'_> {
        KeyContext {
            toolchain_id: &self.toolchain_id,
            normalizer: &self.normalizer,
        }
    }

    /// Sends an event to the sink; a test run's events wait until the
    /// rest of the build ended, so that they follow Cargo's `Finished`.
    pub fn emit(&self, e: BuildEvent) {
        if let Some(id) = event_action(&e) {
            if self.graph.actions[id.index()].test.is_some() {
                let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
                if let Some(h) = held.as_mut() {
                    h.push(e);
                    return;
                }
            }
        }
        self.sink.event(&self.graph, e);
    }

    /// Ends the build phase: reports it, then the held test-run events.
    /// After a failed build they are dropped, as Cargo runs no test then.
    ///
    /// The lock is kept while the held events are replayed: a test run
    /// ending meanwhile waits in [`Self::emit`] instead of overtaking the
    /// runs before it.
    fn end_build_phase(&self, success: bool, elapsed: Duration) {
        let mut guard = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(held) = guard.take() else { return };
        self.sink
            .event(&self.graph, BuildEvent::BuildPhaseDone { success, elapsed });
        if success {
            for e in held {
                self.sink.event(&self.graph, e);
            }
        }
        drop(guard);
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

/// The action an event is about, if any.
fn event_action(e: &BuildEvent) -> Option<ActionId> {
    match e {
        BuildEvent::ActionStarted { id }
        | BuildEvent::Diagnostic { id, .. }
        | BuildEvent::ScriptFinished { id, .. }
        | BuildEvent::ActionFinished { id, .. }
        | BuildEvent::ActionFailed { id, .. }
        | BuildEvent::TestOutput { id, .. }
        | BuildEvent::ActionWarning { id, .. } => Some(*id),
        _ => None,
    }
}

enum Msg {
    Meta(ActionId, DepResult),
    Done(ActionId, Ended),
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
    let mut clock = Clock::new(graph.actions.len());
    let n = graph.actions.len();
    let jobs = opts.jobs.max(1);
    let no_fail_fast = opts.no_fail_fast;
    let mut tally = Tally::new(&graph, opts.keep_going);
    let mut builds_left = graph.actions.iter().filter(|a| a.test.is_none()).count();
    start_thread_pool()?;
    let client =
        jobserver::Client::new(jobs).map_err(|source| ExecError::Jobserver { jobs, source })?;
    let sh = Arc::new(ExecShared::new(graph.clone(), opts, client.clone(), sink));
    let mut queue = dep_queue(&graph);
    clock.ready(queue.take_newly_ready());

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
    create_target_tmpdirs(&graph);
    sh.emit(BuildEvent::Started { total: n });
    if builds_left == 0 {
        sh.end_build_phase(true, clock.elapsed());
    }

    let mut meta: Vec<Option<DepResult>> = vec![None; n];
    let mut done: Vec<Option<DepResult>> = vec![None; n];
    let mut tokens: Vec<jobserver::Acquired> = Vec::new();
    let mut running = 0usize;
    let mut requested = 0usize;

    loop {
        // Start what we can: the first job runs on the implicit token,
        // every further one on a jobserver token.
        while !tally.stopped() && queue.ready_len() > 0 && running < jobs {
            if running > 0 && tokens.len() < running {
                if requested < queue.ready_len().min(jobs - 1) {
                    helper.request_token();
                    requested += 1;
                }
                break;
            }
            let i = queue.pop().expect("a ready action");
            running += 1;
            clock.started(i);
            start_action(&sh, &tx, i, &meta, &done);
        }
        if running == 0 && (tally.stopped() || queue.ready_len() == 0) {
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
                    clock.ready(queue.take_newly_ready());
                }
            }
            Msg::Done(id, ended) => {
                let i = id.index();
                running -= 1;
                // Release a token: the number held never exceeds running - 1.
                if tokens.len() > running.saturating_sub(1) {
                    tokens.pop();
                }
                let is_test = sh.graph.actions[i].test.is_some();
                if let Some(result) = tally.ended(&sh, id, ended, clock.ended(i)) {
                    if let Some(s) = &result.script {
                        sh.scripts_lock().insert(id, s.clone());
                    }
                    if meta[i].is_none() {
                        meta[i] = Some(result.clone());
                    }
                    done[i] = Some(result);
                    queue.finish(i);
                } else if is_test && no_fail_fast {
                    // The next test run waits for this one only to keep
                    // Cargo's order.
                    queue.finish(i);
                }
                clock.ready(queue.take_newly_ready());
                if !is_test {
                    builds_left -= 1;
                    if builds_left == 0 {
                        sh.end_build_phase(!tally.build_failed(), clock.elapsed());
                    }
                }
            }
        }
    }
    sh.end_build_phase(false, clock.elapsed());
    drop(helper);
    // Outputs are copied into the cache while the build goes on; the build
    // is over when they are stored.
    sh.store.finish_saving();
    let elapsed = clock.elapsed();
    for w in sh.store.take_warnings() {
        sh.emit(BuildEvent::Warning(w));
    }
    let (mut summary, reasons) = tally.finish(&done, elapsed);
    if let Some(t) = summary.tests.as_mut() {
        t.no_fail_fast = no_fail_fast;
    }
    Ok((summary, reasons))
}

/// Creates the `CARGO_TARGET_TMPDIR` of integration tests, as Cargo does
/// when it builds them: tests expect the directory to exist.
fn create_target_tmpdirs(graph: &ActionGraph) {
    let dirs: std::collections::BTreeSet<&String> = graph
        .actions
        .iter()
        .filter_map(|a| a.env.get("CARGO_TARGET_TMPDIR"))
        .collect();
    for d in dirs {
        let _ = std::fs::create_dir_all(d);
    }
}

/// The ready queue of `graph`: each action waits for its dependencies'
/// metadata or completion, as its edges need.
fn dep_queue(graph: &ActionGraph) -> DepQueue {
    DepQueue::new(
        graph
            .actions
            .iter()
            .map(|a| {
                let order = a.test.as_ref().and_then(|t| t.after);
                a.deps
                    .iter()
                    .map(|d| {
                        let w = match d.needs {
                            Needs::Metadata => Wait::Metadata,
                            Needs::Full => Wait::Full,
                        };
                        (d.action.index(), w)
                    })
                    .chain(order.map(|o| (o.index(), Wait::Full)))
                    .collect()
            })
            .collect(),
    )
}

/// Starts ready action `i` with what its dependencies gave (`meta`: their
/// metadata, `done`: their results). A thread that cannot start fails the
/// action, through the same message as the action's own failure.
fn start_action(
    sh: &Arc<ExecShared>,
    tx: &mpsc::Sender<Msg>,
    i: usize,
    meta: &[Option<DepResult>],
    done: &[Option<DepResult>],
) {
    let a = &sh.graph.actions[i];
    let deps: Vec<DepResult> = a
        .deps
        .iter()
        .map(|d| match d.needs {
            Needs::Metadata => meta[d.action.index()].clone().expect("metadata ready"),
            Needs::Full => done[d.action.index()].clone().expect("dependency done"),
        })
        .collect();
    let id = ActionId(i as u32);
    if let Err(e) = spawn_worker(sh, tx, id, deps) {
        let failure = Failure::other(format!(
            "cannot start a thread to run {}: {e}",
            a.display_name()
        ));
        let _ = tx.send(Msg::Done(id, Ended::Reported(Box::new(Err(failure)))));
    }
}

/// Runs action `id` on a thread of the pool; it reports to `tx` however it
/// ends.
fn spawn_worker(
    sh: &Arc<ExecShared>,
    tx: &mpsc::Sender<Msg>,
    id: ActionId,
    deps: Vec<DepResult>,
) -> std::io::Result<()> {
    let (shared, tx) = (Arc::clone(sh), tx.clone());
    let job = move || {
        let tx_meta = tx.clone();
        let on_meta = move |r: DepResult| {
            let _ = tx_meta.send(Msg::Meta(id, r));
        };
        job::run_reporting(tx, id, || {
            worker::run(&shared, &shared.graph.actions[id.index()], &deps, &on_meta)
        });
    };
    sh.pool.submit("hbuild-action", Box::new(job))
}

/// Removes the stamp of an action that panicked: wherever the panic struck,
/// the next build runs the action again rather than trusting what it left.
/// A check-only run writes nothing, stamps included.
fn discard_stamp(sh: &ExecShared, a: &crate::plan::Action) {
    if sh.policy.may_write() {
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
