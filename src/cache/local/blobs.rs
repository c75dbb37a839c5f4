//! The content-addressed blob store: inserting files, verifying blobs and
//! placing them into target directories.

use std::fs::{File, Metadata};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::fsutil;
use super::verified::BlobState;
use super::LocalCache;
use crate::cache::{CacheError, OutputFile};
use crate::core::file_stat::now_ns;
use crate::core::Digest;

/// Buffer size for streaming copies and hashing.
const BUF_SIZE: usize = 256 * 1024;

/// Distinguishes temporary hardlink names created by concurrent
/// materialisations within one process (the pid separates processes).
static LINK_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Which side of a streaming copy failed.
enum CopyError {
    Read(io::Error),
    Write(io::Error),
}

/// Copies `src` to `dst` while hashing the bytes written, so the digest
/// describes exactly the copy (even if `src` changes meanwhile).
fn copy_hashing(src: &mut impl Read, dst: &mut impl Write) -> Result<(Digest, u64), CopyError> {
    let mut hasher = blake3::Hasher::new();
    let mut buf = vec![0u8; BUF_SIZE];
    let mut size = 0u64;
    loop {
        let n = match src.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(CopyError::Read(e)),
        };
        let chunk = buf.get(..n).unwrap_or_default();
        hasher.update(chunk);
        dst.write_all(chunk).map_err(CopyError::Write)?;
        size += n as u64;
    }
    Ok((Digest::from_bytes(*hasher.finalize().as_bytes()), size))
}

/// Hashes a reader to its end.
fn hash_reader(src: &mut impl Read) -> io::Result<(Digest, u64)> {
    copy_hashing(src, &mut io::sink()).map_err(|e| match e {
        CopyError::Read(e) | CopyError::Write(e) => e,
    })
}

impl LocalCache {
    /// Stores the file at `path` in the CAS and returns its digest and size.
    /// The file stays where it is (later actions read it): on the same
    /// filesystem it becomes the blob itself through a hard link, in the
    /// variant its mode asks for, and turns read-only; elsewhere it is
    /// copied. Content that is already stored keeps its existing blob.
    pub fn insert_file(&self, path: &Path) -> Result<(Digest, u64), CacheError> {
        let executable = std::fs::metadata(path)
            .ok()
            .and_then(|m| fsutil::mode_of(&m))
            .is_some_and(|m| m & 0o111 != 0);
        // Adopt the file by hard link: the output and its blob share one
        // inode, so nothing is copied (a linked binary is tens of megabytes).
        // The output becomes read-only, as outputs restored from the cache
        // are; builds replace outputs, never write through them.
        let link = self.tmp_dir().join(format!(
            ".adopt-{}-{}",
            std::process::id(),
            LINK_COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        if std::fs::hard_link(path, &link).is_ok() {
            let adopted = self.adopt_link(&link, executable);
            if adopted.is_err() {
                let _ = fsutil::remove_quietly(&link);
            }
            return adopted;
        }
        // Another filesystem: copy in the kernel (copy_file_range), then
        // hash the copy we own, so a source changed meanwhile can never be
        // stored under a wrong digest.
        let mut src = File::open(path).map_err(|e| CacheError::io(path, e))?;
        let mut tmp = fsutil::temp_in(&self.tmp_dir())?;
        io::copy(&mut src, tmp.as_file_mut()).map_err(|e| CacheError::io(path, e))?;
        let (digest, size) =
            Digest::of_file(tmp.path()).map_err(|e| CacheError::io(tmp.path(), e))?;
        self.store_temp(tmp, digest, size)?;
        Ok((digest, size))
    }

    /// Moves a hard link to an output into the CAS as the variant its mode
    /// asks for (the other variant is derived from it when needed).
    fn adopt_link(&self, link: &Path, executable: bool) -> Result<(Digest, u64), CacheError> {
        let (digest, size) = Digest::of_file(link).map_err(|e| CacheError::io(link, e))?;
        let dest = self.blob_path(&digest, executable);
        if std::fs::metadata(&dest).is_ok_and(|m| m.is_file() && m.len() == size) {
            // Keep the existing inode: it may be linked into target dirs.
            fsutil::remove_quietly(link).map_err(|e| CacheError::io(link, e))?;
            return Ok((digest, size));
        }
        let mode = if executable {
            fsutil::MODE_BLOB_EXEC
        } else {
            fsutil::MODE_BLOB
        };
        fsutil::set_path_mode(link, mode).map_err(|e| CacheError::io(link, e))?;
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent).map_err(|e| CacheError::io(parent, e))?;
        }
        self.forget_verified(digest, executable);
        std::fs::rename(link, &dest).map_err(|e| CacheError::io(&dest, e))?;
        // When another thread has just moved a link to the same inode into
        // place, rename(2) succeeds without doing anything and leaves our
        // link behind.
        fsutil::remove_quietly(link).map_err(|e| CacheError::io(link, e))?;
        self.added_bytes.fetch_add(size, Ordering::Relaxed);
        Ok((digest, size))
    }

