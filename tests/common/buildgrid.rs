//! A real BuildGrid (REAPI v2 over gRPC) on a loopback port, for tests:
//! [`BuildGrid`] serves a cache-only instance from a temporary directory
//! (the whole remote execution stack is [`super::exec_grid::ExecGrid`]).
//! BuildGrid comes from the pinned venv that `scripts/test-deps.sh`
//! installs; a test that asks for it fails loudly, naming that script, when
//! it is missing.

#![allow(dead_code)]

use std::fs;
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where `scripts/test-deps.sh` puts the BuildGrid venv.
pub const DEFAULT_VENV: &str = "/opt/hbuild-test/buildgrid";

/// Options of a test BuildGrid.
#[derive(Clone, Debug, Default)]
pub struct GridOptions {
    /// Instance name served (default `""`).
    pub instance: String,
    /// Require a JWT signed with this HS256 secret (BuildGrid's `jwt`
    /// authorization); see [`BuildGrid::token`].
    pub jwt_secret: Option<String>,
}

/// A running BuildGrid; stopped (and waited for) on drop.
pub struct BuildGrid {
    child: Option<Child>,
    dir: tempfile::TempDir,
    port: u16,
    instance: String,
}

/// The `bgd` of the test venv (`HBUILD_TEST_BUILDGRID` names another venv).
/// Panics with install instructions if there is none.
pub fn bgd_binary() -> PathBuf {
    let venv = std::env::var("HBUILD_TEST_BUILDGRID").unwrap_or_else(|_| DEFAULT_VENV.into());
    let bgd = PathBuf::from(&venv).join("bin/bgd");
    assert!(
        bgd.is_file(),
        "BuildGrid is required for the gRPC remote tests but {} does not exist: \
         run `bash scripts/test-deps.sh` (or set HBUILD_TEST_BUILDGRID to a venv with \
         buildgrid installed)",
        bgd.display()
    );
    bgd
}

const CACHE_CONFIG: &str = r#"# Each Execute stream and bot long poll holds a thread: the default
# (5 per core) refuses a parallel build with RESOURCE_EXHAUSTED.
thread-pool-size: 64
server:
  - !channel
    address: !expand-vars "127.0.0.1:${HBUILD_BG_PORT}"
    insecure-mode: true
AUTHORIZATION
storages:
  - !disk-storage &cas
    path: !expand-path "${HBUILD_BG_DIR}/cas"
caches:
  - !lru-action-cache &cache
    storage: *cas
    max-cached-refs: 100000
    allow-updates: true
    cache-failed-actions: false
instances:
  - name: "INSTANCE"
    services:
      - !cas
        storage: *cas
      - !bytestream
        storage: *cas
      - !action-cache
        cache: *cache
"#;

impl BuildGrid {
    /// Starts a cache-only BuildGrid (disk CAS, in-memory action cache).
    pub fn start() -> BuildGrid {
        Self::start_with(GridOptions::default())
    }

    /// Starts a cache-only BuildGrid with `opts`.
    pub fn start_with(opts: GridOptions) -> BuildGrid {
        let bgd = bgd_binary();
        let dir = tempfile::tempdir().unwrap();
        let auth = match &opts.jwt_secret {
            None => "authorization:\n  method: none".to_string(),
            Some(secret) => {
                fs::write(dir.path().join("auth.secret"), secret).unwrap();
                format!(
                    "authorization:\n  method: jwt\n  secret: {}\n  algorithm: hs256",
                    dir.path().join("auth.secret").display()
                )
            }
        };
        let conf = CACHE_CONFIG
            .replace("INSTANCE", &opts.instance)
            .replace("AUTHORIZATION", &auth);
        fs::write(dir.path().join("cache.yml"), conf).unwrap();
        fs::create_dir_all(dir.path().join("cas")).unwrap();
        let port = free_port();
        let log = fs::File::create(dir.path().join("bgd.log")).unwrap();
        let child = Command::new(&bgd)
            .args(["server", "start"])
            .arg(dir.path().join("cache.yml"))
            .env("HBUILD_BG_PORT", port.to_string())
            .env("HBUILD_BG_DIR", dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", bgd.display()));
        let mut grid = BuildGrid {
            child: Some(child),
            dir,
            port,
            instance: opts.instance,
        };
        grid.wait_until_up();
        grid
    }

    fn wait_until_up(&mut self) {
        let port = self.port;
        let log = self.dir.path().join("bgd.log");
        let child = self.child.as_mut().unwrap();
        wait_for_bgd(port, || child.try_wait().unwrap(), &log);
    }

    /// `grpc://127.0.0.1:<port>` (with `/<instance>` when one is set).
    pub fn url(&self) -> String {
        if self.instance.is_empty() {
            format!("grpc://127.0.0.1:{}", self.port)
        } else {
            format!("grpc://127.0.0.1:{}/{}", self.port, self.instance)
        }
    }

    /// A JWT valid for an hour, signed with `secret` (by the venv's PyJWT).
    pub fn token(secret: &str) -> String {
        let python = bgd_binary().with_file_name("python");
        let out = Command::new(python)
            .args([
                "-c",
                "import jwt, sys, time; print(jwt.encode({'sub': 'ci', 'exp': int(time.time()) + 3600}, sys.argv[1], algorithm='HS256'))",
                secret,
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    /// The directory of the server's disk CAS (blobs named by SHA-256).
    pub fn cas_dir(&self) -> PathBuf {
        self.dir.path().join("cas")
    }

    /// The blob files of the disk CAS, whatever their layout.
    pub fn cas_files(&self) -> Vec<PathBuf> {
        walkdir::WalkDir::new(self.cas_dir())
            .into_iter()
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_file())
            .map(|e| e.into_path())
            .collect()
    }

    /// The server's log (for failure messages).
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("bgd.log")).unwrap_or_default()
    }

    /// Stops the server (SIGTERM, then SIGKILL after 10 s).
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for BuildGrid {
    fn drop(&mut self) {
        self.stop();
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind(("127.0.0.1", 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until the `bgd` on `port` accepts connections, failing the test
/// with its log (at `log`) when it exits first or takes over 60 s.
pub fn wait_for_bgd(
    port: u16,
    mut exited: impl FnMut() -> Option<std::process::ExitStatus>,
    log: &std::path::Path,
) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let text = || fs::read_to_string(log).unwrap_or_default();
    loop {
        if let Some(status) = exited() {
            panic!("bgd exited with {status}:\n{}", text());
        }
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "bgd did not accept connections within 60 s:\n{}",
            text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
