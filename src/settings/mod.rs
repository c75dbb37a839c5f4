//! Layer 0b: settings. Turns the parsed command line, the process
//! environment and the Cargo config files into one validated, serialisable
//! [`Settings`] value, resolved once per invocation and passed down. Only
//! this layer (and the clap types of `cli`) sees the command line, and only
//! [`Invocation::current`] reads the process environment: every layer
//! below gets the values, or the [`Invocation::env`] snapshot, from here.
//! The resident server receives [`Settings`] over its socket and never
//! parses a command line.

pub mod args;
mod build;
mod error;
mod format;
mod server;
mod tools;
mod unstable;

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use build::resolve_target_dir;
pub use error::SettingsError;
pub use format::{build_format, ListingFormat};
pub use server::{ServerAction, ServerSettings, ServerUse, DEFAULT_IDLE_TIMEOUT};
pub use tools::{CacheAction, CacheCommandSettings, ExplainSettings};

use crate::analysis::run::RunOptions;
use crate::analysis::AnalysisOptions;
use crate::cache::remote::RemoteFlags;
use crate::core::Digest;
use crate::plan::BuildRequest;
use crate::report::ReportConfig;

/// Where a command runs: its directory, environment and terminal, captured
/// once. The direct path takes them from the process.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invocation {
    /// The current directory.
    pub cwd: PathBuf,
    /// The environment (UTF-8 variables only).
    pub env: BTreeMap<String, String>,
    /// Whether stderr is a terminal (colour, progress bar).
    pub stderr_is_terminal: bool,
}

impl Invocation {
    /// This process's directory, environment and terminal: the one place
    /// that reads the process environment.
    pub fn current() -> Result<Self, SettingsError> {
        let cwd = std::env::current_dir().map_err(SettingsError::CurrentDir)?;
        Ok(Invocation {
            cwd,
            env: env_snapshot(),
            stderr_is_terminal: std::io::stderr().is_terminal(),
        })
    }
}

/// The process environment as a sorted map (variables whose name or value
/// is not UTF-8 are left out: no layer could use them).
fn env_snapshot() -> BTreeMap<String, String> {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect()
}

/// What an invocation asks for. Subcommands that build (`build`, `test`,
/// `check`, `clippy`; `doc`, `run` later) share [`Settings`] and differ only
/// here.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RequestKind {
    /// `cargo hbuild` / `cargo build`.
    Build,
    /// `cargo hbuild test` / `cargo test`.
    Test,
    /// `cargo hbuild run` / `cargo run`.
    Run,
    /// `cargo hbuild doc` / `cargo doc`.
    Doc,
    /// `cargo hbuild check` / `cargo check`.
    Check,
    /// `cargo hbuild clippy` / `cargo clippy`.
    Clippy,
}

/// The local and remote cache of a build.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheSettings {
    /// The local cache directory (`--cache-dir`, `HBUILD_CACHE_DIR`, the
    /// per-user cache dir), also with `--no-cache`.
    pub dir: Option<PathBuf>,
    /// `--no-cache`: neither the local nor the remote cache is used.
    pub disabled: bool,
    /// `--remote-cache*` as given (the variables are in the environment).
    pub remote: RemoteSettings,
}

/// The remote-cache flags; each wins over its `HBUILD_REMOTE_CACHE*`
/// variable.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteSettings {
    /// `--remote-cache URL`.
    pub url: Option<String>,
    /// `--remote-cache-read-only`.
    pub read_only: bool,
    /// `--remote-cache-header` (repeatable; may carry credentials).
    pub headers: Vec<String>,
    /// `--remote-cache-timeout`.
    pub timeout: Option<String>,
    /// `--remote-cache-connect-timeout`.
    pub connect_timeout: Option<String>,
    /// `--remote-instance-name` (gRPC remotes).
    #[serde(default)]
    pub instance_name: Option<String>,
    /// `--remote-executor URL`.
    #[serde(default)]
    pub executor: Option<String>,
    /// `--remote-platform KEY=VALUE` (repeatable).
    #[serde(default)]
    pub platform: Vec<String>,
    /// `--remote-only`.
    #[serde(default)]
    pub only: bool,
    /// `--remote-build-scripts`.
    #[serde(default)]
    pub build_scripts: bool,
}

/// Everything a build invocation decided, resolved once.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Settings {
    /// What is asked for.
    pub kind: RequestKind,
    /// The invocation's own directory (the request's `cwd` is the
    /// manifest's directory with `--manifest-path`).
    pub cwd: PathBuf,
    /// What to build: packages, targets, features, profile, target dir,
    /// jobs, and the environment snapshot the engine uses.
    pub request: BuildRequest,
    /// How the workspace is loaded.
    pub analysis: AnalysisOptions,
    /// How the executor runs (`--keep-going`, `--strict`).
    pub run: RunOptions,
    /// How the build prints: message format, colour, verbosity, `--explain`.
    pub report: ReportConfig,
    /// `--plan`: print the action graph instead of building.
    pub plan_only: bool,
    /// `--ignore-rust-version`.
    pub ignore_rust_version: bool,
    /// The caches.
    pub cache: CacheSettings,
    /// Whether the resident server is used.
    pub server: ServerUse,
    /// The idle timeout of a server this build starts (`None`: the
    /// variable is malformed, and no server is started).
    pub server_idle_timeout: Option<std::time::Duration>,
}

