//! The client side: what `cargo hbuild` does with a server.
//!
//! Before building, it asks the server of the target dir whether this exact
//! invocation is a verified no-op; after a successful build, it tells the
//! server so that the server can check and remember it. Every failure here
//! (no server, a dead socket, a timeout, a garbled reply) only means "build
//! directly": the server can make a build faster, never different.

use std::collections::BTreeMap;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::paths::ServerPaths;
use super::protocol::{self, Reply, Request};
use crate::report::ReportConfig;
use crate::settings::{ServerUse, Settings};

/// How long a client waits for an answer before building directly.
const QUERY_TIMEOUT: Duration = Duration::from_secs(5);

/// What a server answered for a verified no-op.
pub struct Answer {
    /// For stdout.
    pub stdout: Vec<u8>,
    /// For stderr.
    pub stderr: Vec<u8>,
    /// Exit code.
    pub exit_code: i32,
}

fn connect(paths: &ServerPaths, timeout: Duration) -> Option<UnixStream> {
    let s = UnixStream::connect(&paths.socket).ok()?;
    s.set_read_timeout(Some(timeout)).ok()?;
    s.set_write_timeout(Some(timeout)).ok()?;
    Some(s)
}

/// Sends one request and reads the reply.
pub fn request(paths: &ServerPaths, req: &Request, timeout: Duration) -> Option<Reply> {
    let mut s = connect(paths, timeout)?;
    protocol::send(&mut s, req).ok()?;
    protocol::receive(&s).ok()
}

/// Asks the server of the build's target dir (resolved once, with the
/// settings), if one runs. `settings` are [`Settings::for_server`]'s.
pub fn query(
    settings: &Settings,
    report: &ReportConfig,
    cache_dir: Option<PathBuf>,
) -> Option<Answer> {
    let req = &settings.request;
    let paths =
        Some(ServerPaths::for_target(&req.target_dir.path)).filter(|p| p.socket.exists())?;
    let reply = request(
        &paths,
        &Request::Query {
            exe: super::exe_identity(),
            settings: Box::new(settings.clone()),
            report: report.clone(),
            cache_dir,
        },
        QUERY_TIMEOUT,
    );
    match reply {
        Some(Reply::UpToDate {
            stdout,
            stderr,
            exit_code,
        }) => Some(Answer {
            stdout,
            stderr,
            exit_code,
        }),
        Some(Reply::Unknown { why }) => {
            if req.very_verbose {
                crate::report::eprint_locked(&format!("      Server building directly: {why}\n"));
            }
            None
        }
        _ => None,
    }
}

/// Tells the target dir's server about a successful build, starting the
/// server first when `how` [starts](ServerUse::starts) one (and the idle
/// timeout is valid). Best effort. `settings` are
/// [`Settings::for_server`]'s. Returns whether it started a server.
pub fn built(
    target_dir: &Path,
    settings: Settings,
    how: ServerUse,
    idle: Option<Duration>,
) -> bool {
    let paths = ServerPaths::for_target(target_dir);
    // The wire form has secrets as digests; the server is started without
    // secret variables either way.
    let env = settings.env().clone();
    let msg = Request::Built {
        exe: super::exe_identity(),
        settings: Box::new(settings),
    };
    if request(&paths, &msg, QUERY_TIMEOUT).is_some() {
        return false;
    }
    let Some(idle) = idle.filter(|_| how.starts()) else {
        return false;
    };
    if start(&paths, idle, &env).is_err() {
        return false;
    }
    let _ = request(&paths, &msg, QUERY_TIMEOUT);
    true
}

/// Starts a server in the background and waits until it accepts
/// connections. Returns its status. The server gets `env` without its
/// secret variables.
pub fn start(
    paths: &ServerPaths,
    idle: Duration,
    env: &BTreeMap<String, String>,
) -> Result<protocol::Status, super::ServerError> {
    if let Some(Reply::Status(s)) = request(paths, &Request::Status, QUERY_TIMEOUT) {
        return Ok(s);
    }
    let dir = paths.log.parent().expect("log in a directory");
    std::fs::create_dir_all(dir).map_err(super::ServerError::io("cannot create", dir))?;
    let log = std::fs::File::create(&paths.log)
        .map_err(super::ServerError::io("cannot create", &paths.log))?;
    let exe = std::env::current_exe().map_err(super::ServerError::io(
        "cannot find",
        Path::new("cargo-hbuild"),
    ))?;
    let mut cmd = Command::new(&exe);
    cmd.args(["hbuild", "server", "run", "--target-dir"])
        .arg(&paths.target_dir)
        .arg("--idle-timeout")
        .arg(format!("{}ms", idle.as_millis()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log);
    // The server never builds nor talks to a remote cache: it has no use for
    // secrets, and its clients send them as digests.
    cmd.env_clear().envs(
        env.iter()
            .filter(|(k, _)| !crate::core::secret::is_secret_var(k)),
    );
    {
        // Its own process group: Ctrl-C in the terminal stops the build, not
        // the server.
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
    }
    let mut child = cmd
        .spawn()
        .map_err(super::ServerError::io("cannot start", &exe))?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Some(Reply::Status(s)) = request(paths, &Request::Status, QUERY_TIMEOUT) {
            return Ok(s);
        }
        if let Ok(Some(st)) = child.try_wait() {
            // Exit 0 means another server won the race: ask it.
            if st.success() {
                if let Some(Reply::Status(s)) = request(paths, &Request::Status, QUERY_TIMEOUT) {
                    return Ok(s);
                }
            }
            let log = std::fs::read_to_string(&paths.log).unwrap_or_default();
            return Err(super::ServerError::Config(format!(
                "the server exited ({st}): {}",
                log.trim()
            )));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Err(super::ServerError::Config(format!(
        "the server did not start within 10 s; see `{}`",
        paths.log.display()
    )))
}
