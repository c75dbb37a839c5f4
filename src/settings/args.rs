//! Command-line arguments, mirroring `cargo build` (the only place with clap).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// `cargo hbuild`: Cargo builds as cached, hermetic actions.
#[derive(Debug, Parser)]
#[command(
    name = "cargo-hbuild",
    bin_name = "cargo hbuild",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    /// Subcommand (`cache`, `explain`); a build when absent.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Build options.
    #[command(flatten)]
    pub build: BuildArgs,
}

/// Subcommands besides building.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Inspect or trim the local cache.
    #[command(subcommand)]
    Cache(CacheCommand),
    /// Explain why a unit rebuilt in the last build, without building.
    Explain(ExplainArgs),
    /// The resident server of a workspace (`start`, `status`, `stop`).
    #[command(subcommand)]
    Server(ServerCommand),
    /// Build and run the tests, like `cargo test`; passing results are cached.
    Test(Box<TestArgs>),
    /// Build a binary or example and run it, like `cargo run`.
    Run(Box<RunArgs>),
    /// Build the documentation, like `cargo doc`; rustdoc runs are cached.
    Doc(Box<DocArgs>),
    /// Check the packages for errors, like `cargo check`; checks are cached.
    Check(Box<CheckArgs>),
    /// Lint the workspace members with Clippy, like `cargo clippy`; lints are cached.
    Clippy(Box<ClippyArgs>),
}

/// `cargo hbuild doc`: the flags of `cargo doc`.
#[derive(Debug, Args)]
pub struct DocArgs {
    /// Don't build documentation for dependencies.
    #[arg(long)]
    pub no_deps: bool,
    /// Document private items.
    #[arg(long)]
    pub document_private_items: bool,
    /// Opens the docs in a browser after the operation.
    #[arg(long)]
    pub open: bool,
    /// Build options.
    #[command(flatten)]
    pub build: BuildArgs,
}

/// `cargo hbuild check`: the flags of `cargo check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Build options.
    #[command(flatten)]
    pub build: BuildArgs,
}

/// `cargo hbuild run [--bin X | --example X] [-- <args>]`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Arguments for the binary or example to run.
    #[arg(last = true, value_name = "ARGS")]
    pub args: Vec<String>,
    /// Build options.
    #[command(flatten)]
    pub build: BuildArgs,
}

/// `cargo hbuild clippy [-- <clippy args>]`: the flags of `cargo clippy`.
#[derive(Debug, Args)]
pub struct ClippyArgs {
    /// Arguments for Clippy (`-W clippy::pedantic`, `-D warnings`).
    #[arg(last = true, value_name = "ARGS")]
    pub args: Vec<String>,
    /// Run Clippy only on the given crate, without linting the dependencies.
    #[arg(long)]
    pub no_deps: bool,
    /// Automatically apply lint suggestions (not supported: use `cargo clippy --fix`).
    #[arg(long)]
    pub fix: bool,
    /// Build options.
    #[command(flatten)]
    pub build: BuildArgs,
}

/// `cargo hbuild test [TESTNAME] [-- <harness args>]`: the flags of
/// `cargo test`.
#[derive(Debug, Args)]
pub struct TestArgs {
    /// If specified, only run tests containing this string in their names.
    #[arg(value_name = "TESTNAME")]
    pub testname: Option<String>,
    /// Arguments for the test binary.
    #[arg(last = true, value_name = "ARGS")]
    pub args: Vec<String>,
    /// Test only this library's documentation.
    #[arg(long, help_heading = "Target Selection")]
    pub doc: bool,
    /// Compile, but don't run tests.
    #[arg(long)]
    pub no_run: bool,
    /// Run all tests regardless of failure.
    #[arg(long)]
    pub no_fail_fast: bool,
    /// Run every test, even those whose passing result is cached [env: HBUILD_CACHE_TEST_RESULTS=0].
    #[arg(long, help_heading = "hbuild")]
    pub no_cache_test_results: bool,
    /// Build options.
    #[command(flatten)]
    pub build: BuildArgs,
}

