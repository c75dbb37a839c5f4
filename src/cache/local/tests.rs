//! Tests of the action cache and the blob store.

use std::path::Path;
use std::time::{Duration, SystemTime};

use super::*;
use crate::cache::OutputFile;
use crate::core::RelPath;

/// A fresh cache in a temporary directory (keep the `TempDir` alive).
pub(super) fn new_cache() -> (tempfile::TempDir, LocalCache) {
    let dir = tempfile::tempdir().unwrap();
    let cache = LocalCache::open(&dir.path().join("cache")).unwrap();
    (dir, cache)
}

/// A distinct action key per `n`.
pub(super) fn key(n: u32) -> ActionKey {
    ActionKey(Digest::of_bytes(format!("action {n}").as_bytes()))
}

/// Inserts `content` and describes it as output `path`.
pub(super) fn output(cache: &LocalCache, path: &str, content: &[u8], exec: bool) -> OutputFile {
    let digest = cache.insert_bytes(content).unwrap();
    OutputFile {
        path: RelPath::new(path).unwrap(),
        digest,
        size: content.len() as u64,
        executable: exec,
    }
}

/// A result with the given outputs (sorted by path, as the executor does).
pub(super) fn result(mut outputs: Vec<OutputFile>) -> ActionResult {
    outputs.sort_by(|a, b| a.path.cmp(&b.path));
    ActionResult {
        outputs,
        stdout: "out".into(),
        stderr: "err".into(),
        meta: crate::cache::ResultMeta {
            script: Some("v".into()),
            ..Default::default()
        },
    }
}

/// Sets a file's mtime (works on read-only files we own).
pub(super) fn set_mtime(path: &Path, t: SystemTime) {
    File::open(path).unwrap().set_modified(t).unwrap();
}

/// Overwrites a (possibly read-only) file in place, through its inode, the
/// way a misbehaving tool writing to a hardlinked output would.
fn clobber(path: &Path, content: &[u8]) {
    fsutil::set_path_mode(path, 0o644).unwrap();
    std::fs::write(path, content).unwrap();
}

fn entry_file(cache: &LocalCache, k: &ActionKey) -> PathBuf {
    cache.entry_path(k)
}

fn expect_corrupt(l: Lookup<ActionResult>) -> String {
    match l {
        Lookup::Corrupt(why) => why,
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

fn tmp_is_empty(cache: &LocalCache) -> bool {
    std::fs::read_dir(cache.tmp_dir()).unwrap().next().is_none()
}

#[cfg(unix)]
fn ino(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).unwrap().ino()
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn local_cache_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<LocalCache>();
    assert_send_sync::<CacheLockGuard>();
}

#[test]
fn open_creates_layout_and_cachedir_tag() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("nested/cache");
    let cache = LocalCache::open(&root).unwrap();
    assert_eq!(cache.root(), root);
    for sub in ["v1/cas", "v1/ac", "v1/tmp"] {
        assert!(root.join(sub).is_dir(), "{sub}");
    }
    let tag = std::fs::read_to_string(root.join("CACHEDIR.TAG")).unwrap();
    assert!(tag.starts_with("Signature: 8a477f597d28d172789f06886806bc55"));
    // Reopening an existing cache is fine and keeps its content.
    let d = cache.insert_bytes(b"kept").unwrap();
    let again = LocalCache::open(&root).unwrap();
    assert_eq!(again.read_blob(&d).unwrap(), b"kept");
}

#[test]
fn default_root_is_named_hbuild() {
    if let Some(root) = LocalCache::default_root() {
        assert_eq!(root.file_name().unwrap(), "hbuild");
    }
}

