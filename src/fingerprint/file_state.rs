//! File digests memoised by path and [`FileStamp`] (device, inode, size,
//! mtime and ctime), so an unchanged tree is not re-read, and hashed in
//! parallel with rayon.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::core::file_stat::now_ns;
use crate::core::{Digest, FileStamp};

/// The stamp of a regular file (a directory or a missing path has none).
fn stat(path: &Path) -> Option<FileStamp> {
    let m = std::fs::metadata(path).ok()?;
    m.is_file().then(|| FileStamp::from_metadata(&m))
}

/// A memoised digest: the stamp it was read under and when the reading
/// began (ns since the epoch), for git's racy-entry rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Entry {
    stamp: FileStamp,
    digest: Digest,
    read_ns: i128,
}

impl Entry {
    /// Whether the reading settles the stamp (see [`FileStamp::settled_by`]):
    /// an entry read in the granule of the file's last change is read
    /// again, until a reading a granule later settles it.
    fn settled(&self) -> bool {
        self.stamp.settled_by(self.read_ns)
    }
}

#[derive(Default, Serialize, Deserialize)]
struct Stored {
    version: u32,
    entries: HashMap<PathBuf, Entry>,
}

/// The memo. Thread-safe; persisted in the target dir between builds.
#[derive(Default)]
pub struct FileStates {
    entries: Mutex<HashMap<PathBuf, Entry>>,
    /// Files actually hashed during this process (for tests and stats).
    hashed: std::sync::atomic::AtomicUsize,
    /// Whether an entry was added or replaced since the load: a no-op
    /// build, which reads no file, then writes nothing either.
    changed: std::sync::atomic::AtomicBool,
}

/// Version of the saved memo; 2 added the device and the ctime to the
/// stamps, so memos of version 1 (blind to in-place edits whose mtime was
/// restored) are dropped; 3 records when each file was read.
const VERSION: u32 = 3;

