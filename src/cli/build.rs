//! `cargo hbuild` (build) and `cargo hbuild explain`.

use std::io::IsTerminal;
use std::path::PathBuf;
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
use crate::workspace::load::{env_snapshot, LoadOptions};

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

fn jobs(args: &BuildArgs, env_jobs: Option<u32>) -> Result<usize, CliError> {
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1) as i64;
    let j = args.jobs.or(env_jobs.map(i64::from)).unwrap_or(cpus);
    match j {
        0 => Err(CliError::Usage(
            "\"0\" is not a valid value for `--jobs`: jobs may not be 0".into(),
        )),
        n if n < 0 => Ok((cpus + n).max(1) as usize),
        n => Ok(n as usize),
    }
}

/// The request and options from the flags and environment.
pub fn request_from_args(
    args: &BuildArgs,
) -> Result<(BuildRequest, AnalysisOptions, MessageFormat), CliError> {
    let cwd = std::env::current_dir()
        .map_err(|e| CliError::Other(format!("cannot read the current directory: {e}")))?;
    let env = env_snapshot();
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
    let cargo_home = env
        .get("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| dirs::home_dir().map(|h| h.join(".cargo")));
    let config_jobs = env.get("CARGO_BUILD_JOBS").and_then(|j| j.parse().ok());
    let req = BuildRequest {
        cwd: manifest_path
            .as_ref()
            .and_then(|m| m.parent().map(|p| p.to_path_buf()))
            .unwrap_or_else(|| cwd.clone()),
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
        target_dir: args.target_dir.as_ref().map(|t| {
            if t.is_absolute() {
                t.clone()
            } else {
                cwd.join(t)
            }
        }),
        jobs: jobs(args, config_jobs)?,
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

/// Runs a build.
pub fn run(args: BuildArgs) -> Result<i32, CliError> {
    let (req, opts, format) = request_from_args(&args)?;
    let (analysis, reused) = match crate::analysis::persist::load(&req, &opts) {
        Some(a) => (a, true),
        None => (
            crate::analysis::persist::save(analyse_on_big_stack(&req, &opts)?, &req, &opts),
            false,
        ),
    };
    if args.plan {
        let json = serde_json::to_string_pretty(&analysis.graph)
            .map_err(|e| CliError::Other(e.to_string()))?;
        crate::report::print_stdout_line(&json);
        return Ok(ExitCode::OK);
    }
    let color = use_color(args.color);
    let reporter = Arc::new(Reporter::new(ReportConfig {
        format,
        color,
        verbose: args.verbose,
        quiet: args.quiet,
        progress: std::io::stderr().is_terminal() && !matches!(format, MessageFormat::Json { .. }),
        explain: args.explain,
    }));
    if reused && args.verbose > 0 {
        reporter.with_human(|h| h.status("Reusing", "the saved analysis: no manifest, lock file, config, toolchain, variable or flag changed"));
    }
    let graph = Arc::new(analysis.graph);
    let target_dir = analysis.layout.target_dir.clone();
    let _lock = exec::lock::lock_target_dir(&target_dir, || {
        reporter.event(
            &graph,
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
    let remote = super::cache_cmd::remote_from_args(&args, &req.env)?;
    let store = Arc::new(Store::new(local.clone(), remote));
    let states_path = target_dir.join("hbuild").join("file-states.json");
    let file_states = Arc::new(FileStates::load(&states_path));
    let normalizer = PathNormalizer::new(
        &analysis.workspace_root,
        &target_dir,
        req.cargo_home.as_deref(),
        &analysis.toolchain.sysroot,
    );
    let toolchain_id = analysis.toolchain_id.clone();
    let sink: Arc<dyn EventSink> = reporter.clone();
    let (mut summary, reasons) = exec::execute(
        graph.clone(),
        ExecOptions {
            jobs: req.jobs,
            keep_going: args.keep_going,
            strict: args.strict,
            toolchain_id,
            normalizer,
            file_states: file_states.clone(),
            store: store.clone(),
            env: req.env.clone(),
            wrapper: analysis.toolchain.wrapper.clone(),
            target_dir: target_dir.clone(),
            sysroot: analysis.toolchain.sysroot.clone(),
            cargo_home: req.cargo_home.clone(),
        },
        sink.clone(),
    );
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
        summary.remote = serde_json::to_value(r.stats()).ok();
        for w in r.take_warnings() {
            reporter.with_human(|h| h.warning(&w));
        }
    }
    drop(cache_guard);
    if let Some(l) = &local {
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
            remote_misses: remote_stat(&summary, "misses"),
            remote_bytes_down: remote_stat(&summary, "bytes_down"),
            remote_bytes_up: remote_stat(&summary, "bytes_up"),
            remote_transfer_ms: summary
                .remote
                .as_ref()
                .and_then(|r| r.get("transfer_time"))
                .and_then(|v| v.as_f64())
                .map(|s| (s * 1000.0) as u64)
                .unwrap_or(0),
        });
        let _ = l.maybe_auto_gc(crate::cache::local::DEFAULT_MAX_SIZE);
    }
    crate::explain::record_and_report(
        &graph,
        &reasons,
        &target_dir,
        &reporter,
        args.explain,
        format,
    );
    let success = summary.success;
    reporter.event(&graph, BuildEvent::Finished(summary));
    Ok(if success {
        ExitCode::OK
    } else {
        ExitCode::FAILURE
    })
}

fn remote_stat(s: &crate::exec::BuildSummary, key: &str) -> u64 {
    s.remote
        .as_ref()
        .and_then(|r| r.get(key))
        .and_then(|v| v.as_u64())
        .unwrap_or(0)
}

/// `cargo hbuild explain <pkg>[:<target>]`.
pub fn explain_unit(e: ExplainArgs) -> Result<i32, CliError> {
    crate::explain::explain_command(&e)
}
