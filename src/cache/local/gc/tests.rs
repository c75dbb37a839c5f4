//! Tests of gc, the automatic trigger, the build log and stats.

use std::sync::mpsc;
use std::time::{Duration, SystemTime};

use super::super::tests::{key, new_cache, output, result, set_mtime};
use super::*;
use crate::cache::Lookup;

fn ago(secs: u64) -> SystemTime {
    SystemTime::now() - Duration::from_secs(secs)
}

fn total_bytes(cache: &LocalCache) -> u64 {
    cache.stats().unwrap().total_bytes
}

#[test]
fn gc_evicts_least_recently_used_first_and_keeps_referenced_blobs() {
    let (_dir, cache) = new_cache();
    let shared = vec![b's'; 1000];
    let (a, b, c) = (key(1), key(2), key(3));
    let oa = output(&cache, "a", &[b'a'; 1000], false);
    let ob = output(&cache, "b", &[b'b'; 1000], false);
    let oc = output(&cache, "c", &[b'c'; 1000], false);
    let os = output(&cache, "s", &shared, false);
    cache
        .put(&a, &result(vec![oa.clone(), os.clone()]))
        .unwrap();
    cache.put(&b, &result(vec![ob.clone()])).unwrap();
    cache
        .put(&c, &result(vec![oc.clone(), os.clone()]))
        .unwrap();
    set_mtime(&cache.entry_path(&a), ago(300));
    set_mtime(&cache.entry_path(&b), ago(200));
    set_mtime(&cache.entry_path(&c), ago(100));
    // Using `a` makes it the most recently used: order is now b, c, a.
    assert!(matches!(cache.get(&a).unwrap(), Lookup::Hit(_)));

    let before = total_bytes(&cache);
    let r = cache.gc(before - 1).unwrap();
    assert_eq!(r.bytes_before, before);
    assert_eq!((r.entries_removed, r.blobs_removed), (1, 1));
    assert!(r.bytes_after <= before - 1000);
    assert_eq!(r.bytes_after, total_bytes(&cache));
    assert!(!cache.entry_path(&b).exists());
    assert!(!cache.blob_path(&ob.digest, false).exists());
    assert!(matches!(cache.get(&a).unwrap(), Lookup::Hit(_)));
    assert!(matches!(cache.get(&c).unwrap(), Lookup::Hit(_)));

    // `get` above bumped a and c; make c the older one again.
    set_mtime(&cache.entry_path(&c), ago(100));
    let r = cache.gc(total_bytes(&cache) - 1).unwrap();
    assert_eq!((r.entries_removed, r.blobs_removed), (1, 1));
    assert!(!cache.entry_path(&c).exists());
    assert!(!cache.blob_path(&oc.digest, false).exists());
    // Still referenced by a.
    assert!(cache.blob_path(&os.digest, false).exists());
    assert!(matches!(cache.get(&a).unwrap(), Lookup::Hit(_)));

    let r = cache.gc(0).unwrap();
    assert_eq!(
        (r.entries_removed, r.blobs_removed, r.bytes_after),
        (1, 2, 0)
    );
    let s = cache.stats().unwrap();
    assert_eq!((s.entries, s.blobs, s.total_bytes), (0, 0, 0));
}

#[test]
fn gc_under_the_limit_evicts_nothing() {
    let (_dir, cache) = new_cache();
    cache
        .put(&key(1), &result(vec![output(&cache, "a", b"aaa", false)]))
        .unwrap();
    let before = total_bytes(&cache);
    let r = cache.gc(before).unwrap();
    assert_eq!(
        r,
        GcReport {
            entries_removed: 0,
            blobs_removed: 0,
            bytes_before: before,
            bytes_after: before
        }
    );
}

#[test]
fn gc_deletes_old_orphans_but_not_young_ones() {
    let (_dir, cache) = new_cache();
    let young = cache
        .insert_bytes(b"just inserted, entry not yet written")
        .unwrap();
    let old = cache.insert_bytes(b"orphan for a long time").unwrap();
    set_mtime(&cache.blob_path(&old, false), ago(3600));
    let r = cache.gc(u64::MAX).unwrap();
    assert_eq!((r.entries_removed, r.blobs_removed), (0, 1));
    assert!(cache.blob_path(&young, false).exists());
    assert!(!cache.blob_path(&old, false).exists());
}