#[test]
fn round_trip_put_get_materialize() {
    let (dir, cache) = new_cache();
    let src = dir.path().join("target/debug/deps/libfoo.rlib");
    std::fs::create_dir_all(src.parent().unwrap()).unwrap();
    std::fs::write(&src, b"rlib bytes").unwrap();
    let (digest, size) = cache.insert_file(&src).unwrap();
    assert_eq!(digest, Digest::of_bytes(b"rlib bytes"));
    assert_eq!(size, 10);
    // The source is a build output and must stay where it is.
    assert_eq!(std::fs::read(&src).unwrap(), b"rlib bytes");

    let res = result(vec![
        OutputFile {
            path: RelPath::new("deps/libfoo.rlib").unwrap(),
            digest,
            size,
            executable: false,
        },
        output(&cache, "build/foo/out/gen.rs", b"pub fn f() {}", false),
    ]);
    let k = key(1);
    assert!(matches!(cache.get(&k).unwrap(), Lookup::Miss));
    cache.put(&k, &res).unwrap();
    let got = match cache.get(&k).unwrap() {
        Lookup::Hit(r) => r,
        other => panic!("expected hit, got {other:?}"),
    };
    assert_eq!(got, res);

    let out_root = dir.path().join("other-target/debug");
    for o in &got.outputs {
        cache.materialize(o, &o.path.under(&out_root)).unwrap();
    }
    assert_eq!(
        std::fs::read(out_root.join("deps/libfoo.rlib")).unwrap(),
        b"rlib bytes"
    );
    assert_eq!(
        std::fs::read(out_root.join("build/foo/out/gen.rs")).unwrap(),
        b"pub fn f() {}"
    );
    assert!(tmp_is_empty(&cache));
}

#[test]
fn put_replaces_an_existing_entry() {
    let (_dir, cache) = new_cache();
    let k = key(1);
    cache
        .put(&k, &result(vec![output(&cache, "a", b"1", false)]))
        .unwrap();
    let second = result(vec![output(&cache, "b", b"2", true)]);
    cache.put(&k, &second).unwrap();
    assert!(matches!(cache.get(&k).unwrap(), Lookup::Hit(r) if r == second));
}

#[cfg(unix)]
#[test]
fn hardlinks_plain_and_executable_variants_with_right_modes() {
    let (dir, cache) = new_cache();
    let plain = output(&cache, "libx.rlib", b"same content", false);
    let exec = OutputFile {
        executable: true,
        ..output(&cache, "build-script-build", b"same content", true)
    };
    let d1 = dir.path().join("t/libx.rlib");
    let d2 = dir.path().join("t/build-script-build");
    cache.materialize(&plain, &d1).unwrap();
    cache.materialize(&exec, &d2).unwrap();

    let base = cache.blob_path(&plain.digest, false);
    let x = cache.blob_path(&plain.digest, true);
    assert_eq!(
        ino(&d1),
        ino(&base),
        "plain output is a hardlink of the blob"
    );
    assert_eq!(
        ino(&d2),
        ino(&x),
        "exec output is a hardlink of the .x blob"
    );
    assert_ne!(ino(&base), ino(&x));
    assert_eq!(mode(&d1), 0o444);
    assert_eq!(mode(&d2), 0o555);
    assert_eq!(mode(&base), 0o444, "the plain blob keeps its mode");
    assert_eq!(std::fs::read(&d2).unwrap(), b"same content");
}

#[test]
fn materialize_never_writes_through_an_existing_dest() {
    let (dir, cache) = new_cache();
    let o = output(&cache, "f", b"new content", false);
    // `dest` is a hardlink to a precious file: writing through it would
    // destroy the precious file.
    let precious = dir.path().join("precious");
    std::fs::write(&precious, b"precious").unwrap();
    let dest = dir.path().join("t/f");
    std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
    std::fs::hard_link(&precious, &dest).unwrap();

    cache.materialize(&o, &dest).unwrap();
    assert_eq!(std::fs::read(&dest).unwrap(), b"new content");
    assert_eq!(std::fs::read(&precious).unwrap(), b"precious");

    // Same through the copy path.
    let dest2 = dir.path().join("t/g");
    std::fs::hard_link(&precious, &dest2).unwrap();
    let blob = cache.blob_path(&o.digest, false);
    let meta = std::fs::metadata(&blob).unwrap();
    cache.place(&blob, &meta, &dest2, false, false).unwrap();
    assert_eq!(std::fs::read(&dest2).unwrap(), b"new content");
    assert_eq!(std::fs::read(&precious).unwrap(), b"precious");
}

