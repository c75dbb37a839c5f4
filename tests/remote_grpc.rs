//! The REAPI v2 gRPC remote cache against a real BuildGrid on loopback
//! (cache-only instance; `scripts/test-deps.sh` installs the pinned venv):
//! round trips with batch and ByteStream transfers, `FindMissingBlobs`
//! before uploads, read-only mode, a corrupted blob, a stopped server and
//! instance names; then whole builds through it.

mod common;

use std::fs;
use std::time::Duration;

use common::buildgrid::{BuildGrid, GridOptions};
use common::dirstore::{pseudo_random_bytes, DirStore};
use common::{executed, fixture, logging_wrapper};
use hbuild::cache::remote::{RemoteCache, RemoteConfig, RemoteLookup};
use hbuild::cache::{ActionResult, BlobStore, ResultMeta};
use hbuild::core::{ActionKey, Digest};

fn key(name: &str) -> ActionKey {
    ActionKey(Digest::of_bytes(name.as_bytes()))
}

/// Larger than BuildGrid's batch limit (~4 MiB): goes over ByteStream.
const BIG: usize = 9 << 20;

/// An action result with a blob for ByteStream, an executable, an empty
/// file and two files with equal content.
fn sample(store: &DirStore) -> ActionResult {
    ActionResult {
        outputs: vec![
            store.add("bin/tool", &pseudo_random_bytes("tool", 4096), true),
            store.add("deps/libbig.rlib", &pseudo_random_bytes("big", BIG), false),
            store.add("deps/same-a.d", b"same content", false),
            store.add("deps/same-b.d", b"same content", false),
            store.add("out/empty.txt", b"", false),
        ],
        stdout: "{\"reason\":\"compiler-artifact\"}\n".to_string(),
        stderr: "warning: unused variable `x`\n".to_string(),
        meta: ResultMeta {
            script: Some("{\"link_libs\":[\"static=foo\"]}".into()),
            ..Default::default()
        },
    }
}

fn client(url: &str) -> RemoteCache {
    let mut cfg = RemoteConfig::new(url).unwrap();
    cfg.timeout = Duration::from_secs(60);
    RemoteCache::new(cfg).unwrap()
}

#[test]
fn round_trip_through_buildgrid() {
    let grid = BuildGrid::start();
    let src = DirStore::new();
    let result = sample(&src);
    let k = key("round-trip");

    let up = client(&grid.url());
    up.upload(k, result.clone(), src.clone());
    let report = up.finish(Duration::from_secs(120));
    assert_eq!(
        report.uploaded,
        1,
        "{report:?}; warnings {:?}; bgd:\n{}",
        up.take_warnings(),
        grid.log()
    );
    // tool, big, "same content" (once), metadata, stdout, stderr; not the
    // empty blob.
    let stats = up.stats();
    assert_eq!((stats.blobs_uploaded, stats.blobs_skipped_existing), (6, 0));
    assert!(stats.bytes_up >= BIG as u64, "{stats:?}");
    // The big blob is on the server's disk, byte for byte.
    let big = pseudo_random_bytes("big", BIG);
    assert!(
        grid.cas_files().iter().any(|p| fs::read(p).unwrap() == big),
        "the big blob is not in BuildGrid's CAS"
    );

    // A fresh client with an empty store gets the same result.
    let dst = DirStore::new();
    let down = client(&grid.url());
    let got = match down.get(&k, dst.as_ref()) {
        RemoteLookup::Hit(r) => r,
        other => panic!("expected a hit, got {other:?}\n{}", grid.log()),
    };
    assert_eq!(got, result);
    for o in &result.outputs {
        assert_eq!(dst.read(&o.digest), src.read(&o.digest), "{}", o.path);
    }
    assert_eq!(dst.blob_count(), 4);
    assert_eq!(fs::read_dir(dst.scratch_dir()).unwrap().count(), 0);
    let stats = down.stats();
    assert_eq!(
        (stats.hits, stats.misses, stats.rejected, stats.faults),
        (1, 0, 0, 0)
    );
    assert!(stats.bytes_down >= BIG as u64, "{stats:?}");
    assert!(matches!(
        down.get(&key("other"), dst.as_ref()),
        RemoteLookup::Miss
    ));

    // The same outputs under another key: FindMissingBlobs says the server
    // has them all, so only the entry is written.
    let again = client(&grid.url());
    again.upload(key("second"), result, src.clone());
    assert_eq!(again.finish(Duration::from_secs(120)).uploaded, 1);
    let stats = again.stats();
    assert_eq!((stats.blobs_uploaded, stats.blobs_skipped_existing), (0, 6));
    assert!(down.take_warnings().is_empty() && again.take_warnings().is_empty());
}

