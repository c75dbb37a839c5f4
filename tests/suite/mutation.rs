//! Zero stale outputs: after every kind of edit a user can make, the warm,
//! incremental build of a checkout gives the same bytes as a clean build
//! of the same state (no cache, fresh target dir).
//!
//! Clean builds are memoised by the state they build (sources, flags and
//! environment), since several steps return to an earlier state (a revert,
//! a bare touch, a corrupted cache, a removed artifact).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::common::{executed, fixture, rebuilt_units, Run, Ws};

/// The artifacts compared byte for byte, relative to the profile dir.
const ARTIFACTS: &[&str] = &["app-cli", "helper", "libapp_core.rlib", "libplugin.so"];

/// One state of the checkout: the flags and variables of its builds.
#[derive(Clone)]
struct State {
    label: &'static str,
    args: Vec<&'static str>,
    env: Vec<(&'static str, &'static str)>,
}

impl State {
    fn base() -> Self {
        State {
            label: "base",
            args: vec![],
            env: vec![],
        }
    }

    fn env(&self) -> Vec<(&'static str, &'static str)> {
        let mut env = vec![("CARGO_INCREMENTAL", "0")];
        env.extend(self.env.iter().copied());
        env
    }
}

/// The checkout under test and the memo of clean builds.
struct Mutations {
    ws: Ws,
    clean: HashMap<&'static str, HashMap<&'static str, Vec<u8>>>,
    next_clean: usize,
}

impl Mutations {
    fn build(&self, state: &State) -> Run {
        let mut args = vec!["--message-format", "json"];
        args.extend(state.args.iter().copied());
        self.ws.hbuild_env(&args, &state.env()).ok()
    }

    /// Builds `state` from scratch once (no cache, an empty target dir).
    fn clean_bytes(&mut self, state: &State) -> &HashMap<&'static str, Vec<u8>> {
        if !self.clean.contains_key(state.label) {
            self.next_clean += 1;
            let dir = self
                .ws
                .tmp
                .path()
                .join(format!("clean-{}", self.next_clean));
            let mut args = vec!["--no-cache", "--target-dir", dir.to_str().unwrap()];
            args.extend(state.args.iter().copied());
            self.ws.hbuild_env(&args, &state.env()).ok();
            let bytes = read_artifacts(&dir.join("debug"));
            std::fs::remove_dir_all(&dir).unwrap();
            self.clean.insert(state.label, bytes);
        }
        &self.clean[state.label]
    }

    /// Builds the checkout warm and compares it with a clean build of
    /// `state`; returns how many actions the warm build executed.
    #[track_caller]
    fn check(&mut self, step: &str, state: &State) -> u64 {
        let run = self.build(state);
        let warm = read_artifacts(&self.ws.path("target/debug"));
        let clean = self.clean_bytes(state);
        for name in ARTIFACTS {
            assert!(
                warm[name] == clean[name],
                "after `{step}`, target/debug/{name} differs from a clean build of `{}`",
                state.label
            );
        }
        executed(&run)
    }
}

fn read_artifacts(dir: &Path) -> HashMap<&'static str, Vec<u8>> {
    ARTIFACTS
        .iter()
        .map(|name| {
            let p = dir.join(name);
            let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (*name, bytes)
        })
        .collect()
}

/// Writes `to` over `from` in place (same length, same inode) and puts the
/// file's modification time back, as `rsync -a`, `cp -p` or `tar -x` do.
fn same_size_edit_keeping_mtime(path: &Path, from: &str, to: &str) {
    use std::io::{Seek, Write};
    assert_eq!(from.len(), to.len(), "the edit must keep the size");
    let text = std::fs::read_to_string(path).unwrap();
    let offset = text.find(from).expect("text to edit") as u64;
    let before = std::fs::metadata(path).unwrap();
    let mut f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    f.seek(std::io::SeekFrom::Start(offset)).unwrap();
    f.write_all(to.as_bytes()).unwrap();
    f.set_times(
        std::fs::FileTimes::new()
            .set_modified(before.modified().unwrap())
            .set_accessed(before.accessed().unwrap()),
    )
    .unwrap();
    drop(f);
    let after = std::fs::metadata(path).unwrap();
    assert_eq!(
        (after.len(), after.modified().unwrap()),
        (before.len(), before.modified().unwrap())
    );
}

