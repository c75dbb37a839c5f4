//! Small filesystem helpers shared by the local cache: atomic writes through
//! a temporary file, permission bits, quiet removal and file stamps.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use tempfile::NamedTempFile;

use crate::cache::CacheError;

/// Mode of a non-executable CAS blob. Read-only because the same inode is
/// hardlinked into target directories: a tool writing to its output must not
/// be able to silently change the cached content.
pub(super) const MODE_BLOB: u32 = 0o444;
/// Mode of the executable variant of a CAS blob (`<hex>.x`).
pub(super) const MODE_BLOB_EXEC: u32 = 0o555;
/// Mode of action-cache entries and other metadata files. They are never
/// hardlinked, so they may stay writable (which also lets us bump their
/// mtime for LRU).
pub(super) const MODE_META: u32 = 0o644;

/// Creates a temporary file in `dir` (which must be on the same filesystem
/// as the final destination, so that persisting it is a rename).
pub(super) fn temp_in(dir: &Path) -> Result<NamedTempFile, CacheError> {
    tempfile::Builder::new()
        .prefix(".hbuild-")
        .tempfile_in(dir)
        .map_err(|e| CacheError::io(dir, e))
}

/// Renames `tmp` over `dest`, creating `dest`'s parent directory if needed.
/// The rename is atomic, so concurrent readers see either the old or the new
/// file, never a partial one.
pub(super) fn persist(tmp: NamedTempFile, dest: &Path) -> Result<(), CacheError> {
    if let Some(parent) = dest.parent() {
        std::fs::create_dir_all(parent).map_err(|e| CacheError::io(parent, e))?;
    }
    tmp.persist(dest)
        .map(drop)
        .map_err(|e| CacheError::io(dest, e.error))
}

/// Writes `bytes` to `dest` atomically (temp file in `tmp_dir`, then rename),
/// with mode `mode`.
pub(super) fn write_atomic(
    tmp_dir: &Path,
    dest: &Path,
    bytes: &[u8],
    mode: u32,
) -> Result<(), CacheError> {
    let mut tmp = temp_in(tmp_dir)?;
    tmp.write_all(bytes)
        .map_err(|e| CacheError::io(tmp.path(), e))?;
    set_mode(tmp.as_file(), mode).map_err(|e| CacheError::io(tmp.path(), e))?;
    persist(tmp, dest)
}

/// Sets the permission bits of an open file. Off Unix only the read-only
/// flag is meaningful.
pub(super) fn set_mode(file: &std::fs::File, mode: u32) -> io::Result<()> {
    file.set_permissions(permissions_for(file.metadata()?.permissions(), mode))
}

/// Sets the permission bits of a path.
pub(super) fn set_path_mode(path: &Path, mode: u32) -> io::Result<()> {
    let current = std::fs::metadata(path)?.permissions();
    std::fs::set_permissions(path, permissions_for(current, mode))
}

#[cfg(unix)]
fn permissions_for(_current: std::fs::Permissions, mode: u32) -> std::fs::Permissions {
    use std::os::unix::fs::PermissionsExt;
    std::fs::Permissions::from_mode(mode)
}

#[cfg(not(unix))]
fn permissions_for(mut current: std::fs::Permissions, mode: u32) -> std::fs::Permissions {
    current.set_readonly(mode & 0o222 == 0);
    current
}

/// The permission bits (`0o777` part) of a file, or `None` off Unix.
pub(super) fn mode_of(meta: &std::fs::Metadata) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        Some(meta.permissions().mode() & 0o777)
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        None
    }
}

/// Removes a file, treating "already gone" as success. Off Unix a read-only
/// file cannot be deleted, so the flag is cleared first.
pub(super) fn remove_quietly(path: &Path) -> io::Result<()> {
    #[cfg(not(unix))]
    {
        if let Ok(meta) = std::fs::symlink_metadata(path) {
            let mut p = meta.permissions();
            if p.readonly() {
                #[allow(clippy::permissions_set_readonly_false)]
                p.set_readonly(false);
                let _ = std::fs::set_permissions(path, p);
            }
        }
    }
    match std::fs::remove_file(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

/// Whether two files are one inode (hard links of one file). Never true
/// where the platform does not expose inode numbers.
pub(super) fn same_inode(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        a.dev() == b.dev() && a.ino() == b.ino()
    }
    #[cfg(not(unix))]
    {
        let _ = (a, b);
        false
    }
}

/// Current time as seconds since the Unix epoch (0 if the clock is before
/// 1970, which only matters for display).
pub(super) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Lists the entries of a directory; a missing directory lists as empty
/// (another process may not have created that shard yet).
pub(super) fn list_dir(dir: &Path) -> Result<Vec<(PathBuf, std::fs::Metadata)>, CacheError> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(CacheError::io(dir, e)),
    };
    let mut out = Vec::new();
    for ent in rd {
        let ent = ent.map_err(|e| CacheError::io(dir, e))?;
        let path = ent.path();
        // A file can vanish between listing and stat (a concurrent gc or
        // atomic replace); skip it rather than fail the whole scan.
        match std::fs::symlink_metadata(&path) {
            Ok(meta) => out.push((path, meta)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(CacheError::io(&path, e)),
        }
    }
    Ok(out)
}
