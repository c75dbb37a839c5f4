//! Whole builds through remote execution (`--remote-executor`) on a real
//! BuildGrid with its SQL scheduler and the bots of `tests/bot/`, which run
//! every action as another user in an empty directory holding only its
//! input root: the fixture with C code, build scripts and proc-macros
//! builds there, its programs behave as local ones and its compile outputs
//! are byte-identical to a local build's; an engine that is down means a
//! local build with one warning, or an error under `--remote-only`; a
//! compile that reads a file hbuild does not send fails remotely and is
//! built locally, with a warning naming it.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::exec_grid::ExecGrid;
use common::{fixture, Ws};

/// The files of hbuild's `deps/` that must be byte-identical between a
/// remote and a local build: everything rustc wrote but the dep-info,
/// which names this checkout's paths.
fn compiled(ws: &Ws) -> BTreeMap<String, Vec<u8>> {
    let deps = ws.path("target/hbuild/debug/deps");
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(&deps).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.ends_with(".d") {
            continue;
        }
        out.insert(name, std::fs::read(e.path()).unwrap());
    }
    out
}

/// The number of actions of the given kinds in a `--plan` with `args`.
fn planned(ws: &Ws, args: &[&str], kinds: &[&str]) -> u64 {
    let plan = ws.hbuild(&[&["--plan"], args].concat()).ok();
    let graph: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
    graph["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| kinds.iter().any(|k| a["kind"] == *k))
        .count() as u64
}

/// Compiles of libraries, binaries and build scripts.
const COMPILES: &[&str] = &["compile", "build-script-compile"];

/// Checks that `run` succeeded with no fallback and no warning, every
/// action of `kinds` running remotely; returns its summary.
fn all_remote(ws: &Ws, run: &common::Run, grid: &ExecGrid, kinds: &[&str]) -> serde_json::Value {
    assert_eq!(
        run.code,
        0,
        "--- stderr\n{}\n--- workers\n{}",
        run.stderr,
        grid.worker_log()
    );
    let summary = run.summary();
    let ex = &summary["remote_execution"];
    assert_eq!(
        ex["executed"].as_u64().unwrap() + ex["engine_cached"].as_u64().unwrap(),
        planned(ws, &[], kinds),
        "every action of {kinds:?} ran remotely: {summary}\n{}",
        run.stderr
    );
    assert!(
        !run.stderr.contains("warning: "),
        "no fallback, no warning:\n{}",
        run.stderr
    );
    summary
}

/// The variables of a build through `url` with the workspace's private
/// cache. The workspace's directory becomes private to this user first,
/// so a worker running as another user can read only what it is sent.
fn remote_env<'a>(ws: &'a Ws, url: &'a str) -> Vec<(&'a str, &'a str)> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(ws.tmp.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    vec![
        ("HBUILD_REMOTE_EXECUTOR", url),
        ("HBUILD_CACHE_DIR", ws.cache.to_str().unwrap()),
        ("CARGO_INCREMENTAL", "0"),
    ]
}