/// Overwrites, in place, the cache blob holding the bytes of `artifact`.
fn corrupt_blob_of(cache: &Path, artifact: &Path) -> PathBuf {
    use std::os::unix::fs::MetadataExt;
    let want = std::fs::read(artifact).unwrap();
    for e in walkdir::WalkDir::new(cache).into_iter().flatten() {
        let p = e.path();
        if !e.file_type().is_file() || !p.to_string_lossy().contains("/cas/") {
            continue;
        }
        if std::fs::metadata(p).unwrap().len() == want.len() as u64
            && std::fs::read(p).unwrap() == want
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(p).unwrap().mode();
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o644)).unwrap();
            let mut garbage = want.clone();
            let mid = garbage.len() / 2;
            garbage[mid] ^= 0xff;
            std::fs::write(p, garbage).unwrap();
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode & 0o7777)).unwrap();
            return p.to_path_buf();
        }
    }
    panic!("no cache blob holds {}", artifact.display());
}

#[test]
fn every_edit_leaves_the_same_bytes_as_a_clean_build() {
    let mut m = Mutations {
        ws: fixture("kitchen-sink"),
        clean: HashMap::new(),
        next_clean: 0,
    };
    let base = State::base();
    m.check("first build", &base);
    assert_eq!(m.check("no-op", &base), 0, "a no-op build executed actions");

    // A source edit, then its revert (a hit: nothing runs).
    let lib = "crates/util/src/lib.rs";
    let original = std::fs::read_to_string(m.ws.path(lib)).unwrap();
    m.ws.append(lib, "\npub fn added_by_mutation() -> u32 { 11 }\n");
    let edited = State {
        label: "util edited",
        ..State::base()
    };
    assert!(m.check("source edit", &edited) >= 1);
    std::fs::write(m.ws.path(lib), &original).unwrap();
    assert_eq!(m.check("revert", &base), 0, "a revert must be a cache hit");

    // RUSTFLAGS from the environment.
    let rustflags = State {
        label: "RUSTFLAGS",
        env: vec![("RUSTFLAGS", "--cfg hbuild_mutation")],
        ..State::base()
    };
    assert!(m.check("RUSTFLAGS", &rustflags) >= 1);

    // A feature that changes how C code is compiled.
    let wide = State {
        label: "cnative/wide",
        args: vec!["--features", "cnative/wide"],
        ..State::base()
    };
    assert!(m.check("feature with C code", &wide) >= 1);
    let out = m.ws.run_program("target/debug/app-cli");
    assert!(out.contains("version=30"), "{out}");

    // A profile edit in the root manifest.
    let manifest = std::fs::read_to_string(m.ws.path("Cargo.toml")).unwrap();
    m.ws.append(
        "Cargo.toml",
        "\n[profile.dev.package.util]\nopt-level = 2\n",
    );
    let profile = State {
        label: "profile edit",
        ..State::base()
    };
    assert!(m.check("profile edit", &profile) >= 1);
    std::fs::write(m.ws.path("Cargo.toml"), &manifest).unwrap();
    assert_eq!(m.check("profile revert", &base), 0);

    // A Cargo.lock bump of a registry dependency.
    let lock = std::fs::read_to_string(m.ws.path("Cargo.lock")).unwrap();
    m.ws.cargo(&["update", "-p", "itoa", "--precise", "1.0.18"], &[])
        .ok();
    let bumped = std::fs::read_to_string(m.ws.path("Cargo.lock")).unwrap();
    assert!(bumped.contains("version = \"1.0.18\""), "{bumped}");
    let lock_bump = State {
        label: "itoa 1.0.18",
        ..State::base()
    };
    assert!(m.check("Cargo.lock bump", &lock_bump) >= 1);
    std::fs::write(m.ws.path("Cargo.lock"), &lock).unwrap();
    assert_eq!(m.check("Cargo.lock revert", &base), 0);

    // rustflags from a config file: the flags of the RUSTFLAGS state, whose
    // clean build (memoised by label) is then the reference.
    std::fs::create_dir_all(m.ws.path(".cargo")).unwrap();
    std::fs::write(
        m.ws.path(".cargo/config.toml"),
        "[build]\nrustflags = [\"--cfg\", \"hbuild_mutation\"]\n",
    )
    .unwrap();
    let config = State {
        label: "RUSTFLAGS",
        ..State::base()
    };
    // The same flags from another origin key the same: the cache entries
    // of the RUSTFLAGS state answer every action.
    assert_eq!(m.check("config rustflags", &config), 0);
    std::fs::remove_file(m.ws.path(".cargo/config.toml")).unwrap();
    assert_eq!(m.check("config revert", &base), 0);

    // A bare touch: nothing runs.
    let f = std::fs::File::options()
        .write(true)
        .open(m.ws.path(lib))
        .unwrap();
    f.set_modified(std::time::SystemTime::now()).unwrap();
    drop(f);
    assert_eq!(m.check("bare touch", &base), 0, "a touch must run nothing");

    // A same-size edit whose mtime is put back: only the ctime tells. The
    // file is old, as after a checkout, so no "just written" rule applies.
    let an_hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    let f = std::fs::File::options()
        .write(true)
        .open(m.ws.path(lib))
        .unwrap();
    f.set_modified(an_hour_ago).unwrap();
    drop(f);
    assert_eq!(
        m.check("old mtime", &base),
        0,
        "an mtime change must run nothing"
    );
    same_size_edit_keeping_mtime(&m.ws.path(lib), "{\n    7\n}", "{\n    9\n}");
    let same_size = State {
        label: "same-size edit",
        ..State::base()
    };
    assert!(m.check("same-size edit, mtime restored", &same_size) >= 1);
    let out = m.ws.run_program("target/debug/app-cli");
    assert!(
        out.contains("util: value=9 "),
        "the edit must reach the program: {out}"
    );

    // A corrupted cache blob (the binary's, shared by hard link with the
    // target dir), then a removed artifact.
    corrupt_blob_of(&m.ws.cache, &m.ws.path("target/debug/app-cli"));
    m.check("corrupted cache blob", &same_size);
    std::fs::remove_file(m.ws.path("target/debug/helper")).unwrap();
    m.check("removed artifact", &same_size);
    assert_eq!(m.check("no-op at the end", &same_size), 0);
}

