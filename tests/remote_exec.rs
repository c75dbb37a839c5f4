//! The remote execution test stack itself (BuildGrid with its SQL scheduler
//! on a private PostgreSQL, and the bots of `tests/bot/`), driven by a
//! plain REAPI client: inputs reach the action and nothing else does,
//! outputs come back byte for byte, failures come back as results, and a
//! worker that dies mid-action costs a retry, not the action.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::time::{Duration, Instant};

use common::dirstore::pseudo_random_bytes;
use common::exec_grid::{ExecGrid, ExecOptions};
use common::procs::private_tempdir;
use common::reapi::{code, digest, ActionSpec, Entry, InputRoot};

/// A hang guard for one action, far above what any of these take.
const LIMIT: Duration = Duration::from_secs(90);

fn uid_of_this_process() -> u32 {
    use std::os::unix::fs::MetadataExt as _;
    fs::metadata("/proc/self").unwrap().uid()
}

#[test]
fn inputs_reach_the_action_and_outputs_come_back() {
    let grid = ExecGrid::start_with(ExecOptions {
        instance: "main".into(),
        workers: 1,
        ..Default::default()
    });
    eprintln!(
        "stack up in {:?} ({})",
        grid.startup_time(),
        grid.startup_phases()
    );
    let c = grid.client();
    let root = InputRoot::new()
        .file("in/a.txt", b"alpha\nwith a second line\n", false)
        .file("in/b.txt", b"beta, no newline", false)
        .upload(&c);
    let action = ActionSpec::shell("cat in/a.txt in/b.txt > out/c.txt; id -u > out/uid")
        .outputs(&["out/c.txt", "out/uid"])
        .upload(&c, &root);

    let ex = c.execute(&action, LIMIT);
    assert_eq!(
        ex.status_code(),
        code::OK,
        "{}\n{}",
        ex.status_message(),
        grid.worker_log()
    );
    let r = ex.result();
    assert_eq!(r.exit_code, 0, "stderr: {}", c.stderr(r));
    assert_eq!(
        c.output_bytes(r, "out/c.txt"),
        b"alpha\nwith a second line\nbeta, no newline"
    );
    let uid: u32 = String::from_utf8(c.output_bytes(r, "out/uid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    match grid.bot_uid() {
        Some(bot) => {
            assert_eq!(uid, bot);
            assert_ne!(uid, 0, "the action ran as root");
        }
        None => assert_eq!(uid, uid_of_this_process()),
    }
    assert_eq!(c.stdout(r), "");
    assert_eq!(c.stderr(r), "");
    assert_eq!(
        r.output_files
            .iter()
            .map(|f| f.path.as_str())
            .collect::<Vec<_>>(),
        ["out/c.txt", "out/uid"]
    );
    assert!(r.output_directories.is_empty());
    let meta = r.execution_metadata.as_ref().unwrap();
    assert_eq!(meta.worker, grid.worker_id(0));
    assert!(meta.execution_start_timestamp.is_some());
    assert!(meta.output_upload_completed_timestamp.is_some());
    // Operations are named `<instance>/<uuid>`.
    assert!(ex.operation.starts_with("main/"), "{}", ex.operation);
    assert_eq!(ex.stages.last(), Some(&common::reapi::Stage::Completed));
    eprintln!("executed in {:?}, stages {:?}", ex.elapsed, ex.stages);

    // The server wrote the result to its ActionCache: asked again, it
    // answers from there, and the bot runs nothing more.
    let again = c.execute_with(&action, false, LIMIT);
    assert!(again.response.cached_result);
    assert_eq!(again.result().output_files, r.output_files);
    assert_eq!(
        grid.worker_log().matches(": exit 0 in ").count(),
        1,
        "{}",
        grid.worker_log()
    );
}

#[test]
fn the_action_sees_its_inputs_and_environment_and_nothing_else() {
    let grid = ExecGrid::start(1);
    let c = grid.client();

    // A fresh directory holding exactly the input root.
    let root = InputRoot::new()
        .file("x.txt", b"x", false)
        .dir("empty")
        .symlink("link", "x.txt")
        .upload(&c);
    let listing =
        ActionSpec::shell("ls -A; ls -A empty; readlink link; cat link; echo").upload(&c, &root);
    let ex = c.execute(&listing, LIMIT);
    assert_eq!(ex.status_code(), code::OK, "{}", ex.status_message());
    assert_eq!(c.stdout(ex.result()), "empty\nlink\nx.txt\nx.txt\nx\n");

    // Exactly the Command's environment, nothing inherited.
    let env = ActionSpec {
        arguments: vec!["/usr/bin/env".into()],
        env: vec![
            ("ZED".into(), "last".into()),
            ("ALPHA".into(), "a b  c".into()),
        ],
        ..Default::default()
    }
    .upload(&c, &root);
    let ex = c.execute(&env, LIMIT);
    assert_eq!(ex.status_code(), code::OK, "{}", ex.status_message());
    assert_eq!(c.stdout(ex.result()), "ALPHA=a b  c\nZED=last\n");

    // Undeclared files: a test's private directory and root's home.
    let Some(_) = grid.bot_uid() else {
        eprintln!(
            "not root: the bot runs as this user and can read its files, \
             so the permission checks are skipped"
        );
        return;
    };
    let private = private_tempdir();
    assert_eq!(
        fs::metadata(private.path()).unwrap().permissions().mode() & 0o777,
        0o700
    );
    let secret = private.path().join("secret.txt");
    fs::write(&secret, "do not read").unwrap();
    assert!(!grid.bot_can_read(&secret));
    assert!(grid.bot_can_read(std::path::Path::new("/bin/sh")));
    let empty = InputRoot::new().upload(&c);
    for (script, path) in [
        (
            format!("cat {}", secret.display()),
            secret.display().to_string(),
        ),
        ("ls /root".to_string(), "/root".to_string()),
    ] {
        let action = ActionSpec::shell(&script).upload(&c, &empty);
        let ex = c.execute(&action, LIMIT);
        assert_eq!(ex.status_code(), code::OK, "{}", ex.status_message());
        let r = ex.result();
        assert_ne!(r.exit_code, 0, "{script} succeeded: {}", c.stdout(r));
        let stderr = c.stderr(r);
        assert!(
            stderr.contains("Permission denied") && stderr.contains(&path),
            "{script}: {stderr}"
        );
        assert_eq!(c.stdout(r), "");
    }
}

#[test]
fn executables_run_and_directories_come_back_as_trees() {
    let grid = ExecGrid::start(1);
    let c = grid.client();
    let tool = b"#!/bin/sh\n\
        mkdir -p \"$1/sub\" \"$1/empty\"\n\
        printf hi > \"$1/sub/greeting\"\n\
        cp \"$0\" \"$1/run.sh\"\n\
        if [ -x data.txt ]; then echo exec; else echo plain; fi > \"$1/data-mode\"\n";
    let root = InputRoot::new()
        .file("w/bin/tool.sh", tool, true)
        .file("w/data.txt", b"data", false)
        .upload(&c);

    // REAPI v2.1 output_paths, relative to the working directory.
    let action = ActionSpec {
        arguments: vec!["./bin/tool.sh".into(), "out".into()],
        working_directory: "w".into(),
        output_paths: vec!["out".into(), "missing.txt".into()],
        ..Default::default()
    }
    .upload(&c, &root);
    let ex = c.execute(&action, LIMIT);
    assert_eq!(ex.status_code(), code::OK, "{}", ex.status_message());
    let r = ex.result();
    assert_eq!(r.exit_code, 0, "stderr: {}", c.stderr(r));
    // A missing output is simply absent.
    assert!(r.output_files.is_empty(), "{:?}", r.output_files);
    assert_eq!(r.output_directories.len(), 1);
    assert_eq!(r.output_directories[0].path, "out");
    let want: BTreeMap<String, Entry> = [
        ("data-mode", Entry::File(b"plain\n".to_vec(), false)),
        ("empty", Entry::Dir),
        ("run.sh", Entry::File(tool.to_vec(), true)),
        ("sub", Entry::Dir),
        ("sub/greeting", Entry::File(b"hi".to_vec(), false)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    assert_eq!(c.tree_entries(&r.output_directories[0]), want);

    // Older clients' output_files and output_directories.
    let legacy = ActionSpec {
        arguments: vec![
            "/bin/sh".into(),
            "-c".into(),
            "./bin/tool.sh legacy/d && printf f > legacy/f".into(),
        ],
        working_directory: "w".into(),
        output_files: vec!["legacy/f".into()],
        output_directories: vec!["legacy/d".into()],
        ..Default::default()
    }
    .upload(&c, &root);
    let ex = c.execute(&legacy, LIMIT);
    assert_eq!(ex.status_code(), code::OK, "{}", ex.status_message());
    let r = ex.result();
    assert_eq!(c.output_file(r, "legacy/f"), Some((b"f".to_vec(), false)));
    assert_eq!(r.output_directories.len(), 1);
    assert_eq!(r.output_directories[0].path, "legacy/d");
    assert_eq!(c.tree_entries(&r.output_directories[0]), want);

    // Blobs past the batch limit travel over ByteStream both ways.
    let big = pseudo_random_bytes("big input", 9 << 20);
    let root = InputRoot::new().file("big.bin", &big, false).upload(&c);
    let copy = ActionSpec::shell("cp big.bin copy.bin")
        .outputs(&["copy.bin"])
        .upload(&c, &root);
    let ex = c.execute(&copy, LIMIT);
    assert_eq!(ex.status_code(), code::OK, "{}", ex.status_message());
    assert!(c.output_bytes(ex.result(), "copy.bin") == big);
}

#[test]
fn a_killed_workers_lease_is_retried_on_another() {
    let mut grid = ExecGrid::start(1);
    let c = grid.client();
    // A distinctive duration, to find the action's processes by.
    let script = "sleep 3.217; echo finished";
    let empty = InputRoot::new().upload(&c);
    let action = ActionSpec::shell(script).upload(&c, &empty);

    let ex = std::thread::scope(|s| {
        let running = s.spawn(|| c.execute(&action, LIMIT));
        grid.wait_worker_log(": running /bin/sh -c sleep 3.217", Duration::from_secs(60));
        let killed = Instant::now();
        grid.kill_worker(0);
        // The action died with its worker.
        let deadline = Instant::now() + Duration::from_secs(5);
        while !processes_running("3.217").is_empty() {
            assert!(
                Instant::now() < deadline,
                "the killed worker's action still runs: {:?}",
                processes_running("3.217")
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let new = grid.start_worker();
        let ex = running.join().unwrap();
        eprintln!(
            "completed {:?} after the kill, on worker {new}; stages {:?}",
            killed.elapsed(),
            ex.stages
        );
        ex
    });
    assert_eq!(
        ex.status_code(),
        code::OK,
        "{}\n{}",
        ex.status_message(),
        grid.worker_log()
    );
    let r = ex.result();
    assert_eq!(r.exit_code, 0);
    assert_eq!(c.stdout(r), "finished\n");
    assert_eq!(
        r.execution_metadata.as_ref().unwrap().worker,
        grid.worker_id(1),
        "{}",
        grid.worker_log()
    );
    assert!(
        grid.log().contains("BotSession has expired"),
        "the server did not expire the killed bot's session:\n{}",
        grid.log()
    );

    // Nothing of the stack outlives it.
    let pids = grid.pids();
    assert_eq!(
        pids.len(),
        3,
        "server, PostgreSQL and one live bot: {pids:?}"
    );
    let stopping = Instant::now();
    drop(grid);
    eprintln!("stack stopped in {:?}", stopping.elapsed());
    for pid in pids {
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists(),
            "process {pid} outlived the stack"
        );
    }
}

/// Pids of processes whose command line contains `needle`.
fn processes_running(needle: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for e in fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if pid == std::process::id() {
            continue;
        }
        let Ok(cmdline) = fs::read(e.path().join("cmdline")) else {
            continue;
        };
        if String::from_utf8_lossy(&cmdline).contains(needle) {
            out.push(pid);
        }
    }
    out
}

#[test]
fn failures_come_back_as_results() {
    let grid = ExecGrid::start(1);
    let c = grid.client();
    let empty = InputRoot::new().upload(&c);

    // A non-zero exit is a result like any other, but not cached.
    let action = ActionSpec::shell("echo to-stdout; echo to-stderr >&2; exit 7").upload(&c, &empty);
    let ex = c.execute(&action, LIMIT);
    assert_eq!(ex.status_code(), code::OK, "{}", ex.status_message());
    let r = ex.result();
    assert_eq!(r.exit_code, 7);
    assert_eq!(c.stdout(r), "to-stdout\n");
    assert_eq!(c.stderr(r), "to-stderr\n");
    let again = c.execute_with(&action, false, LIMIT);
    assert!(!again.response.cached_result);
    assert_eq!(again.result().exit_code, 7);

    // Past its timeout the action is killed: DEADLINE_EXCEEDED, with what
    // it wrote until then.
    let slow = ActionSpec {
        timeout: Some(Duration::from_secs(1)),
        ..ActionSpec::shell("echo started; sleep 30; echo never")
    }
    .upload(&c, &empty);
    let ex = c.execute(&slow, LIMIT);
    assert_eq!(
        ex.status_code(),
        code::DEADLINE_EXCEEDED,
        "{:?}",
        ex.response
    );
    assert_eq!(c.stdout(ex.result()), "started\n");
    assert!(ex.elapsed < Duration::from_secs(20), "{:?}", ex.elapsed);

    // A program that cannot be started.
    let missing_tool = ActionSpec {
        arguments: vec!["/nonexistent/tool".into()],
        ..Default::default()
    }
    .upload(&c, &empty);
    let ex = c.execute(&missing_tool, LIMIT);
    assert_eq!(
        ex.status_code(),
        code::INVALID_ARGUMENT,
        "{:?}",
        ex.response
    );
    assert!(
        ex.status_message().contains("/nonexistent/tool"),
        "{}",
        ex.status_message()
    );

    // An input missing from the CAS.
    let lost = digest(b"never uploaded");
    let dir = common::reapi::directory_with_file("lost.txt", &lost);
    let root = c.upload_message(&dir);
    let action = ActionSpec::shell("cat lost.txt").upload(&c, &root);
    let ex = c.execute(&action, LIMIT);
    assert_eq!(
        ex.status_code(),
        code::FAILED_PRECONDITION,
        "{:?}",
        ex.response
    );
    assert!(
        ex.status_message().contains(&lost.hash),
        "{}",
        ex.status_message()
    );
}