#[test]
fn the_kitchen_sink_builds_remotely_with_the_bytes_of_a_local_build() {
    let grid = ExecGrid::start(2);
    let url = grid.url();
    let remote = fixture("kitchen-sink");
    let run = remote.hbuild_env(
        &["--message-format", "json", "-j", "8"],
        &remote_env(&remote, &url),
    );
    all_remote(&remote, &run, &grid, COMPILES);
    for bin in ["app-cli", "helper"] {
        let expected =
            std::fs::read_to_string(remote.path(&format!("expected/{bin}.stdout"))).unwrap();
        assert_eq!(remote.run_program(&format!("target/debug/{bin}")), expected);
    }

    let local = fixture("kitchen-sink");
    local
        .hbuild_env(&["--no-cache"], &[("CARGO_INCREMENTAL", "0")])
        .ok();
    let (r, l) = (compiled(&remote), compiled(&local));
    assert_eq!(
        r.keys().collect::<Vec<_>>(),
        l.keys().collect::<Vec<_>>(),
        "the same files"
    );
    let differ: Vec<&String> = r.keys().filter(|k| r[*k] != l[*k]).collect();
    assert!(differ.is_empty(), "differ from a local build: {differ:?}");

    // Another checkout, with its tests (whose compiles get
    // `CARGO_BIN_EXE_*` variables) and build scripts run remotely too, and
    // no remote cache: the engine's action cache answers the compiles the
    // first build ran (their actions name no path of either checkout), its
    // workers run the rest, and explain says where each unit ran.
    let again = fixture("kitchen-sink");
    let env = remote_env(&again, &url);
    let explain = again.hbuild_env(
        &[
            "--explain",
            "-v",
            "--tests",
            "--remote-build-scripts",
            "--remote-cache",
            "grpc://127.0.0.1:9",
        ],
        &env,
    );
    assert_eq!(explain.code, 0, "{}\n{}", explain.stderr, grid.worker_log());
    let all = planned(&again, &["--tests"], COMPILES)
        + planned(&again, &["--tests"], &["build-script-run"]);
    assert!(
        explain.stderr.contains(&format!(
            "{all} of {all} rebuilt unit(s) executed remotely on {url}"
        )),
        "{}",
        explain.stderr
    );
    // Units the first build compiled the same way (the tests change the
    // features of the workspace's own crates, not of these).
    for unit in ["syn", "cnative", "app (build script)"] {
        assert!(
            explain.stderr.contains(&format!(
                "             {unit}: answered from the engine's action cache"
            )),
            "{unit}: {}",
            explain.stderr
        );
    }
    assert!(
        explain
            .stderr
            .contains("app (build script run): on worker hbuild-test-bot-"),
        "{}",
        explain.stderr
    );
    // Built for tests, the programs see the test features: their
    // integration test, built remotely too, checks them.
    let deps = again.path("target/debug/deps");
    let integ = std::fs::read_dir(&deps)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.starts_with("integ-") && p.extension().is_none()
        })
        .expect("the integ test binary");
    let out = std::process::Command::new(&integ)
        .current_dir(again.path("crates/app"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("test result: ok."), "{stdout}");
}

#[test]
fn an_engine_that_is_down_means_a_local_build_or_an_error_with_remote_only() {
    // Nothing listens on port 9 of loopback.
    let ws = fixture("tiny");
    let url = "grpc://127.0.0.1:9";
    let run = ws
        .hbuild_env(
            &["--remote-cache", "grpc://127.0.0.1:9"],
            &remote_env(&ws, url),
        )
        .ok();
    let warnings: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.contains("remote executor grpc://127.0.0.1:9 failed"))
        .collect();
    assert_eq!(warnings.len(), 1, "{}", run.stderr);
    assert!(
        warnings[0].ends_with("building locally for the rest of this run"),
        "{}",
        warnings[0]
    );
    assert!(run.stderr.contains("Finished"), "{}", run.stderr);

    let other = fixture("tiny");
    let only = other.hbuild_env(
        &["--remote-only", "--remote-cache", "grpc://127.0.0.1:9"],
        &remote_env(&other, url),
    );
    assert_eq!(only.code, 101, "{}", only.stderr);
    assert!(
        only.stderr
            .contains("cannot run on remote executor grpc://127.0.0.1:9 and --remote-only forbids running it locally"),
        "{}",
        only.stderr
    );
}

#[test]
fn a_compile_reading_a_file_hbuild_does_not_send_is_built_locally_with_a_warning() {
    let grid = ExecGrid::start(1);
    let url = grid.url();
    let ws = fixture("tiny");
    // A file beside the workspace: not part of any package, so not sent.
    let outside = ws.root.parent().unwrap().join("outside.txt");
    std::fs::write(&outside, "from outside\n").unwrap();
    let main = first_source(&ws.root);
    let text = std::fs::read_to_string(&main).unwrap();
    std::fs::write(
        &main,
        format!(
            "{text}\n#[allow(dead_code)]\nconst OUTSIDE: &str = include_str!({:?});\n",
            outside.display().to_string()
        ),
    )
    .unwrap();
    let run = ws.hbuild_env(&[], &remote_env(&ws, &url));
    assert_eq!(run.code, 0, "{}\n{}", run.stderr, grid.worker_log());
    if grid.bot_uid().is_none() {
        // Workers run as this user (not root): nothing stops them from
        // reading the file, so there is no failure to see.
        return;
    }
    let warned: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.contains("failed on the remote executor (exit code 1) but built locally"))
        .collect();
    assert_eq!(warned.len(), 1, "{}", run.stderr);
    assert!(!run.stderr.contains("error"), "{}", run.stderr);
}

/// The root source file of the fixture's first member.
fn first_source(root: &Path) -> std::path::PathBuf {
    for candidate in ["src/main.rs", "src/lib.rs"] {
        let p = root.join(candidate);
        if p.is_file() {
            return p;
        }
    }
    walkdir::WalkDir::new(root)
        .into_iter()
        .flatten()
        .map(|e| e.into_path())
        .find(|p| p.ends_with("src/main.rs") || p.ends_with("src/lib.rs"))
        .expect("a crate root")
}