/// What identifies a build invocation for the resident server: all it
/// asked for except the environment (compared variable by variable),
/// the terminal and the caches (they change nothing a no-op prints).
#[derive(Serialize)]
struct InvocationKey<'a> {
    kind: RequestKind,
    cwd: &'a PathBuf,
    request: &'a BuildRequest,
    analysis: &'a AnalysisOptions,
    run: &'a RunOptions,
    format: crate::report::MessageFormat,
    verbose: u8,
    quiet: bool,
    plan_only: bool,
    ignore_rust_version: bool,
}

impl Settings {
    /// The environment snapshot of the invocation.
    pub fn env(&self) -> &BTreeMap<String, String> {
        &self.request.env
    }

    /// Whether the server may answer this build: not `--plan`,
    /// `--explain` or `--timings` (they print or write more than a no-op's
    /// events), not with a remote cache (a direct build reports its
    /// statistics; and its headers, secrets, stay out of what is sent to
    /// the server), nor with a `--config` value that sets a secret (sent as
    /// it is written).
    pub fn server_may_answer(&self) -> bool {
        self.kind == RequestKind::Build
            && !self.plan_only
            && !self.report.explain
            && !self.report.timings
            && self.cache.remote.url.is_none()
            && self.cache.remote.executor.is_none()
            && self.cache.remote.headers.is_empty()
            && !self.analysis.load.config.iter().any(|c| c.sets_secret())
            && self
                .env()
                .get(crate::cache::remote::config::ENV_URL)
                .is_none_or(|v| v.is_empty())
            && self
                .env()
                .get(crate::cache::remote::exec_config::ENV_EXECUTOR)
                .is_none_or(|v| v.is_empty())
    }

    /// The settings as sent to the resident server: secret variables as
    /// their digests ([`crate::core::secret::recorded_env`]), no remote
    /// cache. None if they cannot be sent (a path that is not UTF-8).
    pub fn for_server(&self) -> Option<Settings> {
        let mut s = self.clone();
        s.request.env = crate::core::secret::recorded_env(&self.request.env);
        s.cache.remote = RemoteSettings::default();
        serde_json::to_vec(&s).ok().map(|_| s)
    }

    /// The identity of this invocation for the resident server.
    pub fn invocation_key(&self) -> Digest {
        let mut request = self.request.clone();
        request.env.clear();
        let key = InvocationKey {
            kind: self.kind,
            cwd: &self.cwd,
            request: &request,
            analysis: &self.analysis,
            run: &self.run,
            format: self.report.format,
            verbose: self.report.verbose,
            quiet: self.report.quiet,
            plan_only: self.plan_only,
            ignore_rust_version: self.ignore_rust_version,
        };
        // Settings that arrived over the socket were serialised already.
        Digest::of_bytes(&serde_json::to_vec(&key).unwrap_or_default())
    }

    /// The remote-cache configuration: the flags over the snapshot's
    /// `HBUILD_REMOTE_CACHE*` variables. `Ok(None)` without a URL or with
    /// `--no-cache`.
    pub fn remote_config(
        &self,
    ) -> Result<Option<crate::cache::remote::RemoteConfig>, SettingsError> {
        if self.cache.disabled {
            return Ok(None);
        }
        let r = &self.cache.remote;
        let env = |name: &str| self.env().get(name).cloned();
        // Without a cache of its own, the engine is the cache (as Bazel's
        // --remote_executor is).
        let url = r
            .url
            .clone()
            .or_else(|| env(crate::cache::remote::config::ENV_URL).filter(|u| !u.trim().is_empty()))
            .or_else(|| crate::cache::remote::ExecConfig::url_of(&self.exec_flags(), &env));
        let flags = RemoteFlags {
            url,
            read_only: r.read_only,
            headers: r.headers.clone(),
            timeout: r.timeout.clone(),
            connect_timeout: r.connect_timeout.clone(),
            instance_name: r.instance_name.clone(),
        };
        crate::cache::remote::RemoteConfig::from_lookup(&flags, env).map_err(SettingsError::Remote)
    }

    fn exec_flags(&self) -> crate::cache::remote::ExecFlags {
        let r = &self.cache.remote;
        crate::cache::remote::ExecFlags {
            url: r.executor.clone(),
            platform: r.platform.clone(),
            only: r.only,
            build_scripts: r.build_scripts,
            no_cache: self.cache.disabled,
        }
    }

    /// The remote-execution configuration: `--remote-executor` and its
    /// options over the snapshot's variables, with the remote-cache
    /// options applied to the engine. `Ok(None)` without an engine.
    pub fn remote_exec_config(
        &self,
    ) -> Result<Option<crate::cache::remote::ExecConfig>, SettingsError> {
        let r = &self.cache.remote;
        let cache = RemoteFlags {
            url: None,
            read_only: r.read_only,
            headers: r.headers.clone(),
            timeout: r.timeout.clone(),
            connect_timeout: r.connect_timeout.clone(),
            instance_name: r.instance_name.clone(),
        };
        crate::cache::remote::ExecConfig::from_lookup(&self.exec_flags(), &cache, |name| {
            self.env().get(name).cloned()
        })
        .map_err(SettingsError::Remote)
    }
}

#[cfg(test)]
mod tests;