#[test]
fn materialize_twice_is_idempotent_and_leaves_no_temporaries() {
    let (dir, cache) = new_cache();
    let o = output(&cache, "f", b"content", true);
    let dest = dir.path().join("t/f");
    cache.materialize(&o, &dest).unwrap();
    cache.materialize(&o, &dest).unwrap();
    // And once more when dest is a hardlink of the blob but the fast path
    // is not taken (copy path replaces it with a copy).
    let blob = cache.blob_path(&o.digest, true);
    let meta = std::fs::metadata(&blob).unwrap();
    cache.place(&blob, &meta, &dest, true, false).unwrap();
    cache.materialize(&o, &dest).unwrap();
    let names: Vec<_> = std::fs::read_dir(dir.path().join("t"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("f")]);
    assert_eq!(std::fs::read(&dest).unwrap(), b"content");
}

#[cfg(unix)]
#[test]
fn copy_fallback_sets_modes_and_copies() {
    let (dir, cache) = new_cache();
    let o = output(&cache, "f", b"copied", false);
    let blob = cache.blob_path(&o.digest, false);
    let meta = std::fs::metadata(&blob).unwrap();
    let dest = dir.path().join("t/sub/f");
    cache.place(&blob, &meta, &dest, false, false).unwrap();
    assert_ne!(ino(&dest), ino(&blob));
    assert_eq!(mode(&dest), 0o444);
    assert_eq!(std::fs::read(&dest).unwrap(), b"copied");
    let xdest = dir.path().join("t/sub/x");
    cache.place(&blob, &meta, &xdest, true, false).unwrap();
    assert_eq!(mode(&xdest), 0o555);
}

#[cfg(unix)]
#[test]
fn materialize_restores_a_chmodded_blob_mode() {
    let (dir, cache) = new_cache();
    let o = output(&cache, "f", b"content", false);
    let dest = dir.path().join("t/f");
    cache.materialize(&o, &dest).unwrap();
    // A tool chmods its (hardlinked) output, and thereby the blob.
    fsutil::set_path_mode(&dest, 0o755).unwrap();
    let dest2 = dir.path().join("t/f2");
    cache.materialize(&o, &dest2).unwrap();
    assert_eq!(mode(&dest2), 0o444);
    assert_eq!(mode(&cache.blob_path(&o.digest, false)), 0o444);
}

#[test]
fn corrupt_blob_is_detected_deleted_and_reported() {
    let (dir, cache) = new_cache();
    let o = output(&cache, "f", b"good content", false);
    let k = key(7);
    cache.put(&k, &result(vec![o.clone()])).unwrap();
    cache.materialize(&o, &dir.path().join("t1/f")).unwrap();

    let blob = cache.blob_path(&o.digest, false);
    clobber(&blob, b"evil content"); // same length
    let err = cache.materialize(&o, &dir.path().join("t2/f")).unwrap_err();
    assert!(
        matches!(&err, CacheError::Corrupt { digest, .. } if *digest == o.digest),
        "{err}"
    );
    assert!(!blob.exists(), "corrupt blob must be deleted");
    assert!(!dir.path().join("t2/f").exists());
    // The entry now references a missing blob: never a hit again.
    let why = expect_corrupt(cache.get(&k).unwrap());
    assert!(why.contains("missing blob"), "{why}");
    assert!(matches!(cache.get(&k).unwrap(), Lookup::Miss));
}

