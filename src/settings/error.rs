//! Errors of resolving settings: each names the flag, variable or file at
//! fault.

use std::path::PathBuf;

use crate::cache::CacheError;
use crate::workspace::errors::WorkspaceError;

/// A command line, environment or config file that cannot be turned into
/// [`super::Settings`].
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// The current directory cannot be read.
    #[error("cannot read the current directory: {0}")]
    CurrentDir(#[source] std::io::Error),
    /// `--profile` other than `release` together with `--release`.
    #[error("conflicting usage of --profile={profile} and --release\nThe `--release` flag is the same as `--profile=release`.\nRemove one flag or the other to continue.")]
    ConflictingProfile {
        /// The `--profile` value.
        profile: String,
    },
    /// `--manifest-path` that does not name a `Cargo.toml`.
    #[error("the manifest-path must be a path to a Cargo.toml file: `{}`", .0.display())]
    ManifestNotCargoToml(PathBuf),
    /// `--manifest-path` to a file that does not exist.
    #[error("manifest path `{}` does not exist", .0.display())]
    ManifestMissing(PathBuf),
    /// A `--message-format` value that is not a format.
    #[error("invalid message format specifier for `{flag}`: `{value}` (expected {expected})")]
    MessageFormat {
        /// The flag.
        flag: &'static str,
        /// The bad value.
        value: String,
        /// The values accepted.
        expected: &'static str,
    },
    /// `-j 0`, `CARGO_BUILD_JOBS=0` or `build.jobs = 0`.
    #[error("jobs may not be 0")]
    ZeroJobs,
    /// A job count that is neither a number nor `default`.
    #[error("could not parse `{0}`. Number of parallel jobs should be `default` or a number.")]
    InvalidJobs(String),
    /// A config file, or a target dir set to nothing.
    #[error(transparent)]
    Config(#[from] WorkspaceError),
    /// A bad idle timeout (`--idle-timeout`, `HBUILD_SERVER_IDLE_TIMEOUT`).
    #[error("invalid duration `{0}` (expected e.g. `90s`, `30m`, `3h`)")]
    IdleTimeout(String),
    /// `server run` without the target dir to serve.
    #[error("`server run` needs --target-dir")]
    ServerRunNeedsTargetDir,
    /// A bad `cache gc --max-size`.
    #[error("invalid value for `--max-size`: {0}")]
    MaxSize(#[source] CacheError),
    /// A cache command without a cache directory.
    #[error("no cache directory: set HBUILD_CACHE_DIR or pass --cache-dir")]
    NoCacheDir,
    /// Bad remote-cache flags or variables.
    #[error(transparent)]
    Remote(CacheError),
}

impl SettingsError {
    /// Whether the command line itself is at fault (Cargo's exit code 1);
    /// the others are failures of the invocation (101).
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            SettingsError::ConflictingProfile { .. }
                | SettingsError::ManifestNotCargoToml(_)
                | SettingsError::ManifestMissing(_)
                | SettingsError::MessageFormat { .. }
                | SettingsError::IdleTimeout(_)
                | SettingsError::ServerRunNeedsTargetDir
                | SettingsError::MaxSize(_)
                | SettingsError::Remote(_)
        )
    }
}
