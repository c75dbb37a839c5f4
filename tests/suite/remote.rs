//! The remote cache end to end, against a real nginx (WebDAV) on loopback:
//! a build in one checkout fills it, a copy elsewhere with an empty local
//! cache takes every action from it without running rustc.

use crate::common::nginx::Nginx;
use crate::common::{executed, fixture, logging_wrapper};

#[test]
fn second_checkout_gets_every_action_from_the_remote() {
    let nginx = Nginx::start();
    let url = nginx.url();
    // `failures` builds C code through `cc` and has four members: small, but
    // every kind of action.
    let a = fixture("failures");
    // As CI runs: without incremental compilation, so every output is
    // reproducible and uploaded.
    let first = a
        .hbuild_env(
            &[
                "--message-format",
                "json",
                "--workspace",
                "--remote-cache",
                &url,
            ],
            &[("CARGO_INCREMENTAL", "0")],
        )
        .ok();
    assert_eq!(
        executed(&first),
        first.summary()["actions_total"].as_u64().unwrap()
    );
    let puts = nginx
        .access_log()
        .iter()
        .filter(|l| l.method == "PUT")
        .count();
    assert!(puts > 0, "nothing was uploaded");
    assert!(
        nginx
            .access_log()
            .iter()
            .filter(|l| l.method == "PUT")
            .all(|l| l.transfer_encoding != "chunked" && l.content_length != "-"),
        "every PUT carries a Content-Length"
    );

    // The other checkout builds like a developer (incremental on for its
    // members): the keys are the same, so everything still comes remotely.
    let b = fixture("failures");
    let (wrapper, log) = logging_wrapper(b.tmp.path());
    let second = b
        .hbuild_env(
            &[
                "--message-format",
                "json",
                "--workspace",
                "--remote-cache",
                &url,
            ],
            &[("RUSTC_WRAPPER", wrapper.to_str().unwrap())],
        )
        .ok();
    let s = second.summary();
    assert_eq!(s["executed"], 0, "{s}");
    assert_eq!(s["cache_hits"]["remote"], s["actions_total"], "{s}");
    let compiled = crate::common::compiles(&log);
    assert!(compiled.is_empty(), "rustc compiled: {compiled:?}");
    assert!(s["remote"]["bytes_down"].as_u64().unwrap() > 0, "{s}");
    for f in ["target/debug/ok-bin", "target/debug/libneeds_header.rlib"] {
        assert_eq!(
            std::fs::read(a.path(f)).unwrap(),
            std::fs::read(b.path(f)).unwrap(),
            "{f} differs"
        );
    }
    // Remote hits were stored locally: a third build needs no network.
    std::fs::remove_dir_all(b.path("target")).unwrap();
    let third = b
        .hbuild_env(&["--message-format", "json", "--workspace"], &[])
        .ok();
    assert_eq!(third.summary()["cache_hits"]["local"], s["actions_total"]);
}

#[test]
fn incremental_outputs_are_cached_locally_but_never_uploaded() {
    let nginx = Nginx::start();
    let url = nginx.url();
    let a = fixture("failures");
    let plan: serde_json::Value =
        serde_json::from_str(&a.hbuild(&["--plan", "--workspace"]).ok().stdout).unwrap();
    let incremental = plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| {
            x["argv"]
                .as_array()
                .unwrap()
                .iter()
                .any(|v| v.as_str().unwrap().starts_with("incremental="))
        })
        .count();
    assert!(
        incremental > 0,
        "the dev profile compiles members incrementally"
    );
    let args = [
        "--message-format",
        "json",
        "--workspace",
        "--remote-cache",
        &url,
    ];
    let first = a.hbuild(&args).ok();
    let total = first.summary()["actions_total"].as_u64().unwrap();
    assert_eq!(executed(&first), total);
    // This machine keeps everything.
    std::fs::remove_dir_all(a.path("target")).unwrap();
    let again = a.hbuild(&args).ok();
    assert_eq!(again.summary()["cache_hits"]["local"], total);
    // Another machine gets only the reproducible outputs.
    let b = fixture("failures");
    let other = b.hbuild(&args).ok();
    let s = other.summary();
    let (remote, ran) = (
        s["cache_hits"]["remote"].as_u64().unwrap(),
        s["executed"].as_u64().unwrap(),
    );
    // Incremental actions run again; so may what consumes their (not
    // reproducible) outputs; the rest comes from the remote.
    assert!(ran >= incremental as u64, "{s}");
    assert!(remote >= 1 && remote <= total - incremental as u64, "{s}");
    assert_eq!(remote + ran, total, "{s}");
}

#[test]
fn read_only_mode_uploads_nothing() {
    let nginx = Nginx::start();
    let ws = fixture("failures");
    let r = ws
        .hbuild(&[
            "-p",
            "ok-bin",
            "--remote-cache",
            &nginx.url(),
            "--remote-cache-read-only",
        ])
        .ok();
    assert!(r.stderr.contains("Finished"), "{}", r.stderr);
    let log = nginx.access_log();
    assert!(!log.is_empty(), "the remote was not asked at all");
    assert!(
        log.iter().all(|l| l.method != "PUT"),
        "read-only mode sent a PUT: {:?}",
        log.iter().map(|l| (&l.method, &l.uri)).collect::<Vec<_>>()
    );
}

