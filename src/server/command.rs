//! `cargo hbuild server start|status|stop` (and the hidden `run`, the
//! server process itself).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::client;
use super::paths::ServerPaths;
use super::protocol::{Reply, Request, Status};
use super::ServerError;
use crate::cli::args::{ServerArgs, ServerCommand};
use crate::cli::errors::{CliError, ExitCode};

impl From<ServerError> for CliError {
    fn from(e: ServerError) -> Self {
        match e {
            ServerError::Config(m) => CliError::Usage(m),
            other => CliError::Other(other.to_string()),
        }
    }
}

/// The target dir served: found as a build in this directory finds it
/// (`--target-dir`, `CARGO_TARGET_DIR`, `CARGO_BUILD_TARGET_DIR`,
/// `build.target-dir` in config files, else `<workspace root>/target`).
fn target_dir(a: &ServerArgs) -> Result<PathBuf, CliError> {
    crate::cli::build::resolve_target_dir(
        a.target_dir.as_deref(),
        a.manifest_path.as_deref(),
        &crate::cli::build::Invocation::current()?,
    )
}

fn json(a: &ServerArgs) -> Result<bool, CliError> {
    match a.message_format.as_str() {
        "human" => Ok(false),
        "json" => Ok(true),
        other => Err(CliError::Usage(format!(
            "invalid message format `{other}` for `server` (expected `human` or `json`)"
        ))),
    }
}

fn print_status(s: Option<&Status>, paths: &ServerPaths, as_json: bool) {
    if as_json {
        let v = match s {
            Some(s) => serde_json::json!({"running": true, "status": s}),
            None => serde_json::json!({"running": false, "target_dir": paths.target_dir}),
        };
        crate::report::print_stdout_line(&v.to_string());
        return;
    }
    let Some(s) = s else {
        crate::report::print_stdout_line(&format!(
            "no server runs for `{}`",
            paths.target_dir.display()
        ));
        return;
    };
    let lines = [
        format!("server for `{}`", s.target_dir.display()),
        format!("  pid:          {}", s.pid),
        format!(
            "  uptime:       {}s (stops after {}s idle)",
            s.uptime_secs, s.idle_timeout_secs
        ),
        format!(
            "  invocations:  {} known, {} verified no-op",
            s.invocations, s.up_to_date
        ),
        format!("  watched:      {} paths", s.watched),
        format!(
            "  queries:      {} answered, {} built directly; {} builds checked",
            s.answered, s.declined, s.verified
        ),
    ];
    for l in lines {
        crate::report::print_stdout_line(&l);
    }
    if let Some(why) = &s.last_check {
        crate::report::print_stdout_line(&format!("  last check:   {why}"));
    }
}

/// Runs a `server` subcommand.
pub fn run(cmd: ServerCommand) -> Result<i32, CliError> {
    if !cfg!(target_os = "linux") {
        return Err(ServerError::Unsupported.into());
    }
    let timeout = Duration::from_secs(2);
    match cmd {
        ServerCommand::Run(a) => {
            let t = a
                .target_dir
                .clone()
                .ok_or_else(|| CliError::Usage("`server run` needs --target-dir".into()))?;
            let idle = client::idle_timeout(a.idle_timeout.as_deref())?;
            super::daemon::run(ServerPaths::for_target(&t), idle)?;
            Ok(ExitCode::OK)
        }
        ServerCommand::Start(a) => {
            let as_json = json(&a)?;
            client::idle_timeout(a.idle_timeout.as_deref())?;
            let paths = ServerPaths::for_target(&target_dir(&a)?);
            let s = client::start(&paths, a.idle_timeout.as_deref())?;
            if as_json {
                print_status(Some(&s), &paths, true);
            } else {
                crate::report::print_stdout_line(&format!(
                    "server for `{}` runs (pid {}, stops after {}s idle)",
                    paths.target_dir.display(),
                    s.pid,
                    s.idle_timeout_secs
                ));
            }
            Ok(ExitCode::OK)
        }
        ServerCommand::Status(a) => {
            let as_json = json(&a)?;
            let paths = ServerPaths::for_target(&target_dir(&a)?);
            match client::request(&paths, &Request::Status, timeout) {
                Some(Reply::Status(s)) => print_status(Some(&s), &paths, as_json),
                _ => print_status(None, &paths, as_json),
            }
            Ok(ExitCode::OK)
        }
        ServerCommand::Stop(a) => {
            let as_json = json(&a)?;
            let paths = ServerPaths::for_target(&target_dir(&a)?);
            let pid = match client::request(&paths, &Request::Status, timeout) {
                Some(Reply::Status(s)) => s.pid,
                _ => {
                    print_status(None, &paths, as_json);
                    return Ok(ExitCode::OK);
                }
            };
            let _ = client::request(&paths, &Request::Stop, timeout);
            // Stopped when its lock is free.
            let deadline = Instant::now() + Duration::from_secs(10);
            let stopped = loop {
                let free = std::fs::File::open(&paths.lock)
                    .map(|f| f.try_lock().is_ok())
                    .unwrap_or(true);
                if free || Instant::now() > deadline {
                    break free;
                }
                std::thread::sleep(Duration::from_millis(10));
            };
            if !stopped {
                return Err(CliError::Other(format!(
                    "the server (pid {pid}) did not stop within 10 s"
                )));
            }
            if as_json {
                crate::report::print_stdout_line(
                    &serde_json::json!({"stopped": true, "pid": pid}).to_string(),
                );
            } else {
                crate::report::print_stdout_line(&format!("stopped the server (pid {pid})"));
            }
            Ok(ExitCode::OK)
        }
    }
}
