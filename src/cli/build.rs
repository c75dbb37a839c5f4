//! `cargo hbuild` (build) and `cargo hbuild explain`.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::args::{BuildArgs, Color, ExplainArgs};
use super::errors::{CliError, ExitCode};
use crate::analysis::{analyse, AnalysisOptions};
use crate::cache::local::LocalCache;
use crate::exec::events::{BuildEvent, EventSink};
use crate::exec::store::Store;
use crate::exec::{self, ExecOptions};
use crate::fingerprint::{FileStates, PathNormalizer};
use crate::plan::{BuildRequest, TargetSelection};
use crate::report::{MessageFormat, ReportConfig, Reporter};
use crate::workspace::config::{CargoConfig, JobsSetting};
use crate::workspace::load::{env_snapshot, LoadOptions};
use crate::workspace::target_dir::{self, TargetDir, TargetDirInputs};

fn parse_message_format(values: &[String]) -> Result<MessageFormat, CliError> {
    let mut fmt = MessageFormat::Human;
    for v in values.iter().flat_map(|v| v.split(',')) {
        fmt = match v.trim() {
            "human" => MessageFormat::Human,
            "short" => MessageFormat::Short,
            "json" | "json-diagnostic-short" => MessageFormat::Json { render: false, ansi: false },
            "json-diagnostic-rendered-ansi" => MessageFormat::Json { render: false, ansi: true },
            "json-render-diagnostics" => MessageFormat::Json { render: true, ansi: false },
            other => {
                return Err(CliError::Usage(format!(
                    "invalid message format specifier: `{other}` (expected `human`, `short`, `json`, `json-diagnostic-short`, `json-diagnostic-rendered-ansi` or `json-render-diagnostics`)"
                )))
            }
        };
    }
    Ok(fmt)
}

/// The job count with Cargo's precedence: `-j`, `CARGO_BUILD_JOBS`,
/// `build.jobs`, else the available parallelism. A negative count means
/// "all CPUs but n" (at least one); 0 is an error.
fn jobs(
    flag: Option<i64>,
    env: &BTreeMap<String, String>,
    config: Option<&JobsSetting>,
) -> Result<usize, CliError> {
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1) as i64;
    let setting = flag
        .map(JobsSetting::Count)
        .or_else(|| env.get("CARGO_BUILD_JOBS").map(|v| JobsSetting::parse(v)))
        .or_else(|| config.cloned());
    match setting {
        None | Some(JobsSetting::Default) => Ok(cpus as usize),
        Some(JobsSetting::Count(0)) => Err(CliError::Other("jobs may not be 0".into())),
        Some(JobsSetting::Count(n)) if n < 0 => Ok((cpus + n).max(1) as usize),
        Some(JobsSetting::Count(n)) => Ok(n as usize),
        Some(JobsSetting::Invalid(v)) => Err(CliError::Other(format!(
            "could not parse `{v}`. Number of parallel jobs should be `default` or a number."
        ))),
    }
}

