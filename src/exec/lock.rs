//! The target-dir lock: two hbuild runs on one target dir wait for each
//! other instead of corrupting it.

use std::fs::File;
use std::path::Path;

/// A held lock; released on drop.
pub struct TargetLock {
    _file: File,
}

/// Takes the exclusive lock on `<target>/hbuild/.lock`, calling `on_wait`
/// once if another process holds it.
pub fn lock_target_dir(target_dir: &Path, on_wait: impl FnOnce()) -> std::io::Result<TargetLock> {
    let dir = target_dir.join("hbuild");
    std::fs::create_dir_all(&dir)?;
    // Mark the target dir as a cache directory, as Cargo does.
    let tag = target_dir.join("CACHEDIR.TAG");
    if !tag.exists() {
        let _ = std::fs::write(
            &tag,
            "Signature: 8a477f597d28d172789f06886806bc55\n# This file is a cache directory tag created by cargo-hbuild.\n",
        );
    }
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join(".lock"))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            on_wait();
            file.lock()?;
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(e),
    }
    Ok(TargetLock { _file: file })
}

/// Takes the lock if nobody holds it (None when another process does).
pub fn try_lock_target_dir(target_dir: &Path) -> std::io::Result<Option<TargetLock>> {
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(target_dir.join("hbuild").join(".lock"))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(TargetLock { _file: file })),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(e)) => Err(e),
    }
}
