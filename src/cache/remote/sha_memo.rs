//! The SHA-256 digests of the files sent to a remote-execution engine,
//! memoised by [`FileStamp`] and kept between builds: the toolchain alone
//! is some 500 MB, which would otherwise be read again by every build.
//!
//! Entries follow the racy-entry rule of the file-digest memo
//! ([`FileStamp::settled_by`]): a reading that began in the clock granule
//! of the file's last change is not trusted by a later build.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use sha2::Digest as _;

use super::proto::BlobRef;
use crate::core::file_stat::now_ns;
use crate::core::FileStamp;

/// Version of the saved memo; another version is dropped whole.
const VERSION: u32 = 1;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Entry {
    stamp: FileStamp,
    sha256: String,
    size: u64,
    read_ns: i128,
}

#[derive(Default, Serialize, Deserialize)]
struct Stored {
    version: u32,
    entries: HashMap<PathBuf, Entry>,
}

/// The memo. Thread-safe.
#[derive(Default)]
pub(crate) struct ShaMemo {
    entries: Mutex<HashMap<PathBuf, Entry>>,
    /// Files read during this process (for tests).
    hashed: std::sync::atomic::AtomicUsize,
}

impl ShaMemo {
    /// Loads the memo saved at `path`; a missing, unreadable or older one
    /// is an empty memo.
    pub(crate) fn load(path: &Path) -> Self {
        let stored: Stored = std::fs::read(path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .filter(|s: &Stored| s.version == VERSION)
            .unwrap_or_default();
        ShaMemo {
            entries: Mutex::new(stored.entries),
            hashed: Default::default(),
        }
    }

    /// Saves the memo atomically: a temporary file of its own renamed over
    /// `path`, since builds of several checkouts may save at once (the
    /// last one wins; a lost entry is only read again).
    pub(crate) fn save(&self, path: &Path) -> std::io::Result<()> {
        let entries = self.lock().clone();
        let bytes = serde_json::to_vec(&Stored {
            version: VERSION,
            entries,
        })
        .map_err(std::io::Error::other)?;
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)?;
        let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
        std::io::Write::write_all(&mut tmp, &bytes)?;
        tmp.persist(path).map(drop).map_err(|e| e.error)
    }

    /// The reference of the file at `p`: from the memo when its stamp is
    /// unchanged and the entry settled, else read (and memoised when the
    /// file did not change while it was read).
    pub(crate) fn digest(&self, p: &Path) -> std::io::Result<BlobRef> {
        let stamp =
            FileStamp::of(p).ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotFound))?;
        if let Some(e) = self.lock().get(p) {
            if e.stamp == stamp && stamp.settled_by(e.read_ns) {
                return Ok(BlobRef {
                    sha256: e.sha256.clone(),
                    size: e.size,
                });
            }
        }
        let read_ns = now_ns();
        let mut f = File::open(p)?;
        let mut sha = sha2::Sha256::new();
        let size = std::io::copy(&mut f, &mut sha)?;
        self.hashed
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let blob = BlobRef {
            sha256: super::proto::hex(&sha.finalize()),
            size,
        };
        if FileStamp::of(p) == Some(stamp) {
            self.lock().insert(
                p.to_path_buf(),
                Entry {
                    stamp,
                    sha256: blob.sha256.clone(),
                    size,
                    read_ns,
                },
            );
        }
        Ok(blob)
    }

    // A thread that panicked while holding the lock left the map whole:
    // its insertions are single calls.
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PathBuf, Entry>> {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;

    #[test]
    fn a_saved_settled_digest_is_not_read_again_and_an_edit_is() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("librustc_driver.so");
        std::fs::write(&f, b"abc").unwrap();
        let memo_path = d.path().join("memo.json");
        std::thread::sleep(std::time::Duration::from_millis(120));
        let memo = ShaMemo::default();
        let first = memo.digest(&f).unwrap();
        assert_eq!(
            first,
            BlobRef {
                sha256: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad".into(),
                size: 3
            }
        );
        memo.save(&memo_path).unwrap();

        let again = ShaMemo::load(&memo_path);
        assert_eq!(again.digest(&f).unwrap(), first);
        assert_eq!(again.hashed.load(Ordering::Relaxed), 0);

        std::fs::write(&f, b"abd").unwrap();
        let edited = again.digest(&f).unwrap();
        assert_ne!(edited.sha256, first.sha256);
        assert_eq!(again.hashed.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn a_reading_in_the_granule_of_the_change_is_not_trusted_later() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("x");
        std::fs::write(&f, b"one").unwrap();
        let memo = ShaMemo::default();
        memo.digest(&f).unwrap();
        memo.digest(&f).unwrap();
        assert_eq!(memo.hashed.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn a_memo_of_another_version_or_garbage_is_empty() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("memo.json");
        std::fs::write(&p, br#"{"version": 99, "entries": {}}"#).unwrap();
        assert!(ShaMemo::load(&p).lock().is_empty());
        std::fs::write(&p, b"\x00not json").unwrap();
        assert!(ShaMemo::load(&p).lock().is_empty());
    }
}
