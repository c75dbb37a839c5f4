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
    let first = a
        .hbuild_env(
            &[
                "--message-format",
                "json",
                "--workspace",
                "--remote-cache",
                &url,
            ],
            &[],
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
    let r = ws
        .hbuild(&[
            "-p",
            "ok-bin",
            "--remote-cache",
            &format!("http://127.0.0.1:{port}/cache/"),
        ])
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