#[test]
fn unreachable_remote_warns_once_and_builds_locally() {
    // A port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let ws = fixture("failures");
    // Without incremental compilation the result is uploaded too, so the
    // build makes enough requests to give up on the remote.
    let r = ws
        .hbuild_env(
            &[
                "-p",
                "ok-bin",
                "--remote-cache",
                &format!("http://127.0.0.1:{port}/cache/"),
            ],
            &[("CARGO_INCREMENTAL", "0")],
        )
        .ok();
    assert_eq!(ws.run_program("target/debug/ok-bin"), "ok\n");
    let warnings = r
        .stderr
        .lines()
        .filter(|l| l.starts_with("warning:") && l.contains("remote"))
        .count();
    assert_eq!(
        warnings, 1,
        "expected exactly one remote warning:\n{}",
        r.stderr
    );
}

#[test]
fn tokens_never_appear_in_output() {
    let nginx = Nginx::start();
    let ws = fixture("failures");
    let r = ws
        .hbuild_env(
            &["-p", "ok-bin", "-v", "--remote-cache", &nginx.url()],
            &[("HBUILD_REMOTE_CACHE_TOKEN", "tok-53cr3t")],
        )
        .ok();
    assert!(!r.stderr.contains("tok-53cr3t") && !r.stdout.contains("tok-53cr3t"));
}

#[test]
fn passing_test_results_are_shared_through_the_remote_cache() {
    let nginx = Nginx::start();
    let url = nginx.url();
    let args = [
        "test",
        "--message-format",
        "json",
        "-p",
        "calc",
        "--remote-cache",
        &url,
    ];
    // CI's green main fills the remote cache...
    let ci = fixture("testing");
    let first = ci.hbuild_env(&args, &[("CARGO_INCREMENTAL", "0")]).ok();
    assert_eq!(first.summary()["tests"]["run"], 7, "{}", first.stderr);
    // ...and a developer's checkout, with an empty local cache, runs
    // none of the tests whose binaries are the same in every checkout:
    // those results and binaries come from it. `cli` and `fixtures` bake
    // in their checkout's paths (`env!("CARGO_BIN_EXE_calc-cli")`,
    // `env!("CARGO_MANIFEST_DIR")`), so they are built and run here.
    let dev = fixture("testing");
    let second = dev.hbuild_env(&args, &[]).ok();
    let s = second.summary();
    assert_eq!(s["executed"], 4, "{}", second.stderr);
    assert_eq!(s["tests"]["cached"], 5, "{s}");
    let running: Vec<&str> = second
        .stderr
        .lines()
        .filter(|l| l.contains("Running ") || l.contains("Doc-tests "))
        .collect();
    let ran: Vec<&str> = running
        .iter()
        .filter(|l| !l.ends_with(" (cached)"))
        .map(|l| l.trim_start())
        .collect();
    assert_eq!(running.len(), 7, "{}", second.stderr);
    assert_eq!(ran.len(), 2, "{running:#?}");
    assert!(ran[0].starts_with("Running tests/cli.rs"), "{ran:?}");
    assert!(ran[1].starts_with("Running tests/fixtures.rs"), "{ran:?}");

    // A checkout that downloads the minimum takes the results, not the
    // test binaries that produced them: of the executables, only the
    // binary at Cargo's path comes down.
    let lean = fixture("testing");
    let minimal = [&args[..], &["--remote-download", "minimal"]].concat();
    let third = lean.hbuild_env(&minimal, &[]).ok();
    let s = third.summary();
    assert_eq!(
        (s["executed"].as_u64(), s["tests"]["cached"].as_u64()),
        (Some(4), Some(5)),
        "{s}"
    );
    // `cli` and `fixtures` were built here, as in `dev`.
    assert_eq!(
        executables(&lean.path("target/hbuild/debug/deps")),
        ["calc_cli", "cli", "fixtures"]
    );
    assert!(executables(&dev.path("target/hbuild/debug/deps")).len() > 5);
    assert!(s["remote"]["output_bytes_left"].as_u64() > Some(0), "{s}");
    assert_eq!(
        std::fs::read(lean.path("target/debug/calc-cli")).unwrap(),
        std::fs::read(dev.path("target/debug/calc-cli")).unwrap()
    );
}

/// The executables in `dir`, by name without the unit hash.
fn executables(dir: &std::path::Path) -> Vec<String> {
    use std::os::unix::fs::PermissionsExt;
    let mut out: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| {
            e.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
        .map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.rsplit_once('-')
                .map_or(name.clone(), |(n, _)| n.to_string())
        })
        .collect();
    out.sort();
    out
}