/// `cargo hbuild server ...`.
#[derive(Debug, Subcommand)]
pub enum ServerCommand {
    /// Start the server of this workspace's target dir (if none runs).
    Start(ServerArgs),
    /// Whether a server runs for this workspace, and what it holds.
    Status(ServerArgs),
    /// Stop the server of this workspace.
    Stop(ServerArgs),
    /// Run the server in the foreground (what `start` spawns).
    #[command(hide = true)]
    Run(ServerArgs),
}

/// Options locating a workspace's server.
#[derive(Debug, Args, Clone, Default)]
pub struct ServerArgs {
    /// Path to Cargo.toml.
    #[arg(long, value_name = "PATH")]
    pub manifest_path: Option<PathBuf>,
    /// Directory for all generated artifacts.
    #[arg(long, value_name = "DIRECTORY")]
    pub target_dir: Option<PathBuf>,
    /// Stop after this long without a request, e.g. `30m`, `3h` [env: HBUILD_SERVER_IDLE_TIMEOUT] (default 3h).
    #[arg(long, value_name = "DURATION")]
    pub idle_timeout: Option<String>,
    /// Message format (`human`, `json`).
    #[arg(long, value_name = "FMT", default_value = "human")]
    pub message_format: String,
}

/// `cargo hbuild cache ...`.
#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// Entries, size and hit rate of recent builds.
    Stats(CacheArgs),
    /// Evict least recently used entries until the cache fits.
    Gc {
        /// Size limit, e.g. `500M`, `10G`.
        #[arg(long, value_name = "SIZE")]
        max_size: String,
        /// Common cache options.
        #[command(flatten)]
        cache: CacheArgs,
    },
}

/// Options locating the cache.
#[derive(Debug, Args, Clone, Default)]
pub struct CacheArgs {
    /// Local cache directory [env: HBUILD_CACHE_DIR] (default: per-user cache dir).
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Message format (`human`, `json`).
    #[arg(long, value_name = "FMT", default_value = "human")]
    pub message_format: String,
}

/// `cargo hbuild explain <package>[@<version>][:<target>]`.
#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// `package`, `package@version`, optionally followed by `:target`.
    pub unit: String,
    /// Path to Cargo.toml.
    #[arg(long, value_name = "PATH")]
    pub manifest_path: Option<PathBuf>,
    /// Directory for all generated artifacts.
    #[arg(long, value_name = "DIRECTORY")]
    pub target_dir: Option<PathBuf>,
    /// Message format (`human`, `json`).
    #[arg(long, value_name = "FMT", default_value = "human")]
    pub message_format: String,
    /// Use verbose output.
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

