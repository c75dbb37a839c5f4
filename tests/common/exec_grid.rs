//! A whole REAPI remote execution stack on loopback, for tests: a private
//! PostgreSQL, BuildGrid with its SQL scheduler, and worker bots from
//! `tests/bot/`, all stopped and waited for on drop.

#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use super::buildgrid::{bgd_binary, free_port, wait_for_bgd};
use super::postgres::{pg_template, postgres_bin, run_postgres};
use super::procs::*;
use super::reapi;
/// The bot that [`ExecGrid`] runs (see `tests/bot/README.md`); written into
/// each stack's bot directory, so that the bot's user needs no access to the
/// source tree.
const WORKER_PY: &str = include_str!("../bot/worker.py");

/// Options of an [`ExecGrid`].
#[derive(Clone, Debug)]
pub struct ExecOptions {
    /// Instance name served (default `""`).
    pub instance: String,
    /// Bots started with the stack (default 1).
    pub workers: usize,
    /// Seconds of silence after which BuildGrid declares a bot dead and
    /// re-queues its lease (default 5). At least 4: BuildGrid hands no work
    /// to a bot whose long poll would last under 3 s (0.8 x this).
    pub bot_keepalive_timeout: u32,
}

impl Default for ExecOptions {
    fn default() -> Self {
        ExecOptions {
            instance: String::new(),
            workers: 1,
            bot_keepalive_timeout: 5,
        }
    }
}

/// A whole REAPI remote execution stack on loopback: a private PostgreSQL,
/// a BuildGrid with CAS, ByteStream, ActionCache and Execution (SQL
/// scheduler) for one instance, and worker bots (`tests/bot/worker.py`).
/// When the tests run as root the bots run as `nobody`, so an action can
/// read its declared inputs and world-readable system files, but not
/// root's home or anything under a [`private_tempdir`] (which test
/// workspaces must be in for that to hold; [`ExecGrid::bot_can_read`]
/// checks a path).
///
/// Dropping it stops the bots (and their actions), the server and
/// PostgreSQL, and waits for each. Should the test process die without
/// dropping it, every one of them gets a signal on its parent's death.
pub struct ExecGrid {
    // Field order is drop order: the processes stop (in `Drop`) before the
    // directories go.
    workers: Vec<Worker>,
    server: Option<Proc>,
    postgres: Option<Proc>,
    /// Config, disk CAS and logs; root's alone.
    dir: tempfile::TempDir,
    /// PostgreSQL's data and socket, owned by its user.
    pg_dir: tempfile::TempDir,
    /// The bots' script and work directories, owned by their user.
    bot_dir: tempfile::TempDir,
    port: u16,
    instance: String,
    python: PathBuf,
    bot_user: Option<Ids>,
    startup: Duration,
    startup_phases: String,
}

struct Worker {
    id: String,
    proc: Option<Proc>,
    log: PathBuf,
}

impl ExecGrid {
    /// Starts a stack with `workers` bots on instance `""`.
    pub fn start(workers: usize) -> ExecGrid {
        Self::start_with(ExecOptions {
            workers,
            ..Default::default()
        })
    }

    /// Starts a stack; returns once the server serves and every bot has
    /// registered.
    pub fn start_with(opts: ExecOptions) -> ExecGrid {
        let t0 = Instant::now();
        assert!(
            opts.bot_keepalive_timeout >= 4,
            "bot_keepalive_timeout must be at least 4 s"
        );
        let bgd = bgd_binary();
        let pgbin = postgres_bin();
        let root = effective_uid() == 0;
        let pg_user = root.then(|| user_ids("postgres"));
        let bot_user = root.then(|| user_ids("nobody"));
        let mut phases = Vec::new();
        let mut mark = Instant::now();
        let mut phase = |name: &str| {
            phases.push(format!("{name} {:.2} s", mark.elapsed().as_secs_f64()));
            mark = Instant::now();
        };
        let template = pg_template(&pgbin, pg_user, &bgd);
        phase("template");

        let dir = private_tempdir();
        let pg_dir = shared_tempdir("hbuild-pg-", pg_user);
        let bot_dir = shared_tempdir("hbuild-bots-", bot_user);
        copy_tree(&template, &pg_dir.path().join("data"));
        let script = bot_dir.path().join("worker.py");
        fs::write(&script, WORKER_PY).unwrap();
        if let Some(u) = bot_user {
            std::os::unix::fs::chown(&script, Some(u.uid), Some(u.gid)).unwrap();
        }
        fs::create_dir_all(dir.path().join("cas")).unwrap();
        phase("copy");

        let mut grid = ExecGrid {
            workers: Vec::new(),
            server: None,
            postgres: None,
            dir,
            pg_dir,
            bot_dir,
            port: 0,
            instance: opts.instance.clone(),
            python: bgd.with_file_name("python"),
            bot_user,
            startup: Duration::ZERO,
            startup_phases: String::new(),
        };
        let pg_port = grid.start_postgres(&pgbin, pg_user);
        phase("postgres");
        grid.start_server(&bgd, pg_port, &opts);
        // The bots start while the server does; they retry until it serves.
        for _ in 0..opts.workers {
            grid.spawn_worker();
        }
        grid.wait_server_up();
        phase("server");
        for i in 0..opts.workers {
            grid.wait_worker_ready(i);
        }
        phase("bots");
        grid.startup = t0.elapsed();
        grid.startup_phases = phases.join(", ");
        grid
    }

