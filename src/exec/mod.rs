//! Layer 4: running the action graph on hbuild's own scheduler.
//!
//! The coordinator (this module) owns all build state. Worker threads run
//! one action each ([`worker::run`]) and report back over a channel; the
//! coordinator starts ready actions (longest remaining path first), up to
//! `-j`, holding one jobserver token per extra running action so that rustc
//! and build scripts share the same `-j` budget. Dependents that only need
//! a crate's metadata start as soon as its `.rmeta` is written.

pub mod dep_info;
pub mod events;
mod invoke;
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
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::core::ActionId;
use crate::fingerprint::{FileStates, PathNormalizer};
use crate::plan::action::Needs;
use crate::plan::ActionGraph;
use events::{BuildEvent, EventSink, Outcome};
use queue::{DepQueue, Wait};
use script_output::ScriptOutput;
use store::Store;
use worker::{DepResult, RunReason};

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
    pub remote: Option<serde_json::Value>,
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
        self.scripts.lock().expect("scripts lock").get(&id).cloned()
    }
}

enum Msg {
    Meta(ActionId, DepResult),
    Done(
        ActionId,
        Box<Result<worker::Finished, worker::Failure>>,
        Duration,
    ),
    Token(std::io::Result<jobserver::Acquired>),
}

/// Per-action explain data collected during the build.
pub type Reasons = BTreeMap<ActionId, (Outcome, RunReason)>;

/// Runs the graph. Returns the summary and the per-action reasons.
pub fn execute(
    graph: Arc<ActionGraph>,
    opts: ExecOptions,
    sink: Arc<dyn EventSink>,
) -> (BuildSummary, Reasons) {
    let start = Instant::now();
    let n = graph.actions.len();
    let jobs = opts.jobs.max(1);
    let client = jobserver::Client::new(jobs).expect("failed to create a jobserver");
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
        sink,
        scripts: Mutex::new(HashMap::new()),
    });
    sh.emit(BuildEvent::Started { total: n });

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
            let _ = token_tx.lock().expect("token channel").send(Msg::Token(t));
        })
        .expect("failed to start the jobserver helper");

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
            let sh2 = sh.clone();
            let tx2 = tx.clone();
            std::thread::spawn(move || {
                let a = &sh2.graph.actions[i];
                let t0 = Instant::now();
                let tx_meta = Mutex::new(tx2.clone());
                let on_meta = |r: DepResult| {
                    let _ = tx_meta
                        .lock()
                        .expect("meta channel")
                        .send(Msg::Meta(ActionId(i as u32), r));
                };
                let res = worker::run(&sh2, a, &deps, &on_meta);
                let _ = tx2.send(Msg::Done(ActionId(i as u32), Box::new(res), t0.elapsed()));
            });
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
            Msg::Done(id, res, dur) => {
                let i = id.index();
                running -= 1;
                // Release a token: the number held never exceeds running - 1.
                if tokens.len() > running.saturating_sub(1) {
                    tokens.pop();
                }
                let a = &graph.actions[i];
                match *res {
                    Ok(f) => {
                        match f.outcome {
                            Outcome::Fresh => summary.fresh += 1,
                            Outcome::LocalHit => summary.local_hits += 1,
                            Outcome::RemoteHit => summary.remote_hits += 1,
                            Outcome::Executed => summary.executed += 1,
                        }
                        if let Some(s) = &f.result.script {
                            sh.scripts
                                .lock()
                                .expect("scripts lock")
                                .insert(id, s.clone());
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
    (summary, reasons)
}
