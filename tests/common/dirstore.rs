//! A directory-backed [`BlobStore`] for the remote-cache tests: blobs by
//! blake3 in `store/blobs/`, downloads in `store/scratch/`, inside a sandbox
//! directory so a test can check that nothing was written beside it.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use hbuild::cache::{BlobStore, CacheError, OutputFile};
use hbuild::core::{Digest, RelPath};

/// The store.
pub struct DirStore {
    sandbox: tempfile::TempDir,
}

impl DirStore {
    pub fn new() -> Arc<DirStore> {
        let sandbox = tempfile::tempdir().unwrap();
        fs::create_dir_all(sandbox.path().join("store/blobs")).unwrap();
        Arc::new(DirStore { sandbox })
    }

    pub fn root(&self) -> PathBuf {
        self.sandbox.path().join("store")
    }

    pub fn blob_path(&self, d: &Digest) -> PathBuf {
        self.root().join("blobs").join(d.to_hex())
    }

    pub fn add(&self, path: &str, bytes: &[u8], executable: bool) -> OutputFile {
        let digest = Digest::of_bytes(bytes);
        fs::write(self.blob_path(&digest), bytes).unwrap();
        OutputFile {
            path: RelPath::new(path).unwrap(),
            digest,
            size: bytes.len() as u64,
            executable,
        }
    }

    /// A blob's bytes.
    pub fn read(&self, d: &Digest) -> Vec<u8> {
        fs::read(self.blob_path(d)).unwrap()
    }

    pub fn blob_count(&self) -> usize {
        fs::read_dir(self.root().join("blobs")).unwrap().count()
    }

    /// Asserts that nothing but the empty store exists in the sandbox.
    pub fn assert_untouched(&self) {
        let top: Vec<_> = fs::read_dir(self.sandbox.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(
            top,
            vec!["store".to_string()],
            "something was written beside the store"
        );
        let mut inside: Vec<_> = fs::read_dir(self.root())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        inside.sort();
        assert!(
            inside == ["blobs"] || inside == ["blobs", "scratch"],
            "{inside:?}"
        );
        assert_eq!(self.blob_count(), 0, "a blob was adopted");
        if let Ok(rd) = fs::read_dir(self.scratch_dir()) {
            assert_eq!(rd.count(), 0, "scratch file left behind");
        }
        assert!(!Path::new("escape").exists());
    }
}

impl BlobStore for DirStore {
    fn open_blob(&self, digest: &Digest) -> Result<fs::File, CacheError> {
        fs::File::open(self.blob_path(digest)).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => CacheError::MissingBlob(*digest),
            _ => CacheError::io(self.blob_path(digest), e),
        })
    }

    fn adopt_file(&self, file: &Path) -> Result<(Digest, u64), CacheError> {
        let (digest, size) = Digest::of_file(file).map_err(|e| CacheError::io(file, e))?;
        fs::rename(file, self.blob_path(&digest)).map_err(|e| CacheError::io(file, e))?;
        Ok((digest, size))
    }

    fn scratch_dir(&self) -> PathBuf {
        self.root().join("scratch")
    }
}

/// Deterministic pseudo-random bytes (blake3's extendable output of `seed`).
pub fn pseudo_random_bytes(seed: &str, len: usize) -> Vec<u8> {
    let mut out = vec![0u8; len];
    blake3::Hasher::new()
        .update(seed.as_bytes())
        .finalize_xof()
        .fill(&mut out);
    out
}