#[test]
fn verification_memo_is_invalidated_by_a_change() {
    let (dir, cache) = new_cache();
    let o = output(&cache, "f", b"good content", false);
    let blob = cache.blob_path(&o.digest, false);
    // Settled (mtime and ctime a clock tick in the past), so that its
    // stamp is trusted and remembered.
    set_mtime(&blob, SystemTime::now() - Duration::from_secs(600));
    std::thread::sleep(Duration::from_millis(100));
    cache.materialize(&o, &dir.path().join("t1/f")).unwrap();
    assert_eq!(cache.verified.len(), 1);
    cache.materialize(&o, &dir.path().join("t2/f")).unwrap();

    clobber(&blob, b"evil content");
    assert!(matches!(
        cache.materialize(&o, &dir.path().join("t3/f")),
        Err(CacheError::Corrupt { .. })
    ));
    assert_eq!(cache.verified.len(), 0);
}

#[test]
fn corrupt_exec_variant_is_rebuilt_from_the_plain_blob() {
    let (dir, cache) = new_cache();
    let o = output(&cache, "bin", b"#!/bin/sh\necho hi\n", true);
    cache.materialize(&o, &dir.path().join("t1/bin")).unwrap();
    let x = cache.blob_path(&o.digest, true);
    clobber(&x, b"#!/bin/sh\nrm -rf /\n");
    let dest = dir.path().join("t2/bin");
    cache.materialize(&o, &dest).unwrap();
    assert_eq!(std::fs::read(&dest).unwrap(), b"#!/bin/sh\necho hi\n");
    assert_eq!(std::fs::read(&x).unwrap(), b"#!/bin/sh\necho hi\n");
}

#[test]
fn corrupt_plain_blob_fails_exec_materialization() {
    let (dir, cache) = new_cache();
    let o = output(&cache, "bin", b"binary", true);
    let base = cache.blob_path(&o.digest, false);
    clobber(&base, b"BINARY");
    let err = cache
        .materialize(&o, &dir.path().join("t/bin"))
        .unwrap_err();
    assert!(matches!(err, CacheError::Corrupt { .. }), "{err}");
    assert!(!base.exists());
    assert!(!cache.blob_path(&o.digest, true).exists());
}

#[test]
fn materialize_missing_blob_is_missing_blob() {
    let (dir, cache) = new_cache();
    let o = OutputFile {
        path: RelPath::new("f").unwrap(),
        digest: Digest::of_bytes(b"never stored"),
        size: 12,
        executable: false,
    };
    for exec in [false, true] {
        let o = OutputFile {
            executable: exec,
            ..o.clone()
        };
        let err = cache.materialize(&o, &dir.path().join("f")).unwrap_err();
        assert!(matches!(err, CacheError::MissingBlob(d) if d == o.digest));
    }
}

#[test]
fn materialize_rejects_size_mismatch_without_deleting_the_blob() {
    let (dir, cache) = new_cache();
    let mut o = output(&cache, "f", b"12345", false);
    o.size = 4;
    let err = cache.materialize(&o, &dir.path().join("f")).unwrap_err();
    assert!(matches!(err, CacheError::Corrupt { .. }));
    assert!(cache.blob_path(&o.digest, false).exists());
}

#[test]
fn truncated_entry_is_corrupt_and_removed() {
    let (_dir, cache) = new_cache();
    let k = key(1);
    cache
        .put(&k, &result(vec![output(&cache, "a", b"x", false)]))
        .unwrap();
    let path = entry_file(&cache, &k);
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let why = expect_corrupt(cache.get(&k).unwrap());
    assert!(why.contains("does not parse"), "{why}");
    assert!(!path.exists());
    assert!(matches!(cache.get(&k).unwrap(), Lookup::Miss));
}

#[test]
fn garbled_entries_are_corrupt() {
    let (_dir, cache) = new_cache();
    let k = key(1);
    let path = entry_file(&cache, &k);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    for garbage in [
        &b"not json at all"[..],
        b"",
        b"\xff\xfe\x00",
        b"{\"format\": 1}",
        b"[1, 2, 3]",
        b"{\"format\": -1, \"key\": 3}",
    ] {
        std::fs::write(&path, garbage).unwrap();
        expect_corrupt(cache.get(&k).unwrap());
        assert!(!path.exists());
    }
}

