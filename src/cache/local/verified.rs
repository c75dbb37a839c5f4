//! The verification memo: which blob files are known to hash to their
//! digest, by the [`FileStamp`] they had when they were hashed.
//!
//! Every blob is verified before it is placed into a target dir. Hashing is
//! the cost of a warm build (a workspace's blobs are hundreds of MB), so a
//! verification is remembered, within the process and across processes in
//! `<bucket>/verified`: a stamp names the inode and its version (size,
//! mtime and ctime), and any write to the file, even one that puts the
//! mtime back, moves the ctime. A stamp is remembered only when the file
//! had settled before the hashing began (git's racy-entry rule), so a write
//! in the same clock tick cannot hide behind an unchanged stamp.
//!
//! Blobs are hard-linked into target dirs, and making or removing a link
//! moves the ctime too (`cargo clean` does). So the link count is recorded
//! with the stamp, and a stamp whose ctime alone moved while the link count
//! changed is taken as the same content. The links this process makes are
//! recorded as it makes them ([`VerifiedMemo::relinked`]), so that a later
//! removal of them is a change of count. What this gives up: a write that
//! restores the mtime, made in the same period as a link change, is not
//! noticed until the blob is hashed again.
//!
//! The file is an append-only log of fixed-size records, each with a check
//! of its own: a torn or interleaved append (two builds at once) costs the
//! records it damaged, never a wrong answer. It is compacted when it holds
//! many superseded records, and deleted by gc.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use crate::core::{Digest, FileStamp};

/// Bytes of one record: digest, variant, stamp, link count, check.
const RECORD: usize = 32 + 1 + FileStamp::BYTES + 8 + CHECK;
/// Bytes of the check (a truncated blake3 of the rest of the record).
const CHECK: usize = 7;
/// Where a record's link count starts, after digest, variant and stamp.
const LINKS_AT: usize = 33 + FileStamp::BYTES;
/// Remembered verifications beyond which the in-memory memo starts over.
const MAX_MEMO: usize = 1 << 20;
/// A log this much larger than what it says is rewritten.
const COMPACT_FACTOR: usize = 4;
/// ... once it holds at least this many records.
const COMPACT_MIN: usize = 4096;

type Key = (Digest, bool);

/// What the memo knows of a blob file: its stamp and link count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct BlobState {
    stamp: FileStamp,
    links: u64,
}

impl BlobState {
    pub(super) fn of(meta: &std::fs::Metadata) -> Self {
        #[cfg(unix)]
        let links = std::os::unix::fs::MetadataExt::nlink(meta);
        #[cfg(not(unix))]
        let links = 1;
        BlobState {
            stamp: FileStamp::from_metadata(meta),
            links,
        }
    }

    /// Whether `now` is the content of `self`: the same stamp, or only
    /// the ctime moved while the link count changed.
    fn same_content(&self, now: &BlobState) -> bool {
        self.stamp == now.stamp
            || (self.stamp.differs_only_in_ctime(&now.stamp) && self.links != now.links)
    }
}

/// Verifications of blob files by stamp.
pub(super) struct VerifiedMemo {
    /// `<bucket>/verified`.
    path: PathBuf,
    /// Loaded on first use, so that builds that place nothing never read it.
    memo: OnceLock<Mutex<Memo>>,
}

#[derive(Default)]
struct Memo {
    known: HashMap<Key, BlobState>,
    /// Records in the log file when it was read.
    logged: usize,
    /// Verifications of this process not yet appended.
    pending: Vec<(Key, BlobState)>,
}

impl VerifiedMemo {
    pub(super) fn new(path: PathBuf) -> Self {
        VerifiedMemo {
            path,
            memo: OnceLock::new(),
        }
    }

