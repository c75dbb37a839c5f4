//! Server settings: whether a build uses the resident server, and what
//! `cargo hbuild server ...` acts on.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{resolve_target_dir, Invocation, ListingFormat, SettingsError};
use crate::settings::args::{ServerArgs, ServerCommand};

/// Whether `CI` says this is a CI job (set, and not `false` or `0`), as
/// CI services set it.
fn in_ci(env: &BTreeMap<String, String>) -> bool {
    env.get("CI")
        .is_some_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// Default idle timeout: as Bazel's `--max_idle_secs`.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(3 * 3600);

/// The variable with the idle timeout.
const IDLE_TIMEOUT_VAR: &str = "HBUILD_SERVER_IDLE_TIMEOUT";

/// Whether and how a build uses the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ServerUse {
    /// Never (`--no-server`, `HBUILD_SERVER=0`).
    Off,
    /// A running server is used; none is started (the default).
    Auto,
    /// A server is started if none runs (`--server`, `HBUILD_SERVER=1`).
    Start,
    /// The default on interactive use (stderr is a terminal, `CI` unset): a
    /// server is started if none runs, and the build says so.
    AutoStart,
}

impl ServerUse {
    /// From `--server`, `--no-server`, `HBUILD_SERVER` and, when none
    /// decides, whether the build is `interactive`: a developer's terminal
    /// gets a server as Bazel's does; CI (`CI` set) and scripts never start
    /// one by themselves.
    pub fn decide(
        server: bool,
        no_server: bool,
        env: &BTreeMap<String, String>,
        interactive: bool,
    ) -> ServerUse {
        if no_server {
            return ServerUse::Off;
        }
        if server {
            return ServerUse::Start;
        }
        match env
            .get("HBUILD_SERVER")
            .map(|v| v.to_ascii_lowercase())
            .as_deref()
        {
            Some("0" | "off" | "false" | "no") => ServerUse::Off,
            Some("1" | "on" | "true" | "yes") => ServerUse::Start,
            _ if interactive && !in_ci(env) => ServerUse::AutoStart,
            _ => ServerUse::Auto,
        }
    }

    /// Whether a build starts a server when none runs.
    pub fn starts(self) -> bool {
        matches!(self, ServerUse::Start | ServerUse::AutoStart)
    }

    /// Whether a server may be used at all (Linux only).
    pub fn active(self) -> bool {
        self != ServerUse::Off && cfg!(target_os = "linux")
    }
}

/// The idle timeout: the flag, else `HBUILD_SERVER_IDLE_TIMEOUT`, else the
/// default.
pub(super) fn idle_timeout(
    flag: Option<&str>,
    env: &BTreeMap<String, String>,
) -> Result<Duration, SettingsError> {
    match flag
        .map(str::to_string)
        .or_else(|| env.get(IDLE_TIMEOUT_VAR).cloned())
    {
        Some(v) if !v.is_empty() => {
            crate::core::parse_duration(&v, crate::core::duration::UP_TO_DAYS)
                .ok_or_else(|| SettingsError::IdleTimeout(v.trim().to_string()))
        }
        _ => Ok(DEFAULT_IDLE_TIMEOUT),
    }
}

/// A `server` subcommand.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ServerAction {
    /// Start the server (if none runs).
    Start,
    /// Show its state.
    Status,
    /// Stop it.
    Stop,
    /// Be the server (in the foreground).
    Run,
}

/// What a `server` subcommand acts on, resolved.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ServerSettings {
    /// The subcommand.
    pub action: ServerAction,
    /// The target dir served.
    pub target_dir: PathBuf,
    /// The idle timeout (`start` and `run` only).
    pub idle_timeout: Option<Duration>,
    /// How `start`, `status` and `stop` print.
    pub format: ListingFormat,
    /// The environment of the invocation (a started server inherits it,
    /// secrets removed).
    pub env: BTreeMap<String, String>,
}

impl ServerSettings {
    /// Resolves a `server` subcommand. `run` serves the `--target-dir`
    /// given (its parent resolved it); the others find the target dir as a
    /// build in the same directory would.
    pub fn resolve(cmd: &ServerCommand, inv: &Invocation) -> Result<Self, SettingsError> {
        let (action, a): (ServerAction, &ServerArgs) = match cmd {
            ServerCommand::Start(a) => (ServerAction::Start, a),
            ServerCommand::Status(a) => (ServerAction::Status, a),
            ServerCommand::Stop(a) => (ServerAction::Stop, a),
            ServerCommand::Run(a) => (ServerAction::Run, a),
        };
        let (target_dir, idle_timeout, format) = if action == ServerAction::Run {
            let t = a
                .target_dir
                .clone()
                .ok_or(SettingsError::ServerRunNeedsTargetDir)?;
            let idle = idle_timeout(a.idle_timeout.as_deref(), &inv.env)?;
            (t, Some(idle), ListingFormat::Human)
        } else {
            let format = ListingFormat::parse(&a.message_format)?;
            let idle = match action {
                ServerAction::Start => Some(idle_timeout(a.idle_timeout.as_deref(), &inv.env)?),
                _ => None,
            };
            let t = resolve_target_dir(a.target_dir.as_deref(), a.manifest_path.as_deref(), inv)?;
            (t, idle, format)
        };
        Ok(ServerSettings {
            action,
            target_dir,
            idle_timeout,
            format,
            env: inv.env.clone(),
        })
    }
}