/// Rewrites the JSON of `k`'s entry with `edit`.
fn edit_entry(cache: &LocalCache, k: &ActionKey, edit: impl FnOnce(&mut serde_json::Value)) {
    let path = entry_file(cache, k);
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    edit(&mut v);
    std::fs::write(&path, serde_json::to_vec(&v).unwrap()).unwrap();
}

#[test]
fn entry_of_another_format_version_is_corrupt() {
    let (_dir, cache) = new_cache();
    let k = key(1);
    cache.put(&k, &result(vec![])).unwrap();
    edit_entry(&cache, &k, |v| v["format"] = 999.into());
    let why = expect_corrupt(cache.get(&k).unwrap());
    assert!(why.contains("format version 999"), "{why}");
    assert!(!entry_file(&cache, &k).exists());
}

#[test]
fn entry_stored_under_another_key_is_corrupt() {
    let (_dir, cache) = new_cache();
    let (a, b) = (key(1), key(2));
    cache
        .put(&a, &result(vec![output(&cache, "a", b"x", false)]))
        .unwrap();
    let pb = entry_file(&cache, &b);
    std::fs::create_dir_all(pb.parent().unwrap()).unwrap();
    std::fs::copy(entry_file(&cache, &a), &pb).unwrap();
    let why = expect_corrupt(cache.get(&b).unwrap());
    assert!(why.contains("stored for key"), "{why}");
    assert!(!pb.exists());
    assert!(matches!(cache.get(&a).unwrap(), Lookup::Hit(_)));
}

#[test]
fn entry_with_wrong_blob_size_is_corrupt() {
    let (_dir, cache) = new_cache();
    let k = key(1);
    cache
        .put(&k, &result(vec![output(&cache, "a", b"xyz", false)]))
        .unwrap();
    edit_entry(&cache, &k, |v| v["result"]["outputs"][0]["size"] = 2.into());
    let why = expect_corrupt(cache.get(&k).unwrap());
    assert!(why.contains("size"), "{why}");
}

#[test]
fn entry_with_escaping_path_is_corrupt() {
    let (_dir, cache) = new_cache();
    let k = key(1);
    cache
        .put(&k, &result(vec![output(&cache, "a", b"xyz", false)]))
        .unwrap();
    edit_entry(&cache, &k, |v| {
        v["result"]["outputs"][0]["path"] = "../../etc/x".into()
    });
    expect_corrupt(cache.get(&k).unwrap());
}

#[test]
fn entry_with_duplicate_paths_is_corrupt() {
    let (_dir, cache) = new_cache();
    let k = key(1);
    cache
        .put(
            &k,
            &result(vec![
                output(&cache, "a", b"1", false),
                output(&cache, "b", b"2", false),
            ]),
        )
        .unwrap();
    edit_entry(&cache, &k, |v| {
        v["result"]["outputs"][1]["path"] = "a".into()
    });
    let why = expect_corrupt(cache.get(&k).unwrap());
    assert!(why.contains("twice"), "{why}");
}

#[test]
fn missing_blob_makes_entry_corrupt() {
    let (_dir, cache) = new_cache();
    let k = key(1);
    let o = output(&cache, "a", b"content", false);
    cache.put(&k, &result(vec![o.clone()])).unwrap();
    std::fs::remove_file(cache.blob_path(&o.digest, false)).unwrap();
    let why = expect_corrupt(cache.get(&k).unwrap());
    assert!(why.contains("missing blob"), "{why}");
    assert!(!entry_file(&cache, &k).exists());
}

#[test]
fn put_requires_every_blob_in_the_cas() {
    let (_dir, cache) = new_cache();
    let k = key(1);
    let ghost = OutputFile {
        path: RelPath::new("ghost").unwrap(),
        digest: Digest::of_bytes(b"ghost"),
        size: 5,
        executable: false,
    };
    let err = cache.put(&k, &result(vec![ghost.clone()])).unwrap_err();
    assert!(matches!(err, CacheError::MissingBlob(d) if d == ghost.digest));
    assert!(matches!(cache.get(&k).unwrap(), Lookup::Miss));

    let mut wrong_size = output(&cache, "w", b"four", false);
    wrong_size.size = 5;
    let err = cache.put(&k, &result(vec![wrong_size])).unwrap_err();
    assert!(matches!(err, CacheError::Corrupt { .. }), "{err}");
    assert!(matches!(cache.get(&k).unwrap(), Lookup::Miss));
}