/// Colouring.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq, Default)]
pub enum Color {
    /// Colour on a terminal.
    #[default]
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

/// The flags of `cargo build` plus hbuild's own.
#[derive(Debug, Args, Default)]
pub struct BuildArgs {
    /// Package(s) to build.
    #[arg(
        short = 'p',
        long = "package",
        value_name = "SPEC",
        help_heading = "Package Selection"
    )]
    pub package: Vec<String>,
    /// Build all packages in the workspace.
    #[arg(long, visible_alias = "all", help_heading = "Package Selection")]
    pub workspace: bool,
    /// Exclude packages from the build.
    #[arg(long, value_name = "SPEC", help_heading = "Package Selection")]
    pub exclude: Vec<String>,
    /// Build only this package's library.
    #[arg(long, help_heading = "Target Selection")]
    pub lib: bool,
    /// Build only the specified binary.
    #[arg(long, value_name = "NAME", help_heading = "Target Selection")]
    pub bin: Vec<String>,
    /// Build all binaries.
    #[arg(long, help_heading = "Target Selection")]
    pub bins: bool,
    /// Build only the specified example.
    #[arg(long, value_name = "NAME", help_heading = "Target Selection")]
    pub example: Vec<String>,
    /// Build all examples.
    #[arg(long, help_heading = "Target Selection")]
    pub examples: bool,
    /// Build only the specified test target.
    #[arg(long, value_name = "NAME", help_heading = "Target Selection")]
    pub test: Vec<String>,
    /// Build all targets that have `test = true` set.
    #[arg(long, help_heading = "Target Selection")]
    pub tests: bool,
    /// Build only the specified bench target.
    #[arg(long, value_name = "NAME", help_heading = "Target Selection")]
    pub bench: Vec<String>,
    /// Build all targets that have `bench = true` set.
    #[arg(long, help_heading = "Target Selection")]
    pub benches: bool,
    /// Build all targets.
    #[arg(long, help_heading = "Target Selection")]
    pub all_targets: bool,
    /// Space or comma separated list of features to activate.
    #[arg(
        short = 'F',
        long,
        value_name = "FEATURES",
        help_heading = "Feature Selection"
    )]
    pub features: Vec<String>,
    /// Activate all available features.
    #[arg(long, help_heading = "Feature Selection")]
    pub all_features: bool,
    /// Do not activate the `default` feature.
    #[arg(long, help_heading = "Feature Selection")]
    pub no_default_features: bool,
    /// Build artifacts in release mode, with optimizations.
    #[arg(short = 'r', long, help_heading = "Compilation Options")]
    pub release: bool,
    /// Build artifacts with the specified profile.
    #[arg(
        long,
        value_name = "PROFILE-NAME",
        help_heading = "Compilation Options"
    )]
    pub profile: Option<String>,
    /// Build for the target triple.
    #[arg(long, value_name = "TRIPLE", help_heading = "Compilation Options")]
    pub target: Option<String>,
    /// Directory for all generated artifacts.
    #[arg(long, value_name = "DIRECTORY", help_heading = "Compilation Options")]
    pub target_dir: Option<PathBuf>,
    /// Number of parallel jobs, defaults to # of CPUs.
    #[arg(
        short = 'j',
        long,
        value_name = "N",
        allow_hyphen_values = true,
        help_heading = "Compilation Options"
    )]
    pub jobs: Option<i64>,
    /// Do not abort the build as soon as there is an error.
    #[arg(long, help_heading = "Compilation Options")]
    pub keep_going: bool,
    /// Error format (`human`, `short`, `json`, `json-diagnostic-short`, `json-diagnostic-rendered-ansi`, `json-render-diagnostics`).
    #[arg(long, value_name = "FMT", help_heading = "Compilation Options")]
    pub message_format: Vec<String>,
    /// Copy final artifacts to this directory (unstable; not supported by cargo-hbuild).
    #[arg(long, value_name = "PATH", hide = true)]
    pub artifact_dir: Option<PathBuf>,
    /// Output build graph in JSON (unstable; not supported by cargo-hbuild).
    #[arg(long, hide = true)]
    pub unit_graph: bool,
    /// Path to Cargo.toml.
    #[arg(long, value_name = "PATH", help_heading = "Manifest Options")]
    pub manifest_path: Option<PathBuf>,
    /// Assert that `Cargo.lock` will remain unchanged.
    #[arg(long, help_heading = "Manifest Options")]
    pub locked: bool,
    /// Run without accessing the network.
    #[arg(long, help_heading = "Manifest Options")]
    pub offline: bool,
    /// Equivalent to specifying both --locked and --offline.
    #[arg(long, help_heading = "Manifest Options")]
    pub frozen: bool,
    /// Ignore `rust-version` specification in packages.
    #[arg(long, help_heading = "Manifest Options")]
    pub ignore_rust_version: bool,
    /// Use verbose output (-vv very verbose).
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Do not print cargo log messages.
    #[arg(short, long)]
    pub quiet: bool,
    /// Coloring.
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = Color::Auto)]
    pub color: Color,
    /// Override a configuration value: `KEY=VALUE` in TOML, or a config file.
    #[arg(long = "config", value_name = "KEY=VALUE|PATH")]
    pub config: Vec<String>,
    /// Unstable (nightly-only) flags to Cargo: only `-Z unstable-options`.
    #[arg(short = 'Z', value_name = "FLAG")]
    pub unstable_flags: Vec<String>,
    /// Outputs a future incompatibility report (not supported by cargo-hbuild).
    #[arg(long, hide = true)]
    pub future_incompat_report: bool,
    /// Print the action graph as JSON and exit without building.
    #[arg(long, help_heading = "hbuild")]
    pub plan: bool,
    /// Say why each rebuilt action was not a cache hit.
    #[arg(long, help_heading = "hbuild")]
    pub explain: bool,
    /// Local cache directory [env: HBUILD_CACHE_DIR].
    #[arg(long, value_name = "DIR", help_heading = "hbuild")]
    pub cache_dir: Option<PathBuf>,
    /// Do not read or write the local cache.
    #[arg(long, help_heading = "hbuild")]
    pub no_cache: bool,
    /// Fail actions that read files outside their declared inputs.
    #[arg(long, help_heading = "hbuild")]
    pub strict: bool,
    /// Use the workspace's resident server, starting it if none runs (the default on a terminal outside CI) [env: HBUILD_SERVER=1].
    #[arg(long, help_heading = "hbuild", conflicts_with = "no_server")]
    pub server: bool,
    /// Never use a resident server, even a running one [env: HBUILD_SERVER=0].
    #[arg(long, help_heading = "hbuild")]
    pub no_server: bool,
    /// Remote cache: `http(s)://` (Bazel HTTP cache protocol) or `grpc(s)://host:port[/instance]` (REAPI v2) [env: HBUILD_REMOTE_CACHE].
    #[arg(long, value_name = "URL", help_heading = "hbuild")]
    pub remote_cache: Option<String>,
    /// Only download from the remote cache, never upload [env: HBUILD_REMOTE_CACHE_READ_ONLY].
    #[arg(long, help_heading = "hbuild")]
    pub remote_cache_read_only: bool,
    /// Extra header for remote-cache requests, `Name: value` (repeatable) [env: HBUILD_REMOTE_CACHE_HEADERS].
    #[arg(long, value_name = "HEADER", help_heading = "hbuild")]
    pub remote_cache_header: Vec<String>,
    /// Overall timeout of one remote-cache request, e.g. `60s` [env: HBUILD_REMOTE_CACHE_TIMEOUT].
    #[arg(long, value_name = "DURATION", help_heading = "hbuild")]
    pub remote_cache_timeout: Option<String>,
    /// Connect timeout of remote-cache requests, e.g. `5s` [env: HBUILD_REMOTE_CACHE_CONNECT_TIMEOUT].
    #[arg(long, value_name = "DURATION", help_heading = "hbuild")]
    pub remote_cache_connect_timeout: Option<String>,
    /// REAPI instance name of a `grpc://` remote cache (default: the URL's path) [env: HBUILD_REMOTE_INSTANCE_NAME].
    #[arg(long, value_name = "NAME", help_heading = "hbuild")]
    pub remote_instance_name: Option<String>,
    /// Remote-execution engine, `grpc(s)://host:port[/instance]` (REAPI v2): compile actions run there; also the remote cache unless `--remote-cache` names another [env: HBUILD_REMOTE_EXECUTOR].
    #[arg(long, value_name = "URL", help_heading = "hbuild")]
    pub remote_executor: Option<String>,
    /// Platform property of remotely executed actions, `KEY=VALUE` (repeatable), for engines that pick workers by them [env: HBUILD_REMOTE_PLATFORM, comma-separated].
    #[arg(long, value_name = "KEY=VALUE", help_heading = "hbuild")]
    pub remote_platform: Vec<String>,
    /// Which outputs of remote cache hits and remote runs to download: `all`, or `minimal` (final artifacts, and what a local action needs when it runs) [env: HBUILD_REMOTE_DOWNLOAD].
    #[arg(long, value_name = "all|minimal", help_heading = "hbuild")]
    pub remote_download: Option<String>,
    /// With `--remote-executor`: fail instead of building locally when the engine cannot run an action.
    #[arg(long, help_heading = "hbuild")]
    pub remote_only: bool,
    /// With `--remote-executor`: run build scripts on the engine too (they then see only their package, their dependencies' outputs and the toolchain).
    #[arg(long, help_heading = "hbuild")]
    pub remote_build_scripts: bool,
    /// Timing output formats (`html`, the default): an HTML report of every action under `target/cargo-timings/`.
    #[arg(
        long,
        value_enum,
        value_name = "FMTS",
        num_args = 0..=1,
        require_equals = true,
        value_delimiter = ',',
        default_missing_value = "html",
        help_heading = "Compilation Options"
    )]
    pub timings: Option<Vec<TimingsFormat>>,
}

