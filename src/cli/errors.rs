//! The CLI edge: every error becomes a message and an exit code.

use crate::plan::PlanError;

/// Exit codes (Cargo's conventions).
pub struct ExitCode;

impl ExitCode {
    /// Success.
    pub const OK: i32 = 0;
    /// Invalid command line (as clap/Cargo).
    pub const USAGE: i32 = 1;
    /// A failed build or a bad workspace (Cargo's 101).
    pub const FAILURE: i32 = 101;
}

/// Errors that reach the user.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Planning failed (bad manifest, unknown package, feature...).
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// Bad flag values.
    #[error("{0}")]
    Usage(String),
    /// The cache failed in a way the command cannot work around.
    #[error(transparent)]
    Cache(#[from] crate::cache::CacheError),
    /// The executor could not start a build.
    #[error(transparent)]
    Exec(#[from] crate::exec::ExecError),
    /// I/O on a path.
    #[error("{what} `{path}`: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The path.
        path: std::path::PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// Anything else.
    #[error("{0}")]
    Other(String),
}

impl CliError {
    /// The exit code for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Usage(_) => ExitCode::USAGE,
            _ => ExitCode::FAILURE,
        }
    }
}

/// `error: <message>` plus its causes.
pub fn render(e: &CliError) -> String {
    let mut s = format!("error: {e}\n");
    let mut src = std::error::Error::source(e);
    let mut first = true;
    while let Some(c) = src {
        let text = c.to_string();
        if !s.contains(&text) {
            if first {
                s.push_str("\nCaused by:\n");
                first = false;
            }
            s.push_str(&format!("  {text}\n"));
        }
        src = c.source();
    }
    s
}