/// Two checkouts sharing one cache, built at the same moment: both succeed
/// and both programs are right, whichever build stores an entry first.
///
/// Both build without incremental compilation, as CI does: its objects are
/// not reproducible, so with it each build stores its own bytes for the
/// workspace's libraries, and a third checkout taking one build's library
/// and the other's would rebuild what links both (correctly, but not from
/// the cache).
#[test]
fn two_checkouts_building_at_once_share_one_cache() {
    let a = fixture("kitchen-sink");
    let b = fixture("kitchen-sink");
    let spawn = |ws: &Ws| {
        ws.hbuild_command(&["--message-format", "json"], &[])
            .env("HBUILD_CACHE_DIR", &a.cache)
            .env("CARGO_INCREMENTAL", "0")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (ca, cb) = (spawn(&a), spawn(&b));
    for (ws, child) in [(&a, ca), (&b, cb)] {
        Run::from(child.wait_with_output().unwrap()).ok();
        let expected = std::fs::read_to_string(ws.path("expected/app-cli.stdout")).unwrap();
        assert_eq!(ws.run_program("target/debug/app-cli"), expected);
    }
    // What they stored together serves a third checkout completely.
    let c = fixture("kitchen-sink");
    let run = c
        .hbuild_env(
            &["--explain", "--message-format", "json"],
            &[
                ("HBUILD_CACHE_DIR", a.cache.to_str().unwrap()),
                ("CARGO_INCREMENTAL", "0"),
            ],
        )
        .ok();
    let reasons: Vec<_> = run.messages("hbuild-explain");
    assert_eq!(rebuilt_units(&run), Vec::<String>::new(), "{reasons:#?}");
}

/// A build killed with SIGKILL (with its compilers) half-way leaves nothing
/// that a later build trusts wrongly.
#[test]
fn a_build_killed_half_way_rebuilds_correctly() {
    use std::io::BufRead;
    use std::os::unix::process::CommandExt;
    let ws = fixture("kitchen-sink");
    let mut child = ws
        .hbuild_command(&["--message-format", "json"], &[])
        .env("CARGO_INCREMENTAL", "0")
        .process_group(0)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Kill it once a few units are done, while others are running.
    let stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut artifacts = 0;
    for line in stdout.lines() {
        if line.unwrap().contains("\"reason\":\"compiler-artifact\"") {
            artifacts += 1;
            if artifacts == 8 {
                break;
            }
        }
    }
    assert_eq!(artifacts, 8, "the build ended before it could be killed");
    // The group's id is the child's pid (`process_group(0)`). procps'
    // `kill` reads a `-PGID` that no `--` precedes as -1: every process
    // of the user.
    let pgid = child.id();
    assert!(pgid > 1);
    let st = std::process::Command::new("kill")
        .args(["-9", "--", &format!("-{pgid}")])
        .status()
        .unwrap();
    assert!(st.success());
    let _ = child.wait();

    ws.hbuild_env(&["--message-format", "json"], &[("CARGO_INCREMENTAL", "0")])
        .ok();
    let expected = std::fs::read_to_string(ws.path("expected/app-cli.stdout")).unwrap();
    assert_eq!(ws.run_program("target/debug/app-cli"), expected);
    let clean = ws.tmp.path().join("clean");
    ws.hbuild_env(
        &["--no-cache", "--target-dir", clean.to_str().unwrap()],
        &[("CARGO_INCREMENTAL", "0")],
    )
    .ok();
    for name in ARTIFACTS {
        assert!(
            std::fs::read(ws.path("target/debug").join(name)).unwrap()
                == std::fs::read(clean.join("debug").join(name)).unwrap(),
            "{name} differs from a clean build after the killed build"
        );
    }
}