impl FileStates {
    /// Loads the memo from `path` (a missing or unreadable file is an empty memo).
    pub fn load(path: &Path) -> Self {
        let stored: Stored = std::fs::read(path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .filter(|s: &Stored| s.version == VERSION)
            .unwrap_or_default();
        FileStates {
            entries: Mutex::new(stored.entries),
            hashed: Default::default(),
            changed: Default::default(),
        }
    }

    /// Saves the memo atomically, when it changed since it was loaded.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        if !self.changed.load(std::sync::atomic::Ordering::Relaxed) {
            return Ok(());
        }
        let entries = self.entries.lock().expect("file state lock").clone();
        let bytes = serde_json::to_vec(&Stored {
            version: VERSION,
            entries,
        })
        .map_err(std::io::Error::other)?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, bytes)?;
        std::fs::rename(tmp, path)
    }

    /// Digest of one file, or None if it does not exist. The memo is
    /// trusted when the stamp is unchanged and the entry is settled (see
    /// `Entry::settled`); otherwise the file is read again.
    pub fn digest(&self, path: &Path) -> Option<Digest> {
        let st = stat(path)?;
        if let Some(e) = self.entries.lock().expect("file state lock").get(path) {
            if e.stamp == st && e.settled() {
                return Some(e.digest);
            }
        }
        let read_ns = now_ns();
        let (d, _) = Digest::of_file(path).ok()?;
        self.hashed
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        // Re-stat: if the file changed while hashing, do not memoise.
        if stat(path) == Some(st) {
            self.changed
                .store(true, std::sync::atomic::Ordering::Relaxed);
            self.entries.lock().expect("file state lock").insert(
                path.to_path_buf(),
                Entry {
                    stamp: st,
                    digest: d,
                    read_ns,
                },
            );
        }
        Some(d)
    }

    /// Digests of many files, in parallel.
    pub fn digest_all(&self, paths: &[PathBuf]) -> Vec<Option<Digest>> {
        paths.par_iter().map(|p| self.digest(p)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memo_avoids_rehash_and_detects_change() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("a");
        std::fs::write(&f, "one").unwrap();
        // Make the file old so the memo may be used.
        let old = std::time::SystemTime::now() - std::time::Duration::from_secs(60);
        std::fs::File::options()
            .write(true)
            .open(&f)
            .unwrap()
            .set_modified(old)
            .unwrap();
        // Setting the mtime moved the ctime: let a granule pass.
        std::thread::sleep(std::time::Duration::from_millis(120));
        let fs = FileStates::default();
        let a = fs.digest(&f).unwrap();
        let b = fs.digest(&f).unwrap();
        assert_eq!(a, b);
        assert_eq!(fs.hashed.load(std::sync::atomic::Ordering::Relaxed), 1);
        std::fs::write(&f, "two").unwrap();
        let c = fs.digest(&f).unwrap();
        assert_ne!(a, c);
        assert_eq!(c, Digest::of_bytes(b"two"));
        let memo = d.path().join("memo.json");
        fs.save(&memo).unwrap();
        let loaded = FileStates::load(&memo);
        assert_eq!(loaded.digest(&f), Some(c));
    }

    #[test]
    fn a_memo_that_only_answered_is_not_written_again() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("a");
        std::fs::write(&f, "one").unwrap();
        std::thread::sleep(std::time::Duration::from_millis(120));
        let memo = d.path().join("memo.json");
        let fs = FileStates::default();
        fs.digest(&f).unwrap();
        fs.save(&memo).unwrap();
        let loaded = FileStates::load(&memo);
        assert_eq!(loaded.digest(&f), Some(Digest::of_bytes(b"one")));
        assert_eq!(loaded.hashed.load(std::sync::atomic::Ordering::Relaxed), 0);
        std::fs::remove_file(&memo).unwrap();
        loaded.save(&memo).unwrap();
        assert!(!memo.exists(), "an unchanged memo was written");
        // A file read again makes it worth saving.
        std::fs::write(&f, "two").unwrap();
        loaded.digest(&f).unwrap();
        loaded.save(&memo).unwrap();
        assert!(memo.exists());
    }

    #[test]
    fn in_place_edit_with_restored_mtime_is_rehashed() {
        use std::io::{Seek, SeekFrom, Write};
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("main.rs");
        std::fs::write(&f, "print(\"old\")").unwrap();
        let old = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
        let file = std::fs::File::options().write(true).open(&f).unwrap();
        file.set_modified(old).unwrap();
        drop(file);
        let fs = FileStates::default();
        let memo = d.path().join("memo.json");
        assert_eq!(fs.digest(&f), Some(Digest::of_bytes(b"print(\"old\")")));
        fs.save(&memo).unwrap();
        // Let the coarse clock that stamps ctimes move on.
        std::thread::sleep(std::time::Duration::from_millis(20));
        // Same length, same inode, mtime put back: as `rsync -a` leaves it.
        let mut file = std::fs::File::options().write(true).open(&f).unwrap();
        file.seek(SeekFrom::Start(7)).unwrap();
        file.write_all(b"new").unwrap();
        file.set_modified(old).unwrap();
        drop(file);
        let loaded = FileStates::load(&memo);
        assert_eq!(loaded.digest(&f), Some(Digest::of_bytes(b"print(\"new\")")));
        assert_eq!(loaded.hashed.load(std::sync::atomic::Ordering::Relaxed), 1);
    }

    #[test]
    fn a_file_read_in_the_granule_of_its_change_is_read_again_until_settled() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("a.rs");
        std::fs::write(&f, "one").unwrap();
        let fs = FileStates::default();
        // Read right after the write: racy, so the next look reads again.
        assert_eq!(fs.digest(&f), Some(Digest::of_bytes(b"one")));
        assert_eq!(fs.digest(&f), Some(Digest::of_bytes(b"one")));
        assert_eq!(fs.hashed.load(std::sync::atomic::Ordering::Relaxed), 2);
        // A reading that begins a granule after the change settles it...
        std::thread::sleep(std::time::Duration::from_millis(120));
        fs.digest(&f);
        assert_eq!(fs.hashed.load(std::sync::atomic::Ordering::Relaxed), 3);
        // ...and from then on the stamp alone answers.
        fs.digest(&f);
        fs.digest(&f);
        assert_eq!(fs.hashed.load(std::sync::atomic::Ordering::Relaxed), 3);
    }

    #[test]
    fn memo_of_an_older_version_is_not_trusted() {
        let d = tempfile::tempdir().unwrap();
        let memo = d.path().join("memo.json");
        let v1 = serde_json::json!({
            "version": 1,
            "entries": {"/x/a.rs": [{"size": 1, "mtime_ns": 0, "inode": 1}, Digest::of_bytes(b"a")]}
        });
        std::fs::write(&memo, v1.to_string()).unwrap();
        assert!(FileStates::load(&memo).entries.lock().unwrap().is_empty());
    }
}