    fn memo(&self) -> std::sync::MutexGuard<'_, Memo> {
        self.memo
            .get_or_init(|| Mutex::new(load(&self.path)))
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Whether the blob file in `state` was verified (see the module's
    /// rule on link counts).
    pub(super) fn is_verified(&self, digest: Digest, executable: bool, state: &BlobState) -> bool {
        let key = (digest, executable);
        let mut memo = self.memo();
        match memo.known.get(&key) {
            Some(k) if k == state => true,
            Some(k) if k.same_content(state) => {
                memo.known.insert(key, *state);
                memo.pending.push((key, *state));
                true
            }
            _ => false,
        }
    }

    /// Remembers that the file in `state` hashed to `digest` in a reading
    /// that began at `read_ns`; ignored when the file had not settled then.
    pub(super) fn remember(
        &self,
        digest: Digest,
        executable: bool,
        state: BlobState,
        read_ns: i128,
    ) {
        if !state.stamp.settled_by(read_ns) {
            return;
        }
        let mut memo = self.memo();
        if memo.known.len() >= MAX_MEMO {
            memo.known.clear();
        }
        if memo.known.insert((digest, executable), state) != Some(state) {
            memo.pending.push(((digest, executable), state));
        }
    }

    /// Carries a verification over to the state of the blob after this
    /// process hard-linked it: `before` is the verified state.
    pub(super) fn relinked(
        &self,
        digest: Digest,
        executable: bool,
        before: &BlobState,
        after: BlobState,
    ) {
        let key = (digest, executable);
        let mut memo = self.memo();
        if memo.known.get(&key) == Some(before) && before.same_content(&after) && before != &after {
            memo.known.insert(key, after);
            memo.pending.push((key, after));
        }
    }

    /// Forgets a verification (the file is being deleted or replaced).
    pub(super) fn forget(&self, digest: Digest, executable: bool) {
        if let Some(m) = self.memo.get() {
            m.lock()
                .unwrap_or_else(|e| e.into_inner())
                .known
                .remove(&(digest, executable));
        }
    }

    /// Appends this process's new verifications to the log (best effort:
    /// a failure only costs a later build a re-hash), compacting it when
    /// it has grown much larger than what it says.
    pub(super) fn save(&self, tmp_dir: &Path) {
        let Some(m) = self.memo.get() else { return };
        let mut memo = m.lock().unwrap_or_else(|e| e.into_inner());
        if memo.pending.is_empty() {
            return;
        }
        let pending = std::mem::take(&mut memo.pending);
        let total = memo.logged + pending.len();
        if total >= COMPACT_MIN && total > COMPACT_FACTOR * memo.known.len() {
            let bytes: Vec<u8> = memo.known.iter().flat_map(|(k, s)| encode(k, s)).collect();
            if super::fsutil::write_atomic(tmp_dir, &self.path, &bytes, super::fsutil::MODE_META)
                .is_ok()
            {
                memo.logged = memo.known.len();
            }
            return;
        }
        let bytes: Vec<u8> = pending.iter().flat_map(|(k, s)| encode(k, s)).collect();
        // One write with O_APPEND: concurrent appenders do not overwrite
        // each other, and a torn record fails its check.
        let appended = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(&self.path)
            .and_then(|mut f| f.write_all(&bytes));
        if appended.is_ok() {
            memo.logged = total;
        }
    }

    /// Verifications known to this process.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.memo().known.len()
    }

    /// Deletes the log (gc removed blobs; their records would never match
    /// again, but they would take space).
    pub(super) fn clear(&self) {
        let _ = super::fsutil::remove_quietly(&self.path);
        if let Some(m) = self.memo.get() {
            *m.lock().unwrap_or_else(|e| e.into_inner()) = Memo::default();
        }
    }
}

fn check_of(body: &[u8]) -> [u8; CHECK] {
    let h = blake3::hash(body);
    let mut c = [0u8; CHECK];
    c.copy_from_slice(&h.as_bytes()[..CHECK]);
    c
}

fn encode((digest, executable): &Key, state: &BlobState) -> [u8; RECORD] {
    let mut r = [0u8; RECORD];
    r[..32].copy_from_slice(digest.as_bytes());
    r[32] = u8::from(*executable);
    r[33..LINKS_AT].copy_from_slice(&state.stamp.to_bytes());
    r[LINKS_AT..LINKS_AT + 8].copy_from_slice(&state.links.to_le_bytes());
    let check = check_of(&r[..RECORD - CHECK]);
    r[RECORD - CHECK..].copy_from_slice(&check);
    r
}

fn decode(r: &[u8]) -> Option<(Key, BlobState)> {
    let (body, check) = r.split_at(RECORD - CHECK);
    if check != check_of(body) {
        return None;
    }
    let digest = Digest::from_bytes(body[..32].try_into().ok()?);
    let executable = match body[32] {
        0 => false,
        1 => true,
        _ => return None,
    };
    let stamp = FileStamp::from_bytes(body[33..LINKS_AT].try_into().ok()?);
    let links = u64::from_le_bytes(body[LINKS_AT..].try_into().ok()?);
    Some(((digest, executable), BlobState { stamp, links }))
}