#[test]
fn put_rejects_duplicate_output_paths() {
    let (_dir, cache) = new_cache();
    let a = output(&cache, "same", b"1", false);
    let b = output(&cache, "same", b"2", false);
    let err = cache.put(&key(1), &result(vec![a, b])).unwrap_err();
    assert!(err.to_string().contains("`same`"), "{err}");
}

#[test]
fn get_bumps_entry_mtime() {
    let (_dir, cache) = new_cache();
    let k = key(1);
    cache.put(&k, &result(vec![])).unwrap();
    let path = entry_file(&cache, &k);
    let old = SystemTime::now() - Duration::from_secs(3600);
    set_mtime(&path, old);
    assert!(matches!(cache.get(&k).unwrap(), Lookup::Hit(_)));
    let m = std::fs::metadata(&path).unwrap().modified().unwrap();
    assert!(m > old + Duration::from_secs(3000));
}

#[test]
fn insert_deduplicates_and_keeps_the_existing_inode() {
    let (dir, cache) = new_cache();
    let src = dir.path().join("src");
    std::fs::write(&src, b"dup").unwrap();
    let d1 = cache.insert_bytes(b"dup").unwrap();
    let blob = cache.blob_path(&d1, false);
    let before = std::fs::metadata(&blob).unwrap().modified().unwrap();
    let (d2, _) = cache.insert_file(&src).unwrap();
    assert_eq!(d1, d2);
    assert_eq!(
        std::fs::metadata(&blob).unwrap().modified().unwrap(),
        before
    );
    assert!(tmp_is_empty(&cache));
}

#[test]
fn insert_replaces_a_blob_of_the_wrong_size() {
    let (dir, cache) = new_cache();
    let d = cache.insert_bytes(b"right").unwrap();
    let blob = cache.blob_path(&d, false);
    clobber(&blob, b"wrong size");
    let src = dir.path().join("src");
    std::fs::write(&src, b"right").unwrap();
    cache.insert_file(&src).unwrap();
    assert_eq!(cache.read_blob(&d).unwrap(), b"right");
    cache.insert_bytes(b"right").unwrap();
}

#[test]
fn insert_file_of_missing_source_names_it() {
    let (dir, cache) = new_cache();
    let missing = dir.path().join("no-such-file");
    let err = cache.insert_file(&missing).unwrap_err();
    assert!(err.to_string().contains("no-such-file"), "{err}");
}

#[test]
fn empty_blob_round_trips() {
    let (dir, cache) = new_cache();
    let o = output(&cache, "empty", b"", false);
    cache.put(&key(1), &result(vec![o.clone()])).unwrap();
    assert!(matches!(cache.get(&key(1)).unwrap(), Lookup::Hit(_)));
    let dest = dir.path().join("empty");
    cache.materialize(&o, &dest).unwrap();
    assert_eq!(std::fs::read(&dest).unwrap(), b"");
}

#[test]
fn large_blob_round_trips() {
    let (dir, cache) = new_cache();
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 256) as u8).collect();
    let src = dir.path().join("big");
    std::fs::write(&src, &data).unwrap();
    let (d, size) = cache.insert_file(&src).unwrap();
    assert_eq!(d, Digest::of_bytes(&data));
    assert_eq!(size, data.len() as u64);
    let o = OutputFile {
        path: RelPath::new("big").unwrap(),
        digest: d,
        size,
        executable: true,
    };
    let dest = dir.path().join("out/big");
    cache.materialize(&o, &dest).unwrap();
    assert_eq!(std::fs::read(&dest).unwrap(), data);
}

