//! The client side: what `cargo hbuild` does with a server.
//!
//! Before building, it asks the server of the target dir whether this exact
//! invocation is a verified no-op; after a successful build, it tells the
//! server so that the server can check and remember it. Every failure here
//! (no server, a dead socket, a timeout, a garbled reply) only means "build
//! directly": the server can make a build faster, never different.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::paths::ServerPaths;
use super::protocol::{self, Reply, Request, WireInvocation};
use crate::cli::args::BuildArgs;
use crate::cli::build::Invocation;
use crate::plan::BuildRequest;
use crate::report::ReportConfig;

/// How long a client waits for an answer before building directly.
const QUERY_TIMEOUT: Duration = Duration::from_secs(5);

/// Whether and how a build uses the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Use {
    /// Never (`--no-server`, `HBUILD_SERVER=0`).
    Off,
    /// A running server is used; none is started (the default).
    Auto,
    /// A server is started if none runs (`--server`, `HBUILD_SERVER=1`).
    Start,
}

impl Use {
    /// From the flags and `HBUILD_SERVER`.
    pub fn decide(args: &BuildArgs, env: &BTreeMap<String, String>) -> Use {
        if args.no_server {
            return Use::Off;
        }
        if args.server {
            return Use::Start;
        }
        match env
            .get("HBUILD_SERVER")
            .map(|v| v.to_ascii_lowercase())
            .as_deref()
        {
            Some("0" | "off" | "false" | "no") => Use::Off,
            Some("1" | "on" | "true" | "yes") => Use::Start,
            _ => Use::Auto,
        }
    }

    /// Whether a server may be used at all (Linux only).
    pub fn active(self) -> bool {
        self != Use::Off && cfg!(target_os = "linux")
    }
}

/// Whether the server may answer this build: not `--plan` or `--explain`
/// (they print more than a no-op's events), not with a remote cache (a
/// direct build reports its statistics; and its headers, secrets, stay out
/// of the invocation sent to the server).
pub fn eligible(args: &BuildArgs, env: &BTreeMap<String, String>) -> bool {
    !args.plan
        && !args.explain
        && args.remote_cache.is_none()
        && args.remote_cache_header.is_empty()
        && env.get("HBUILD_REMOTE_CACHE").is_none_or(|v| v.is_empty())
}

/// The invocation as sent to the server (None if an argument is not UTF-8).
/// Secret values of the environment travel as their digests
/// ([`crate::core::secret::recorded_env`]): the server compares and keys
/// them but never needs them.
pub fn wire_invocation(argv: &[OsString], inv: &Invocation) -> Option<WireInvocation> {
    Some(WireInvocation {
        // `--server` only says how to get the answer, not what it is.
        argv: argv
            .iter()
            .skip(1)
            .filter(|a| *a != "--server")
            .map(|a| a.to_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()?,
        cwd: inv.cwd.clone(),
        env: crate::core::secret::recorded_env(&inv.env),
    })
}

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

/// Asks the server of the request's target dir (resolved once, as the
/// build would), if one runs.
pub fn query(
    req: &BuildRequest,
    inv: &WireInvocation,
    report: &ReportConfig,
    cache_dir: Option<PathBuf>,
) -> Option<Answer> {
    let paths =
        Some(ServerPaths::for_target(&req.target_dir.path)).filter(|p| p.socket.exists())?;
    let reply = request(
        &paths,
        &Request::Query {
            exe: super::exe_identity(),
            invocation: inv.clone(),
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
/// server first with [`Use::Start`]. Best effort.
pub fn built(target_dir: &Path, inv: WireInvocation, how: Use) {
    let paths = ServerPaths::for_target(target_dir);
    let msg = Request::Built {
        exe: super::exe_identity(),
        invocation: inv,
    };
    if request(&paths, &msg, QUERY_TIMEOUT).is_some() {
        return;
    }
    if how == Use::Start && start(&paths, None).is_ok() {
        let _ = request(&paths, &msg, QUERY_TIMEOUT);
    }
}

/// The idle timeout from `HBUILD_SERVER_IDLE_TIMEOUT`, else the default.
pub fn idle_timeout(flag: Option<&str>) -> Result<Duration, super::ServerError> {
    match flag
        .map(str::to_string)
        .or_else(|| std::env::var("HBUILD_SERVER_IDLE_TIMEOUT").ok())
    {
        Some(v) if !v.is_empty() => super::parse_duration(&v),
        _ => Ok(super::DEFAULT_IDLE_TIMEOUT),
    }
}

/// Starts a server in the background and waits until it accepts
/// connections. Returns its status.
pub fn start(
    paths: &ServerPaths,
    idle: Option<&str>,
) -> Result<protocol::Status, super::ServerError> {
    if let Some(Reply::Status(s)) = request(paths, &Request::Status, QUERY_TIMEOUT) {
        return Ok(s);
    }
    let idle = idle_timeout(idle)?;
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
    for (k, _) in std::env::vars_os() {
        if k.to_str().is_some_and(crate::core::secret::is_secret_var) {
            cmd.env_remove(k);
        }
    }
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