    fn start_postgres(&mut self, pgbin: &Path, user: Option<Ids>) -> u16 {
        let data = self.pg_dir.path().join("data");
        let log = self.dir.path().join("postgres.log");
        // A free port can be taken between the probe and the bind.
        for attempt in 1..=3 {
            let port = free_port();
            match run_postgres(pgbin, user, &data, self.pg_dir.path(), port, &log) {
                Ok(proc) => {
                    self.postgres = Some(proc);
                    return port;
                }
                Err(text) if attempt < 3 && text.contains("could not bind") => continue,
                Err(text) => panic!("PostgreSQL did not start:\n{text}"),
            }
        }
        unreachable!()
    }

    fn start_server(&mut self, bgd: &Path, pg_port: u16, opts: &ExecOptions) {
        let conf = EXEC_CONFIG
            .replace("INSTANCE", &opts.instance)
            .replace("KEEPALIVE", &opts.bot_keepalive_timeout.to_string());
        let conf_path = self.dir.path().join("exec.yml");
        fs::write(&conf_path, conf).unwrap();
        self.port = free_port();
        let log = fs::File::create(self.dir.path().join("bgd.log")).unwrap();
        let mut cmd = as_user(None, "KILL", &bgd.with_file_name("python"));
        // -v: warnings too (a bot session expiring, a job retried).
        cmd.args(["-c", BGD_QUICK_START, "server", "start", "-v"])
            .arg(&conf_path)
            // `python -c` imports from the working directory first.
            .current_dir(self.dir.path())
            .env("HBUILD_BG_PORT", self.port.to_string())
            .env("HBUILD_BG_DIR", self.dir.path())
            .env(
                "HBUILD_BG_DB",
                format!("postgresql+psycopg2://postgres@127.0.0.1:{pg_port}/bgd"),
            )
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        self.server = Some(Proc::spawn("bgd", cmd, "TERM", Duration::from_secs(10)));
    }

    fn wait_server_up(&mut self) {
        let log = self.dir.path().join("bgd.log");
        let server = &mut self.server;
        wait_for_bgd(self.port, || server.as_mut().and_then(Proc::exited), &log);
    }

    fn spawn_worker(&mut self) -> usize {
        let i = self.workers.len();
        let id = format!("hbuild-test-bot-{i}");
        let log_path = self.dir.path().join(format!("bot-{i}.log"));
        let mut log = fs::File::create(&log_path).unwrap();
        if self.bot_user.is_none() {
            use std::io::Write as _;
            writeln!(
                log,
                "note: the tests do not run as root, so this bot runs as their user \
                 (uid {}): actions can read whatever the tests can, and only the \
                 input root keeps them hermetic",
                effective_uid()
            )
            .unwrap();
        }
        let bots = self.bot_dir.path();
        let mut cmd = as_user(self.bot_user, "TERM", &self.python);
        cmd.arg("-I")
            .arg(bots.join("worker.py"))
            .arg("--server")
            .arg(format!("127.0.0.1:{}", self.port))
            .arg("--instance")
            .arg(&self.instance)
            .arg("--work-dir")
            .arg(bots.join(format!("w{i}")))
            .arg("--bot-id")
            .arg(&id)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", bots)
            .env("LANG", "C.UTF-8")
            .current_dir(bots)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        let proc = Proc::spawn(&format!("bot {id}"), cmd, "TERM", Duration::from_secs(5));
        self.workers.push(Worker {
            id,
            proc: Some(proc),
            log: log_path,
        });
        i
    }

