//! Messages between `cargo hbuild` and its server: one JSON object per
//! line over a Unix socket, one request and one reply per connection.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::ServerError;
use crate::report::ReportConfig;
use crate::settings::Settings;

/// Largest message accepted: an environment and a rendered no-op output
/// fit easily; anything bigger is a broken peer.
const MAX_MESSAGE: u64 = 64 << 20;

/// A request.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "request", rename_all = "kebab-case")]
pub enum Request {
    /// Is this invocation a verified no-op? If so, what does it print?
    Query {
        /// [`super::exe_identity`] of the client.
        exe: String,
        /// The invocation's settings, secrets as digests
        /// ([`Settings::for_server`]).
        settings: Box<Settings>,
        /// How the client prints.
        report: ReportConfig,
        /// The client's local cache dir (its build log records the no-op).
        cache_dir: Option<PathBuf>,
    },
    /// The client finished a successful build of this invocation: check it
    /// and remember it if it is now a no-op.
    Built {
        /// [`super::exe_identity`] of the client.
        exe: String,
        /// The invocation's settings, secrets as digests.
        settings: Box<Settings>,
    },
    /// The server's state.
    Status,
    /// Shut down.
    Stop,
}

/// A reply.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "kebab-case")]
pub enum Reply {
    /// A verified no-op: print this and exit with `exit_code`.
    UpToDate {
        /// Bytes for stdout.
        stdout: Vec<u8>,
        /// Bytes for stderr.
        stderr: Vec<u8>,
        /// Exit code.
        exit_code: i32,
    },
    /// Build directly.
    Unknown {
        /// Why the server cannot answer (shown with `-vv`).
        why: String,
    },
    /// Acknowledged.
    Ok,
    /// The server's state.
    Status(Status),
}

/// What `cargo hbuild server status` shows.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Status {
    /// Process id.
    pub pid: u32,
    /// The target dir served.
    pub target_dir: PathBuf,
    /// Seconds since start.
    pub uptime_secs: u64,
    /// Idle timeout in seconds.
    pub idle_timeout_secs: u64,
    /// Invocations known.
    pub invocations: usize,
    /// Invocations currently verified as no-ops.
    pub up_to_date: usize,
    /// Paths watched.
    pub watched: usize,
    /// Queries answered from memory.
    pub answered: u64,
    /// Queries sent back to build directly.
    pub declined: u64,
    /// Builds checked after they finished.
    pub verified: u64,
    /// Why the last check did not yield a no-op, if it did not.
    pub last_check: Option<String>,
}

/// Writes one message.
pub fn send<T: Serialize>(stream: &mut UnixStream, msg: &T) -> Result<(), ServerError> {
    let mut bytes = serde_json::to_vec(msg).map_err(|e| ServerError::Protocol(e.to_string()))?;
    bytes.push(b'\n');
    stream
        .write_all(&bytes)
        .and_then(|()| stream.flush())
        .map_err(|e| ServerError::Protocol(format!("cannot send: {e}")))
}

/// Reads one message.
pub fn receive<T: for<'de> Deserialize<'de>>(stream: &UnixStream) -> Result<T, ServerError> {
    let mut line = Vec::new();
    BufReader::new(stream.take(MAX_MESSAGE))
        .read_until(b'\n', &mut line)
        .map_err(|e| ServerError::Protocol(format!("cannot receive: {e}")))?;
    if line.last() != Some(&b'\n') {
        return Err(ServerError::Protocol(
            "connection closed before a whole message arrived".into(),
        ));
    }
    serde_json::from_slice(&line).map_err(|e| ServerError::Protocol(format!("bad message: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_and_truncation_is_an_error() {
        let (mut a, b) = UnixStream::pair().unwrap();
        send(
            &mut a,
            &Reply::UpToDate {
                stdout: b"{}\n".to_vec(),
                stderr: b"    Finished\n".to_vec(),
                exit_code: 0,
            },
        )
        .unwrap();
        match receive::<Reply>(&b).unwrap() {
            Reply::UpToDate { stderr, .. } => assert_eq!(stderr, b"    Finished\n"),
            other => panic!("{other:?}"),
        }
        a.write_all(b"{\"reply\":\"ok\"").unwrap();
        drop(a);
        let err = receive::<Reply>(&b).unwrap_err().to_string();
        assert!(err.contains("before a whole message"), "{err}");
    }
}
