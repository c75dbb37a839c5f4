//! Errors of the workspace layer. Each names the file, package or flag at fault.

use std::path::PathBuf;

use super::cli_features::UnknownFeatures;
use super::dep_features::{HiddenOptionalDependency, MissingDependencyFeature};

/// Failure to build the workspace model.
#[derive(Debug, thiserror::Error)]
pub enum WorkspaceError {
    /// `cargo metadata` failed; its own message (which names the manifest) is kept.
    #[error("`cargo metadata` failed for `{manifest}`:\n{stderr}")]
    Metadata {
        /// The manifest that was asked for.
        manifest: PathBuf,
        /// Cargo's error output.
        stderr: String,
    },
    /// A manifest or config file could not be read or parsed.
    #[error("failed to parse `{path}`: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// `-p` named a package that is not in the workspace.
    #[error("package ID specification `{0}` did not match any packages in the workspace")]
    UnknownPackage(String),
    /// `--exclude` named nothing.
    #[error("excluded package(s) `{0}` not found in workspace")]
    UnknownExclude(String),
    /// `--features dep:name`.
    #[error("feature `{0}` is not allowed to use explicit `dep:` syntax")]
    ExplicitDepFeature(String),
    /// `--features a/b/c`.
    #[error("multiple slashes in feature `{0}` is not allowed")]
    MultipleSlashes(String),
    /// Feature flags with only non-members selected (`-p serde --features x`).
    #[error("cannot specify features for packages outside of workspace")]
    FeaturesOutsideWorkspace,
    /// `--features` values that no selected member has.
    #[error("{0}")]
    UnknownFeatures(Box<UnknownFeatures>),
    /// A selected member's feature that names an optional dependency
    /// hidden by the `dep:` syntax.
    #[error("{0}")]
    HiddenOptionalDependency(Box<HiddenOptionalDependency>),
    /// `--features dep/feat` for a feature the dependency does not have.
    #[error("{0}")]
    MissingDependencyFeature(Box<MissingDependencyFeature>),
    /// A `--bin`/`--example`/`--test` target that does not exist.
    #[error("no {kind} target named `{name}`{hint}")]
    UnknownTarget {
        /// `bin`, `example`, `test`, `bench`.
        kind: &'static str,
        /// The requested name.
        name: String,
        /// " in package `x`" or available names.
        hint: String,
    },
    /// An invalid profile configuration or request.
    #[error("{0}")]
    Profile(String),
    /// The toolchain could not be probed.
    #[error("failed to run `{command}`: {message}")]
    Toolchain {
        /// The command line.
        command: String,
        /// What went wrong.
        message: String,
    },
    /// `cargo hbuild clippy` without the toolchain's `clippy-driver`.
    #[error("`clippy-driver` is not installed for this toolchain (looked for {looked_in})\nInstall it with `rustup component add clippy`, as `cargo clippy` needs too.")]
    ClippyMissing {
        /// The paths tried.
        looked_in: String,
    },
    /// guppy rejected the graph or a query.
    #[error("dependency graph error: {0}")]
    Graph(String),
    /// A unit's package needs a newer rustc (Cargo's message, which ends
    /// with a newline, as Cargo prints it).
    #[error("{0}")]
    RustVersion(String),
    /// A `--config` argument Cargo would refuse, or its file.
    #[error(transparent)]
    ConfigArg(#[from] super::config_arg::ConfigArgError),
    /// Anything else that is the user's input.
    #[error("{0}")]
    Invalid(String),
}