#[test]
fn gc_removes_both_variants_of_an_evicted_blob() {
    let (dir, cache) = new_cache();
    let o = output(&cache, "bin", b"program", true);
    cache.put(&key(1), &result(vec![o.clone()])).unwrap();
    cache.materialize(&o, &dir.path().join("t/bin")).unwrap();
    assert!(cache.blob_path(&o.digest, true).exists());
    assert_eq!(cache.stats().unwrap().blobs, 1);
    let r = cache.gc(0).unwrap();
    assert_eq!((r.entries_removed, r.blobs_removed), (1, 1));
    assert!(!cache.blob_path(&o.digest, false).exists());
    assert!(!cache.blob_path(&o.digest, true).exists());
    // The materialized copy is the user's: untouched.
    assert_eq!(std::fs::read(dir.path().join("t/bin")).unwrap(), b"program");
}

#[test]
fn gc_removes_unusable_entries_strays_and_stale_temporaries() {
    let (_dir, cache) = new_cache();
    let k = key(1);
    let o = output(&cache, "a", b"a", false);
    cache.put(&k, &result(vec![o.clone()])).unwrap();
    let entry = cache.entry_path(&k);
    std::fs::write(&entry, b"{garbage").unwrap();
    let stray = entry.with_file_name("not-an-entry");
    std::fs::write(&stray, b"?").unwrap();
    set_mtime(&stray, ago(3600));
    let stale_tmp = cache.tmp_dir().join("crashed");
    std::fs::write(&stale_tmp, b"partial").unwrap();
    set_mtime(&stale_tmp, ago(2 * 3600));
    let fresh_tmp = cache.tmp_dir().join("in-flight");
    std::fs::write(&fresh_tmp, b"downloading").unwrap();
    // Make the now-orphaned blob old enough to be collected.
    set_mtime(&cache.blob_path(&o.digest, false), ago(3600));

    let r = cache.gc(u64::MAX).unwrap();
    assert_eq!(
        (r.entries_removed, r.blobs_removed, r.bytes_after),
        (1, 1, 0)
    );
    assert!(!entry.exists() && !stray.exists() && !stale_tmp.exists());
    assert!(fresh_tmp.exists());
}

#[test]
fn gc_refuses_while_this_instance_holds_the_build_lock() {
    let (_dir, cache) = new_cache();
    let guard = cache.lock_shared().unwrap();
    let err = cache.gc(0).unwrap_err();
    assert!(err.to_string().contains("build lock"), "{err}");
    assert!(cache.maybe_auto_gc(0).unwrap().is_none());
    drop(guard);
    cache.gc(0).unwrap();
}

#[test]
fn gc_waits_for_builds_of_other_instances() {
    let dir = tempfile::tempdir().unwrap();
    let builder = LocalCache::open(dir.path()).unwrap();
    let collector = LocalCache::open(dir.path()).unwrap();
    let guard = builder.lock_shared().unwrap();
    // Two builds may share the lock.
    let guard2 = builder.lock_shared().unwrap();
    // The automatic gc never waits.
    assert!(collector.maybe_auto_gc(0).unwrap().is_none());

    let (tx, rx) = mpsc::channel();
    std::thread::scope(|s| {
        s.spawn(|| {
            let r = collector.gc(0);
            tx.send(r.is_ok()).unwrap();
        });
        assert!(
            rx.recv_timeout(Duration::from_millis(300)).is_err(),
            "gc did not wait"
        );
        drop(guard);
        drop(guard2);
        assert!(rx.recv_timeout(Duration::from_secs(30)).unwrap());
    });
}

#[test]
fn maybe_auto_gc_runs_only_over_the_limit() {
    let (_dir, cache) = new_cache();
    cache
        .put(
            &key(1),
            &result(vec![output(&cache, "a", &[1; 4000], false)]),
        )
        .unwrap();
    let size = total_bytes(&cache);
    assert!(cache.maybe_auto_gc(size + 10_000).unwrap().is_none());
    assert!(cache.estimate_path().exists());
    // Below the limit with the estimate fresh: nothing to do.
    assert!(cache.maybe_auto_gc(size + 10_000).unwrap().is_none());

    // This process adds more than the headroom: the estimate notices.
    set_mtime(&cache.entry_path(&key(1)), ago(60));
    cache
        .put(
            &key(2),
            &result(vec![output(&cache, "b", &[2; 12_000], false)]),
        )
        .unwrap();
    let limit = size + 10_000;
    let r = cache.maybe_auto_gc(limit).unwrap().expect("gc should run");
    assert!(r.bytes_after <= limit / 10 * 9, "{r:?}");
    assert!(r.entries_removed >= 1);
    // The least recently used entry went first.
    assert!(!cache.entry_path(&key(1)).exists());
}