#[test]
fn read_only_uploads_nothing() {
    let grid = BuildGrid::start();
    let src = DirStore::new();
    let mut cfg = RemoteConfig::new(&grid.url()).unwrap();
    cfg.read_only = true;
    let remote = RemoteCache::new(cfg).unwrap();
    remote.upload(key("ro"), sample(&src), src.clone());
    let report = remote.finish(Duration::from_secs(10));
    assert_eq!((report.uploaded, report.skipped), (0, 1));
    assert!(matches!(
        remote.get(&key("ro"), DirStore::new().as_ref()),
        RemoteLookup::Miss
    ));
    assert_eq!(remote.stats().bytes_up, 0);
    assert!(grid.cas_files().is_empty(), "{:?}", grid.cas_files());
}

#[test]
fn a_corrupted_blob_on_the_server_is_rejected() {
    let grid = BuildGrid::start();
    let src = DirStore::new();
    let content = pseudo_random_bytes("app", 100_000);
    let result = ActionResult {
        outputs: vec![src.add("bin/app", &content, true)],
        ..Default::default()
    };
    let remote = client(&grid.url());
    remote.upload(key("corrupt"), result, src.clone());
    assert_eq!(remote.finish(Duration::from_secs(60)).uploaded, 1);

    // A disk error (or someone with access to the server) changes the blob.
    let file = grid
        .cas_files()
        .into_iter()
        .find(|p| fs::read(p).unwrap() == content)
        .expect("the blob on BuildGrid's disk");
    let mut bad = content.clone();
    bad[500] ^= 0xff;
    fs::write(&file, &bad).unwrap();

    let dst = DirStore::new();
    match remote.get(&key("corrupt"), dst.as_ref()) {
        RemoteLookup::Rejected(why) => assert!(why.contains("SHA-256"), "{why}"),
        other => panic!("expected Rejected, got {other:?}"),
    }
    assert_eq!(dst.blob_count(), 0);
    assert_eq!(fs::read_dir(dst.scratch_dir()).unwrap().count(), 0);
    assert!(remote.stats().disabled_reason.is_none());
}

#[test]
fn a_stopped_server_switches_the_remote_off_with_one_warning() {
    let mut grid = BuildGrid::start();
    let url = grid.url();
    let remote = client(&url);
    assert!(matches!(
        remote.get(&key("a"), DirStore::new().as_ref()),
        RemoteLookup::Miss
    ));
    grid.stop();
    for name in ["b", "c", "d", "e"] {
        assert!(matches!(
            remote.get(&key(name), DirStore::new().as_ref()),
            RemoteLookup::Unavailable(_)
        ));
    }
    let warnings = remote.take_warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("switched off") && warnings[0].contains(&url),
        "{warnings:?}"
    );
    assert_eq!(remote.stats().faults, 3);
}

