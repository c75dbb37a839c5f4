//! Round trips through a real nginx WebDAV server (the setup Bazel documents
//! for its HTTP cache). Requires nginx: `apt-get install nginx`.

mod common;

use std::fs;
use std::time::Duration;

use common::dirstore::{pseudo_random_bytes, DirStore};
use common::nginx::{LogLine, Nginx, NginxOptions};
use hbuild::cache::remote::proto::sha256_hex;
use hbuild::cache::remote::{RemoteCache, RemoteConfig, RemoteLookup};
use hbuild::cache::{ActionResult, BlobStore, ResultMeta};
use hbuild::core::{ActionKey, Digest};

fn key(name: &str) -> ActionKey {
    ActionKey(Digest::of_bytes(name.as_bytes()))
}

const BIG: usize = 20 << 20;

/// An action result with a 20 MB blob, an executable, an empty file and
/// two files with equal content.
fn sample(store: &DirStore) -> ActionResult {
    let meta = ResultMeta {
        script: Some("{\"link_libs\":[\"static=foo\"]}".into()),
        ..Default::default()
    };
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
        meta,
    }
}

fn config(url: &str) -> RemoteConfig {
    let mut cfg = RemoteConfig::new(url).unwrap();
    cfg.timeout = Duration::from_secs(60);
    cfg
}

fn puts(log: &[LogLine]) -> Vec<&LogLine> {
    log.iter().filter(|l| l.method == "PUT").collect()
}

#[test]
fn round_trip_through_nginx() {
    let nginx = Nginx::start();
    let src = DirStore::new();
    let result = sample(&src);
    let k = key("round-trip");

    let remote = RemoteCache::new(config(&nginx.url())).unwrap();
    remote.upload(k, result.clone(), src.clone());
    let report = remote.finish(Duration::from_secs(120));
    assert_eq!(
        report.uploaded,
        1,
        "{report:?}; warnings {:?}; nginx: {}",
        remote.take_warnings(),
        nginx.error_log()
    );
    assert_eq!(report.abandoned, 0);
    assert!(remote.take_warnings().is_empty());

    // What nginx saw: CAS blobs (HEAD then PUT), the AC entry last, every
    // PUT with an explicit Content-Length and no chunking.
    let log = nginx.access_log();
    let put_lines = puts(&log);
    let cas_puts: Vec<_> = put_lines
        .iter()
        .filter(|l| l.uri.starts_with("/cache/cas/"))
        .collect();
    // tool, big, "same content" (once), metadata, stdout, stderr; not the empty blob.
    assert_eq!(cas_puts.len(), 6, "{log:#?}");
    let last = put_lines.last().unwrap();
    assert_eq!(last.uri, format!("/cache/ac/{}", k.0.to_hex()));
    assert_eq!(
        put_lines.iter().filter(|l| l.uri.contains("/ac/")).count(),
        1
    );
    for l in &put_lines {
        assert_eq!(l.status, 201, "{l:?}");
        assert_ne!(l.content_length, "-", "PUT without Content-Length: {l:?}");
        assert_eq!(l.transfer_encoding, "-", "chunked PUT: {l:?}");
    }
    let big_sha = sha256_hex(&pseudo_random_bytes("big", BIG));
    let big_put = cas_puts
        .iter()
        .find(|l| l.uri.ends_with(&big_sha))
        .expect("big blob PUT");
    assert_eq!(big_put.content_length, BIG.to_string());
    // Every HEAD of a new blob was a 404 and came before its PUT.
    for put in &cas_puts {
        let head = log
            .iter()
            .position(|l| l.method == "HEAD" && l.uri == put.uri)
            .unwrap();
        let pos = log.iter().position(|l| l == **put).unwrap();
        assert!(head < pos);
        assert_eq!(log[head].status, 404);
    }

    // On disk: CAS files are named by the SHA-256 of their content.
    let cas_dir = nginx.store_dir().join("cas");
    for entry in fs::read_dir(&cas_dir).unwrap() {
        let entry = entry.unwrap();
        let content = fs::read(entry.path()).unwrap();
        assert_eq!(entry.file_name().to_str().unwrap(), sha256_hex(&content));
    }
    assert_eq!(
        fs::read(cas_dir.join(&big_sha)).unwrap(),
        pseudo_random_bytes("big", BIG)
    );
    assert!(nginx.store_dir().join("ac").join(k.0.to_hex()).is_file());

    // Fetch into an empty store with a fresh client.
    let dst = DirStore::new();
    let fetcher = RemoteCache::new(config(&nginx.url())).unwrap();
    let got = match fetcher.get(&k, dst.as_ref()) {
        RemoteLookup::Hit(r) => r,
        other => panic!("expected a hit, got {other:?}"),
    };
    assert_eq!(got, result);
    for o in &result.outputs {
        assert_eq!(dst.read(&o.digest), src.read(&o.digest), "{}", o.path);
    }
    // tool, big, same content, empty.
    assert_eq!(dst.blob_count(), 4);
    assert_eq!(
        fs::read_dir(dst.scratch_dir()).unwrap().count(),
        0,
        "scratch not cleaned"
    );
    let stats = fetcher.stats();
    assert_eq!(
        (stats.hits, stats.misses, stats.rejected, stats.faults),
        (1, 0, 0, 0)
    );
    assert!(stats.bytes_down >= BIG as u64, "{stats:?}");
    assert!(fetcher.take_warnings().is_empty());

    // A key nobody uploaded is a miss.
    assert!(matches!(
        fetcher.get(&key("other"), dst.as_ref()),
        RemoteLookup::Miss
    ));
    assert_eq!(fetcher.stats().misses, 1);
}

