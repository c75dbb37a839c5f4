//! A private PostgreSQL for the remote execution stack: the server binaries,
//! a migrated template data directory kept between tests, and the server.

#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::buildgrid::free_port;
use super::procs::*;

/// Changes to how the PostgreSQL template is made invalidate old ones.
const PG_TEMPLATE_RECIPE: &str = "initdb+createdb+migrate v2";
/// The directory of PostgreSQL's server programs: `HBUILD_TEST_PGBIN`, or
/// the newest `/usr/lib/postgresql/*/bin` (Debian's layout).
pub fn postgres_bin() -> PathBuf {
    if let Ok(dir) = std::env::var("HBUILD_TEST_PGBIN") {
        return PathBuf::from(dir);
    }
    let mut best: Option<(u32, PathBuf)> = None;
    if let Ok(entries) = fs::read_dir("/usr/lib/postgresql") {
        for e in entries.flatten() {
            let Some(v) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            let bin = e.path().join("bin");
            if bin.join("initdb").is_file() && best.as_ref().is_none_or(|(b, _)| v > *b) {
                best = Some((v, bin));
            }
        }
    }
    best.map(|(_, bin)| bin).unwrap_or_else(|| {
        panic!(
            "PostgreSQL is required for the remote execution tests but no \
             /usr/lib/postgresql/*/bin/initdb exists: run `bash scripts/test-deps.sh` \
             (or set HBUILD_TEST_PGBIN to a directory holding initdb and postgres)"
        )
    })
}

/// Starts `postgres` on `data` and waits until it accepts connections;
/// `Err` holds its log if it exits first.
pub fn run_postgres(
    pgbin: &Path,
    user: Option<Ids>,
    data: &Path,
    socket_dir: &Path,
    port: u16,
    log_path: &Path,
) -> Result<Proc, String> {
    let log = fs::File::create(log_path).unwrap();
    // SIGQUIT is PostgreSQL's immediate shutdown: nothing here outlives the
    // stack, so nothing needs a checkpoint.
    let mut cmd = as_user(user, "QUIT", &pgbin.join("postgres"));
    cmd.arg("-D")
        .arg(data)
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .arg("-k")
        .arg(socket_dir)
        .args(["-c", "fsync=off", "-c", "full_page_writes=off"])
        .args(["-c", "synchronous_commit=off"])
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log);
    let mut proc = Proc::spawn("postgres", cmd, "QUIT", Duration::from_secs(10));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = fs::read_to_string(log_path).unwrap_or_default();
        if text.contains("ready to accept connections") {
            return Ok(proc);
        }
        if let Some(status) = proc.exited() {
            return Err(format!("postgres exited with {status}:\n{text}"));
        }
        if Instant::now() > deadline {
            return Err(format!(
                "postgres did not accept connections within 30 s:\n{text}"
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A PostgreSQL data directory with an empty, migrated `bgd` database,
/// made once per PostgreSQL, BuildGrid pins and user, and kept in the
/// target directory: initdb and the migrations take most of a cold start.
pub fn pg_template(pgbin: &Path, user: Option<Ids>, bgd: &Path) -> PathBuf {
    use sha2::Digest as _;
    let venv = bgd.parent().and_then(Path::parent).unwrap_or(bgd);
    let pins = fs::read_to_string(venv.join(".hbuild-pins")).unwrap_or_else(|_| "unpinned".into());
    let key = format!(
        "{PG_TEMPLATE_RECIPE}\n{}\n{}\n{pins}\n{:?}",
        pgbin.display(),
        bgd.display(),
        user
    );
    let hash = sha2::Sha256::digest(key.as_bytes());
    let name: String = hash[..8].iter().map(|b| format!("{b:02x}")).collect();
    let cache = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("exec-pg-template-{name}"));
    if cache.join("PG_VERSION").is_file() {
        return cache;
    }

    let stage = shared_tempdir("hbuild-pg-init-", user);
    let data = stage.path().join("data");
    run_checked(
        "initdb",
        as_user(user, "KILL", &pgbin.join("initdb"))
            .arg("-D")
            .arg(&data)
            .args([
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ])
            // 1 MiB WAL segments instead of 16: less to copy per stack.
            .arg("--wal-segsize=1"),
    );
    let log = stage.path().join("postgres.log");
    let mut started = None;
    for attempt in 1..=3 {
        let port = free_port();
        match run_postgres(pgbin, user, &data, stage.path(), port, &log) {
            Ok(p) => {
                started = Some((p, port));
                break;
            }
            Err(text) if attempt < 3 && text.contains("could not bind") => continue,
            Err(text) => panic!("PostgreSQL did not start for the template:\n{text}"),
        }
    }
    let (mut pg, port) = started.unwrap();
    run_checked(
        "createdb",
        Command::new(pgbin.join("createdb")).args([
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-U",
            "postgres",
            "bgd",
        ]),
    );
    run_checked(
        "bgd migrate apply",
        Command::new(bgd).args([
            "migrate",
            "apply",
            &format!("postgresql+psycopg2://postgres@127.0.0.1:{port}/bgd"),
        ]),
    );
    // A clean shutdown, so that every copy starts without recovery.
    pg.stop_signal = "INT";
    pg.stop();

    // Another test process may be making the same template: each copies to
    // a name of its own, and the first rename wins.
    let partial = cache.with_extension(format!("partial-{}", std::process::id()));
    let _ = fs::remove_dir_all(&partial);
    fs::create_dir_all(cache.parent().unwrap()).unwrap();
    copy_tree(&data, &partial);
    for leftover in ["postmaster.pid", "postmaster.opts"] {
        let _ = fs::remove_file(partial.join(leftover));
    }
    if fs::rename(&partial, &cache).is_err() {
        let _ = fs::remove_dir_all(&partial);
    }
    // Templates of older PostgreSQL, BuildGrid pins or recipes.
    if let Ok(entries) = fs::read_dir(cache.parent().unwrap()) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with("exec-pg-template-") && !name.contains('.') && e.path() != cache {
                let _ = fs::remove_dir_all(e.path());
            }
        }
    }
    assert!(
        cache.join("PG_VERSION").is_file(),
        "no PostgreSQL template at {}",
        cache.display()
    );
    cache
}