#[test]
fn concurrent_inserts_of_the_same_blob() {
    let (dir, cache) = new_cache();
    let content: Vec<u8> = (0..200_000u32).map(|i| (i % 253) as u8).collect();
    let src = dir.path().join("src");
    std::fs::write(&src, &content).unwrap();
    let want = Digest::of_bytes(&content);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let (cache, src, content) = (&cache, &src, &content);
                s.spawn(move || {
                    for _ in 0..5 {
                        let d = if i % 2 == 0 {
                            cache.insert_file(src).unwrap().0
                        } else {
                            cache.insert_bytes(content).unwrap()
                        };
                        assert_eq!(d, want);
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
    });
    assert_eq!(cache.read_blob(&want).unwrap(), content);
    assert!(tmp_is_empty(&cache));
    let shard = cache.blob_path(&want, false);
    let files = std::fs::read_dir(shard.parent().unwrap()).unwrap().count();
    assert_eq!(files, 1);
}

#[test]
fn concurrent_materializations_of_one_dest() {
    let (dir, cache) = new_cache();
    let plain = output(&cache, "f", b"shared content", false);
    let exec = OutputFile {
        executable: true,
        ..plain.clone()
    };
    let dest = dir.path().join("t/f");
    std::thread::scope(|s| {
        for i in 0..8 {
            let (cache, dest, o) = (&cache, &dest, if i % 2 == 0 { &plain } else { &exec });
            s.spawn(move || {
                for _ in 0..10 {
                    cache.materialize(o, dest).unwrap();
                }
            });
        }
    });
    assert_eq!(std::fs::read(&dest).unwrap(), b"shared content");
    let names = std::fs::read_dir(dir.path().join("t")).unwrap().count();
    assert_eq!(names, 1, "no temporary links left behind");
}

#[test]
fn read_blob_verifies() {
    let (_dir, cache) = new_cache();
    let d = cache.insert_bytes(b"small").unwrap();
    assert_eq!(cache.read_blob(&d).unwrap(), b"small");
    clobber(&cache.blob_path(&d, false), b"SMALL");
    assert!(matches!(
        cache.read_blob(&d),
        Err(CacheError::Corrupt { .. })
    ));
    assert!(matches!(
        cache.read_blob(&d),
        Err(CacheError::MissingBlob(_))
    ));
}

#[test]
fn blob_store_adopts_and_opens() {
    use std::io::Read as _;
    let (_dir, cache) = new_cache();
    let store: &dyn BlobStore = &cache;
    let scratch = store.scratch_dir();
    assert!(scratch.is_dir());

    let download = scratch.join("download-1");
    std::fs::write(&download, b"downloaded").unwrap();
    let (d, size) = store.adopt_file(&download).unwrap();
    assert_eq!((d, size), (Digest::of_bytes(b"downloaded"), 10));
    assert!(!download.exists());
    let mut s = String::new();
    store.open_blob(&d).unwrap().read_to_string(&mut s).unwrap();
    assert_eq!(s, "downloaded");

    // Adopting content that is already stored just drops the file.
    std::fs::write(&download, b"downloaded").unwrap();
    assert_eq!(store.adopt_file(&download).unwrap().0, d);
    assert!(!download.exists());
    assert!(tmp_is_empty(&cache));

    let missing = Digest::of_bytes(b"nope");
    assert!(matches!(store.open_blob(&missing), Err(CacheError::MissingBlob(m)) if m == missing));
}

#[test]
fn caches_at_one_root_share_content() {
    let dir = tempfile::tempdir().unwrap();
    let a = LocalCache::open(dir.path()).unwrap();
    let b = LocalCache::open(dir.path()).unwrap();
    let k = key(3);
    a.put(&k, &result(vec![output(&a, "f", b"from a", false)]))
        .unwrap();
    let r = match b.get(&k).unwrap() {
        Lookup::Hit(r) => r,
        other => panic!("{other:?}"),
    };
    let dest = dir.path().join("out/f");
    b.materialize(&r.outputs[0], &dest).unwrap();
    assert_eq!(std::fs::read(&dest).unwrap(), b"from a");
}

/// Exercises the real cross-device paths when the machine has a second
/// filesystem at hand (`/dev/shm` is tmpfs on most Linux systems).
#[cfg(target_os = "linux")]
#[test]
fn cross_device_materialize_and_adopt_fall_back_to_copies() {
    use std::os::unix::fs::MetadataExt;
    let (_dir, cache) = new_cache();
    let Ok(other) = tempfile::tempdir_in("/dev/shm") else {
        return;
    };
    let dev = |p: &Path| std::fs::metadata(p).unwrap().dev();
    if dev(other.path()) == dev(cache.root()) {
        return;
    }
    let o = output(&cache, "bin", b"cross device", true);
    let dest = other.path().join("t/bin");
    cache.materialize(&o, &dest).unwrap();
    assert_eq!(std::fs::read(&dest).unwrap(), b"cross device");
    assert_eq!(mode(&dest), 0o555);
    assert_ne!(ino(&dest), ino(&cache.blob_path(&o.digest, true)));

    let foreign = other.path().join("download");
    std::fs::write(&foreign, b"from another fs").unwrap();
    let (d, _) = cache.adopt(&foreign).unwrap();
    assert!(!foreign.exists());
    assert_eq!(cache.read_blob(&d).unwrap(), b"from another fs");
}

#[test]
fn outputs_are_adopted_by_hard_link_in_their_own_variant() {
    use std::os::unix::fs::PermissionsExt;
    let (dir, cache) = new_cache();
    let out = dir.path().join("target/app");
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    std::fs::write(&out, b"#!binary").unwrap();
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o755)).unwrap();
    let (digest, size) = cache.insert_file(&out).unwrap();
    assert_eq!(digest, Digest::of_bytes(b"#!binary"));
    // No copy: the executable variant is the output's inode, and the output
    // stays executable (read-only, like a restored output).
    let x = cache.blob_path(&digest, true);
    assert_eq!(ino(&out), ino(&x));
    assert_eq!(mode(&out), 0o555);
    assert!(!cache.blob_path(&digest, false).exists());
    // The entry is complete with that variant alone, and materialises in
    // both variants (the plain one derived on demand).
    let file = |path: &str, executable| OutputFile {
        path: RelPath::new(path).unwrap(),
        digest,
        size,
        executable,
    };
    let r = result(vec![file("app", true), file("app.copy", false)]);
    cache.put(&key(1), &r).unwrap();
    let Lookup::Hit(hit) = cache.get(&key(1)).unwrap() else {
        panic!("adopted blob must make a hit")
    };
    let restored = dir.path().join("restored");
    for o in &hit.outputs {
        cache.materialize(o, &o.path.under(&restored)).unwrap();
    }
    assert_eq!(
        std::fs::read(restored.join("app.copy")).unwrap(),
        b"#!binary"
    );
    assert_eq!(mode(&restored.join("app.copy")), 0o444);
    assert_eq!(mode(&restored.join("app")), 0o555);
    // The plain copy now heals a clobbered executable variant...
    clobber(&out, b"#!changed");
    let healed = dir.path().join("healed/app");
    cache.materialize(&file("app", true), &healed).unwrap();
    assert_eq!(std::fs::read(&healed).unwrap(), b"#!binary");
    // ...and without one, a blob written through in place is caught on
    // its next use and dropped.
    let lib = dir.path().join("target/liby.rlib");
    std::fs::write(&lib, b"rlib").unwrap();
    let (d, n) = cache.insert_file(&lib).unwrap();
    clobber(&lib, b"RLIB");
    let o = OutputFile {
        path: RelPath::new("liby.rlib").unwrap(),
        digest: d,
        size: n,
        executable: false,
    };
    assert!(cache
        .materialize(&o, &dir.path().join("again/liby.rlib"))
        .is_err());
    assert!(!cache.blob_path(&d, false).exists());
}
