//! The resident server: Bazel's client/server split for no-op builds.
//!
//! A build normally re-checks every action of the graph against the target
//! dir (a stat per input and output), which costs tens of milliseconds on
//! a large workspace. A per-target-dir background process can do better: it
//! watches every file a build's freshness depends on (file-system
//! notifications through the `notify` crate) and, once it has itself
//! checked that a finished build is a no-op, answers the next identical
//! invocation from memory until a watched file changes.
//!
//! The server never builds and never writes outputs. It answers only
//! "this exact invocation is a no-op, and this is what it prints"; on any
//! doubt (no verified state, a change, a different environment, a busy
//! target dir, another hbuild binary, a slow reply) the client builds
//! directly, so a build with the server gives the same result as one
//! without it. Modules:
//!
//! * [`paths`]: where a target dir's server listens and records itself.
//! * [`protocol`]: the JSON-lines messages between client and server.
//! * [`watch`]: the set of paths a verified build depends on, the watcher,
//!   and cookie files that make sure every earlier change was seen.
//! * [`verify`]: checking a finished build (a check-only run of the
//!   executor) and rendering its no-op output for a client.
//! * [`noop_record`]: the same verification kept on disk, for a no-op
//!   without a server.
//! * [`daemon`]: the server process: connections, state, idle shutdown.
//! * [`client`]: what `cargo hbuild` does: ask, notify, start the server.
//! * [`command`]: `cargo hbuild server start|status|stop`.

pub mod client;
pub mod command;
pub mod daemon;
pub mod noop_record;
pub mod paths;
pub mod protocol;
pub mod verify;
pub mod watch;

/// Errors of the server layer.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// An I/O operation on a named path failed.
    #[error("{what} `{path}`: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The path.
        path: std::path::PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The platform has no resident server.
    #[error("the resident server needs Linux (inotify and Unix sockets)")]
    Unsupported,
    /// A malformed or unexpected message.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The server or its watcher cannot be started.
    #[error("{0}")]
    Config(String),
    /// `server stop` sent the request, and the server kept running.
    #[error("the server (pid {pid}) did not stop within 10 s")]
    NotStopped {
        /// The server's process id.
        pid: u32,
    },
}

impl ServerError {
    /// An error mapper for an I/O operation on `path` (for `map_err`).
    pub fn io(what: &'static str, path: &std::path::Path) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.to_path_buf();
        move |source| ServerError::Io { what, path, source }
    }
}

/// Identity of the running binary: a server only answers clients of the
/// same build of hbuild (another binary may plan or check differently).
pub fn exe_identity() -> String {
    let exe = std::env::current_exe().ok();
    let stamp = exe.as_deref().and_then(crate::core::FileStamp::of);
    format!(
        "{} {} {:?}",
        env!("CARGO_PKG_VERSION"),
        exe.map(|e| e.display().to_string()).unwrap_or_default(),
        stamp,
    )
}
