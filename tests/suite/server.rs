//! The resident server: it answers verified no-ops with exactly what a
//! direct build prints, builds directly after any change, and leaves
//! nothing broken when it dies.

use std::time::{Duration, Instant};

use crate::common::{fixture, normalised, Run, Ws};

/// Server settings of these tests: a short idle timeout, so a server a
/// failed test leaves behind goes away by itself.
const SERVER: &[(&str, &str)] = &[("HBUILD_SERVER_IDLE_TIMEOUT", "120s")];

fn status(ws: &Ws) -> serde_json::Value {
    let run = ws
        .hbuild(&["server", "status", "--message-format", "json"])
        .ok();
    serde_json::from_str(run.stdout.trim()).unwrap_or_else(|e| panic!("{e}: {}", run.stdout))
}

/// Waits until the server has checked `builds` builds in all.
fn wait_checked(ws: &Ws, builds: u64) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let s = status(ws);
        if s["status"]["verified"].as_u64().unwrap_or(0) >= builds {
            return s;
        }
        assert!(Instant::now() < deadline, "the server never checked: {s}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Makes the plain invocation a verified no-op again: a build, answered by
/// the server or followed by its check.
fn settle(ws: &Ws) {
    let s = status(ws);
    let checked = s["status"]["verified"].as_u64().unwrap();
    let before = s["status"]["answered"].as_u64().unwrap();
    ws.hbuild(&[]).ok();
    if answered(ws) == before {
        wait_checked(ws, checked + 1);
    }
}

fn answered(ws: &Ws) -> u64 {
    status(ws)["status"]["answered"].as_u64().unwrap()
}

fn stop(ws: &Ws) {
    ws.hbuild(&["server", "stop"]).ok();
}

#[test]
fn answers_noops_like_the_direct_path_and_rebuilds_after_every_kind_of_change() {
    let ws = fixture("kitchen-sink");
    crate::common::warm_cache_copy_for(&ws, "kitchen-sink");
    let first = ws.hbuild_env(&["--server"], SERVER).ok();
    assert!(first.stderr.contains("Finished"), "{}", first.stderr);
    let s = wait_checked(&ws, 1);
    assert_eq!(s["running"], true);
    assert_eq!(s["status"]["up_to_date"], 1, "{s}");

    // A no-op: answered by the server, byte for byte what a direct no-op
    // prints (wall times aside), in both output formats.
    let direct = ws.hbuild(&["--no-server"]).ok();
    let served = ws.hbuild(&[]).ok();
    assert_eq!(answered(&ws), 1, "{}", status(&ws));
    assert_eq!(normalised(&served), normalised(&direct));
    assert!(served.stderr.contains("48 fresh"), "{}", served.stderr);
    ws.hbuild_env(&["--message-format", "json"], SERVER).ok();
    wait_checked(&ws, 2);
    let direct = ws.hbuild(&["--message-format", "json", "--no-server"]).ok();
    let served = ws.hbuild(&["--message-format", "json"]).ok();
    assert_eq!(answered(&ws), 2, "{}", status(&ws));
    assert_eq!(normalised(&served), normalised(&direct));
    let artifacts = served.messages("compiler-artifact");
    assert_eq!(artifacts.len(), direct.messages("compiler-artifact").len());
    assert!(artifacts.iter().all(|m| m["fresh"] == true));
    assert_eq!(served.summary()["fresh"], 48);

    // A source edit: built directly, and the program shows it.
    let checked = status(&ws)["status"]["verified"].as_u64().unwrap();
    ws.replace(
        "crates/app/src/lib.rs",
        "/// A small serializable record.",
        "/// A record.\npub fn edited() {}\n",
    );
    let run = ws.hbuild(&["-vv"]).ok();
    assert!(
        run.stderr.contains("Server building directly") && run.stderr.contains("Compiling app"),
        "{}",
        run.stderr
    );
    // Without -vv, registry crates get their lints capped again: other keys,
    // the same bytes, so nothing downstream runs (early cutoff), and the
    // server, still checking the edit, leaves the build to the client.
    let run = ws.hbuild(&[]).ok();
    assert!(run.stderr.contains(": 0 executed"), "{}", run.stderr);
    assert_eq!(answered(&ws), 2);
    wait_checked(&ws, checked + 2);
    let again = ws.hbuild(&[]).ok();
    assert_eq!(answered(&ws), 3);
    assert!(!again.stderr.contains("Compiling"), "{}", again.stderr);

    // A variable a build script reads (`rerun-if-env-changed`): built
    // directly, and the script sees it.
    let run = ws
        .hbuild_env(&["--message-format", "json"], &[("FOO_KNOB", "on")])
        .ok();
    let knob = run
        .messages("build-script-executed")
        .into_iter()
        .find(|m| m["package_id"].as_str().unwrap().contains("foo-sys"))
        .expect("foo-sys script message");
    assert_eq!(knob["env"][1], serde_json::json!(["FOO_KNOB_SEEN", "on"]));
    assert_eq!(answered(&ws), 3);
    // A newly set variable of Cargo's family (unset when verified).
    settle(&ws);
    let a = answered(&ws);
    let run = ws.hbuild_env(&[], &[("CARGO_TERM_VERBOSE", "false")]).ok();
    assert!(run.stderr.contains("48 fresh"), "{}", run.stderr);
    assert_eq!(answered(&ws), a);

    // A removed artifact is restored.
    settle(&ws);
    let a = answered(&ws);
    std::fs::remove_file(ws.path("target/debug/app-cli")).unwrap();
    ws.hbuild(&[]).ok();
    assert_eq!(answered(&ws), a);
    assert!(ws
        .run_program("target/debug/app-cli")
        .contains("hello from app/build.rs"));
    // A config file where none was: the analysis runs again.
    settle(&ws);
    let a = answered(&ws);
    std::fs::create_dir_all(ws.path(".cargo")).unwrap();
    std::fs::write(ws.path(".cargo/config.toml"), "[term]\nverbose = false\n").unwrap();
    let run = ws.hbuild(&[]).ok();
    assert!(run.stderr.contains("48 fresh"), "{}", run.stderr);
    assert_eq!(answered(&ws), a);
    stop(&ws);
    assert_eq!(status(&ws)["running"], false);
}

#[test]
fn a_killed_server_leaves_nothing_broken_and_concurrent_clients_agree() {
    let ws = fixture("kitchen-sink");
    crate::common::warm_cache_copy_for(&ws, "kitchen-sink");
    ws.hbuild_env(&["--server", "-p", "app"], SERVER).ok();
    let s = wait_checked(&ws, 1);
    let pid = s["status"]["pid"].as_u64().unwrap();
    assert!(ws.path("target/hbuild/server.sock").exists());

    // Several clients at once all get the direct path's answer.
    let direct = normalised(&ws.hbuild(&["-p", "app", "--no-server"]).ok());
    let outputs: Vec<String> = std::thread::scope(|sc| {
        let handles: Vec<_> = (0..4)
            .map(|_| sc.spawn(|| normalised(&ws.hbuild(&["-p", "app"]).ok())))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for o in &outputs {
        assert_eq!(o, &direct);
    }
    assert_eq!(answered(&ws), 4);

    // SIGKILL: the socket stays behind, but builds go on directly.
    let st = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(status(&ws)["running"], false);
    let run = ws.hbuild(&["-p", "app", "-vv"]).ok();
    assert!(run.stderr.contains("Finished"), "{}", run.stderr);
    ws.replace(
        "crates/app/src/lib.rs",
        "/// A small serializable record.",
        "/// A record.\npub fn edited_while_dead() {}\n",
    );
    let run = ws.hbuild(&["-p", "app"]).ok();
    assert!(run.stderr.contains("Compiling app"), "{}", run.stderr);

    // `--server` replaces the dead server, which answers again.
    ws.hbuild_env(&["--server", "-p", "app"], SERVER).ok();
    let s = wait_checked(&ws, 1);
    assert_ne!(s["status"]["pid"].as_u64().unwrap(), pid);
    let run = ws.hbuild(&["-p", "app"]).ok();
    assert!(!run.stderr.contains("Compiling"), "{}", run.stderr);
    assert_eq!(answered(&ws), 1);
    stop(&ws);
}

#[test]
fn server_commands_report_and_validate() {
    let ws = fixture("kitchen-sink");
    let run = ws.hbuild(&["server", "status"]).ok();
    assert!(run.stdout.contains("no server runs for"), "{}", run.stdout);
    assert!(run.stdout.contains("target"), "{}", run.stdout);
    let bad = ws.hbuild(&["server", "start", "--idle-timeout", "soon"]);
    assert_eq!(bad.code, 1);
    assert!(bad.stderr.contains("`soon`"), "{}", bad.stderr);
    let run = ws.hbuild(&["server", "start", "--idle-timeout", "2s"]).ok();
    assert!(run.stdout.contains("stops after 2s idle"), "{}", run.stdout);
    let text = ws.hbuild(&["server", "status"]).ok().stdout;
    assert!(text.contains("invocations:  0 known"), "{text}");
    // It goes away by itself once idle.
    let deadline = Instant::now() + Duration::from_secs(30);
    while status(&ws)["running"] == true {
        assert!(Instant::now() < deadline, "the idle server did not stop");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(!ws.path("target/hbuild/server.sock").exists());
    let run = ws.hbuild(&["server", "stop"]).ok();
    assert!(run.stdout.contains("no server runs"), "{}", run.stdout);
    let outside = tempfile::tempdir().unwrap();
    let run = Run::from(
        std::process::Command::new(crate::common::hbuild_bin())
            .args(["hbuild", "server", "status"])
            .current_dir(outside.path())
            .output()
            .unwrap(),
    );
    // Found without `cargo metadata`, but failing as Cargo does.
    assert_eq!(run.code, 101, "{run:?}");
    assert_eq!(
        run.stderr,
        format!(
            "error: could not find `Cargo.toml` in `{}` or any parent directory\n",
            outside.path().display()
        )
    );
}

#[test]
fn a_target_dir_from_config_is_served() {
    // The client finds the server where the build put its artifacts, with
    // `build.target-dir` read from `.cargo/config.toml`.
    let ws = fixture("failures");
    ws.write_config("[build]\ntarget-dir = \"out\"\n");
    ws.hbuild_env(&["--server", "-p", "ok-bin"], SERVER).ok();
    wait_checked(&ws, 1);
    assert!(ws.path("out/hbuild/server.json").exists());
    let served = ws.hbuild(&["-p", "ok-bin"]).ok();
    let answered_now = answered(&ws);
    stop(&ws);
    assert_eq!(answered_now, 1, "{}", served.stderr);
    assert!(served.stderr.contains("Finished"), "{}", served.stderr);
    assert!(!ws.path("target").exists());
}

/// Runs `cargo hbuild ARGS` on a terminal (a pty made by python's `pty`,
/// as its stdin, stdout and stderr), as a developer types it, with the
/// variables `unset` removed. Returns what the terminal showed, colours and
/// progress bar included, as stdout.
fn on_a_terminal(ws: &Ws, args: &[&str], env: &[(&str, &str)], unset: &[&str]) -> Run {
    const PTY: &str = "import os, pty, sys\n\
        pid, fd = pty.fork()\n\
        if pid == 0:\n    os.execvp(sys.argv[1], sys.argv[1:])\n\
        out = b''\n\
        while True:\n    try:\n        chunk = os.read(fd, 65536)\n    except OSError:\n        break\n    if not chunk:\n        break\n    out += chunk\n\
        _, st = os.waitpid(pid, 0)\n\
        sys.stdout.buffer.write(out)\n\
        sys.exit(os.waitstatus_to_exitcode(st))\n";
    let inner = ws.hbuild_command(args, env);
    let mut c = std::process::Command::new("python3");
    c.arg("-c")
        .arg(PTY)
        .arg(inner.get_program())
        .args(inner.get_args())
        .current_dir(inner.get_current_dir().unwrap());
    for (k, v) in inner.get_envs() {
        match v {
            Some(v) => c.env(k, v),
            None => c.env_remove(k),
        };
    }
    for k in unset {
        c.env_remove(k);
    }
    Run::from(c.output().unwrap())
}

#[test]
fn a_build_on_a_terminal_starts_the_server_but_not_in_ci() {
    let ws = fixture("tiny");
    // CI set: a terminal does not start one.
    let run = on_a_terminal(&ws, &[], &[("CI", "true"), SERVER[0]], &[]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("Finished"), "{}", run.stdout);
    assert!(!run.stdout.contains("resident server"), "{}", run.stdout);
    assert_eq!(status(&ws)["running"], false);

    // A developer's terminal: started after the build, and said once.
    let run = on_a_terminal(&ws, &[], SERVER, &["CI"]);
    assert_eq!(run.code, 0, "{run:?}");
    let plain = run.stdout.replace("\r\n", "\n");
    let said: Vec<&str> = plain
        .lines()
        .filter(|l| l.contains("resident server"))
        .collect();
    let target = ws.path("target");
    assert_eq!(said.len(), 1, "the start must be said once: {plain}");
    assert!(
        said[0].contains(&format!(
            "the resident server of `{}` for faster no-op builds (it stops after 2m idle; `cargo hbuild server stop` stops it now, `--no-server` or HBUILD_SERVER=0 keeps it off)",
            target.display()
        )),
        "{}",
        said[0]
    );
    let s = wait_checked(&ws, 1);
    assert_eq!(s["running"], true, "{s}");
    // The next build on the terminal is answered by it, and says nothing
    // about starting.
    let before = answered(&ws);
    let run = on_a_terminal(&ws, &[], SERVER, &["CI"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(!run.stdout.contains("resident server"), "{}", run.stdout);
    assert_eq!(answered(&ws), before + 1);
    stop(&ws);
}
