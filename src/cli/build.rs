//! `cargo hbuild` (build): through the resident server when it can answer,
//! else directly.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::errors::{CliError, ExitCode};
use crate::analysis::run::{self as glue, record_build};
use crate::analysis::{analyse, AnalysisOptions};
use crate::cache::local::LocalCache;
use crate::cache::remote::{RemoteCache, RemoteExecutor};
use crate::exec::events::{BuildEvent, EventSink};
use crate::exec::remote::RemoteExec;
use crate::exec::store::Store;
use crate::fingerprint::FileStates;
use crate::plan::BuildRequest;
use crate::report::Reporter;
use crate::server::noop_record::Pending;
use crate::settings::{ServerUse, Settings};

/// Runs the analysis on a thread with a large stack: the unit graph is
/// built depth-first, and a chain of 10,000 crates is 10,000 frames deep.
fn analyse_on_big_stack(
    req: &BuildRequest,
    opts: &AnalysisOptions,
) -> Result<crate::analysis::Analysis, CliError> {
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .name("analysis".into())
            .stack_size(1 << 30)
            .spawn_scoped(s, || analyse(req, opts))
            .map_err(CliError::AnalysisThread)?
            .join()
            .map_err(|_| CliError::AnalysisPanicked)?
            .map_err(CliError::from)
    })
}

/// Runs a build: through the resident server when it can answer (a no-op
/// it has verified), otherwise directly; then tells the server about it.
pub fn run(settings: &Settings) -> Result<i32, CliError> {
    let started = std::time::Instant::now();
    // Only a build that may talk to a server needs its settings on the wire.
    let wire = (settings.server.active() && settings.server_may_answer())
        .then(|| settings.for_server())
        .flatten();
    if let Some(w) = &wire {
        if let Some(reply) =
            crate::server::client::query(w, &settings.report, settings.cache.dir.clone())
        {
            crate::report::write_raw(&reply.stdout, &reply.stderr);
            return Ok(reply.exit_code);
        }
    }
    if let Some(code) = crate::server::noop_record::answer(settings, started) {
        return Ok(code);
    }
    let Direct {
        code, target_dir, ..
    } = run_direct(settings)?;
    if let (Some(w), Some(t)) = (wire, target_dir) {
        let how = settings.server;
        if code == ExitCode::OK
            && crate::server::client::built(&t, w, how, settings.server_idle_timeout)
            && how == ServerUse::AutoStart
            && !settings.report.quiet
        {
            let idle = settings.server_idle_timeout.unwrap_or_default();
            Reporter::new(settings.report.clone()).with_human(|h| h.server_started(&t, idle));
        }
    }
    Ok(code)
}

/// The local cache of a build, if it has one that opens.
fn local_cache(settings: &Settings, reporter: &Reporter) -> Option<Arc<LocalCache>> {
    if settings.cache.disabled {
        return None;
    }
    match settings.cache.dir.as_deref().map(LocalCache::open) {
        Some(Ok(c)) => Some(Arc::new(c)),
        Some(Err(e)) => {
            reporter.with_human(|h| {
                h.warning(&format!(
                    "local cache unavailable, building without it: {e}"
                ))
            });
            None
        }
        None => None,
    }
}

/// The remote cache of a build, from `--remote-cache*` and `HBUILD_REMOTE_CACHE*`.
fn remote_cache(settings: &Settings) -> Result<Option<RemoteCache>, CliError> {
    match settings.remote_config()? {
        None => Ok(None),
        Some(cfg) => Ok(Some(RemoteCache::new(cfg)?)),
    }
}

/// The remote-execution engine of a build, from `--remote-executor` and
/// `HBUILD_REMOTE_EXECUTOR`.
/// `digests`: where the SHA-256 memo of the files sent is kept.
fn remote_executor(
    settings: &Settings,
    digests: &Path,
) -> Result<Option<Arc<RemoteExec>>, CliError> {
    match settings.remote_exec_config()? {
        None => Ok(None),
        Some(cfg) => {
            let mut rx = RemoteExecutor::new(cfg)?;
            rx.load_digests(digests);
            Ok(Some(Arc::new(RemoteExec::new(Arc::new(rx)))))
        }
    }
}

/// What a direct build ended with.
pub(super) struct Direct {
    /// The exit code.
    pub(super) code: i32,
    /// The target dir, when it built.
    pub(super) target_dir: Option<PathBuf>,
    /// For `run`: the program to start.
    pub(super) run: Option<crate::plan::graph::RunTarget>,
    /// For `doc`: the index pages written.
    pub(super) doc_pages: Vec<PathBuf>,
}