#[test]
fn a_minimal_remote_build_leaves_what_it_compiled_on_the_engine_until_a_local_action_needs_it() {
    let grid = ExecGrid::start(2);
    let url = grid.url();
    let ws = fixture("kitchen-sink");
    let env = remote_env(&ws, &url);
    let minimal = [
        "--message-format",
        "json",
        "-j",
        "8",
        "--remote-download",
        "minimal",
    ];
    let scripts_too = [&minimal[..], &["--remote-build-scripts"]].concat();
    let run = ws.hbuild_env(&scripts_too, &env);
    let s = all_remote(
        &ws,
        &run,
        &grid,
        &["compile", "build-script-compile", "build-script-run"],
    );
    let ex = &s["remote_execution"];
    // Here: the final artifacts (programs, the libraries of members) and
    // what build scripts wrote, which remote runs return as a directory;
    // the other libraries, the proc-macros and the build scripts' programs
    // stayed on the engine.
    let (files, _) = common::outputs_left(&ws);
    let programs: Vec<&String> = files
        .iter()
        .filter(|f| f.contains("/build_script_") || f.contains("/build-script-"))
        .filter(|f| !f.ends_with(".d"))
        .collect();
    assert!(programs.is_empty(), "{programs:#?}");
    let mut compiled: Vec<&str> = files
        .iter()
        .filter_map(|f| f.strip_prefix("deps/"))
        .filter(|f| !f.ends_with(".d"))
        .map(|f| f.split('-').next().unwrap())
        .collect();
    compiled.dedup();
    assert_eq!(
        compiled,
        ["app_cli", "helper", "libapp_core", "libplugin",],
        "{files:#?}"
    );
    for bin in ["app-cli", "helper"] {
        let expected = std::fs::read_to_string(ws.path(&format!("expected/{bin}.stdout"))).unwrap();
        assert_eq!(ws.run_program(&format!("target/debug/{bin}")), expected);
    }
    let down = ex["bytes_down"].as_u64().unwrap() + s["remote"]["bytes_down"].as_u64().unwrap();

    // The entries the remote runs left are whole: another checkout
    // downloading everything gets every action from them.
    let all = fixture("kitchen-sink");
    let full = all
        .hbuild_env(&minimal[..4], &remote_env(&all, &url))
        .ok()
        .summary();
    assert_eq!(full["executed"], 0, "{full}");
    let full_down = full["remote"]["output_bytes_down"].as_u64().unwrap();
    assert!(
        down * 4 < full_down,
        "minimal {down} bytes, all {full_down}: {s}"
    );

    // An edit built remotely by the next build names what its dependencies
    // left on the engine, known to that build from their stamps only.
    let remote_edit = [&scripts_too[..], &["--explain"]].concat();
    let edited = common::edit_app_report(&ws, "remote", |ws| {
        let run = ws.hbuild_env(&remote_edit, &env);
        assert_eq!(run.code, 0, "{}\n{}", run.stderr, grid.worker_log());
        assert!(!run.stderr.contains("warning: "), "{}", run.stderr);
        run
    });
    let ex = &edited.summary()["remote_execution"];
    assert_eq!(ex["executed"], 3, "{ex}");
    let (files, _) = common::outputs_left(&ws);
    assert!(!files.iter().any(|f| f.contains("libserde-")), "{files:#?}");
    ws.replace(
        "crates/app/src/lib.rs",
        "\"app-cli report, remote\"",
        "\"app-cli report\"",
    );

    // An edit built locally needs the libraries of the library's
    // dependencies: fetched through the remote cache's entries, which the
    // remote runs left there, and byte for byte those of the full build.
    let local_env = [
        ("HBUILD_CACHE_DIR", ws.cache.to_str().unwrap()),
        ("CARGO_INCREMENTAL", "0"),
    ];
    let explained = [&minimal[..], &["--explain", "--remote-cache", &url]].concat();
    common::edit_app_report(&ws, "edited", |ws| {
        ws.hbuild_env(&explained, &local_env).ok()
    });
    let (after, _) = common::outputs_left(&ws);
    let serde: Vec<&String> = after.iter().filter(|f| f.contains("libserde-")).collect();
    assert!(!serde.is_empty(), "{after:#?}");
    for f in serde {
        let f = format!("target/hbuild/debug/{f}");
        assert_eq!(
            std::fs::read(ws.path(&f)).unwrap(),
            std::fs::read(all.path(&f)).unwrap(),
            "{f}"
        );
    }
}
