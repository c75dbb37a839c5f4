//! What the file system says about a file, for "has it changed?" checks
//! that avoid reading it: the file-digest memo, the output stamps, the saved
//! analysis and the resident server all compare [`FileStamp`]s.
//!
//! A stamp names the file (device and inode) and its version (size,
//! modification time and status-change time), as Bazel's file contents
//! proxy does. The modification time alone is not enough: `touch -d`,
//! `rsync -a`, `cp -p`, `tar -x` and many sync tools set it back after
//! writing, so an edit that keeps the length goes unnoticed. The change
//! time (`ctime`) cannot be set from user space: the kernel moves it on
//! every write, and also on `chmod`, `utimensat` and when a hard link to
//! the inode is made or removed. The last two mean a changed stamp is a
//! reason to look at the content again, not proof that it changed.

use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// Identity and version of a file as of one `stat`. Equal stamps taken at
/// two times mean the content is (up to the granularity of the clock, see
/// [`FileStamp::mtime_ns`]) the same.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FileStamp {
    /// Device holding the inode.
    dev: u64,
    /// Inode number.
    ino: u64,
    /// Length in bytes.
    size: u64,
    /// Modification time, nanoseconds since the Unix epoch.
    mtime_ns: i128,
    /// Status-change time, nanoseconds since the Unix epoch.
    ctime_ns: i128,
}

fn nanos(secs: i64, nsecs: i64) -> i128 {
    i128::from(secs) * 1_000_000_000 + i128::from(nsecs)
}

impl FileStamp {
    /// The stamp of what `metadata` describes.
    pub fn from_metadata(m: &Metadata) -> Self {
        FileStamp {
            dev: m.dev(),
            ino: m.ino(),
            size: m.len(),
            mtime_ns: nanos(m.mtime(), m.mtime_nsec()),
            ctime_ns: nanos(m.ctime(), m.ctime_nsec()),
        }
    }

    /// Length of [`FileStamp::to_bytes`].
    pub const BYTES: usize = 8 * 3 + 16 * 2;

    /// A fixed-size encoding, for records of stamps (little-endian fields
    /// in declaration order).
    pub fn to_bytes(&self) -> [u8; Self::BYTES] {
        let mut b = [0u8; Self::BYTES];
        b[..8].copy_from_slice(&self.dev.to_le_bytes());
        b[8..16].copy_from_slice(&self.ino.to_le_bytes());
        b[16..24].copy_from_slice(&self.size.to_le_bytes());
        b[24..40].copy_from_slice(&self.mtime_ns.to_le_bytes());
        b[40..].copy_from_slice(&self.ctime_ns.to_le_bytes());
        b
    }

    /// The stamp [`FileStamp::to_bytes`] encoded.
    pub fn from_bytes(b: &[u8; Self::BYTES]) -> Self {
        let u64_at = |i: usize| u64::from_le_bytes(b[i..i + 8].try_into().unwrap_or_default());
        let i128_at = |i: usize| i128::from_le_bytes(b[i..i + 16].try_into().unwrap_or_default());
        FileStamp {
            dev: u64_at(0),
            ino: u64_at(8),
            size: u64_at(16),
            mtime_ns: i128_at(24),
            ctime_ns: i128_at(40),
        }
    }

    /// The stamp of the file at `path` (symbolic links followed), or None
    /// when it cannot be stat-ed.
    pub fn of(path: &Path) -> Option<Self> {
        std::fs::metadata(path)
            .ok()
            .map(|m| Self::from_metadata(&m))
    }

    /// The modification time (ns since the epoch), for the rule that a file
    /// modified very recently may change again within the same clock tick.
    pub fn mtime_ns(&self) -> i128 {
        self.mtime_ns
    }

    /// The status-change time (ns since the epoch): moved by the kernel on
    /// every write, for the same rule.
    pub fn ctime_ns(&self) -> i128 {
        self.ctime_ns
    }

    /// Whether a reading of the file that began at `read_ns` (ns since the
    /// epoch, see [`now_ns`]) saw a version that any later write shows in
    /// the stamp: the reading began more than one timestamp granule after
    /// the last change (mtime or ctime, whichever is later). A write in the
    /// same granule as the reading could leave both times as they were
    /// (git's "racily clean" entries), so such a reading proves nothing.
    pub fn settled_by(&self, read_ns: i128) -> bool {
        read_ns - self.mtime_ns.max(self.ctime_ns) > self.granularity()
    }

    /// The timestamp granularity to allow for: file timestamps come from the
    /// kernel's coarse clock (a tick of a few ms behind the real one); a file
    /// system with whole-second timestamps (or FAT's two) gets two seconds.
    fn granularity(&self) -> i128 {
        const SECOND: i128 = 1_000_000_000;
        if self.mtime_ns % SECOND == 0 && self.ctime_ns % SECOND == 0 {
            2 * SECOND
        } else {
            50_000_000
        }
    }

    /// Whether `other` is the same inode with the same size and mtime, and
    /// only its change time moved. That happens when a hard link to it is
    /// made or removed (the cache adopts outputs by hard link) or its mode
    /// changes, but also after an in-place write whose mtime was restored:
    /// the content must be compared before the file is trusted again.
    pub fn differs_only_in_ctime(&self, other: &FileStamp) -> bool {
        self.ctime_ns != other.ctime_ns
            && FileStamp {
                ctime_ns: other.ctime_ns,
                ..*self
            } == *other
    }
}