    /// Adds an in-memory blob to the CAS and returns its digest.
    pub fn insert_bytes(&self, bytes: &[u8]) -> Result<Digest, CacheError> {
        let digest = Digest::of_bytes(bytes);
        if self.has_blob_of_size(&digest, bytes.len() as u64) {
            return Ok(digest);
        }
        let mut tmp = fsutil::temp_in(&self.tmp_dir())?;
        tmp.write_all(bytes)
            .map_err(|e| CacheError::io(tmp.path(), e))?;
        self.store_temp(tmp, digest, bytes.len() as u64)?;
        Ok(digest)
    }

    /// Whether the (non-executable) blob exists with the given size. A blob
    /// of the wrong size is certainly corrupt and gets replaced.
    fn has_blob_of_size(&self, digest: &Digest, size: u64) -> bool {
        std::fs::metadata(self.blob_path(digest, false))
            .map(|m| m.is_file() && m.len() == size)
            .unwrap_or(false)
    }

    /// Moves a fully written temporary file holding `digest` into the CAS,
    /// or drops it if the blob is already there.
    fn store_temp(
        &self,
        tmp: tempfile::NamedTempFile,
        digest: Digest,
        size: u64,
    ) -> Result<(), CacheError> {
        if self.has_blob_of_size(&digest, size) {
            // Keep the existing inode: it may be hardlinked into target
            // directories, and replacing it would double the disk usage.
            return Ok(());
        }
        fsutil::set_mode(tmp.as_file(), fsutil::MODE_BLOB)
            .map_err(|e| CacheError::io(tmp.path(), e))?;
        self.forget_verified(digest, false);
        fsutil::persist(tmp, &self.blob_path(&digest, false))?;
        self.added_bytes.fetch_add(size, Ordering::Relaxed);
        Ok(())
    }

