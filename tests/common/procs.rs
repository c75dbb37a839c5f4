//! Child processes of the test stacks: stopped (and waited for) on drop,
//! signalled through their process groups, run as another user, and the
//! directories they share.

#![allow(dead_code)]

use std::fs;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A user's uid and primary gid.
#[derive(Clone, Copy, Debug)]
pub struct Ids {
    pub uid: u32,
    pub gid: u32,
}

/// A child process stopped (and waited for) on drop.
pub struct Proc {
    child: Option<Child>,
    name: String,
    pub stop_signal: &'static str,
    grace: Duration,
}

impl Proc {
    pub fn spawn(name: &str, cmd: Command, stop_signal: &'static str, grace: Duration) -> Proc {
        let child = spawn_kept(cmd).unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Proc {
            child: Some(child),
            name: name.to_string(),
            stop_signal,
            grace,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// The exit status, if it has exited.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.as_mut()?.try_wait().ok().flatten()
    }

    /// Waits for it to exit (after a signal sent by other means).
    pub fn wait(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.wait();
        }
    }

    /// Sends the stop signal, then SIGKILL after the grace time.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        signal(child.id(), self.stop_signal);
        let deadline = Instant::now() + self.grace;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        eprintln!("{} ignored SIG{}: killing it", self.name, self.stop_signal);
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop();
    }
}

pub fn signal(pid: u32, sig: &str) {
    // `kill 0` would signal the test's own process group.
    if pid <= 1 {
        return;
    }
    let _ = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .stderr(Stdio::null())
        .status();
}

pub fn signal_group(pgid: u32, sig: &str) {
    if pgid <= 1 {
        return;
    }
    let _ = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg("--")
        .arg(format!("-{pgid}"))
        .stderr(Stdio::null())
        .status();
}

/// The process groups led by children of `pid` (a bot's actions each run
/// in a session of their own).
pub fn child_groups(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let Ok(entries) = fs::read_dir("/proc") else {
        return out;
    };
    for e in entries.flatten() {
        let Some(child) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(stat) = fs::read_to_string(e.path().join("stat")) else {
            continue;
        };
        // "pid (comm) state ppid pgrp ...", where comm may hold anything.
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let (Some(ppid), Some(pgrp)) = (fields.get(1), fields.get(2)) else {
            continue;
        };
        if ppid.parse() == Ok(pid) && pgrp.parse() == Ok(child) {
            out.push(child);
        }
    }
    out
}

/// Runs `cmd` as `user` (or as the current one) through `setpriv`, in a
/// process group of its own, receiving `death_signal` when the test process
/// dies.
pub fn as_user(user: Option<Ids>, death_signal: &str, program: &Path) -> Command {
    use std::os::unix::process::CommandExt as _;
    let mut cmd = Command::new("setpriv");
    if let Some(u) = user {
        cmd.arg(format!("--reuid={}", u.uid))
            .arg(format!("--regid={}", u.gid))
            .arg("--clear-groups");
    }
    cmd.args(["--pdeathsig", death_signal, "--"]).arg(program);
    cmd.process_group(0);
    cmd
}

type SpawnJob = Box<dyn FnOnce() + Send>;

/// Spawns `cmd` from one thread that lives as long as the test process: the
/// parent-death signal fires when the *thread* that forked exits, and it
/// must mean "the test process died", whichever thread started the stack.
pub fn spawn_kept(cmd: Command) -> std::io::Result<Child> {
    use std::sync::mpsc;
    use std::sync::{Mutex, OnceLock};
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<SpawnJob>>> = OnceLock::new();
    let tx = SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<SpawnJob>();
        std::thread::Builder::new()
            .name("test-process-spawner".into())
            .spawn(move || {
                for job in rx {
                    job();
                }
            })
            .unwrap();
        Mutex::new(tx)
    });
    let (back, result) = mpsc::channel();
    let mut cmd = cmd;
    let job: SpawnJob = Box::new(move || {
        let _ = back.send(cmd.spawn());
    });
    tx.lock().unwrap().send(job).unwrap();
    result.recv().unwrap()
}

pub fn effective_uid() -> u32 {
    use std::os::unix::fs::MetadataExt as _;
    fs::metadata("/proc/self")
        .map(|m| m.uid())
        .unwrap_or(u32::MAX)
}

pub fn user_ids(name: &str) -> Ids {
    let out = Command::new("getent")
        .args(["passwd", name])
        .output()
        .unwrap();
    let line = String::from_utf8_lossy(&out.stdout);
    let fields: Vec<&str> = line.trim().split(':').collect();
    match (
        fields.get(2).and_then(|s| s.parse().ok()),
        fields.get(3).and_then(|s| s.parse().ok()),
    ) {
        (Some(uid), Some(gid)) => Ids { uid, gid },
        _ => panic!(
            "the remote execution tests run as root and need the user {name:?}, which \
             does not exist: run `bash scripts/test-deps.sh`"
        ),
    }
}

/// A temporary directory that only its owner may enter (mode 0700).
/// `tempfile::tempdir()` honours the umask, which usually leaves it
/// world-readable: test data meant to be out of the reach of the
/// [`ExecGrid`] bots' actions belongs in one of these.
pub fn private_tempdir() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt as _;
    tempfile::Builder::new()
        .permissions(fs::Permissions::from_mode(0o700))
        .tempdir()
        .unwrap()
}

/// A fresh 0700 directory under /tmp (reachable by every user, whatever
/// `TMPDIR` says) owned by `owner`.
pub fn shared_tempdir(prefix: &str, owner: Option<Ids>) -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::Builder::new()
        .prefix(prefix)
        .permissions(fs::Permissions::from_mode(0o700))
        .tempdir_in("/tmp")
        .unwrap();
    if let Some(u) = owner {
        std::os::unix::fs::chown(dir.path(), Some(u.uid), Some(u.gid)).unwrap();
    }
    dir
}

/// `cp -a`: keeps owners and modes, which PostgreSQL checks.
pub fn copy_tree(from: &Path, to: &Path) {
    let out = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cp -a {} {}: {}",
        from.display(),
        to.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

pub fn run_checked(what: &str, cmd: &mut Command) {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