#[test]
fn second_upload_puts_no_blob() {
    let nginx = Nginx::start();
    let src = DirStore::new();
    let result = sample(&src);

    let first = RemoteCache::new(config(&nginx.url())).unwrap();
    first.upload(key("first"), result.clone(), src.clone());
    assert_eq!(first.finish(Duration::from_secs(120)).uploaded, 1);
    let before = nginx.access_log().len();

    // Same outputs under another key (e.g. a different action with
    // identical outputs): every blob is already there.
    let second = RemoteCache::new(config(&nginx.url())).unwrap();
    second.upload(key("second"), result, src.clone());
    let report = second.finish(Duration::from_secs(120));
    assert_eq!(report.uploaded, 1, "{report:?}");
    let log = nginx.access_log();
    let new = &log[before..];
    let new_puts = puts(new);
    assert_eq!(new_puts.len(), 1, "{new:#?}");
    assert_eq!(
        new_puts[0].uri,
        format!("/cache/ac/{}", key("second").0.to_hex())
    );
    let heads: Vec<_> = new.iter().filter(|l| l.method == "HEAD").collect();
    assert_eq!(heads.len(), 6);
    assert!(heads.iter().all(|l| l.status == 200), "{heads:#?}");
    let stats = second.stats();
    assert_eq!((stats.blobs_uploaded, stats.blobs_skipped_existing), (0, 6));
}

#[test]
fn read_only_sends_no_put() {
    let nginx = Nginx::start();
    let src = DirStore::new();
    let result = sample(&src);
    let mut cfg = config(&nginx.url());
    cfg.read_only = true;
    let remote = RemoteCache::new(cfg).unwrap();
    remote.upload(key("ro"), result, src.clone());
    let report = remote.finish(Duration::from_secs(10));
    assert_eq!((report.uploaded, report.skipped), (0, 1));
    assert!(matches!(
        remote.get(&key("ro"), DirStore::new().as_ref()),
        RemoteLookup::Miss
    ));
    let log = nginx.access_log();
    assert!(log.iter().all(|l| l.method != "PUT"), "{log:#?}");
    assert_eq!(log.len(), 1, "only the GET of the lookup: {log:#?}");
    assert_eq!((log[0].method.as_str(), log[0].status), ("GET", 404));
    assert_eq!(remote.stats().bytes_up, 0);
}

#[test]
fn corrupted_blob_on_server_is_rejected() {
    let nginx = Nginx::start();
    let src = DirStore::new();
    let bin = src.add("bin/app", &pseudo_random_bytes("app", 100_000), true);
    let result = ActionResult {
        outputs: vec![bin.clone()],
        ..Default::default()
    };
    let remote = RemoteCache::new(config(&nginx.url())).unwrap();
    remote.upload(key("corrupt"), result, src.clone());
    assert_eq!(remote.finish(Duration::from_secs(60)).uploaded, 1);

    // Someone with write access (or a disk error) changes the blob.
    let blob = nginx
        .store_dir()
        .join("cas")
        .join(sha256_hex(&pseudo_random_bytes("app", 100_000)));
    let mut content = fs::read(&blob).unwrap();
    content[500] ^= 0xff;
    fs::write(&blob, &content).unwrap();

    let dst = DirStore::new();
    match remote.get(&key("corrupt"), dst.as_ref()) {
        RemoteLookup::Rejected(why) => assert!(why.contains("SHA-256"), "{why}"),
        other => panic!("expected Rejected, got {other:?}"),
    }
    assert_eq!(dst.blob_count(), 0);
    assert_eq!(fs::read_dir(dst.scratch_dir()).unwrap().count(), 0);
    assert_eq!(remote.stats().rejected, 1);
    // A rejection is not a fault: the remote stays on.
    assert!(remote.stats().disabled_reason.is_none());
}

#[test]
fn basic_auth_for_writes() {
    let nginx = Nginx::start_with(NginxOptions {
        write_auth: Some(("ci".into(), "pw-S3CRET".into())),
    });
    let src = DirStore::new();
    let out = src.add("lib.rlib", b"rlib bytes", false);
    let result = ActionResult {
        outputs: vec![out],
        ..Default::default()
    };

    // Without credentials: reads work, the upload is refused with a clear warning.
    let anon = RemoteCache::new(config(&nginx.url())).unwrap();
    anon.upload(key("auth"), result.clone(), src.clone());
    let report = anon.finish(Duration::from_secs(30));
    assert_eq!(report.failed, 1, "{report:?}");
    let warnings = anon.take_warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("authentication"), "{warnings:?}");
    assert!(puts(&nginx.access_log())
        .iter()
        .all(|l| l.status == 401 && l.uri.contains("/cas/")));

    // With user:password in the URL (redacted in every message).
    let url = nginx.url().replace("http://", "http://ci:pw-S3CRET@");
    let cfg = config(&url);
    assert!(!cfg.to_string().contains("S3CRET"));
    let authed = RemoteCache::new(cfg).unwrap();
    authed.upload(key("auth"), result.clone(), src.clone());
    assert_eq!(authed.finish(Duration::from_secs(30)).uploaded, 1);
    match anon.get(&key("auth"), DirStore::new().as_ref()) {
        RemoteLookup::Hit(r) => assert_eq!(r, result),
        other => panic!("expected a hit, got {other:?}"),
    }
    let all = format!("{:?}{:?}", authed.take_warnings(), authed.stats());
    assert!(!all.contains("S3CRET"));
}