    /// Moves `file` (normally in [`LocalCache::tmp_dir`]) into the CAS,
    /// computing its blake3 digest. Falls back to a copy if `file` is on
    /// another filesystem. The file is gone afterwards.
    pub(super) fn adopt(&self, file: &Path) -> Result<(Digest, u64), CacheError> {
        let (digest, size) = {
            let mut f = File::open(file).map_err(|e| CacheError::io(file, e))?;
            hash_reader(&mut f).map_err(|e| CacheError::io(file, e))?
        };
        if self.has_blob_of_size(&digest, size) {
            fsutil::remove_quietly(file).map_err(|e| CacheError::io(file, e))?;
            return Ok((digest, size));
        }
        fsutil::set_path_mode(file, fsutil::MODE_BLOB).map_err(|e| CacheError::io(file, e))?;
        let dest = self.blob_path(&digest, false);
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent).map_err(|e| CacheError::io(parent, e))?;
        }
        self.forget_verified(digest, false);
        match std::fs::rename(file, &dest) {
            Ok(()) => {
                self.added_bytes.fetch_add(size, Ordering::Relaxed);
                Ok((digest, size))
            }
            Err(e) if e.kind() == io::ErrorKind::CrossesDevices => {
                let (copied, copied_size) = self.insert_file(file)?;
                fsutil::remove_quietly(file).map_err(|e| CacheError::io(file, e))?;
                Ok((copied, copied_size))
            }
            Err(e) => Err(CacheError::io(&dest, e)),
        }
    }

    /// Reads a whole blob into memory, verifying it against its digest. A
    /// blob that does not match is deleted and [`CacheError::Corrupt`] is
    /// returned. Meant for small blobs (metadata, captured output).
    pub fn read_blob(&self, digest: &Digest) -> Result<Vec<u8>, CacheError> {
        let path = self.any_variant(digest);
        let mut bytes = Vec::new();
        File::open(&path)
            .and_then(|mut f| f.read_to_end(&mut bytes))
            .map_err(|e| match e.kind() {
                io::ErrorKind::NotFound => CacheError::MissingBlob(*digest),
                _ => CacheError::io(&path, e),
            })?;
        let actual = Digest::of_bytes(&bytes);
        if actual != *digest {
            return Err(self.drop_corrupt_blob(digest, false, &path, actual));
        }
        Ok(bytes)
    }

    /// Places the content of `file` at `dest`, replacing whatever is there.
    ///
    /// The blob is verified against its digest first (skipped if this
    /// process already verified the same inode, size and mtime); a corrupt
    /// blob is deleted and [`CacheError::Corrupt`] returned, so the caller
    /// re-runs the action. The blob is hardlinked when possible and copied
    /// otherwise; either way `dest` is replaced by a rename, never written
    /// through, so an old hardlink at `dest` (into the CAS or elsewhere) is
    /// left intact. `dest` ends up with mode 0555 if `file.executable`, else
    /// 0444 (read-only, since it may share its inode with the CAS); parent
    /// directories are created.
    pub fn materialize(&self, file: &OutputFile, dest: &Path) -> Result<(), CacheError> {
        let (blob, meta) = self.verified_variant(&file.digest, file.executable)?;
        if meta.len() != file.size {
            // The blob matches its digest, so the entry is what is wrong.
            return Err(CacheError::Corrupt {
                digest: file.digest,
                why: format!(
                    "output `{}` says {} bytes but the verified blob `{}` has {}",
                    file.path,
                    file.size,
                    blob.display(),
                    meta.len()
                ),
            });
        }
        self.place(&blob, &meta, dest, file.executable, true)?;
        // The new hard link moved the blob's ctime: carry the verification
        // over, or the next build would hash the blob again.
        if let Ok(after) = std::fs::metadata(&blob) {
            self.verified.relinked(
                file.digest,
                file.executable,
                &BlobState::of(&meta),
                BlobState::of(&after),
            );
        }
        Ok(())
    }

    /// The verified blob file for `digest` in the requested variant, with
    /// its metadata. A missing variant is derived from the other one (a
    /// corrupt executable variant is rebuilt from the plain blob).
    fn verified_variant(
        &self,
        digest: &Digest,
        executable: bool,
    ) -> Result<(PathBuf, Metadata), CacheError> {
        let path = self.blob_path(digest, executable);
        match self.verify_blob(digest, executable, &path) {
            Ok(meta) => return Ok((path, meta)),
            // A missing variant is derived from the other one (a blob
            // adopted from an output exists in that output's variant only).
            Err(CacheError::MissingBlob(_)) => {}
            // A corrupt `.x` is rebuilt from the plain blob.
            Err(CacheError::Corrupt { .. }) if executable => {}
            Err(e) => return Err(e),
        }
        let base = self.blob_path(digest, !executable);
        let mut src = File::open(&base).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => CacheError::MissingBlob(*digest),
            _ => CacheError::io(&base, e),
        })?;
        let mut tmp = fsutil::temp_in(&self.tmp_dir())?;
        let (actual, _) = copy_hashing(&mut src, &mut tmp).map_err(|e| match e {
            CopyError::Read(e) => CacheError::io(&base, e),
            CopyError::Write(e) => CacheError::io(tmp.path(), e),
        })?;
        if actual != *digest {
            return Err(self.drop_corrupt_blob(digest, !executable, &base, actual));
        }
        let mode = if executable {
            fsutil::MODE_BLOB_EXEC
        } else {
            fsutil::MODE_BLOB
        };
        fsutil::set_mode(tmp.as_file(), mode).map_err(|e| CacheError::io(tmp.path(), e))?;
        self.forget_verified(*digest, executable);
        fsutil::persist(tmp, &path)?;
        let meta = std::fs::metadata(&path).map_err(|e| CacheError::io(&path, e))?;
        Ok((path, meta))
    }

    /// Checks that the blob file at `path` hashes to `digest`, deleting it
    /// if not. Returns the file's metadata.
    fn verify_blob(
        &self,
        digest: &Digest,
        executable: bool,
        path: &Path,
    ) -> Result<Metadata, CacheError> {
        let mut f = File::open(path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => CacheError::MissingBlob(*digest),
            _ => CacheError::io(path, e),
        })?;
        let meta = f.metadata().map_err(|e| CacheError::io(path, e))?;
        if !meta.is_file() {
            return Err(CacheError::Corrupt {
                digest: *digest,
                why: format!("`{}` is not a regular file", path.display()),
            });
        }
        let state = BlobState::of(&meta);
        if self.verified.is_verified(*digest, executable, &state) {
            return Ok(meta);
        }
        let read_ns = now_ns();
        let (actual, _) = hash_reader(&mut f).map_err(|e| CacheError::io(path, e))?;
        if actual != *digest {
            return Err(self.drop_corrupt_blob(digest, executable, path, actual));
        }
        // Only remember the stamp if the file did not change while we read.
        let after = f.metadata().ok().map(|m| BlobState::of(&m));
        if after == Some(state) {
            self.verified.remember(*digest, executable, state, read_ns);
        }
        Ok(meta)
    }

    /// Deletes a blob that failed verification and builds the error for it.
    fn drop_corrupt_blob(
        &self,
        digest: &Digest,
        executable: bool,
        path: &Path,
        actual: Digest,
    ) -> CacheError {
        self.forget_verified(*digest, executable);
        let removal = match fsutil::remove_quietly(path) {
            Ok(()) => "deleted it".to_string(),
            Err(e) => format!("could not delete it: {e}"),
        };
        CacheError::Corrupt {
            digest: *digest,
            why: format!("`{}` hashes to {actual}; {removal}", path.display()),
        }
    }

    /// Replaces `dest` with the verified `blob`: by hardlink if `allow_link`
    /// and the filesystem agrees, else by copy. Always via a temporary name
    /// in `dest`'s directory and a rename, so an existing `dest` is never
    /// opened for writing.
    pub(super) fn place(
        &self,
        blob: &Path,
        blob_meta: &Metadata,
        dest: &Path,
        executable: bool,
        allow_link: bool,
    ) -> Result<(), CacheError> {
        let mode = if executable {
            fsutil::MODE_BLOB_EXEC
        } else {
            fsutil::MODE_BLOB
        };
        // Someone may have chmod-ed a hardlinked output, which changes the
        // blob's mode too; restore it, or copy if that is not possible.
        let mode_ok = match fsutil::mode_of(blob_meta) {
            Some(m) if m != mode => fsutil::set_path_mode(blob, mode).is_ok(),
            _ => true,
        };
        let linked =
            || std::fs::symlink_metadata(dest).is_ok_and(|dm| fsutil::same_inode(&dm, blob_meta));
        if allow_link && mode_ok && linked() {
            return Ok(()); // Already in place (a no-op rebuild).
        }
        let (parent, name) = match (dest.parent(), dest.file_name()) {
            (Some(p), Some(n)) => (p, n),
            _ => {
                return Err(CacheError::io(
                    dest,
                    io::Error::new(io::ErrorKind::InvalidInput, "not a file path"),
                ))
            }
        };
        // `Path::new("x").parent()` is `Some("")`: the current directory.
        if !parent.as_os_str().is_empty() {
            std::fs::create_dir_all(parent).map_err(|e| CacheError::io(parent, e))?;
        }
        if allow_link && mode_ok {
            let mut tmp_name = std::ffi::OsString::from(".");
            tmp_name.push(name);
            tmp_name.push(format!(
                ".hbuild-{}-{}",
                std::process::id(),
                LINK_COUNTER.fetch_add(1, Ordering::Relaxed)
            ));
            let tmp = parent.join(tmp_name);
            if std::fs::hard_link(blob, &tmp).is_ok() {
                let renamed = std::fs::rename(&tmp, dest);
                // If `dest` already was a link to the same inode, POSIX
                // rename succeeds without removing `tmp`.
                let _ = fsutil::remove_quietly(&tmp);
                return renamed.map_err(|e| CacheError::io(dest, e));
            }
            // Cross-device, too many links, no hardlink support: copy.
        }
        let mut src = File::open(blob).map_err(|e| CacheError::io(blob, e))?;
        let dir = if parent.as_os_str().is_empty() {
            Path::new(".")
        } else {
            parent
        };
        let mut tmp = fsutil::temp_in(dir)?;
        // `io::copy` uses copy_file_range where available, which reflinks on
        // filesystems that support it.
        io::copy(&mut src, tmp.as_file_mut()).map_err(|e| CacheError::io(tmp.path(), e))?;
        fsutil::set_mode(tmp.as_file(), mode).map_err(|e| CacheError::io(tmp.path(), e))?;
        fsutil::persist(tmp, dest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_hashing_matches_digest() {
        let data: Vec<u8> = (0..(BUF_SIZE * 2 + 17)).map(|i| (i % 251) as u8).collect();
        let mut out = Vec::new();
        let (d, n) = match copy_hashing(&mut data.as_slice(), &mut out) {
            Ok(v) => v,
            Err(_) => panic!("copy failed"),
        };
        assert_eq!(d, Digest::of_bytes(&data));
        assert_eq!(n, data.len() as u64);
        assert_eq!(out, data);
    }
}
