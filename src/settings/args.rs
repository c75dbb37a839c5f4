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
    /// Use the workspace's resident server, starting it if none runs [env: HBUILD_SERVER=1].
    #[arg(long, help_heading = "hbuild", conflicts_with = "no_server")]
    pub server: bool,
    /// Never use a resident server, even a running one [env: HBUILD_SERVER=0].
    #[arg(long, help_heading = "hbuild")]
    pub no_server: bool,
    /// Remote cache base URL (Bazel HTTP cache protocol) [env: HBUILD_REMOTE_CACHE].
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
}

/// Arguments as given, with the `hbuild` that cargo inserts removed.
pub fn normalised_args() -> Vec<std::ffi::OsString> {
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.get(1).is_some_and(|a| a == "hbuild") {
        args.remove(1);
    }
    args
}