    fn wait_worker_ready(&mut self, i: usize) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if self.worker_log_of(i).contains(": ready, session ") {
                return;
            }
            let exited = self.workers[i].proc.as_mut().and_then(Proc::exited);
            if let Some(status) = exited {
                panic!(
                    "bot {i} exited with {status} before registering:\n{}\n--- server log:\n{}",
                    self.worker_log_of(i),
                    self.log()
                );
            }
            assert!(
                Instant::now() < deadline,
                "bot {i} did not register with BuildGrid within 60 s:\n{}\n--- server log:\n{}",
                self.worker_log_of(i),
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `grpc://127.0.0.1:<port>` (the instance name is [`ExecGrid::instance`]).
    pub fn url(&self) -> String {
        format!("grpc://127.0.0.1:{}", self.port)
    }

    /// The URL with the instance name as its path, as hbuild's remote
    /// configuration takes it (`grpc://127.0.0.1:<port>[/<instance>]`).
    pub fn instance_url(&self) -> String {
        if self.instance.is_empty() {
            self.url()
        } else {
            format!("{}/{}", self.url(), self.instance)
        }
    }

    /// The instance name served.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// A test-side REAPI client of this stack.
    pub fn client(&self) -> reapi::Reapi {
        reapi::Reapi::connect(&self.url(), &self.instance)
    }

    /// How long [`ExecGrid::start_with`] took.
    pub fn startup_time(&self) -> Duration {
        self.startup
    }

    /// Where the start-up time went (for reports of slow starts).
    pub fn startup_phases(&self) -> &str {
        &self.startup_phases
    }

    /// The uid the bots run as when isolated from the tests (`None` when the
    /// tests do not run as root and the bots run as their user).
    pub fn bot_uid(&self) -> Option<u32> {
        self.bot_user.map(|u| u.uid)
    }

    /// Whether the bots' user may read `path` (`access(2)`, so every parent
    /// directory counts). Test workspaces meant to be out of the actions'
    /// reach go in a [`private_tempdir`].
    pub fn bot_can_read(&self, path: &Path) -> bool {
        let mut cmd = as_user(self.bot_user, "KILL", Path::new("/usr/bin/test"));
        cmd.arg("-r")
            .arg(path)
            .stdin(Stdio::null())
            .stderr(Stdio::null());
        cmd.status().map(|s| s.success()).unwrap_or(false)
    }

    /// Bots started so far (killed ones included; indices stay valid).
    pub fn workers(&self) -> usize {
        self.workers.len()
    }

    /// The bot id of worker `i`, as `ExecutedActionMetadata.worker` names it.
    pub fn worker_id(&self, i: usize) -> &str {
        &self.workers[i].id
    }

    /// Starts one more bot; returns its index once it has registered.
    pub fn start_worker(&mut self) -> usize {
        let i = self.spawn_worker();
        self.wait_worker_ready(i);
        i
    }

    /// SIGKILLs bot `i` and whatever action it runs, as if its machine had
    /// died: BuildGrid hears nothing more from it and re-queues its lease
    /// after the keepalive timeout.
    pub fn kill_worker(&mut self, i: usize) {
        let mut proc = self.workers[i]
            .proc
            .take()
            .unwrap_or_else(|| panic!("worker {i} is not running"));
        let pid = proc.pid();
        let groups = child_groups(pid);
        signal_group(pid, "KILL");
        proc.wait();
        for g in groups {
            signal_group(g, "KILL");
        }
    }

    fn stop_worker(&mut self, i: usize) {
        if let Some(mut proc) = self.workers[i].proc.take() {
            let groups = child_groups(proc.pid());
            proc.stop();
            for g in groups {
                signal_group(g, "KILL");
            }
        }
    }

    /// Waits until the bots' logs contain `needle`; panics, with the logs,
    /// after `within`.
    pub fn wait_worker_log(&self, needle: &str, within: Duration) {
        let deadline = Instant::now() + within;
        while !self.worker_log().contains(needle) {
            assert!(
                Instant::now() < deadline,
                "the bots did not log {needle:?} within {within:?}:\n{}",
                self.worker_log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The log of bot `i`.
    pub fn worker_log_of(&self, i: usize) -> String {
        fs::read_to_string(&self.workers[i].log).unwrap_or_default()
    }

    /// Every bot's log, each under a heading.
    pub fn worker_log(&self) -> String {
        (0..self.workers.len())
            .map(|i| {
                format!(
                    "--- bot {i} ({}):\n{}",
                    self.workers[i].id,
                    self.worker_log_of(i)
                )
            })
            .collect()
    }

    /// The server's log (for failure messages).
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("bgd.log")).unwrap_or_default()
    }

    /// PostgreSQL's log.
    pub fn postgres_log(&self) -> String {
        fs::read_to_string(self.dir.path().join("postgres.log")).unwrap_or_default()
    }

    /// The pids of the stack's running processes: live bots, the server and
    /// PostgreSQL's postmaster.
    pub fn pids(&self) -> Vec<u32> {
        self.workers
            .iter()
            .filter_map(|w| w.proc.as_ref().map(Proc::pid))
            .chain(self.server.as_ref().map(Proc::pid))
            .chain(self.postgres.as_ref().map(Proc::pid))
            .collect()
    }

    /// Stops the server (SIGTERM, then SIGKILL after 10 s); the bots stay
    /// and keep retrying.
    pub fn stop_server(&mut self) {
        if let Some(mut p) = self.server.take() {
            p.stop();
        }
    }
}

impl Drop for ExecGrid {
    fn drop(&mut self) {
        for i in 0..self.workers.len() {
            self.stop_worker(i);
        }
        self.stop_server();
        if let Some(mut p) = self.postgres.take() {
            p.stop();
        }
    }
}

/// `bgd`, except that `jsonschema.validate` does not check BuildGrid's own
/// schema against the JSON Schema metaschema, which BuildGrid has it do
/// once per object of the config: about half of a server start (~3 s of
/// CPU here). The config itself is still validated.
const BGD_QUICK_START: &str = r#"
import sys

import jsonschema
from jsonschema import exceptions, validators


def validate(instance, schema, cls=None, *args, **kwargs):
    if cls is None:
        cls = validators.validator_for(schema)
    error = exceptions.best_match(cls(schema, *args, **kwargs).iter_errors(instance))
    if error is not None:
        raise error


jsonschema.validate = validate
from buildgrid.server.app import cli

sys.argv[0] = "bgd"
sys.exit(cli())
"#;

const EXEC_CONFIG: &str = r#"# Each Execute stream and bot long poll holds a thread: the default
# (5 per core) refuses a parallel build with RESOURCE_EXHAUSTED.
thread-pool-size: 64
server:
  - !channel
    address: !expand-vars "127.0.0.1:${HBUILD_BG_PORT}"
    insecure-mode: true
authorization:
  method: none
connections:
  - !sql-connection &sql
    connection-string: !expand-vars "${HBUILD_BG_DB}"
    pool-size: 5
    max-overflow: 10
storages:
  - !disk-storage &cas
    path: !expand-path "${HBUILD_BG_DIR}/cas"
caches:
  - !lru-action-cache &cache
    storage: *cas
    max-cached-refs: 100000
    allow-updates: true
    cache-failed-actions: false
schedulers:
  - !sql-scheduler &sched
    sql: *sql
    storage: *cas
    action-cache: *cache
    property-set: !dynamic-property-set
      match-property-keys: [OSFamily, ISA]
    bot-session-keepalive-timeout: KEEPALIVE
    # How often dead bots are looked for: a killed bot's lease is re-queued
    # within the keepalive timeout plus this.
    session-expiry-timer-interval: 0.5
    poll-interval: 0.5
    bot-poll-interval: 0.5
    assigners:
      - !priority-age-assigner
        count: 1
        interval: 0.05
        # In seconds (default 1.0): a large one adds up to that much to
        # every assignment.
        jitter-factor: 0.01
        priority-assignment-percentage: 100
        bot-assignment-strategy: !assign-by-capacity
instances:
  - name: "INSTANCE"
    services:
      - !cas
        storage: *cas
      - !bytestream
        storage: *cas
      - !action-cache
        cache: *cache
      - !execution
        scheduler: *sched
"#;
