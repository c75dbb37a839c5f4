//! Settings from argv + environment + config files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::Parser;

use super::*;
use crate::report::MessageFormat;
use crate::settings::args::{Cli, Command};
use crate::workspace::target_dir::{TargetDirOrigin, TargetDirVar};

/// A workspace with one package and an empty `CARGO_HOME` (no user config).
struct Ws {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

impl Ws {
    fn new(config: &str) -> Ws {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        std::fs::create_dir_all(root.join("ws/src")).unwrap();
        std::fs::create_dir_all(root.join("home")).unwrap();
        std::fs::write(
            root.join("ws/Cargo.toml"),
            "[package]\nname = \"a\"\nversion = \"0.1.0\"\n",
        )
        .unwrap();
        if !config.is_empty() {
            std::fs::create_dir_all(root.join("ws/.cargo")).unwrap();
            std::fs::write(root.join("ws/.cargo/config.toml"), config).unwrap();
        }
        Ws { _dir: dir, root }
    }

    fn inv(&self, env: &[(&str, &str)]) -> Invocation {
        let mut vars: BTreeMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        vars.insert(
            "CARGO_HOME".into(),
            self.root.join("home").display().to_string(),
        );
        Invocation {
            cwd: self.root.join("ws"),
            env: vars,
            stderr_is_terminal: false,
        }
    }

    fn settings(&self, argv: &[&str], env: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        Settings::resolve(&build_args(argv), &self.inv(env))
    }