/// `$CARGO_HOME` of an environment (default `~/.cargo`).
fn cargo_home(env: &BTreeMap<String, String>) -> Option<PathBuf> {
    env.get("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| dirs::home_dir().map(|h| h.join(".cargo")))
}

/// An invocation's target dir and config-file settings, read once.
struct Located {
    target_dir: TargetDir,
    config: CargoConfig,
}

/// Reads the config files that apply to `config_dir` (the manifest's
/// directory with `--manifest-path`, else the current directory) and
/// resolves the target dir (no `cargo metadata`).
fn locate(
    flag: Option<&Path>,
    manifest: Option<&Path>,
    config_dir: &Path,
    inv: &Invocation,
    cargo_home: Option<&Path>,
) -> Result<Located, CliError> {
    let config =
        CargoConfig::from_files(config_dir, cargo_home).map_err(crate::plan::PlanError::from)?;
    let target_dir = target_dir::resolve(&TargetDirInputs {
        flag,
        cwd: &inv.cwd,
        env: &inv.env,
        config: &config,
        manifest,
        search_from: config_dir,
        cargo_home,
    })
    .map_err(crate::plan::PlanError::from)?;
    Ok(Located { target_dir, config })
}

/// The target dir of a command that does not build (`server`, `explain`):
/// found as a build of the same invocation finds it.
pub fn resolve_target_dir(
    flag: Option<&Path>,
    manifest_path: Option<&Path>,
    inv: &Invocation,
) -> Result<PathBuf, CliError> {
    let manifest = manifest_path.map(|m| inv.cwd.join(m));
    if let Some(m) = manifest.as_ref().filter(|m| !m.is_file()) {
        return Err(CliError::Usage(format!(
            "manifest path `{}` does not exist",
            m.display()
        )));
    }
    let config_dir = manifest
        .as_ref()
        .and_then(|m| m.parent().map(Path::to_path_buf))
        .unwrap_or_else(|| inv.cwd.clone());
    let home = cargo_home(&inv.env);
    Ok(
        locate(flag, manifest.as_deref(), &config_dir, inv, home.as_deref())?
            .target_dir
            .path,
    )
}

/// Where a command runs: its directory and environment. The direct path
/// takes them from the process; the resident server from the client.
#[derive(Clone, Debug)]
pub struct Invocation {
    /// The current directory.
    pub cwd: PathBuf,
    /// The environment (UTF-8 variables only).
    pub env: BTreeMap<String, String>,
}

impl Invocation {
    /// This process's directory and environment.
    pub fn current() -> Result<Self, CliError> {
        let cwd = std::env::current_dir()
            .map_err(|e| CliError::Other(format!("cannot read the current directory: {e}")))?;
        Ok(Invocation {
            cwd,
            env: env_snapshot(),
        })
    }
}

/// The request and options from the flags and an invocation.
pub fn request_from_args(
    args: &BuildArgs,
    inv: &Invocation,
) -> Result<(BuildRequest, AnalysisOptions, MessageFormat), CliError> {
    let cwd = inv.cwd.clone();
    let env = inv.env.clone();
    if args.release && args.profile.as_deref().is_some_and(|p| p != "release") {
        return Err(CliError::Usage(format!(
            "conflicting usage of --profile={} and --release\nThe `--release` flag is the same as `--profile=release`.\nRemove one flag or the other to continue.",
            args.profile.as_deref().unwrap_or("")
        )));
    }
    let profile = if args.release {
        "release".to_string()
    } else {
        args.profile.clone().unwrap_or_else(|| "dev".into())
    };
    let manifest_path = match &args.manifest_path {
        Some(p) => {
            let abs = if p.is_absolute() {
                p.clone()
            } else {
                cwd.join(p)
            };
            if abs.file_name().is_none_or(|n| n != "Cargo.toml") {
                return Err(CliError::Usage(format!(
                    "the manifest-path must be a path to a Cargo.toml file: `{}`",
                    p.display()
                )));
            }
            if !abs.is_file() {
                return Err(CliError::Usage(format!(
                    "manifest path `{}` does not exist",
                    p.display()
                )));
            }
            Some(abs)
        }
        None => None,
    };
    let format = parse_message_format(&args.message_format)?;
    let cargo_home = cargo_home(&env);
    let req_cwd = manifest_path
        .as_ref()
        .and_then(|m| m.parent().map(|p| p.to_path_buf()))
        .unwrap_or_else(|| cwd.clone());
    let located = locate(
        args.target_dir.as_deref(),
        manifest_path.as_deref(),
        &req_cwd,
        inv,
        cargo_home.as_deref(),
    )?;
    let req = BuildRequest {
        cwd: req_cwd,
        packages: args.package.clone(),
        workspace: args.workspace,
        exclude: args.exclude.clone(),
        targets: TargetSelection {
            lib: args.lib,
            bins: args.bin.clone(),
            all_bins: args.bins,
            examples: args.example.clone(),
            all_examples: args.examples,
            tests: args.test.clone(),
            all_tests: args.tests,
            benches: args.bench.clone(),
            all_benches: args.benches,
            all_targets: args.all_targets,
        },
        profile,
        features: args
            .features
            .iter()
            .flat_map(|f| f.split([',', ' ']))
            .filter(|f| !f.is_empty())
            .map(str::to_string)
            .collect(),
        all_features: args.all_features,
        no_default_features: args.no_default_features,
        target: args.target.clone(),
        jobs: jobs(args.jobs, &env, located.config.jobs.as_ref())?,
        target_dir: located.target_dir,
        env,
        cargo_home,
        very_verbose: args.verbose >= 2,
    };
    let opts = AnalysisOptions {
        load: LoadOptions {
            manifest_path,
            locked: args.locked || args.frozen,
            offline: args.offline || args.frozen,
            frozen: args.frozen,
        },
        short_diagnostics: format == MessageFormat::Short,
    };
    Ok((req, opts, format))
}

fn use_color(c: Color) -> bool {
    match c {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => {
            std::io::stderr().is_terminal()
                && std::env::var("TERM").map(|t| t != "dumb").unwrap_or(true)
                && std::env::var_os("NO_COLOR").is_none()
        }
    }
}

/// The local cache directory: `--cache-dir`, `HBUILD_CACHE_DIR`, then the
/// per-user cache dir.
pub fn cache_dir(flag: Option<&PathBuf>) -> Option<PathBuf> {
    flag.cloned()
        .or_else(|| {
            std::env::var_os("HBUILD_CACHE_DIR")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        })
        .or_else(LocalCache::default_root)
}

/// The output settings of a build command, decided from the flags and the
/// terminal of this process.
pub fn report_config(args: &BuildArgs, format: MessageFormat) -> ReportConfig {
    ReportConfig {
        format,
        color: use_color(args.color),
        verbose: args.verbose,
        quiet: args.quiet,
        progress: std::io::stderr().is_terminal() && !matches!(format, MessageFormat::Json { .. }),
        explain: args.explain,
    }
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

/// Executor options of a build of `analysis` (shared by a build and the
/// resident server's check of one).
pub fn exec_options(
    analysis: &crate::analysis::Analysis,
    req: &BuildRequest,
    args: &BuildArgs,
    store: Arc<Store>,
    file_states: Arc<FileStates>,
    policy: exec::RunPolicy,
) -> ExecOptions {
    let target_dir = analysis.layout.target_dir.clone();
    ExecOptions {
        jobs: req.jobs,
        keep_going: args.keep_going,
        strict: args.strict,
        toolchain_id: analysis.toolchain_id.clone(),
        normalizer: normalizer(analysis, req),
        file_states,
        store,
        env: req.env.clone(),
        wrapper: analysis.toolchain.wrapper.clone(),
        target_dir,
        sysroot: analysis.toolchain.sysroot.clone(),
        cargo_home: req.cargo_home.clone(),
        policy,
        test_hooks: exec::job::TestHooks::from_env(&req.env),
    }
}

/// The path normaliser of a build of `analysis`.
pub fn normalizer(analysis: &crate::analysis::Analysis, req: &BuildRequest) -> PathNormalizer {
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
            .map_err(|e| CliError::Other(format!("cannot start the analysis thread: {e}")))?
            .join()
            .map_err(|_| CliError::Other("the analysis thread panicked; this is a bug".into()))?
            .map_err(CliError::from)
    })
}

