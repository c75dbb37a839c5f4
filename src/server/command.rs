//! `cargo hbuild server start|status|stop` (and the hidden `run`, the
//! server process itself).

use std::time::{Duration, Instant};

use super::client;
use super::paths::ServerPaths;
use super::protocol::{Reply, Request, Status};
use super::ServerError;
use crate::settings::{ServerAction, ServerSettings};

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
pub fn run(s: &ServerSettings) -> Result<(), ServerError> {
    if !cfg!(target_os = "linux") {
        return Err(ServerError::Unsupported);
    }
    let timeout = Duration::from_secs(2);
    let paths = ServerPaths::for_target(&s.target_dir);
    let as_json = s.format.is_json();
    let idle = s
        .idle_timeout
        .unwrap_or(crate::settings::DEFAULT_IDLE_TIMEOUT);
    match s.action {
        ServerAction::Run => super::daemon::run(paths, idle),
        ServerAction::Start => {
            let st = client::start(&paths, idle, &s.env)?;
            if as_json {
                print_status(Some(&st), &paths, true);
            } else {
                crate::report::print_stdout_line(&format!(
                    "server for `{}` runs (pid {}, stops after {}s idle)",
                    paths.target_dir.display(),
                    st.pid,
                    st.idle_timeout_secs
                ));
            }
            Ok(())
        }
        ServerAction::Status => {
            match client::request(&paths, &Request::Status, timeout) {
                Some(Reply::Status(st)) => print_status(Some(&st), &paths, as_json),
                _ => print_status(None, &paths, as_json),
            }
            Ok(())
        }
        ServerAction::Stop => stop(&paths, as_json, timeout),
    }
}

fn stop(paths: &ServerPaths, as_json: bool, timeout: Duration) -> Result<(), ServerError> {
    let pid = match client::request(paths, &Request::Status, timeout) {
        Some(Reply::Status(s)) => s.pid,
        _ => {
            print_status(None, paths, as_json);
            return Ok(());
        }
    };
    let _ = client::request(paths, &Request::Stop, timeout);
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
        return Err(ServerError::NotStopped { pid });
    }
    if as_json {
        crate::report::print_stdout_line(
            &serde_json::json!({"stopped": true, "pid": pid}).to_string(),
        );
    } else {
        crate::report::print_stdout_line(&format!("stopped the server (pid {pid})"));
    }
    Ok(())
}
