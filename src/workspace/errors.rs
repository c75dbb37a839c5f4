//! Errors of the workspace layer. Each names the file, package or flag at fault.

use std::path::PathBuf;

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
    /// A feature that the package does not declare.
    #[error("the package `{package}` does not contain this feature: {feature}")]
    UnknownFeature {
        /// The package.
        package: String,
        /// The feature.
        feature: String,
    },
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
    /// guppy rejected the graph or a query.
    #[error("dependency graph error: {0}")]
    Graph(String),
    /// A unit's package needs a newer rustc (Cargo's message, which ends
    /// with a newline, as Cargo prints it).
    #[error("{0}")]
    RustVersion(String),
    /// Anything else that is the user's input.
    #[error("{0}")]
    Invalid(String),
}
