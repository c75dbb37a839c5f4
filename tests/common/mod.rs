//! Shared helpers of the integration tests: fixture copies, running
//! `cargo hbuild` and `cargo`, and normalised views of what each builds.
#![allow(dead_code)]

pub mod buildgrid;
pub mod chromium;
pub mod dirstore;
pub mod exec_grid;
pub mod lint;
pub mod messages;
pub mod nginx;
pub mod postgres;
pub mod procs;
pub mod reapi;
pub mod snap;
pub mod testrun;
pub mod units;

use std::io::{Read, Seek};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// How long [`Ws::hbuild_bounded`] lets a build run before calling it hung.
/// A hang guard, far above any build of the fixtures: not a timing test.
pub const HANG_LIMIT: Duration = Duration::from_secs(120);

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The `cargo-hbuild` binary under test.
pub fn hbuild_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_cargo-hbuild"))
}

/// Copies a directory tree (skipping `target/`).
pub fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for e in std::fs::read_dir(src).unwrap() {
        let e = e.unwrap();
        let name = e.file_name();
        if name == "target" {
            continue;
        }
        let from = e.path();
        let to = dst.join(&name);
        if e.file_type().unwrap().is_dir() {
            copy_dir(&from, &to);
        } else {
            std::fs::copy(&from, &to).unwrap();
        }
    }
}

/// A temporary copy of a fixture workspace.
pub struct Ws {
    /// Keeps the directory alive.
    pub tmp: tempfile::TempDir,
    /// The workspace root.
    pub root: PathBuf,
    /// A private hbuild cache for this workspace copy.
    pub cache: PathBuf,
}

impl Ws {
    /// Path inside the workspace.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    /// Writes the workspace's `.cargo/config.toml`.
    pub fn write_config(&self, text: &str) {
        std::fs::create_dir_all(self.path(".cargo")).unwrap();
        std::fs::write(self.path(".cargo/config.toml"), text).unwrap();
    }

    /// Appends text to a file of the workspace.
    pub fn append(&self, rel: &str, text: &str) {
        let p = self.path(rel);
        let mut s = std::fs::read_to_string(&p).unwrap();
        s.push_str(text);
        std::fs::write(p, s).unwrap();
    }

    /// Replaces text in a file of the workspace (the text must be there).
    pub fn replace(&self, rel: &str, from: &str, to: &str) {
        let p = self.path(rel);
        let s = std::fs::read_to_string(&p).unwrap();
        assert!(s.contains(from), "`{from}` not found in {rel}");
        std::fs::write(p, s.replacen(from, to, 1)).unwrap();
    }

    /// Sets the mtime of a file of the workspace.
    pub fn set_mtime(&self, rel: &str, t: std::time::SystemTime) {
        std::fs::File::open(self.path(rel))
            .unwrap()
            .set_modified(t)
            .unwrap();
    }

    /// Replaces `from` by `to` (of the same length) in a file of the
    /// workspace the way `rsync -a` or `cp -p` onto an existing file leaves
    /// it: written in place (same inode, same size), then its mtime set back
    /// to what it was. Only the ctime, which nothing can set, tells.
    pub fn overwrite_in_place_keeping_mtime(&self, rel: &str, from: &str, to: &str) {
        use std::io::{Seek, SeekFrom, Write};
        assert_eq!(from.len(), to.len(), "the edit must keep the size");
        let p = self.path(rel);
        let before = std::fs::metadata(&p).unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        let at = text
            .find(from)
            .unwrap_or_else(|| panic!("`{from}` not in {rel}"));
        let mut f = std::fs::File::options().write(true).open(&p).unwrap();
        f.seek(SeekFrom::Start(at as u64)).unwrap();
        f.write_all(to.as_bytes()).unwrap();
        f.set_modified(before.modified().unwrap()).unwrap();
        drop(f);
        use std::os::unix::fs::MetadataExt;
        let after = std::fs::metadata(&p).unwrap();
        assert_eq!(
            (after.ino(), after.len(), after.modified().unwrap()),
            (before.ino(), before.len(), before.modified().unwrap()),
            "inode, size and mtime must be what they were"
        );
    }

