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
use crate::plan::request::{CheckRequest, ClippyRequest, DocRequest, TestRequest};
use crate::plan::{BuildRequest, TargetSelection};
use crate::report::{MessageFormat, ReportConfig};
use crate::settings::args::{BuildArgs, CheckArgs, ClippyArgs, Color, DocArgs, RunArgs, TestArgs};
use crate::workspace::config::{CargoConfig, JobsSetting, Sourced};
use crate::workspace::config_arg::ConfigArg;
use crate::workspace::load::LoadOptions;
use crate::workspace::target_dir::{self, TargetDir, TargetDirInputs};

impl Settings {
    /// Resolves a build invocation: its flags, environment and config files.
    pub fn resolve(args: &BuildArgs, inv: &Invocation) -> Result<Settings, SettingsError> {
        super::unstable::check(args, inv)?;
        let config_args = config_args(&args.config, &inv.cwd)?;
        let profile = profile(args)?;
        let manifest_path = manifest_path(args.manifest_path.as_deref(), &inv.cwd)?;
        let format = build_format(&args.message_format)?;
        let cargo_home = cargo_home(&inv.env);
        let req_cwd = config_dir(manifest_path.as_deref(), &inv.cwd);
        let located = locate(
            &Where {
                flag: args.target_dir.as_deref(),
                manifest: manifest_path.as_deref(),
                config_dir: &req_cwd,
                config_args: &config_args,
            },
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
            test: None,
            run: false,
            doc: None,
            check: None,
        };
        let analysis = AnalysisOptions {
            load: LoadOptions {
                manifest_path,
                locked: args.locked || args.frozen,
                offline: args.offline || args.frozen,
                frozen: args.frozen,
                features: Vec::new(),
                config: config_args,
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
                no_fail_fast: false,
                cache_test_results: true,
                remote_download: crate::cache::remote::Download::resolve(
                    args.remote_download.as_deref(),
                    |name| inv.env.get(name).cloned(),
                )
                .map_err(SettingsError::Remote)?,
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
                    instance_name: args.remote_instance_name.clone(),
                    executor: args.remote_executor.clone(),
                    platform: args.remote_platform.clone(),
                    only: args.remote_only,
                    build_scripts: args.remote_build_scripts,
                },
            },
            server: ServerUse::decide(
                args.server,
                args.no_server,
                &inv.env,
                inv.stderr_is_terminal,
            ),
            // A build never fails over the server's settings: a bad value
            // only means no server is started.
            server_idle_timeout: super::server::idle_timeout(None, &inv.env).ok(),
        })
    }
}

impl Settings {
    /// Resolves a `test` invocation: a build of the test targets (with
    /// Cargo's `test` or `bench` profile) that also runs them.
    pub fn resolve_test(args: &TestArgs, inv: &Invocation) -> Result<Settings, SettingsError> {
        let b = &args.build;
        if args.doc && !targets(b).is_default() {
            return Err(SettingsError::DocWithTargets);
        }
        if args.doc && args.no_run {
            return Err(SettingsError::DocNoRun);
        }
        let mut s = Settings::resolve(b, inv)?;
        s.kind = RequestKind::Test;
        // With a name filter Cargo builds only what has tests (lib, bins,
        // integration tests), neither examples nor doctests.
        if args.testname.is_some() && !args.doc && s.request.targets.is_default() {
            s.request.targets.all_tests = true;
        }
        if b.profile.is_none() {
            s.request.profile = if b.release { "bench" } else { "test" }.into();
        }
        let mut harness_args: Vec<String> = args.testname.iter().cloned().collect();
        harness_args.extend(args.args.iter().cloned());
        if b.quiet {
            harness_args.push("--quiet".into());
        }
        s.request.test = Some(TestRequest {
            doc_only: args.doc,
            no_run: args.no_run,
            harness_args,
        });
        s.run.no_fail_fast = args.no_fail_fast;
        s.run.cache_test_results = !args.no_cache_test_results
            && inv
                .env
                .get("HBUILD_CACHE_TEST_RESULTS")
                .is_none_or(|v| !matches!(v.as_str(), "0" | "false" | "no" | "off"));
        Ok(s)
    }
}

impl Settings {
    /// Resolves a `run` invocation: a build of the one program to run.
    pub fn resolve_run(args: &RunArgs, inv: &Invocation) -> Result<Settings, SettingsError> {
        let b = &args.build;
        let refused = [
            (b.lib, "--lib"),
            (b.tests || !b.test.is_empty(), "--test"),
            (b.benches || !b.bench.is_empty(), "--bench"),
            (b.all_targets, "--all-targets"),
        ];
        if let Some((_, flag)) = refused.iter().find(|(set, _)| *set) {
            return Err(SettingsError::RunTargetFlag(flag));
        }
        let mut s = Settings::resolve(b, inv)?;
        s.kind = RequestKind::Run;
        s.request.run = true;
        Ok(s)
    }
}

