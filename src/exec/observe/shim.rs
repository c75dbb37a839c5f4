//! Building the shim and pointing a command at a log.

use std::ffi::OsString;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};

/// The variable naming the log; the shim reads it when it is loaded.
pub(crate) const LOG_VAR: &str = "HBUILD_ACCESS_LOG";

/// The shim's source, compiled on first use.
const SOURCE: &str = include_str!("shim.c");

/// Compiler flags before the output path (part of the cached file's name).
const FLAGS: &[&str] = &["-shared", "-fPIC", "-O2", "-fvisibility=hidden"];

/// Why the shim cannot be used: observation is unavailable, and test runs
/// are cached on their declared inputs alone.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ShimError {
    /// `LD_PRELOAD` is the Linux dynamic loader's.
    #[error("observing file access needs Linux (this is {0})")]
    NotLinux(&'static str),
    /// `LD_PRELOAD` separates its entries with spaces and colons.
    #[error(
        "the shim directory {0} has a space or colon in its path, which LD_PRELOAD cannot carry"
    )]
    UnsafeDir(PathBuf),
    /// The cache directory could not be created.
    #[error("cannot create the shim directory {dir}: {source}")]
    Dir {
        /// The directory.
        dir: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// The compiler could not be started (not installed, not executable).
    #[error("cannot run the C compiler `{cc}` to build the file-access shim: {source}")]
    CompilerNotRun {
        /// The compiler.
        cc: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// The compiler ran and failed.
    #[error("the C compiler `{cc}` failed to build the file-access shim ({status}){stderr}")]
    CompileFailed {
        /// The compiler.
        cc: PathBuf,
        /// Its exit status.
        status: ExitStatus,
        /// Its error output, with a leading `: ` when there is any.
        stderr: String,
    },
    /// The compiler said it succeeded but wrote nothing.
    #[error("the C compiler `{cc}` wrote no file-access shim")]
    NoOutput {
        /// The compiler.
        cc: PathBuf,
    },
    /// The built shim could not be moved into the cache directory.
    #[error("cannot store the file-access shim as {path}: {source}")]
    Store {
        /// Where it goes.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
}

/// Whether test runs can be observed.
#[derive(Debug)]
pub(crate) enum Availability {
    /// The shim is built.
    Available(Shim),
    /// It cannot be: the caller says why, once.
    Unavailable(ShimError),
}

/// The built shim: a shared library to preload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Shim {
    path: PathBuf,
}

/// The shim in `dir`, compiled with `cc` (default `cc`) unless a build of
/// the same source with the same compiler is there already. Two processes
/// preparing at once both end with a whole library: each compiles into its
/// own temporary directory and renames the result into place.
pub(crate) fn prepare(dir: &Path, cc: Option<&Path>) -> Availability {
    match build(dir, cc.unwrap_or(Path::new("cc")), SOURCE) {
        Ok(shim) => Availability::Available(shim),
        Err(e) => Availability::Unavailable(e),
    }
}

/// [`prepare`] of any source (the tests change it).
pub(super) fn build(dir: &Path, cc: &Path, source: &str) -> Result<Shim, ShimError> {
    if !cfg!(target_os = "linux") {
        return Err(ShimError::NotLinux(std::env::consts::OS));
    }
    let dir = std::path::absolute(dir).map_err(|source| ShimError::Dir {
        dir: dir.to_path_buf(),
        source,
    })?;
    if dir.to_string_lossy().contains([' ', ':']) {
        return Err(ShimError::UnsafeDir(dir));
    }
    let path = dir.join(file_name(cc, source));
    if path.is_file() {
        return Ok(Shim { path });
    }
    std::fs::create_dir_all(&dir).map_err(|source| ShimError::Dir {
        dir: dir.clone(),
        source,
    })?;
    let tmp = tempfile::Builder::new()
        .prefix(".observe-build-")
        .tempdir_in(&dir)
        .map_err(|source| ShimError::Dir {
            dir: dir.clone(),
            source,
        })?;
    let built = tmp.path().join("shim.so");
    compile(cc, source, &built)?;
    if !built.is_file() {
        return Err(ShimError::NoOutput { cc: cc.into() });
    }
    std::fs::rename(&built, &path).map_err(|source| ShimError::Store {
        path: path.clone(),
        source,
    })?;
    Ok(Shim { path })
}

/// The cached library's name: a changed source, compiler or flag set is a
/// different file, so a stale shim is never reused.
fn file_name(cc: &Path, source: &str) -> String {
    let mut h = blake3::Hasher::new();
    h.update(b"hbuild file-access shim\0");
    h.update(source.as_bytes());
    h.update(b"\0");
    h.update(cc.as_os_str().as_encoded_bytes());
    for f in FLAGS {
        h.update(b"\0");
        h.update(f.as_bytes());
    }
    h.update(b"\0");
    h.update(std::env::consts::ARCH.as_bytes());
    format!("observe-{}.so", &h.finalize().to_hex()[..16])
}

/// Runs `cc` on `source` (fed on stdin) to write the library `out`.
fn compile(cc: &Path, source: &str, out: &Path) -> Result<(), ShimError> {
    let mut child = Command::new(cc)
        .args(FLAGS)
        .arg("-o")
        .arg(out)
        .args(["-x", "c", "-", "-x", "none", "-ldl"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| ShimError::CompilerNotRun {
            cc: cc.into(),
            source,
        })?;
    // A compiler that exits without reading fails below, by its status.
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(source.as_bytes());
    }
    let output = child
        .wait_with_output()
        .map_err(|source| ShimError::CompilerNotRun {
            cc: cc.into(),
            source,
        })?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stderr = stderr.trim();
    Err(ShimError::CompileFailed {
        cc: cc.into(),
        status: output.status,
        stderr: if stderr.is_empty() {
            String::new()
        } else {
            format!(":\n{stderr}")
        },
    })
}

impl Shim {
    /// The shared library.
    #[cfg(test)]
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Sets `cmd`'s environment so that it and every process it starts
    /// append the paths they open to `log`, which should not exist yet
    /// (see [`super::read_log`]). `inherited` is the `LD_PRELOAD` the
    /// command would otherwise have: it stays, after the shim.
    pub(crate) fn instrument(&self, cmd: &mut Command, log: &Path, inherited: Option<&str>) {
        let mut preload = OsString::from(self.path.as_os_str());
        if let Some(rest) = inherited.map(str::trim).filter(|s| !s.is_empty()) {
            preload.push(":");
            preload.push(rest);
        }
        // The shim ignores a relative log: it cannot know the cwd it meant.
        let log = std::path::absolute(log).unwrap_or_else(|_| log.to_path_buf());
        cmd.env("LD_PRELOAD", preload).env(LOG_VAR, log);
    }
}

#[cfg(test)]
mod tests {
    use super::{Shim, LOG_VAR};
    use std::path::{Path, PathBuf};
    use std::process::Command;

    #[test]
    fn an_inherited_preload_stays_after_the_shim() {
        let shim = Shim {
            path: PathBuf::from("/cache/observe-0.so"),
        };
        let mut cmd = Command::new("true");
        shim.instrument(&mut cmd, Path::new("/logs/a.log"), Some(" /opt/libfoo.so "));
        let env: Vec<(String, String)> = cmd
            .get_envs()
            .map(|(k, v)| {
                (
                    k.to_string_lossy().into_owned(),
                    v.unwrap().to_string_lossy().into_owned(),
                )
            })
            .collect();
        assert_eq!(
            env,
            [
                (LOG_VAR.to_string(), "/logs/a.log".to_string()),
                (
                    "LD_PRELOAD".to_string(),
                    "/cache/observe-0.so:/opt/libfoo.so".to_string()
                ),
            ]
        );
    }
}
