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
    /// `test --doc` with `--lib`, `--bin`, `--tests`...
    #[error("Can't mix --doc with other target selecting options")]
    DocWithTargets,
    /// A target flag `run` does not take.
    #[error("unexpected argument '{0}' found (`run` runs one binary or example: use `--bin` or `--example`)")]
    RunTargetFlag(&'static str),
    /// A target flag `doc` does not take.
    #[error("unexpected argument '{0}' found (`doc` documents libraries, binaries and examples)")]
    DocTargetFlag(&'static str),
    /// `test --doc --no-run`.
    #[error("Can't skip running doc tests with --no-run")]
    DocNoRun,
    /// `clippy --fix`: hbuild does not edit sources.
    #[error("`cargo hbuild clippy --fix` is not supported: hbuild never edits sources; run `cargo clippy --fix` to apply Clippy's suggestions")]
    ClippyFix,
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
    /// `-Z` without a nightly Cargo (Cargo's message).
    #[error("the `-Z` flag is only accepted on the nightly channel of Cargo, but this is the `{channel}` channel\n{CHANNELS}")]
    ZNeedsNightly {
        /// Cargo's channel.
        channel: String,
    },
    /// An unstable flag without a nightly Cargo (Cargo's message).
    #[error("the `{flag}` flag is unstable, and only available on the nightly channel of Cargo, but this is the `{channel}` channel\n{CHANNELS}\nSee https://github.com/rust-lang/cargo/issues/{issue} for more information about the `{flag}` flag.")]
    UnstableFlag {
        /// The flag.
        flag: &'static str,
        /// Its tracking issue.
        issue: u32,
        /// Cargo's channel.
        channel: String,
    },
    /// An unstable flag without `-Z unstable-options` (Cargo's message).
    #[error("the `{flag}` flag is unstable, pass `-Z unstable-options` to enable it\nSee https://github.com/rust-lang/cargo/issues/{issue} for more information about the `{flag}` flag.")]
    UnstableNeedsOption {
        /// The flag.
        flag: &'static str,
        /// Its tracking issue.
        issue: u32,
    },
    /// A `-Z` flag that hbuild does not implement.
    #[error("`-Z {0}` is not supported by cargo-hbuild")]
    UnsupportedZ(String),
    /// A flag of `cargo build` that hbuild does not implement.
    #[error("`{0}` is not supported by cargo-hbuild")]
    Unsupported(&'static str),
}

/// Cargo's pointer to what release channels are.
const CHANNELS: &str = "See https://doc.rust-lang.org/book/appendix-07-nightly-rust.html for more information about Rust release channels.";

impl SettingsError {
    /// Whether the command line itself is at fault (Cargo's exit code 1);
    /// the others are failures of the invocation (101). What Cargo itself
    /// refuses (`-Z` on stable, a bad `--config`) exits as Cargo does, 101;
    /// a flag Cargo accepts but hbuild does not implement is a usage error.
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            SettingsError::ConflictingProfile { .. }
                | SettingsError::ManifestNotCargoToml(_)
                | SettingsError::ManifestMissing(_)
                | SettingsError::MessageFormat { .. }
                | SettingsError::ClippyFix
                | SettingsError::IdleTimeout(_)
                | SettingsError::ServerRunNeedsTargetDir
                | SettingsError::MaxSize(_)
                | SettingsError::Remote(_)
                | SettingsError::DocWithTargets
                | SettingsError::DocNoRun
                | SettingsError::RunTargetFlag(_)
                | SettingsError::DocTargetFlag(_)
                | SettingsError::UnsupportedZ(_)
                | SettingsError::Unsupported(_)
        )
    }
}
