//! Build settings from `cargo build`'s flags: the request, the target dir
//! and job count with Cargo's precedence, the report options.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{
    build_format, tools, CacheSettings, Invocation, RemoteSettings, RequestKind, ServerUse,
    Settings, SettingsError,
};
use crate::analysis::run::RunOptions;
use crate::analysis::AnalysisOptions;
use crate::plan::{BuildRequest, TargetSelection};
use crate::report::{MessageFormat, ReportConfig};
use crate::settings::args::{BuildArgs, Color};
use crate::workspace::config::{CargoConfig, JobsSetting};
use crate::workspace::load::LoadOptions;
use crate::workspace::target_dir::{self, TargetDir, TargetDirInputs};

impl Settings {
    /// Resolves a build invocation: its flags, environment and config files.
    pub fn resolve(args: &BuildArgs, inv: &Invocation) -> Result<Settings, SettingsError> {
        let profile = profile(args)?;
        let manifest_path = manifest_path(args.manifest_path.as_deref(), &inv.cwd)?;
        let format = build_format(&args.message_format)?;
        let cargo_home = cargo_home(&inv.env);
        let req_cwd = config_dir(manifest_path.as_deref(), &inv.cwd);
        let located = locate(
            args.target_dir.as_deref(),
            manifest_path.as_deref(),
            &req_cwd,
            inv,
            cargo_home.as_deref(),
        )?;
        let request = BuildRequest {
            cwd: req_cwd,
            packages: args.package.clone(),
            workspace: args.workspace,
            exclude: args.exclude.clone(),
            targets: targets(args),
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
            jobs: jobs(args.jobs, &inv.env, located.config.jobs.as_ref())?,
            target_dir: located.target_dir,
            env: inv.env.clone(),
            cargo_home,
            very_verbose: args.verbose >= 2,
        };
        let analysis = AnalysisOptions {
            load: LoadOptions {
                manifest_path,
                locked: args.locked || args.frozen,
                offline: args.offline || args.frozen,
                frozen: args.frozen,
            },
            short_diagnostics: format == MessageFormat::Short,
        };
        Ok(Settings {
            kind: RequestKind::Build,
            cwd: inv.cwd.clone(),
            request,
            analysis,
            run: RunOptions {
                keep_going: args.keep_going,
                strict: args.strict,
            },
            report: report_config(args, format, inv),
            plan_only: args.plan,
            ignore_rust_version: args.ignore_rust_version,
            cache: CacheSettings {
                dir: tools::cache_dir(args.cache_dir.as_ref(), &inv.env),
                disabled: args.no_cache,
                remote: RemoteSettings {
                    url: args.remote_cache.clone(),
                    read_only: args.remote_cache_read_only,
                    headers: args.remote_cache_header.clone(),
                    timeout: args.remote_cache_timeout.clone(),
                    connect_timeout: args.remote_cache_connect_timeout.clone(),
                },
            },
            server: ServerUse::decide(args.server, args.no_server, &inv.env),
            // A build never fails over the server's settings: a bad value
            // only means no server is started.
            server_idle_timeout: super::server::idle_timeout(None, &inv.env).ok(),
        })
    }
}

fn profile(args: &BuildArgs) -> Result<String, SettingsError> {
    if args.release && args.profile.as_deref().is_some_and(|p| p != "release") {
        return Err(SettingsError::ConflictingProfile {
            profile: args.profile.clone().unwrap_or_default(),
        });
    }
    Ok(if args.release {
        "release".to_string()
    } else {
        args.profile.clone().unwrap_or_else(|| "dev".into())
    })
}

/// `--manifest-path`, absolute, checked to name an existing `Cargo.toml`.
fn manifest_path(flag: Option<&Path>, cwd: &Path) -> Result<Option<PathBuf>, SettingsError> {
    let Some(p) = flag else { return Ok(None) };
    let abs = cwd.join(p);
    if abs.file_name().is_none_or(|n| n != "Cargo.toml") {
        return Err(SettingsError::ManifestNotCargoToml(p.to_path_buf()));
    }
    if !abs.is_file() {
        return Err(SettingsError::ManifestMissing(p.to_path_buf()));
    }
    Ok(Some(abs))
}