#[test]
fn the_instance_name_comes_from_the_url_path_or_the_flag() {
    let grid = BuildGrid::start_with(GridOptions {
        instance: "main".into(),
        ..Default::default()
    });
    let src = DirStore::new();
    let result = sample(&src);
    let up = client(&grid.url());
    up.upload(key("inst"), result.clone(), src.clone());
    assert_eq!(
        up.finish(Duration::from_secs(120)).uploaded,
        1,
        "{:?}",
        up.take_warnings()
    );

    let base = grid.url().trim_end_matches("/main").to_string();
    let flags = hbuild::cache::remote::RemoteFlags {
        url: Some(base.clone()),
        instance_name: Some("main".into()),
        ..Default::default()
    };
    let by_flag = RemoteCache::new(
        RemoteConfig::from_lookup(&flags, |_| None)
            .unwrap()
            .unwrap(),
    )
    .unwrap();
    assert!(matches!(
        by_flag.get(&key("inst"), DirStore::new().as_ref()),
        RemoteLookup::Hit(_)
    ));
    // The server does not serve the empty instance name: a fault, named.
    let wrong = client(&base);
    match wrong.get(&key("inst"), DirStore::new().as_ref()) {
        RemoteLookup::Unavailable(why) => assert!(why.contains("InvalidArgument"), "{why}"),
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

#[test]
fn a_bearer_token_is_sent_as_metadata_and_never_shown() {
    let secret = "hs256-secret-for-tests";
    let grid = BuildGrid::start_with(GridOptions {
        jwt_secret: Some(secret.into()),
        ..Default::default()
    });
    let token = BuildGrid::token(secret);
    let src = DirStore::new();
    let result = sample(&src);

    // Without the token: refused, one warning about credentials, no entry.
    let anon = client(&grid.url());
    anon.upload(key("auth"), result.clone(), src.clone());
    assert_eq!(anon.finish(Duration::from_secs(60)).failed, 1);
    let warnings = anon.take_warnings();
    assert!(
        warnings.iter().any(|w| w.contains("authentication failed")),
        "{warnings:?}"
    );

    // With it: stored and found again.
    let mut cfg = RemoteConfig::new(&grid.url()).unwrap();
    cfg.bearer_token = Some(token.clone());
    let shown = format!("{cfg} {cfg:?}");
    let authed = RemoteCache::new(cfg.clone()).unwrap();
    authed.upload(key("auth"), result.clone(), src.clone());
    assert_eq!(
        authed.finish(Duration::from_secs(60)).uploaded,
        1,
        "{:?}\n{}",
        authed.take_warnings(),
        grid.log()
    );
    let reader = RemoteCache::new(cfg).unwrap();
    match reader.get(&key("auth"), DirStore::new().as_ref()) {
        RemoteLookup::Hit(r) => assert_eq!(r, result),
        other => panic!("expected a hit, got {other:?}"),
    }
    let printed = format!("{shown} {warnings:?} {:?}", reader.stats());
    assert!(!printed.contains(&token), "{printed}");
}

#[test]
fn a_second_checkout_gets_every_action_from_buildgrid() {
    let grid = BuildGrid::start();
    let url = grid.url();
    // C code through `cc`, four members: every kind of action.
    let a = fixture("failures");
    let args = [
        "--message-format",
        "json",
        "--workspace",
        "--remote-cache",
        &url,
    ];
    let first = a.hbuild_env(&args, &[("CARGO_INCREMENTAL", "0")]).ok();
    let total = first.summary()["actions_total"].as_u64().unwrap();
    assert_eq!(executed(&first), total);
    assert!(!first.stderr.contains("warning"), "{}", first.stderr);
    assert_eq!(first.summary()["remote"]["faults"], 0);

    let b = fixture("failures");
    let (wrapper, log) = logging_wrapper(b.tmp.path());
    let second = b
        .hbuild_env(&args, &[("RUSTC_WRAPPER", wrapper.to_str().unwrap())])
        .ok();
    let s = second.summary();
    assert_eq!(s["executed"], 0, "{s}");
    assert_eq!(s["cache_hits"]["remote"], total, "{s}");
    assert!(common::compiles(&log).is_empty());
    assert!(s["remote"]["bytes_down"].as_u64().unwrap() > 0, "{s}");
    for f in ["target/debug/ok-bin", "target/debug/libneeds_header.rlib"] {
        assert_eq!(
            fs::read(a.path(f)).unwrap(),
            fs::read(b.path(f)).unwrap(),
            "{f} differs"
        );
    }
    assert_eq!(
        b.run_program("target/debug/ok-bin"),
        a.run_program("target/debug/ok-bin")
    );
}

#[test]
fn an_unreachable_server_warns_once_and_the_build_goes_on_locally() {
    // A port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let ws = fixture("failures");
    let url = format!("grpc://127.0.0.1:{port}");
    let r = ws
        .hbuild_env(
            &["-p", "ok-bin", "--remote-cache", &url],
            &[("CARGO_INCREMENTAL", "0")],
        )
        .ok();
    assert_eq!(ws.run_program("target/debug/ok-bin"), "ok\n");
    let warnings: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| l.starts_with("warning:") && l.contains("remote"))
        .collect();
    assert_eq!(warnings.len(), 1, "{}", r.stderr);
    assert!(
        warnings[0].contains(&url) && warnings[0].contains("switched off"),
        "{warnings:?}"
    );
}

#[test]
fn a_token_reaches_the_server_but_no_output_or_file() {
    let secret = "hs256-secret-for-tests";
    let grid = BuildGrid::start_with(GridOptions {
        jwt_secret: Some(secret.into()),
        ..Default::default()
    });
    let token = BuildGrid::token(secret);
    let env = [
        ("CARGO_INCREMENTAL", "0"),
        ("HBUILD_REMOTE_CACHE_TOKEN", token.as_str()),
    ];
    let url = grid.url();
    let args = [
        "--message-format",
        "json",
        "-vv",
        "-p",
        "ok-bin",
        "--remote-cache",
        &url,
    ];
    let a = fixture("failures");
    let first = a.hbuild_env(&args, &env).ok();
    let b = fixture("failures");
    let second = b.hbuild_env(&args, &env).ok();
    let s = second.summary();
    assert_eq!(s["executed"], 0, "{s}\n{}", second.stderr);
    for run in [&first, &second] {
        assert!(!run.stdout.contains(&token) && !run.stderr.contains(&token));
    }
    for dir in [
        a.tmp.path(),
        b.tmp.path(),
        a.cache.as_path(),
        b.cache.as_path(),
    ] {
        for e in walkdir::WalkDir::new(dir)
            .into_iter()
            .filter_map(Result::ok)
        {
            if e.file_type().is_file() {
                let bytes = fs::read(e.path()).unwrap();
                assert!(
                    !bytes.windows(token.len()).any(|w| w == token.as_bytes()),
                    "the token is in {}",
                    e.path().display()
                );
            }
        }
    }
}

#[test]
fn a_minimal_download_takes_final_artifacts_then_what_an_edit_needs() {
    let grid = BuildGrid::start();
    let url = grid.url();
    // Build scripts with C code and `OUT_DIR` sources, proc-macros, bins.
    let a = fixture("kitchen-sink");
    let env = [("CARGO_INCREMENTAL", "0")];
    let all = ["--message-format", "json", "--remote-cache", &url];
    let first = a.hbuild_env(&all, &env).ok();
    let total = first.summary()["actions_total"].as_u64().unwrap();

    let b = fixture("kitchen-sink");
    let minimal = [&all[..], &["--remote-download", "minimal"]].concat();
    let warm = b.hbuild_env(&minimal, &env).ok();
    let s = warm.summary();
    assert_eq!(s["executed"], 0, "{s}");
    assert_eq!(s["cache_hits"]["remote"], total, "{s}");
    let (files, bytes) = common::outputs_left(&b);
    // Only the final artifacts came down: the binaries, their uplifted
    // copies, the libraries of workspace members, and nothing else.
    assert_eq!(s["remote"]["output_bytes_down"], bytes, "{s}\n{files:#?}");
    let names: Vec<&str> = files.iter().map(|f| f.split('-').next().unwrap()).collect();
    assert_eq!(
        names,
        [
            "deps/app_cli",
            "deps/app_cli",
            "deps/app_core",
            "deps/helper",
            "deps/helper",
            "deps/libapp_core",
            "deps/libapp_core",
            "deps/libplugin",
            "deps/libplugin",
            "deps/plugin",
        ],
        "{files:#?}"
    );
    assert!(!files.iter().any(|f| f.contains("libserde-")), "{files:#?}");
    assert!(!files.iter().any(|f| f.starts_with("build/")), "{files:#?}");
    let left = s["remote"]["output_bytes_left"].as_u64().unwrap();
    assert!(left > 4 * bytes, "left {left}, downloaded {bytes}");
    let same = |f: &str| {
        assert_eq!(
            fs::read(a.path(f)).unwrap(),
            fs::read(b.path(f)).unwrap(),
            "{f} differs"
        );
    };
    for f in &files {
        same(&format!("target/hbuild/debug/{f}"));
    }
    for f in ["app-cli", "helper", "libapp_core.rlib", "libplugin.so"] {
        same(&format!("target/debug/{f}"));
    }
    let expected = fs::read_to_string(a.path("expected/app-cli.stdout")).unwrap();
    assert_eq!(b.run_program("target/debug/app-cli"), expected);

    // An edit compiles the library locally: it needs its build script's
    // `OUT_DIR` and its dependencies' libraries, fetched now.
    let explained = [&minimal[..], &["--explain"]].concat();
    common::edit_app_report(&b, "edited", |b| b.hbuild_env(&explained, &env).ok());
    let (after, _) = common::outputs_left(&b);
    for f in after
        .iter()
        .filter(|f| f.contains("libserde-") || f.contains("/out/gen.rs"))
    {
        same(&format!("target/hbuild/debug/{f}"));
    }
    assert!(after.iter().any(|f| f.contains("libserde-")), "{after:#?}");
    assert!(
        after.iter().any(|f| f.ends_with("/out/gen.rs")),
        "{after:#?}"
    );

    // Then a no-op, minimal or not: what stayed remote is not downloaded
    // again by a minimal build, and a full one brings it all.
    let noop = b.hbuild_env(&minimal, &env).ok().summary();
    assert_eq!(
        (noop["executed"].as_u64(), noop["fresh"].as_u64()),
        (Some(0), Some(total)),
        "{noop}"
    );
    assert_eq!(noop["remote"]["bytes_down"], 0, "{noop}");
    let full = b.hbuild_env(&all, &env).ok().summary();
    assert_eq!(full["executed"], 0, "{full}");
    let (everything, _) = common::outputs_left(&b);
    let (in_a, _) = common::outputs_left(&a);
    assert_eq!(everything, in_a);
}

#[test]
fn outputs_left_remote_that_cannot_be_fetched_fail_one_build_and_the_next_rebuilds_them() {
    let mut grid = BuildGrid::start();
    let url = grid.url();
    let a = fixture("failures");
    let env = [("CARGO_INCREMENTAL", "0")];
    let all = [
        "--message-format",
        "json",
        "--workspace",
        "--remote-cache",
        &url,
    ];
    a.hbuild_env(&all, &env).ok();
    let b = fixture("failures");
    let minimal = [&all[..], &["--remote-download", "minimal", "-v"]].concat();
    let warm = b.hbuild_env(&minimal, &env).ok().summary();
    assert_eq!(warm["executed"], 0, "{warm}");
    assert!(
        warm["remote"]["output_bytes_left"].as_u64() > Some(0),
        "{warm}"
    );

    // The library's compile needs its build script's C library, which
    // stayed in the server that is gone now.
    grid.stop();
    b.append("crates/needs-header/src/lib.rs", "\n// edited\n");
    let failed = b.hbuild_env(&minimal, &env);
    assert_eq!(failed.code, 101, "{}", failed.stderr);
    assert!(
        failed.stderr.contains(
            "cannot fetch the outputs of needs-header (build script run) from the remote cache, \
             which needs-header needs:"
        ),
        "{}",
        failed.stderr
    );
    assert!(
        failed
            .stderr
            .contains("the next build restores or rebuilds what this one left there"),
        "{}",
        failed.stderr
    );

    // The next build rebuilds what was left remote, and nothing else.
    let explained = [&minimal[..], &["--explain"]].concat();
    let again = b.hbuild_env(&explained, &env).ok();
    let rebuilt = common::rebuilt_units(&again);
    // Build scripts, their runs and the build-time crates stayed remote;
    // the three fresh units are final artifacts, in place.
    assert_eq!(
        rebuilt,
        [
            "bad-build-script (build script run)",
            "bad-build-script (build script)",
            "cc",
            "find-msvc-tools",
            "needs-header",
            "needs-header (build script run)",
            "needs-header (build script)",
            "shlex",
        ],
        "{}",
        again.stderr
    );
    assert_eq!(again.summary()["fresh"], 3);
    assert_eq!(b.run_program("target/debug/ok-bin"), "ok\n");
}