/// Runs a build: through the resident server when it can answer (a no-op
/// it has verified), otherwise directly; then tells the server about it.
pub fn run(args: BuildArgs, argv: &[std::ffi::OsString]) -> Result<i32, CliError> {
    let inv = Invocation::current()?;
    let (req, opts, format) = request_from_args(&args, &inv)?;
    let use_server = crate::server::client::Use::decide(&args, &inv.env);
    // Only a build that may talk to a server needs its invocation on the wire.
    let wire = (use_server.active() && crate::server::client::eligible(&args, &inv.env))
        .then(|| crate::server::client::wire_invocation(argv, &inv))
        .flatten();
    if let Some(w) = &wire {
        let cfg = report_config(&args, format);
        if let Some(reply) =
            crate::server::client::query(&req, w, &cfg, cache_dir(args.cache_dir.as_ref()))
        {
            crate::report::write_raw(&reply.stdout, &reply.stderr);
            return Ok(reply.exit_code);
        }
    }
    let (code, target_dir) = run_direct(&args, &req, &opts, format)?;
    if let (Some(w), Some(t)) = (wire, target_dir) {
        if code == ExitCode::OK {
            crate::server::client::built(&t, w, use_server);
        }
    }
    Ok(code)
}

/// A build without the server. Returns the exit code and the target dir.
fn run_direct(
    args: &BuildArgs,
    req: &BuildRequest,
    opts: &AnalysisOptions,
    format: MessageFormat,
) -> Result<(i32, Option<PathBuf>), CliError> {
    let (mut analysis, reused) = match crate::analysis::persist::load(req, opts) {
        Some(a) => (a, true),
        None => (
            crate::analysis::persist::save(analyse_on_big_stack(req, opts)?, req, opts),
            false,
        ),
    };
    if !args.ignore_rust_version {
        if let Some(e) = analysis.rust_version.error() {
            return Err(crate::plan::PlanError::from(e).into());
        }
    }
    if args.plan {
        for a in &mut analysis.graph.actions {
            crate::core::secret::redact_env_for_display(&mut a.env);
        }
        let json = serde_json::to_string_pretty(&analysis.graph)
            .map_err(|e| CliError::Other(e.to_string()))?;
        crate::report::print_stdout_line(&json);
        return Ok((ExitCode::OK, None));
    }
    let reporter = Arc::new(Reporter::new(report_config(args, format)));
    if reused && args.verbose > 0 {
        print_reused(&reporter);
    }
    let target_dir = analysis.layout.target_dir.clone();
    let _lock = exec::lock::lock_target_dir(&target_dir, || {
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

    let local = if args.no_cache {
        None
    } else {
        match cache_dir(args.cache_dir.as_ref()).map(|d| LocalCache::open(&d)) {
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
    };
    // Builds hold the cache's shared lock so that `cache gc` never deletes
    // what they are about to reference.
    let cache_guard = local.as_ref().and_then(|l| l.lock_shared().ok());
    let remote = super::cache_cmd::remote_from_args(args, &req.env)?;
    let store = Arc::new(Store::new(local.clone(), remote));
    let states_path = file_states_path(&target_dir);
    let file_states = Arc::new(FileStates::load(&states_path));
    let exec_opts = exec_options(
        &analysis,
        req,
        args,
        store.clone(),
        file_states.clone(),
        exec::RunPolicy::Build,
    );
    let graph = Arc::new(analysis.graph);
    let sink: Arc<dyn EventSink> = reporter.clone();
    let (mut summary, reasons) = exec::execute(graph.clone(), exec_opts, sink.clone())?;
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
    drop(cache_guard);
    if let Some(l) = &local {
        record_build(l, &summary);
        let _ = l.maybe_auto_gc(crate::cache::local::DEFAULT_MAX_SIZE);
    }
    let explanation = crate::explain::record(&graph, &reasons, &target_dir);
    if args.explain {
        crate::report::explain::print(&graph, &explanation, &reporter, format);
    }
    let success = summary.success;
    reporter.event(&graph, BuildEvent::Finished(summary));
    let code = if success {
        ExitCode::OK
    } else {
        ExitCode::FAILURE
    };
    Ok((code, Some(target_dir)))
}

/// Appends a build to the local cache's log (for `cache stats`).
pub fn record_build(l: &LocalCache, summary: &crate::exec::BuildSummary) {
    let remote = summary.remote.as_ref();
    let _ = l.record_build(&crate::cache::local::BuildRecord {
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

/// `cargo hbuild explain <pkg>[:<target>]`.
pub fn explain_unit(e: ExplainArgs) -> Result<i32, CliError> {
    crate::explain::explain_command(&e)
}