/// A build without the server.
pub(super) fn run_direct(settings: &Settings) -> Result<Direct, CliError> {
    let (req, opts) = (&settings.request, &settings.analysis);
    let (mut analysis, reused) = match crate::analysis::persist::load(req, opts) {
        Some(a) => (a, true),
        None => (
            crate::analysis::persist::save(analyse_on_big_stack(req, opts)?, req, opts),
            false,
        ),
    };
    if !settings.ignore_rust_version {
        if let Some(e) = analysis.rust_version.error() {
            return Err(crate::plan::PlanError::from(e).into());
        }
    }
    if settings.plan_only {
        for a in &mut analysis.graph.actions {
            crate::core::secret::redact_env_for_display(&mut a.env);
        }
        let json =
            serde_json::to_string_pretty(&analysis.graph).map_err(|source| CliError::Json {
                what: "the action graph",
                source,
            })?;
        crate::report::print_stdout_line(&json);
        return Ok(Direct {
            code: ExitCode::OK,
            target_dir: None,
            run: None,
            doc_pages: Vec::new(),
        });
    }
    let reporter = Arc::new(Reporter::new(settings.report.clone()));
    if reused && settings.report.verbose > 0 {
        glue::print_reused(&reporter);
    }
    let target_dir = analysis.layout.target_dir.clone();
    let _lock = crate::exec::lock::lock_target_dir(&target_dir, || {
        reporter.event(
            &analysis.graph,
            BuildEvent::Blocking {
                what: "build directory".into(),
            },
        );
    })
    .map_err(|source| CliError::Io {
        what: "failed to lock the target directory",
        path: target_dir.clone(),
        source,
    })?;

    let local = local_cache(settings, &reporter);
    // Builds hold the cache's shared lock so that `cache gc` never deletes
    // what they are about to reference.
    let cache_guard = local.as_ref().and_then(|l| l.lock_shared().ok());
    let remote = remote_cache(settings)?;
    let store = Arc::new(Store::new(local.clone(), remote));
    let states_path = glue::file_states_path(&target_dir);
    let file_states = Arc::new(FileStates::load(&states_path));
    let mut exec_opts = glue::exec_options(
        &analysis,
        req,
        settings.run,
        store.clone(),
        file_states.clone(),
        crate::exec::RunPolicy::Build,
    );
    // The toolchain's digests serve every checkout: they live in the cache
    // dir when there is one.
    let digests_path = settings.cache.dir.as_deref().map_or_else(
        || glue::remote_digests_path(&target_dir),
        |d| d.join("remote-digests.json"),
    );
    let remote_exec = remote_executor(settings, &digests_path)?;
    exec_opts.remote_exec = remote_exec.clone();
    let pending = reused
        .then(|| Pending::before(settings, &analysis, reporter.clone()))
        .flatten();
    let graph = Arc::new(analysis.graph);
    let sink: Arc<dyn EventSink> = match &pending {
        Some(p) => p.sink(),
        None => reporter.clone(),
    };
    let (mut summary, reasons) = crate::exec::execute(graph.clone(), exec_opts, sink.clone())?;
    let _ = file_states.save(&states_path);
    if let Some(r) = store.remote() {
        let report = r.finish(std::time::Duration::from_secs(60));
        if report.abandoned > 0 {
            reporter.with_human(|h| {
                h.warning(&format!(
                    "abandoned {} remote cache upload(s) at exit",
                    report.abandoned
                ))
            });
        }
        summary.remote = Some(r.stats());
        for w in r.take_warnings() {
            reporter.with_human(|h| h.warning(&w));
        }
    }
    if let Some(rx) = &remote_exec {
        let _ = rx.executor().save_digests(&digests_path);
        summary.remote_exec = Some(rx.executor().stats());
    }
    drop(cache_guard);
    if let Some(l) = &local {
        record_build(l, &summary);
        let _ = l.maybe_auto_gc(crate::cache::local::DEFAULT_MAX_SIZE);
    }
    let explanation = crate::explain::record(&graph, &reasons, &target_dir);
    if settings.report.explain {
        crate::report::explain::print(&graph, &explanation, &reporter, settings.report.format);
    }
    let code = exit_code(&summary);
    let finished = pending.map(|p| (p, summary.clone()));
    reporter.event(&graph, BuildEvent::Finished(summary));
    if let Some((p, summary)) = finished {
        p.finish(settings, &analysis.inputs.env, &graph, &reasons, &summary);
    }
    Ok(Direct {
        code,
        target_dir: Some(target_dir),
        run: graph.run.clone(),
        doc_pages: graph.doc_pages.clone(),
    })
}

/// Cargo's exit code: 0, or 101; when a test failed under fail-fast, the
/// exit code of that test.
fn exit_code(s: &crate::exec::BuildSummary) -> i32 {
    if s.success {
        return ExitCode::OK;
    }
    s.tests
        .as_ref()
        .filter(|t| !t.no_fail_fast)
        .and_then(|t| t.first_exit_code)
        .filter(|&c| c != 0)
        .unwrap_or(ExitCode::FAILURE)
}
