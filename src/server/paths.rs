//! Where the server of a target dir listens and records itself. Everything
//! lives under `<target-dir>/hbuild/` except, when that path is too long for
//! a Unix socket address, the socket itself.

use std::path::{Path, PathBuf};

use crate::core::Digest;

/// Longest socket path we bind (`sun_path` holds 108 bytes with the NUL).
const MAX_SOCKET_PATH: usize = 100;

/// The files of one target dir's server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerPaths {
    /// The target dir served.
    pub target_dir: PathBuf,
    /// The Unix socket.
    pub socket: PathBuf,
    /// Held (flock) by the running server: at most one per target dir, and
    /// a killed server releases it.
    pub lock: PathBuf,
    /// `server.json`: pid, binary and start time, for `server status`.
    pub info: PathBuf,
    /// Directory of the cookie files that synchronise with the watcher.
    pub cookies: PathBuf,
    /// The server's log (its stderr).
    pub log: PathBuf,
}

impl ServerPaths {
    /// The paths for `target_dir`.
    pub fn for_target(target_dir: &Path) -> Self {
        let dir = target_dir.join("hbuild");
        let mut socket = dir.join("server.sock");
        if socket.as_os_str().len() > MAX_SOCKET_PATH {
            // Derived from the target dir alone, so every client finds it.
            let id = Digest::of_bytes(target_dir.as_os_str().as_encoded_bytes()).short(16);
            socket = std::env::temp_dir().join(format!("hbuild-{id}.sock"));
        }
        ServerPaths {
            target_dir: target_dir.to_path_buf(),
            socket,
            lock: dir.join("server.lock"),
            info: dir.join("server.json"),
            cookies: dir.join("server-cookies"),
            log: dir.join("server.log"),
        }
    }
}

/// What a running server records about itself in `server.json`.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct ServerInfo {
    /// Process id.
    pub pid: u32,
    /// [`super::exe_identity`] of the server's binary.
    pub exe: String,
    /// Start time, seconds since the epoch.
    pub started_unix: u64,
    /// Idle timeout in seconds.
    pub idle_timeout_secs: u64,
    /// The socket.
    pub socket: PathBuf,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_targets_keep_the_socket_inside_and_long_ones_hash() {
        let p = ServerPaths::for_target(Path::new("/w/target"));
        assert_eq!(p.socket, Path::new("/w/target/hbuild/server.sock"));
        assert_eq!(p.lock, Path::new("/w/target/hbuild/server.lock"));
        let long = PathBuf::from(format!("/{}/target", "x".repeat(120)));
        let q = ServerPaths::for_target(&long);
        assert!(q.socket.starts_with(std::env::temp_dir()));
        assert!(q.socket.as_os_str().len() <= MAX_SOCKET_PATH);
        assert_eq!(q, ServerPaths::for_target(&long));
        assert_ne!(
            q.socket,
            ServerPaths::for_target(&long.with_file_name("other")).socket
        );
    }
}