/// An output format of `--timings`.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum TimingsFormat {
    /// `target/cargo-timings/cargo-timing.html`, as Cargo writes it.
    Html,
}

/// Arguments as given, with the `hbuild` that cargo inserts removed and
/// Cargo's global flags moved after the subcommand they precede
/// (`cargo --color=auto test` is `cargo test --color=auto`).
pub fn normalised_args() -> Vec<std::ffi::OsString> {
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.get(1).is_some_and(|a| a == "hbuild") {
        args.remove(1);
    }
    globals_after_subcommand(args)
}

/// Subcommands that take Cargo's global flags.
const SUBCOMMANDS: &[&str] = &["test", "run", "doc", "check", "clippy"];

/// Cargo's global flags whose value may be the next argument.
const GLOBALS_WITH_VALUE: &[&str] = &["--color", "--config", "-Z"];

/// Cargo's global flags without a value.
const GLOBAL_SWITCHES: &[&str] = &[
    "-v",
    "-vv",
    "--verbose",
    "-q",
    "--quiet",
    "--frozen",
    "--locked",
    "--offline",
];

pub(crate) fn globals_after_subcommand(
    mut args: Vec<std::ffi::OsString>,
) -> Vec<std::ffi::OsString> {
    let mut i = 1;
    while let Some(a) = args.get(i).and_then(|a| a.to_str()) {
        if GLOBALS_WITH_VALUE.contains(&a) {
            i += 2;
        } else if GLOBAL_SWITCHES.contains(&a)
            || GLOBALS_WITH_VALUE
                .iter()
                .any(|g| a.starts_with(&format!("{g}=")))
            || a.strip_prefix("-Z").is_some_and(|z| !z.is_empty())
        {
            i += 1;
        } else {
            break;
        }
    }
    let is_sub = args
        .get(i)
        .and_then(|a| a.to_str())
        .is_some_and(|a| SUBCOMMANDS.contains(&a));
    if i > 1 && is_sub {
        let sub = args.remove(i);
        args.insert(1, sub);
    }
    args
}

#[cfg(test)]
mod tests {
    use super::globals_after_subcommand;

    fn v(a: &[&str]) -> Vec<std::ffi::OsString> {
        a.iter().map(Into::into).collect()
    }

    #[test]
    fn global_flags_before_the_subcommand_move_after_it() {
        assert_eq!(
            globals_after_subcommand(v(&["c", "--color=auto", "test", "--no-run"])),
            v(&["c", "test", "--color=auto", "--no-run"])
        );
        assert_eq!(
            globals_after_subcommand(v(&["c", "-v", "--color", "never", "test", "x"])),
            v(&["c", "test", "-v", "--color", "never", "x"])
        );
        assert_eq!(
            globals_after_subcommand(v(&["c", "-Zunstable-options", "--config", "a=1", "test"])),
            v(&["c", "test", "-Zunstable-options", "--config", "a=1"])
        );
        // A build (no subcommand) and a test name are left alone.
        assert_eq!(
            globals_after_subcommand(v(&["c", "--release", "-p", "test"])),
            v(&["c", "--release", "-p", "test"])
        );
    }
}