/// Reads the log; later records supersede earlier ones, and damaged ones
/// are skipped.
fn load(path: &Path) -> Memo {
    let bytes = std::fs::read(path).unwrap_or_default();
    let mut memo = Memo {
        logged: bytes.len() / RECORD,
        ..Memo::default()
    };
    for r in bytes.chunks_exact(RECORD) {
        if let Some((k, s)) = decode(r) {
            memo.known.insert(k, s);
        }
    }
    if memo.known.len() > MAX_MEMO {
        memo.known.clear();
    }
    memo
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state_of(f: &Path) -> BlobState {
        BlobState::of(&std::fs::metadata(f).unwrap())
    }

    fn file(dir: &Path, name: &str) -> (PathBuf, BlobState) {
        let f = dir.join(name);
        std::fs::write(&f, name).unwrap();
        let s = state_of(&f);
        (f, s)
    }

    /// A reading that began long after any change.
    fn later() -> i128 {
        crate::core::file_stat::now_ns() + 10_000_000_000
    }

    /// Lets the coarse clock tick, so that a change moves the ctime.
    fn tick() {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }

    #[test]
    fn verifications_survive_the_process_and_damaged_records_are_skipped() {
        let d = tempfile::tempdir().unwrap();
        let log = d.path().join("verified");
        let (a, b) = (Digest::of_bytes(b"a"), Digest::of_bytes(b"b"));
        let ((_, sa), (_, sb)) = (file(d.path(), "a"), file(d.path(), "b"));
        let m = VerifiedMemo::new(log.clone());
        m.remember(a, false, sa, later());
        m.remember(b, true, sb, later());
        m.save(d.path());
        let again = VerifiedMemo::new(log.clone());
        assert!(again.is_verified(a, false, &sa));
        assert!(again.is_verified(b, true, &sb));
        assert!(
            !again.is_verified(a, true, &sa),
            "the variant is part of the key"
        );
        assert!(
            !again.is_verified(b, true, &sa),
            "another file is not verified"
        );
        // Damage the first record: only it is lost.
        let mut bytes = std::fs::read(&log).unwrap();
        bytes[40] ^= 0xff;
        bytes.extend_from_slice(&[1, 2, 3]); // a torn append
        std::fs::write(&log, bytes).unwrap();
        let damaged = VerifiedMemo::new(log);
        assert!(!damaged.is_verified(a, false, &sa));
        assert!(damaged.is_verified(b, true, &sb));
    }

    #[test]
    fn a_file_changed_within_the_clock_tick_of_its_hashing_is_not_remembered() {
        let d = tempfile::tempdir().unwrap();
        let (_, s) = file(d.path(), "a");
        let a = Digest::of_bytes(b"a");
        let m = VerifiedMemo::new(d.path().join("verified"));
        m.remember(a, false, s, s.stamp.ctime_ns());
        assert!(!m.is_verified(a, false, &s));
        m.save(d.path());
        assert!(!d.path().join("verified").exists(), "nothing to save");
    }

    #[test]
    fn link_changes_keep_a_verification_and_writes_do_not() {
        let d = tempfile::tempdir().unwrap();
        let (f, verified) = file(d.path(), "x");
        let x = Digest::of_bytes(b"x");
        let m = VerifiedMemo::new(d.path().join("verified"));
        m.remember(x, false, verified, later());
        // A link this process makes is recorded as it is made.
        tick();
        std::fs::hard_link(&f, d.path().join("link")).unwrap();
        let linked = state_of(&f);
        m.relinked(x, false, &verified, linked);
        assert!(m.is_verified(x, false, &linked));
        // Its removal (`cargo clean`) changes the link count with the ctime.
        tick();
        std::fs::remove_file(d.path().join("link")).unwrap();
        let unlinked = state_of(&f);
        assert_ne!(unlinked.stamp, linked.stamp);
        assert!(m.is_verified(x, false, &unlinked));
        // A write that puts the mtime back moves the ctime alone.
        tick();
        let mtime = std::fs::metadata(&f).unwrap().modified().unwrap();
        std::fs::write(&f, "y").unwrap();
        std::fs::File::options()
            .write(true)
            .open(&f)
            .unwrap()
            .set_modified(mtime)
            .unwrap();
        let written = state_of(&f);
        assert!(unlinked.stamp.differs_only_in_ctime(&written.stamp));
        assert!(!m.is_verified(x, false, &written));
        m.relinked(x, false, &unlinked, written);
        assert!(
            !m.is_verified(x, false, &written),
            "a relink needs the verified state"
        );
    }

    #[test]
    fn a_log_of_superseded_records_is_compacted() {
        let d = tempfile::tempdir().unwrap();
        let log = d.path().join("verified");
        let (_, s) = file(d.path(), "a");
        let m = VerifiedMemo::new(log.clone());
        m.remember(Digest::of_bytes(b"a"), false, s, later());
        m.save(d.path());
        // A log of COMPACT_MIN copies of one record.
        let one = std::fs::read(&log).unwrap();
        std::fs::write(&log, one.repeat(COMPACT_MIN)).unwrap();
        let m = VerifiedMemo::new(log.clone());
        m.remember(Digest::of_bytes(b"b"), false, s, later());
        m.save(d.path());
        assert_eq!(std::fs::read(&log).unwrap().len(), 2 * RECORD);
    }
}