    fn path(&self, p: &str) -> PathBuf {
        self.root.join(p)
    }
}

fn build_args(argv: &[&str]) -> crate::settings::args::BuildArgs {
    let cli =
        Cli::try_parse_from(std::iter::once("cargo-hbuild").chain(argv.iter().copied())).unwrap();
    assert!(cli.command.is_none());
    cli.build
}

fn target_dir(s: &Settings) -> (&Path, &TargetDirOrigin) {
    (&s.request.target_dir.path, &s.request.target_dir.origin)
}

#[test]
fn the_target_dir_follows_cargos_precedence() {
    let ws = Ws::new("[build]\ntarget-dir = \"from-config\"\n");
    let all = [
        ("CARGO_TARGET_DIR", "from-env"),
        ("CARGO_BUILD_TARGET_DIR", "from-build-env"),
    ];
    let s = ws.settings(&["--target-dir", "flag"], &all).unwrap();
    assert_eq!(
        target_dir(&s),
        (&*ws.path("ws/flag"), &TargetDirOrigin::Flag)
    );
    let s = ws.settings(&[], &all).unwrap();
    assert_eq!(
        target_dir(&s),
        (
            &*ws.path("ws/from-env"),
            &TargetDirOrigin::Env(TargetDirVar::CargoTargetDir)
        )
    );
    let s = ws.settings(&[], &all[1..]).unwrap();
    assert_eq!(
        target_dir(&s),
        (
            &*ws.path("ws/from-build-env"),
            &TargetDirOrigin::Env(TargetDirVar::CargoBuildTargetDir)
        )
    );
    let s = ws.settings(&[], &[]).unwrap();
    assert_eq!(s.request.target_dir.path, ws.path("ws/from-config"));
    let plain = Ws::new("");
    let s = plain.settings(&[], &[]).unwrap();
    assert_eq!(
        target_dir(&s),
        (
            &*plain.path("ws/target"),
            &TargetDirOrigin::WorkspaceDefault
        )
    );
}

#[test]
fn an_empty_target_dir_variable_is_an_error_naming_it() {
    let ws = Ws::new("");
    let e = ws.settings(&[], &[("CARGO_TARGET_DIR", "")]).unwrap_err();
    assert!(!e.is_usage());
    assert!(e.to_string().contains("`CARGO_TARGET_DIR`"), "{e}");
}

#[test]
fn jobs_come_from_the_flag_then_the_variable_then_the_config() {
    let ws = Ws::new("[build]\njobs = 3\n");
    let jobs = |argv: &[&str], env: &[(&str, &str)]| ws.settings(argv, env).map(|s| s.request.jobs);
    assert_eq!(jobs(&["-j", "5"], &[("CARGO_BUILD_JOBS", "4")]).unwrap(), 5);
    assert_eq!(jobs(&[], &[("CARGO_BUILD_JOBS", "4")]).unwrap(), 4);
    assert_eq!(jobs(&[], &[]).unwrap(), 3);
    // "All CPUs but n", at least one.
    assert_eq!(jobs(&["-j", "-100000"], &[]).unwrap(), 1);
    let zero = jobs(&["-j", "0"], &[]).unwrap_err();
    assert_eq!(zero.to_string(), "jobs may not be 0");
    assert!(!zero.is_usage());
    assert_eq!(
        jobs(&[], &[("CARGO_BUILD_JOBS", "many")])
            .unwrap_err()
            .to_string(),
        "could not parse `many`. Number of parallel jobs should be `default` or a number."
    );
}

#[test]
fn flags_become_the_request_and_report_options() {
    let ws = Ws::new("");
    let s = ws
        .settings(
            &[
                "-p",
                "a",
                "--features",
                "x,y z",
                "--release",
                "--message-format",
                "short",
                "-vv",
                "--keep-going",
                "--no-server",
            ],
            &[("HBUILD_SERVER", "1")],
        )
        .unwrap();
    assert_eq!(s.kind, RequestKind::Build);
    assert_eq!(s.request.packages, ["a"]);
    assert_eq!(s.request.features, ["x", "y", "z"]);
    assert_eq!(s.request.profile, "release");
    assert!(s.request.very_verbose);
    assert_eq!(s.report.format, MessageFormat::Short);
    assert!(s.analysis.short_diagnostics);
    assert_eq!(s.report.verbose, 2);
    assert!(s.run.keep_going);
    // The flag wins over the variable.
    assert_eq!(s.server, ServerUse::Off);
    assert_eq!(
        ws.settings(&[], &[("HBUILD_SERVER", "yes")])
            .unwrap()
            .server,
        ServerUse::Start
    );
}

#[test]
fn a_terminal_outside_ci_starts_a_server_and_nothing_else_does() {
    let ws = Ws::new("");
    let server = |args: &[&str], env: &[(&str, &str)], terminal: bool| {
        let mut inv = ws.inv(env);
        inv.stderr_is_terminal = terminal;
        Settings::resolve(&build_args(args), &inv).unwrap().server
    };
    assert_eq!(server(&[], &[], true), ServerUse::AutoStart);
    assert_eq!(server(&[], &[], false), ServerUse::Auto);
    assert_eq!(server(&[], &[("CI", "true")], true), ServerUse::Auto);
    assert_eq!(server(&[], &[("CI", "1")], true), ServerUse::Auto);
    assert_eq!(server(&[], &[("CI", "false")], true), ServerUse::AutoStart);
    assert_eq!(server(&[], &[("HBUILD_SERVER", "0")], true), ServerUse::Off);
    assert_eq!(server(&["--no-server"], &[], true), ServerUse::Off);
    assert_eq!(
        server(&["--server"], &[("CI", "true")], false),
        ServerUse::Start
    );
    assert!(ServerUse::AutoStart.starts() && ServerUse::Start.starts());
    assert!(!ServerUse::Auto.starts() && !ServerUse::Off.starts());
}

#[test]
fn bad_flags_are_usage_errors_naming_the_flag() {
    let ws = Ws::new("");
    let e = ws
        .settings(&["--message-format", "json,xml"], &[])
        .unwrap_err();
    assert!(e.is_usage());
    assert!(
        e.to_string()
            .starts_with("invalid message format specifier for `--message-format`: `xml`"),
        "{e}"
    );
    let e = ws
        .settings(&["--release", "--profile", "bench"], &[])
        .unwrap_err();
    assert!(e.is_usage());
    assert!(e
        .to_string()
        .starts_with("conflicting usage of --profile=bench and --release"));
    let e = ws
        .settings(&["--manifest-path", "x/Cargo.toml"], &[])
        .unwrap_err();
    assert_eq!(e.to_string(), "manifest path `x/Cargo.toml` does not exist");
}

#[test]
fn colour_follows_the_terminal_and_the_snapshot() {
    let ws = Ws::new("");
    let mut inv = ws.inv(&[]);
    let auto = |inv: &Invocation| Settings::resolve(&build_args(&[]), inv).unwrap().report;
    assert!(!auto(&inv).color);
    inv.stderr_is_terminal = true;
    assert!(auto(&inv).color && auto(&inv).progress);
    inv.env.insert("NO_COLOR".into(), "1".into());
    assert!(!auto(&inv).color);
}

#[test]
fn the_servers_copy_has_secret_values_digested_and_round_trips() {
    let ws = Ws::new("");
    let s = ws
        .settings(
            &[],
            &[("HBUILD_REMOTE_CACHE_TOKEN", "hunter2"), ("PATH", "/bin")],
        )
        .unwrap();
    let wire = s.for_server().unwrap();
    let token = &wire.env()["HBUILD_REMOTE_CACHE_TOKEN"];
    assert!(crate::core::secret::is_digest(token), "{token}");
    assert_eq!(wire.env()["PATH"], "/bin");
    let json = serde_json::to_string(&wire).unwrap();
    assert!(!json.contains("hunter2"));
    let back: Settings = serde_json::from_str(&json).unwrap();
    assert_eq!(back.invocation_key(), s.invocation_key());
    assert_eq!(back.request.target_dir, s.request.target_dir);
}

#[test]
fn invocation_keys_separate_requests_but_not_environments_or_terminals() {
    let ws = Ws::new("");
    let key =
        |argv: &[&str], env: &[(&str, &str)]| ws.settings(argv, env).unwrap().invocation_key();
    let a = key(&["-p", "a"], &[]);
    assert_eq!(a, key(&["-pa"], &[("TERM", "xterm")]));
    assert_eq!(a, key(&["-p", "a", "--server"], &[]));
    assert_ne!(a, key(&["-p", "b"], &[]));
    assert_ne!(a, key(&["-p", "a", "--release"], &[]));
    assert_ne!(a, key(&["-p", "a", "--message-format", "json"], &[]));
    let mut sub = ws.inv(&[]);
    sub.cwd = ws.path("ws/src");
    let elsewhere = Settings::resolve(&build_args(&["-p", "a"]), &sub).unwrap();
    assert_ne!(a, elsewhere.invocation_key());
}

#[test]
fn timings_takes_an_optional_format_and_leaves_the_next_argument_alone() {
    let ws = Ws::new("");
    assert!(!ws.settings(&[], &[]).unwrap().report.timings);
    assert!(ws.settings(&["--timings"], &[]).unwrap().report.timings);
    assert!(
        ws.settings(&["--timings=html"], &[])
            .unwrap()
            .report
            .timings
    );
    assert!(
        ws.settings(&["--timings=html,html"], &[])
            .unwrap()
            .report
            .timings
    );
    let parse = |argv: &[&str]| {
        Cli::try_parse_from(std::iter::once("cargo-hbuild").chain(argv.iter().copied()))
    };
    let e = parse(&["--timings=json"]).unwrap_err().to_string();
    assert!(
        e.contains("'--timings[=<FMTS>]'") && e.contains("json"),
        "{e}"
    );
    // `test --timings NAME`: NAME filters the tests, it is no format.
    let Some(Command::Test(t)) = parse(&["test", "--timings", "adds"]).unwrap().command else {
        panic!("not a test command");
    };
    assert_eq!(t.testname.as_deref(), Some("adds"));
    let s = Settings::resolve_test(&t, &ws.inv(&[])).unwrap();
    assert!(s.report.timings);
}

#[test]
fn only_builds_without_a_remote_cache_or_extra_output_go_to_the_server() {
    let ws = Ws::new("");
    let may =
        |argv: &[&str], env: &[(&str, &str)]| ws.settings(argv, env).unwrap().server_may_answer();
    assert!(may(&[], &[]));
    assert!(!may(&["--plan"], &[]));
    assert!(!may(&["--explain"], &[]));
    assert!(!may(&["--timings"], &[]));
    assert!(!may(&["--timings=html"], &[]));
    assert!(!may(&["--remote-cache", "http://cache"], &[]));
    assert!(!may(&[], &[("HBUILD_REMOTE_CACHE", "http://cache")]));
    assert!(may(&[], &[("HBUILD_REMOTE_CACHE", "")]));
    assert!(may(&["--config", "env.GREETING = \"hi\""], &[]));
    assert!(!may(&["--config", "env.API_TOKEN = \"hunter2\""], &[]));
}

#[test]
fn remote_flags_win_over_the_snapshot_and_no_cache_disables_it() {
    let ws = Ws::new("");
    let env = [("HBUILD_REMOTE_CACHE", "http://env")];
    let s = ws
        .settings(&["--remote-cache", "http://flag"], &env)
        .unwrap();
    assert!(s.remote_config().unwrap().is_some());
    let s = ws.settings(&["--no-cache"], &env).unwrap();
    assert!(s.remote_config().unwrap().is_none());
    let s = ws
        .settings(&["--remote-cache-timeout", "soon"], &env)
        .unwrap();
    assert!(s.remote_config().unwrap_err().is_usage());
}

fn server_settings(
    ws: &Ws,
    argv: &[&str],
    env: &[(&str, &str)],
) -> Result<ServerSettings, SettingsError> {
    let argv = ["cargo-hbuild", "server"]
        .into_iter()
        .chain(argv.iter().copied());
    let Some(Command::Server(cmd)) = Cli::try_parse_from(argv).unwrap().command else {
        panic!("not a server command");
    };
    ServerSettings::resolve(&cmd, &ws.inv(env))
}

#[test]
fn server_commands_resolve_the_target_dir_and_idle_timeout() {
    let ws = Ws::new("");
    let s = server_settings(&ws, &["start", "--idle-timeout", "30m"], &[]).unwrap();
    assert_eq!(s.target_dir, ws.path("ws/target"));
    assert_eq!(s.idle_timeout, Some(std::time::Duration::from_secs(1800)));
    let s = server_settings(&ws, &["start"], &[("HBUILD_SERVER_IDLE_TIMEOUT", "2h")]).unwrap();
    assert_eq!(s.idle_timeout, Some(std::time::Duration::from_secs(7200)));
    let e =
        server_settings(&ws, &["start"], &[("HBUILD_SERVER_IDLE_TIMEOUT", "soon")]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid duration `soon` (expected e.g. `90s`, `30m`, `3h`)"
    );
    // `status` does not care about the idle timeout.
    let s = server_settings(&ws, &["status"], &[("HBUILD_SERVER_IDLE_TIMEOUT", "soon")]).unwrap();
    assert_eq!(s.idle_timeout, None);
    let e = server_settings(&ws, &["run"], &[]).unwrap_err();
    assert!(
        e.is_usage() && e.to_string().contains("--target-dir"),
        "{e}"
    );
    // A build with a malformed idle timeout builds, and starts no server.
    let b = ws
        .settings(&[], &[("HBUILD_SERVER_IDLE_TIMEOUT", "soon")])
        .unwrap();
    assert_eq!(b.server_idle_timeout, None);
}

#[test]
fn config_args_rank_between_cargo_target_dir_and_the_config_variables() {
    let ws = Ws::new("[build]\ntarget-dir = \"from-config\"\njobs = 3\n");
    let cli = ["--config", "build.target-dir = \"from-arg\""];
    let s = ws
        .settings(&cli, &[("CARGO_BUILD_TARGET_DIR", "from-build-env")])
        .unwrap();
    assert_eq!(
        target_dir(&s),
        (&*ws.path("ws/from-arg"), &TargetDirOrigin::ConfigArg)
    );
    // `CARGO_TARGET_DIR` is no config variable: it wins, as in Cargo.
    let s = ws
        .settings(&cli, &[("CARGO_TARGET_DIR", "from-env")])
        .unwrap();
    assert_eq!(s.request.target_dir.path, ws.path("ws/from-env"));
    let s = ws
        .settings(&["--target-dir", "flag", cli[0], cli[1]], &[])
        .unwrap();
    assert_eq!(s.request.target_dir.path, ws.path("ws/flag"));
    let jobs = |argv: &[&str], env: &[(&str, &str)]| ws.settings(argv, env).unwrap().request.jobs;
    let env = [("CARGO_BUILD_JOBS", "4")];
    assert_eq!(jobs(&["--config", "build.jobs=2"], &env), 2);
    assert_eq!(jobs(&["--config", "build.jobs=2", "-j", "5"], &env), 5);
    assert_eq!(jobs(&[], &env), 4);
    // The last of several arguments wins.
    assert_eq!(
        jobs(
            &["--config", "build.jobs=2", "--config", "build.jobs=1"],
            &[]
        ),
        1
    );
    // The request records the arguments: they select another saved analysis.
    let with = ws.settings(&["--config", "build.jobs=2"], &[]).unwrap();
    let without = ws.settings(&[], &[]).unwrap();
    assert_ne!(with.invocation_key(), without.invocation_key());
}

#[test]
fn a_config_file_argument_is_relative_to_the_current_directory() {
    let ws = Ws::new("");
    std::fs::create_dir_all(ws.path("ws/conf")).unwrap();
    std::fs::write(
        ws.path("ws/conf/ci.toml"),
        "[build]\ntarget-dir = \"ci-target\"\n",
    )
    .unwrap();
    let s = ws.settings(&["--config", "conf/ci.toml"], &[]).unwrap();
    // Relative to the parent of the file's directory, as for `.cargo/`.
    assert_eq!(
        target_dir(&s),
        (
            &*ws.path("ws/ci-target"),
            &TargetDirOrigin::Config(ws.path("ws/conf/ci.toml"))
        )
    );
    assert_eq!(
        s.analysis.load.config,
        [crate::workspace::config_arg::ConfigArg::File(
            ws.path("ws/conf/ci.toml")
        )]
    );
}

#[test]
fn bad_config_args_are_errors_naming_the_argument() {
    let ws = Ws::new("");
    let err = |argv: &[&str]| ws.settings(argv, &[]).unwrap_err();
    let e = err(&["--config", "missing.toml"]);
    assert!(!e.is_usage(), "Cargo exits with 101");
    assert!(
        e.to_string().starts_with(
            "failed to parse value from --config argument `missing.toml` as a dotted key expression"
        ),
        "{e}"
    );
    let e = err(&["--config", "build={jobs=2}"]);
    assert_eq!(
        e.to_string(),
        "--config argument `build={jobs=2}` sets a value to an inline table, which is not accepted"
    );
    let e = err(&["--config", "build.target-dir=\"\""]);
    assert_eq!(
        e.to_string(),
        "the target directory is set to an empty string in --config cli option"
    );
    std::fs::write(ws.path("ws/bad.toml"), "[build\n").unwrap();
    let e = err(&["--config", "bad.toml"]);
    assert!(
        e.to_string().starts_with(&format!(
            "failed to load config from `{}`",
            ws.path("ws/bad.toml").display()
        )),
        "{e}"
    );
}

#[test]
fn z_flags_need_a_nightly_cargo_and_hbuild_takes_only_unstable_options() {
    let ws = Ws::new("");
    let bootstrap = [("RUSTC_BOOTSTRAP", "1")];
    assert!(ws.settings(&["-Z", "unstable-options"], &bootstrap).is_ok());
    assert!(ws.settings(&["-Zunstable-options"], &bootstrap).is_ok());
    let e = ws
        .settings(&["-Z", "build-std=core"], &bootstrap)
        .unwrap_err();
    assert!(e.is_usage());
    assert_eq!(
        e.to_string(),
        "`-Z build-std` is not supported by cargo-hbuild"
    );
    let e = ws
        .settings(
            &["-Z", "unstable-options", "--artifact-dir", "out"],
            &bootstrap,
        )
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "`--artifact-dir` is not supported by cargo-hbuild"
    );
    let e = ws.settings(&["--unit-graph"], &bootstrap).unwrap_err();
    assert!(!e.is_usage());
    assert!(
        e.to_string().starts_with(
            "the `--unit-graph` flag is unstable, pass `-Z unstable-options` to enable it\n"
        ),
        "{e}"
    );
    let e = ws.settings(&["--future-incompat-report"], &[]).unwrap_err();
    assert!(e.is_usage());
    assert_eq!(
        e.to_string(),
        "`--future-incompat-report` is not supported by cargo-hbuild"
    );
}