impl Settings {
    /// Resolves a `doc` invocation: the documentation of the selected
    /// packages (and their dependencies unless `--no-deps`).
    pub fn resolve_doc(args: &DocArgs, inv: &Invocation) -> Result<Settings, SettingsError> {
        let b = &args.build;
        let refused = [
            (b.tests || !b.test.is_empty(), "--test"),
            (b.benches || !b.bench.is_empty(), "--bench"),
            (b.all_targets, "--all-targets"),
        ];
        if let Some((_, flag)) = refused.iter().find(|(set, _)| *set) {
            return Err(SettingsError::DocTargetFlag(flag));
        }
        let mut s = Settings::resolve(b, inv)?;
        s.kind = RequestKind::Doc;
        s.request.doc = Some(DocRequest {
            no_deps: args.no_deps,
            private_items: args.document_private_items,
        });
        Ok(s)
    }
}

impl Settings {
    /// Resolves a `check` invocation: a build whose units are checked.
    /// `--profile test` checks the roots as tests, as Cargo does.
    pub fn resolve_check(args: &CheckArgs, inv: &Invocation) -> Result<Settings, SettingsError> {
        Settings::checking(&args.build, inv)
    }

    /// Resolves a `clippy` invocation: a check whose workspace members are
    /// linted by `clippy-driver` with the arguments after `--`.
    pub fn resolve_clippy(args: &ClippyArgs, inv: &Invocation) -> Result<Settings, SettingsError> {
        if args.fix {
            return Err(SettingsError::ClippyFix);
        }
        let mut s = Settings::checking(&args.build, inv)?;
        s.kind = RequestKind::Clippy;
        if let Some(c) = s.request.check.as_mut() {
            c.clippy = Some(ClippyRequest {
                args: clippy_args(&args.args),
                no_deps: args.no_deps || args.args.iter().any(|a| a == "--no-deps"),
            });
        }
        Ok(s)
    }

    fn checking(build: &BuildArgs, inv: &Invocation) -> Result<Settings, SettingsError> {
        let mut s = Settings::resolve(build, inv)?;
        s.kind = RequestKind::Check;
        s.request.check = Some(CheckRequest {
            test: build.profile.as_deref() == Some("test"),
            clippy: None,
        });
        Ok(s)
    }
}

/// The arguments `clippy-driver` gets: those after `--` but `--no-deps`,
/// which says which packages are linted and is planned as such.
fn clippy_args(after_dashes: &[String]) -> Vec<String> {
    after_dashes
        .iter()
        .filter(|a| *a != "--no-deps")
        .cloned()
        .collect()
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
        cwd: inv.cwd.clone(),
        timings: args.timings.is_some(),
    }
}

/// The job count with Cargo's precedence: `-j`, `--config build.jobs`,
/// `CARGO_BUILD_JOBS`, `build.jobs` of the config files, else the available
/// parallelism. A negative count means "all CPUs but n" (at least one); 0
/// is an error.
pub(super) fn jobs(
    flag: Option<i64>,
    env: &BTreeMap<String, String>,
    config: Option<&Sourced<JobsSetting>>,
) -> Result<usize, SettingsError> {
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1) as i64;
    let from_cli = config.filter(|c| c.source.is_cli());
    let setting = flag
        .map(JobsSetting::Count)
        .or_else(|| from_cli.map(|c| c.value.clone()))
        .or_else(|| env.get("CARGO_BUILD_JOBS").map(|v| JobsSetting::parse(v)))
        .or_else(|| config.map(|c| c.value.clone()));
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

/// What [`locate`] starts from.
struct Where<'a> {
    /// `--target-dir`.
    flag: Option<&'a Path>,
    /// `--manifest-path` (absolute).
    manifest: Option<&'a Path>,
    /// Where config files are searched from.
    config_dir: &'a Path,
    /// `--config`.
    config_args: &'a [ConfigArg],
}

/// Reads the config files that apply to `config_dir` and the `--config`
/// arguments, and resolves the target dir (no `cargo metadata`).
fn locate(
    w: &Where<'_>,
    inv: &Invocation,
    cargo_home: Option<&Path>,
) -> Result<Located, SettingsError> {
    let config = CargoConfig::from_sources(w.config_dir, cargo_home, w.config_args)?;
    let target_dir = target_dir::resolve(&TargetDirInputs {
        flag: w.flag,
        cwd: &inv.cwd,
        env: &inv.env,
        config: &config,
        manifest: w.manifest,
        search_from: w.config_dir,
        cargo_home,
    })?;
    Ok(Located { target_dir, config })
}

/// `--config` arguments, each checked (Cargo's errors name the argument).
fn config_args(raw: &[String], cwd: &Path) -> Result<Vec<ConfigArg>, SettingsError> {
    raw.iter()
        .map(|a| ConfigArg::parse(a, cwd).map_err(|e| SettingsError::Config(e.into())))
        .collect()
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
    let w = Where {
        flag,
        manifest: manifest.as_deref(),
        config_dir: &config_dir,
        config_args: &[],
    };
    Ok(locate(&w, inv, home.as_deref())?.target_dir.path)
}
