//! The error edge: every failure a user can hit, with its layer's typed
//! error, becomes a message and an exit code here and nowhere else.

use crate::cache::CacheError;
use crate::exec::ExecError;
use crate::explain::ExplainError;
use crate::plan::PlanError;
use crate::server::ServerError;
use crate::settings::SettingsError;

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

/// Who has to act on an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    /// The command line, a manifest or a config file is wrong.
    User,
    /// The machine: files, processes, the network.
    Environment,
    /// hbuild itself: reported as a bug.
    Internal,
}

/// Errors that reach the user.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Flags, variables or config files that do not make settings.
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// Planning failed (bad manifest, unknown package, feature...).
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// The cache failed in a way the command cannot work around.
    #[error(transparent)]
    Cache(#[from] CacheError),
    /// The executor could not start a build.
    #[error(transparent)]
    Exec(#[from] ExecError),
    /// A `server` subcommand failed.
    #[error(transparent)]
    Server(#[from] ServerError),
    /// `explain` has nothing to explain.
    #[error(transparent)]
    Explain(#[from] ExplainError),
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
    /// `run`: the program could not be started.
    #[error("could not execute process `{}`: {source}", program.display())]
    Run {
        /// The program.
        program: std::path::PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// No thread for the analysis.
    #[error("cannot start the analysis thread: {0}")]
    AnalysisThread(#[source] std::io::Error),
    /// The analysis panicked.
    #[error("the analysis thread panicked")]
    AnalysisPanicked,
    /// Printing a value as JSON failed.
    #[error("cannot print {what} as JSON: {source}")]
    Json {
        /// What was printed.
        what: &'static str,
        /// The error.
        #[source]
        source: serde_json::Error,
    },
}

impl CliError {
    /// Whose fault it is.
    pub fn class(&self) -> ErrorClass {
        match self {
            CliError::Settings(SettingsError::CurrentDir(_)) => ErrorClass::Environment,
            CliError::Settings(_) | CliError::Plan(_) | CliError::Explain(_) => ErrorClass::User,
            CliError::Server(ServerError::Config(_)) => ErrorClass::User,
            CliError::Cache(_)
            | CliError::Exec(_)
            | CliError::Server(_)
            | CliError::Io { .. }
            | CliError::Run { .. }
            | CliError::AnalysisThread(_) => ErrorClass::Environment,
            CliError::AnalysisPanicked | CliError::Json { .. } => ErrorClass::Internal,
        }
    }

    /// The exit code for this error: 1 for a bad command line, else 101.
    pub fn exit_code(&self) -> i32 {
        let usage = match self {
            CliError::Settings(e) => e.is_usage(),
            CliError::Server(ServerError::Config(_)) => true,
            CliError::Explain(e) => e.is_usage(),
            _ => false,
        };
        if usage {
            ExitCode::USAGE
        } else {
            ExitCode::FAILURE
        }
    }
}

/// `error: <message>` plus its causes; internal errors ask for a report.
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
    if e.class() == ErrorClass::Internal {
        s.push_str("\nnote: this is a bug in cargo-hbuild, please report it\n");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_and_classes_follow_the_layer_error() {
        let usage = CliError::from(SettingsError::ConflictingProfile {
            profile: "bench".into(),
        });
        assert_eq!((usage.exit_code(), usage.class()), (1, ErrorClass::User));
        let jobs = CliError::from(SettingsError::ZeroJobs);
        assert_eq!((jobs.exit_code(), jobs.class()), (101, ErrorClass::User));
        assert_eq!(render(&jobs), "error: jobs may not be 0\n");
        let stop = CliError::from(ServerError::NotStopped { pid: 7 });
        assert_eq!(
            (stop.exit_code(), stop.class()),
            (101, ErrorClass::Environment)
        );
        let bug = CliError::AnalysisPanicked;
        assert_eq!(bug.exit_code(), 101);
        assert_eq!(
            render(&bug),
            "error: the analysis thread panicked\n\nnote: this is a bug in cargo-hbuild, please report it\n"
        );
    }
}