/// Parses `cargo hbuild <argv>` whose subcommand builds and resolves it.
fn subcommand(ws: &Ws, argv: &[&str]) -> Result<Settings, SettingsError> {
    let cli =
        Cli::try_parse_from(std::iter::once("cargo-hbuild").chain(argv.iter().copied())).unwrap();
    let inv = ws.inv(&[]);
    match cli.command {
        Some(Command::Check(c)) => Settings::resolve_check(&c, &inv),
        Some(Command::Clippy(c)) => Settings::resolve_clippy(&c, &inv),
        other => panic!("not a check: {other:?}"),
    }
}

#[test]
fn check_checks_and_profile_test_checks_the_roots_as_tests() {
    let ws = Ws::new("");
    let s = subcommand(&ws, &["check", "--release", "-p", "a"]).unwrap();
    assert_eq!(s.kind, RequestKind::Check);
    assert_eq!(
        (s.request.profile.as_str(), &s.request.packages[..]),
        ("release", &["a".to_string()][..])
    );
    assert_eq!(
        s.request.check,
        Some(crate::plan::request::CheckRequest {
            test: false,
            clippy: None
        })
    );
    let s = subcommand(&ws, &["check", "--profile", "test"]).unwrap();
    assert!(s.request.check.as_ref().is_some_and(|c| c.test));
    assert!(
        s.request.needs_dev_deps(),
        "test roots use dev-dependencies"
    );
}