/// Where config files are searched from and `cargo metadata` runs: the
/// manifest's directory with `--manifest-path`, else the current directory.
fn config_dir(manifest: Option<&Path>, cwd: &Path) -> PathBuf {
    manifest
        .and_then(|m| m.parent().map(Path::to_path_buf))
        .unwrap_or_else(|| cwd.to_path_buf())
}

fn targets(args: &BuildArgs) -> TargetSelection {
    TargetSelection {
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
    }
}

/// The output settings: the format, and colour and progress bar decided
/// from the flags, the terminal and `TERM`/`NO_COLOR`.
fn report_config(args: &BuildArgs, format: MessageFormat, inv: &Invocation) -> ReportConfig {
    let color = match args.color {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => {
            inv.stderr_is_terminal
                && inv.env.get("TERM").is_none_or(|t| t != "dumb")
                && !inv.env.contains_key("NO_COLOR")
        }
    };
    ReportConfig {
        format,
        color,
        verbose: args.verbose,
        quiet: args.quiet,
        progress: inv.stderr_is_terminal && !matches!(format, MessageFormat::Json { .. }),
        explain: args.explain,
    }
}

/// The job count with Cargo's precedence: `-j`, `CARGO_BUILD_JOBS`,
/// `build.jobs`, else the available parallelism. A negative count means
/// "all CPUs but n" (at least one); 0 is an error.
pub(super) fn jobs(
    flag: Option<i64>,
    env: &BTreeMap<String, String>,
    config: Option<&JobsSetting>,
) -> Result<usize, SettingsError> {
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1) as i64;
    let setting = flag
        .map(JobsSetting::Count)
        .or_else(|| env.get("CARGO_BUILD_JOBS").map(|v| JobsSetting::parse(v)))
        .or_else(|| config.cloned());
    match setting {
        None | Some(JobsSetting::Default) => Ok(cpus as usize),
        Some(JobsSetting::Count(0)) => Err(SettingsError::ZeroJobs),
        Some(JobsSetting::Count(n)) if n < 0 => Ok((cpus + n).max(1) as usize),
        Some(JobsSetting::Count(n)) => Ok(n as usize),
        Some(JobsSetting::Invalid(v)) => Err(SettingsError::InvalidJobs(v)),
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

/// Reads the config files that apply to `config_dir` and resolves the
/// target dir (no `cargo metadata`).
fn locate(
    flag: Option<&Path>,
    manifest: Option<&Path>,
    config_dir: &Path,
    inv: &Invocation,
    cargo_home: Option<&Path>,
) -> Result<Located, SettingsError> {
    let config = CargoConfig::from_files(config_dir, cargo_home)?;
    let target_dir = target_dir::resolve(&TargetDirInputs {
        flag,
        cwd: &inv.cwd,
        env: &inv.env,
        config: &config,
        manifest,
        search_from: config_dir,
        cargo_home,
    })?;
    Ok(Located { target_dir, config })
}

/// The target dir of a command that does not build (`server`, `explain`):
/// found as a build of the same invocation finds it.
pub fn resolve_target_dir(
    flag: Option<&Path>,
    manifest_path: Option<&Path>,
    inv: &Invocation,
) -> Result<PathBuf, SettingsError> {
    let manifest = manifest_path.map(|m| inv.cwd.join(m));
    if let Some(m) = manifest.as_ref().filter(|m| !m.is_file()) {
        return Err(SettingsError::ManifestMissing(m.clone()));
    }
    let config_dir = config_dir(manifest.as_deref(), &inv.cwd);
    let home = cargo_home(&inv.env);
    Ok(
        locate(flag, manifest.as_deref(), &config_dir, inv, home.as_deref())?
            .target_dir
            .path,
    )
}