/// The wall clock in ns since the epoch, as [`FileStamp::settled_by`]
/// compares it (0 before the epoch).
pub fn now_ns() -> i128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i128)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Seek, SeekFrom, Write};
    use std::os::unix::fs::PermissionsExt;
    use std::time::{Duration, SystemTime};

    /// Sets `path`'s mtime to an hour ago and returns that time.
    fn age(path: &Path) -> SystemTime {
        let old = SystemTime::now() - Duration::from_secs(3600);
        std::fs::File::options()
            .write(true)
            .open(path)
            .unwrap()
            .set_modified(old)
            .unwrap();
        old
    }

    /// Waits until the coarse kernel clock that stamps ctimes has moved on.
    fn next_tick() {
        std::thread::sleep(Duration::from_millis(20));
    }

    #[test]
    fn unchanged_file_has_an_equal_stamp() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("a");
        std::fs::write(&f, "one").unwrap();
        let a = FileStamp::of(&f).unwrap();
        let _ = std::fs::read(&f).unwrap();
        assert_eq!(FileStamp::of(&f), Some(a));
        assert_eq!(a.size, 3);
        assert_eq!(FileStamp::from_metadata(&std::fs::metadata(&f).unwrap()), a);
        assert_eq!(FileStamp::of(&d.path().join("missing")), None);
    }

    #[test]
    fn in_place_edit_with_restored_mtime_changes_the_stamp() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("a");
        std::fs::write(&f, "hello one").unwrap();
        let old = age(&f);
        let before = FileStamp::of(&f).unwrap();
        next_tick();
        let mut file = std::fs::File::options().write(true).open(&f).unwrap();
        file.seek(SeekFrom::Start(6)).unwrap();
        file.write_all(b"two").unwrap();
        file.set_modified(old).unwrap();
        drop(file);
        assert_eq!(std::fs::read(&f).unwrap(), b"hello two");
        let after = FileStamp::of(&f).unwrap();
        assert_eq!(
            (after.dev, after.ino, after.size, after.mtime_ns),
            (before.dev, before.ino, before.size, before.mtime_ns),
            "what an (size, mtime, inode) check compares stayed the same"
        );
        assert_ne!(after, before);
        assert!(before.differs_only_in_ctime(&after));
    }

    #[test]
    fn links_and_modes_move_only_the_ctime() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("a");
        std::fs::write(&f, "x").unwrap();
        let s0 = FileStamp::of(&f).unwrap();
        next_tick();
        std::fs::hard_link(&f, d.path().join("b")).unwrap();
        let s1 = FileStamp::of(&f).unwrap();
        assert!(s0.differs_only_in_ctime(&s1));
        next_tick();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o444)).unwrap();
        let s2 = FileStamp::of(&f).unwrap();
        assert!(s1.differs_only_in_ctime(&s2));
        assert!(!s2.differs_only_in_ctime(&s2), "equal stamps do not differ");
    }

    #[test]
    fn other_content_or_inode_is_more_than_a_ctime_change() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("a");
        std::fs::write(&f, "one").unwrap();
        let s0 = FileStamp::of(&f).unwrap();
        std::fs::write(&f, "three").unwrap();
        let grown = FileStamp::of(&f).unwrap();
        assert!(!s0.differs_only_in_ctime(&grown));
        // Replaced by rename: another inode, even with the same bytes.
        let tmp = d.path().join("tmp");
        std::fs::write(&tmp, "three").unwrap();
        std::fs::rename(&tmp, &f).unwrap();
        let replaced = FileStamp::of(&f).unwrap();
        assert_ne!(replaced.ino, grown.ino);
        assert!(!grown.differs_only_in_ctime(&replaced));
    }

    #[test]
    fn the_byte_encoding_round_trips() {
        let f = tempfile::NamedTempFile::new().unwrap();
        let st = FileStamp {
            mtime_ns: -3,
            ..FileStamp::of(f.path()).unwrap()
        };
        assert_eq!(FileStamp::from_bytes(&st.to_bytes()), st);
    }

    #[test]
    fn racy_and_settled_readings_by_the_numbers() {
        let f = tempfile::NamedTempFile::new().unwrap();
        let st = FileStamp::of(f.path()).unwrap();
        let changed = st.mtime_ns().max(st.ctime_ns());
        let g = st.granularity();
        assert!(!st.settled_by(changed));
        assert!(!st.settled_by(changed + g));
        assert!(st.settled_by(changed + g + 1));
        // Whole-second timestamps get two seconds.
        let whole = FileStamp {
            mtime_ns: 5_000_000_000,
            ctime_ns: 5_000_000_000,
            ..st
        };
        assert_eq!(whole.granularity(), 2_000_000_000);
        assert!(!whole.settled_by(7_000_000_000));
        assert!(whole.settled_by(7_000_000_001));
    }

    #[test]
    fn stamps_round_trip_through_json() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("a");
        std::fs::write(&f, "x").unwrap();
        let s = FileStamp::of(&f).unwrap();
        let back: FileStamp = serde_json::from_slice(&serde_json::to_vec(&s).unwrap()).unwrap();
        assert_eq!(back, s);
    }
}