#[test]
fn maybe_auto_gc_measures_when_the_estimate_is_stale_or_bad() {
    let (_dir, cache) = new_cache();
    cache
        .put(
            &key(1),
            &result(vec![output(&cache, "a", &[1; 4000], false)]),
        )
        .unwrap();
    // A stale, too-low estimate (another process added data since).
    cache
        .write_estimate(0, fsutil::unix_now() - 2 * ESTIMATE_MAX_AGE_SECS)
        .unwrap();
    cache.added_bytes.store(0, Ordering::Relaxed);
    assert!(cache.maybe_auto_gc(1000).unwrap().is_some());

    cache
        .put(
            &key(2),
            &result(vec![output(&cache, "b", &[2; 4000], false)]),
        )
        .unwrap();
    std::fs::write(cache.estimate_path(), b"garbage").unwrap();
    cache.added_bytes.store(0, Ordering::Relaxed);
    assert!(cache.maybe_auto_gc(1000).unwrap().is_some());
}

#[test]
fn build_log_is_bounded_and_feeds_the_hit_rate() {
    let (_dir, cache) = new_cache();
    // Enough builds that the appended log is trimmed at least once.
    for i in 0..400u64 {
        cache
            .record_build(&BuildRecord {
                time_unix: i,
                actions_total: 10,
                executed: 4,
                local_hits: 3,
                remote_hits: 1,
                uncacheable: 2,
                ..BuildRecord::default()
            })
            .unwrap();
    }
    let s = cache.stats().unwrap();
    assert_eq!(s.recent_builds.len(), super::super::BUILD_LOG_LEN);
    assert_eq!(s.recent_builds.first().unwrap().time_unix, 350);
    assert_eq!(s.recent_builds.last().unwrap().time_unix, 399);
    // 4 hits out of 8 cacheable actions per build.
    assert_eq!(s.hit_rate, Some(0.5));
    let log = std::fs::read_to_string(cache.log_path()).unwrap();
    assert!(log.len() <= 50 * 1024 + 300, "{} bytes", log.len());
    let first: u64 = serde_json::from_str::<BuildRecord>(log.lines().next().unwrap())
        .unwrap()
        .time_unix;
    assert!((1..350).contains(&first), "the log starts at build {first}");
}

#[test]
fn build_log_tolerates_garbage_and_concurrent_writers() {
    let (_dir, cache) = new_cache();
    std::fs::write(cache.log_path(), b"{not json}\n\n{\"time_unix\": \"x\"}\n").unwrap();
    std::thread::scope(|s| {
        for t in 0..4u64 {
            let cache = &cache;
            s.spawn(move || {
                for i in 0..5 {
                    let rec = BuildRecord {
                        time_unix: t * 100 + i,
                        ..BuildRecord::default()
                    };
                    cache.record_build(&rec).unwrap();
                }
            });
        }
    });
    let s = cache.stats().unwrap();
    assert_eq!(s.recent_builds.len(), 20, "no record lost");
    assert_eq!(s.hit_rate, None, "no cacheable actions");
}

#[test]
fn stats_count_entries_blobs_and_bytes() {
    let (dir, cache) = new_cache();
    let empty = cache.stats().unwrap();
    assert_eq!((empty.entries, empty.blobs, empty.total_bytes), (0, 0, 0));
    assert_eq!(empty.hit_rate, None);

    let o1 = output(&cache, "a", &[1; 100], false);
    let o2 = output(&cache, "b", &[2; 200], true);
    let o3 = output(&cache, "c", &[3; 300], false);
    cache
        .put(&key(1), &result(vec![o1.clone(), o2.clone()]))
        .unwrap();
    cache.put(&key(2), &result(vec![o1, o3])).unwrap();
    cache.materialize(&o2, &dir.path().join("t/b")).unwrap();

    let entry_bytes: u64 = [key(1), key(2)]
        .iter()
        .map(|k| std::fs::metadata(cache.entry_path(k)).unwrap().len())
        .sum();
    let s = cache.stats().unwrap();
    assert_eq!(s.entries, 2);
    assert_eq!(s.blobs, 3, "the .x variant is not a separate blob");
    assert_eq!(s.total_bytes, entry_bytes + 100 + 200 + 200 + 300);
}

#[test]
fn name_parsers_reject_strays() {
    let d = Digest::of_bytes(b"x");
    let hex = d.to_hex();
    assert_eq!(blob_name_of(Path::new(&hex)), Some((d, false)));
    assert_eq!(
        blob_name_of(Path::new(&format!("{hex}.x"))),
        Some((d, true))
    );
    assert_eq!(blob_name_of(Path::new(&format!("{hex}.y"))), None);
    assert_eq!(blob_name_of(Path::new(".hbuild-abc")), None);
    assert_eq!(
        entry_key_of(Path::new(&format!("{hex}.json"))),
        Some(ActionKey(d))
    );
    assert_eq!(entry_key_of(Path::new(&hex)), None);
}