#[test]
fn clippy_takes_the_arguments_after_dashes_and_refuses_fix() {
    use crate::plan::request::ClippyRequest;
    let ws = Ws::new("");
    let clippy = |argv: &[&str]| {
        let s = subcommand(&ws, argv).unwrap();
        assert_eq!(s.kind, RequestKind::Clippy);
        s.request.check.and_then(|c| c.clippy).unwrap()
    };
    assert_eq!(clippy(&["clippy"]), ClippyRequest::default());
    assert_eq!(
        clippy(&[
            "clippy",
            "--workspace",
            "--",
            "-W",
            "clippy::pedantic",
            "-D",
            "warnings"
        ]),
        ClippyRequest {
            args: ["-W", "clippy::pedantic", "-D", "warnings"]
                .map(String::from)
                .to_vec(),
            no_deps: false
        }
    );
    // `--no-deps` selects what is linted, before or after `--`, as Clippy
    // reads it: it is planned, not passed.
    for argv in [
        &["clippy", "--no-deps"][..],
        &["clippy", "--", "--no-deps", "-Dwarnings"],
    ] {
        let c = clippy(argv);
        assert!(
            c.no_deps && !c.args.iter().any(|a| a == "--no-deps"),
            "{c:?}"
        );
    }
    let e = subcommand(&ws, &["clippy", "--fix"]).unwrap_err();
    assert!(e.is_usage() && e.to_string().contains("--fix"), "{e}");
    // After `--`, `--fix` is Clippy's (rustc's) business, not a request to edit.
    assert_eq!(clippy(&["clippy", "--", "--fix"]).args, ["--fix"]);
    // Cargo's global flags may come before the subcommand.
    assert_eq!(
        crate::settings::args::globals_after_subcommand(
            ["c", "-q", "clippy", "--", "-Dwarnings"]
                .map(Into::into)
                .to_vec()
        ),
        ["c", "clippy", "-q", "--", "-Dwarnings"]
            .map(std::ffi::OsString::from)
            .to_vec()
    );
}