    /// Runs `cargo hbuild ARGS` in the workspace with its private cache.
    pub fn hbuild(&self, args: &[&str]) -> Run {
        self.hbuild_env(args, &[])
    }

    /// Runs `cargo hbuild ARGS` with extra environment variables.
    pub fn hbuild_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        Run::from(self.hbuild_command(args, env).output().unwrap())
    }

    /// Like [`Ws::hbuild_env`], for a build that could hang: kills it and
    /// fails the test as hung when it has not exited after [`HANG_LIMIT`].
    pub fn hbuild_bounded(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        // Files, not pipes: reading them never waits for a process that
        // still holds the other end.
        let mut out = tempfile::tempfile().unwrap();
        let mut err = tempfile::tempfile().unwrap();
        let mut child = self
            .hbuild_command(args, env)
            .stdout(Stdio::from(out.try_clone().unwrap()))
            .stderr(Stdio::from(err.try_clone().unwrap()))
            .spawn()
            .unwrap();
        let deadline = Instant::now() + HANG_LIMIT;
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break Some(status);
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let read = |f: &mut std::fs::File| {
            let mut s = String::new();
            f.rewind().unwrap();
            f.read_to_string(&mut s).unwrap();
            s
        };
        let (stdout, stderr) = (read(&mut out), read(&mut err));
        let Some(status) = status else {
            panic!(
                "`cargo hbuild {}` hung: killed after {HANG_LIMIT:?}\n--- stderr\n{stderr}",
                args.join(" ")
            );
        };
        Run {
            code: status.code().unwrap_or(-1),
            stdout,
            stderr,
        }
    }

    /// The `cargo hbuild ARGS` command with its private cache, not yet started.
    pub fn hbuild_command(&self, args: &[&str], env: &[(&str, &str)]) -> Command {
        let mut c = Command::new(hbuild_bin());
        c.arg("hbuild")
            .args(args)
            .current_dir(&self.root)
            .env("HBUILD_CACHE_DIR", &self.cache);
        clean_env(&mut c);
        for (k, v) in env {
            c.env(k, v);
        }
        c
    }

    /// Runs `cargo hbuild ARGS` in a directory of the workspace.
    pub fn hbuild_in(&self, dir: &str, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut c = self.hbuild_command(args, env);
        c.current_dir(self.root.join(dir));
        Run::from(c.output().unwrap())
    }

    /// Runs `cargo ARGS` in the workspace.
    pub fn cargo(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut c = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
        c.args(args).current_dir(&self.root);
        clean_env(&mut c);
        for (k, v) in env {
            c.env(k, v);
        }
        Run::from(c.output().unwrap())
    }

    /// Runs a built program and returns its stdout.
    pub fn run_program(&self, rel: &str) -> String {
        let out = Command::new(self.path(rel))
            .current_dir(&self.root)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {rel}: {e}"));
        assert!(
            out.status.success(),
            "{rel} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
}

/// Removes variables of the outer build that would leak into the tests.
fn clean_env(c: &mut Command) {
    for k in [
        "CARGO_TARGET_DIR",
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTC_WRAPPER",
        "CARGO_BUILD_TARGET_DIR",
        "CARGO_MAKEFLAGS",
        "MAKEFLAGS",
        "HBUILD_REMOTE_CACHE",
        "CARGO_PRIMARY_PACKAGE",
        "CARGO_MANIFEST_DIR",
        "CLIPPY_ARGS",
        "CLIPPY_CONF_DIR",
        "RUSTC_WORKSPACE_WRAPPER",
    ] {
        c.env_remove(k);
    }
    c.env("CARGO_TERM_COLOR", "never");
}

/// A copy of `testdata/workspaces/<name>`.
pub fn fixture(name: &str) -> Ws {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join(name);
    copy_dir(&repo_root().join("testdata/workspaces").join(name), &root);
    let cache = tmp.path().join("hbuild-cache");
    Ws { tmp, root, cache }
}

/// A new workspace in a temporary directory, from (path, contents) pairs.
pub fn workspace(files: &[(&str, &str)]) -> Ws {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("ws");
    for (rel, text) in files {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    let cache = tmp.path().join("hbuild-cache");
    Ws { tmp, root, cache }
}

/// The `release:` version of the rustc in PATH (what Cargo reports).
pub fn rustc_release() -> String {
    let out = Command::new("rustc").arg("-vV").output().unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("release: ").map(str::to_string))
        .expect("rustc -vV has a release line")
}

/// Output of a command.
#[derive(Debug)]
pub struct Run {
    /// Exit code.
    pub code: i32,
    /// stdout.
    pub stdout: String,
    /// stderr.
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Self {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Run {
    /// Asserts success, printing output otherwise.
    #[track_caller]
    pub fn ok(self) -> Self {
        assert_eq!(
            self.code, 0,
            "command failed\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }

    /// The `hbuild-summary` JSON message (requires `--message-format json`).
    pub fn summary(&self) -> serde_json::Value {
        self.stdout
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|v| v["reason"] == "hbuild-summary")
            .unwrap_or_else(|| panic!("no hbuild-summary in stdout:\n{}", self.stdout))
    }

    /// JSON messages on stdout with the given reason.
    pub fn messages(&self, reason: &str) -> Vec<serde_json::Value> {
        self.stdout
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v["reason"] == reason)
            .collect()
    }
}

/// Files below `dir` (relative, sorted), skipping hidden files and `.d`/`.rmeta` noise when asked.
pub fn file_set(dir: &Path, filter: impl Fn(&str) -> bool) -> Vec<String> {
    let mut out = Vec::new();
    if !dir.exists() {
        return out;
    }
    for e in walkdir::WalkDir::new(dir).min_depth(1).max_depth(2) {
        let e = e.unwrap();
        let rel = e
            .path()
            .strip_prefix(dir)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        if e.file_type().is_file() && filter(&rel) {
            out.push(rel);
        }
    }
    out.sort();
    out
}

/// A local cache already filled by a dev build of `fixture` (built once per
/// key schema, under a lock, in the target tmp dir). Tests get a hard-linked
/// private copy, so what one test stores never turns into a hit in another.
pub fn warm_cache_for(ws: &Ws, fixture_name: &str) {
    warm_cache(ws, fixture_name, "-al");
}

/// Like [`warm_cache_for`], but with copied files rather than hard links:
/// for tests that watch the outputs' inodes, which other tests' caches
/// would otherwise share.
pub fn warm_cache_copy_for(ws: &Ws, fixture_name: &str) {
    warm_cache(ws, fixture_name, "-a");
}

fn warm_cache(ws: &Ws, fixture_name: &str, cp_mode: &str) {
    // Kept across test runs: per key schema, since entries of another
    // one never hit.
    let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "warm-cache-{fixture_name}-keys{}",
        hbuild::KEY_SCHEMA_VERSION
    ));
    std::fs::create_dir_all(base.parent().unwrap()).unwrap();
    let lock = std::fs::File::create(base.with_extension("lock")).unwrap();
    lock.lock().unwrap();
    let ready = base.join("READY");
    if !ready.exists() {
        let _ = std::fs::remove_dir_all(&base);
        let w = fixture(fixture_name);
        let mut c = Command::new(hbuild_bin());
        c.arg("hbuild")
            .current_dir(&w.root)
            .env("HBUILD_CACHE_DIR", base.join("cache"));
        clean_env(&mut c);
        Run::from(c.output().unwrap()).ok();
        std::fs::write(&ready, "").unwrap();
    }
    let _ = std::fs::remove_dir_all(&ws.cache);
    let st = Command::new("cp")
        .arg(cp_mode)
        .arg(base.join("cache"))
        .arg(&ws.cache)
        .status()
        .unwrap();
    assert!(st.success());
    drop(lock);
}

/// A RUSTC_WRAPPER that logs every rustc call, one line each. Probes of
/// `cargo metadata` (`-vV`, `--crate-name ___`) are logged too; see
/// [`compiles`].
pub fn logging_wrapper(dir: &Path) -> (PathBuf, PathBuf) {
    let p = dir.join("count-rustc.sh");
    let log = dir.join("rustc-calls.log");
    std::fs::write(
        &p,
        format!(
            "#!/bin/bash\necho \"$*\" >> '{}'\nexec \"$@\"\n",
            log.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    (p, log)
}

/// Number of actions executed, from a JSON summary.
pub fn executed(run: &Run) -> u64 {
    run.summary()["executed"].as_u64().unwrap()
}

/// The compilations in a [`logging_wrapper`] log (probes left out).
pub fn compiles(log: &Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("--crate-name") && !l.contains("--crate-name ___"))
        .map(str::to_string)
        .collect()
}

/// The outputs a build left in place (stamps aside), relative to the
/// internal output dir, with their bytes (the copies at Cargo's paths are
/// hard links to them).
pub fn outputs_left(ws: &Ws) -> (Vec<String>, u64) {
    use std::os::unix::fs::MetadataExt;
    let root = ws.path("target/hbuild/debug");
    let mut files = Vec::new();
    let mut inodes = std::collections::BTreeMap::new();
    for e in walkdir::WalkDir::new(&root).min_depth(1) {
        let e = e.unwrap();
        let rel = e
            .path()
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        if !e.file_type().is_file() || rel.contains(".hbuild-stamps") || rel.starts_with("hbuild/")
        {
            continue;
        }
        let m = e.metadata().unwrap();
        inodes.insert((m.dev(), m.ino()), m.len());
        files.push(rel);
    }
    files.sort();
    (files, inodes.values().sum())
}

/// Edits the report line of the kitchen-sink fixture's `app` library to
/// `"app-cli report, {label}"`, builds with `build` (an `--explain
/// --message-format json` build), and checks that exactly the library and
/// its two programs were rebuilt and that `app-cli` prints the edit.
pub fn edit_app_report(ws: &Ws, label: &str, build: impl FnOnce(&Ws) -> Run) -> Run {
    let edited = format!("\"app-cli report, {label}\"");
    ws.replace("crates/app/src/lib.rs", "\"app-cli report\"", &edited);
    let run = build(ws);
    let mut rebuilt = rebuilt_units(&run);
    rebuilt.sort();
    assert_eq!(
        rebuilt,
        ["app", "app (bin \"app-cli\")", "app (bin \"helper\")"],
        "{}",
        run.stderr
    );
    let expected = std::fs::read_to_string(ws.path("expected/app-cli.stdout")).unwrap();
    assert_eq!(
        ws.run_program("target/debug/app-cli"),
        expected.replace("app-cli report", &format!("app-cli report, {label}"))
    );
    run
}

/// The units a `--explain --message-format json` build executed, sorted:
/// one `hbuild-explain` message each.
pub fn rebuilt_units(run: &Run) -> Vec<String> {
    let mut units: Vec<String> = run
        .messages("hbuild-explain")
        .iter()
        .map(|m| m["unit"].as_str().expect("a unit name").to_string())
        .collect();
    units.sort();
    assert_eq!(
        units.len() as u64,
        executed(run),
        "one explain message per executed action"
    );
    units
}

/// Output with wall times blanked, lines sorted: actions finish in parallel,
/// so even two direct builds order their messages differently.
pub fn normalised(run: &Run) -> String {
    let mut stderr: Vec<String> = run
        .stderr
        .lines()
        .map(|l| match l.find(" target(s) in ") {
            Some(i) => format!("{} target(s) in _", &l[..i]),
            None => l.to_string(),
        })
        .collect();
    let mut stdout: Vec<String> = run
        .stdout
        .lines()
        .map(|l| match serde_json::from_str::<serde_json::Value>(l) {
            Ok(mut v) => {
                if let Some(o) = v.as_object_mut() {
                    o.remove("elapsed_ms");
                }
                v.to_string()
            }
            Err(_) => l.to_string(),
        })
        .collect();
    stdout.sort();
    stderr.sort();
    format!("{}\n--- stderr\n{}", stdout.join("\n"), stderr.join("\n"))
}
