//! Layer 0: the command line. Parses arguments, has the settings layer
//! resolve them with the environment and config files into typed settings,
//! runs the command and maps every error to a message and an exit code
//! (the error edge, [`errors`]). Nothing below this layer sees clap types
//! except [`crate::settings`], and nothing below exits the process.

pub mod build;
pub mod cache_cmd;
pub mod doc_cmd;
pub mod errors;
pub mod explain_cmd;
pub mod run_cmd;

use clap::Parser;

use crate::settings::args;
use errors::CliError;
pub use errors::ExitCode;

use crate::settings::{
    CacheCommandSettings, ExplainSettings, Invocation, ServerSettings, Settings,
};

/// Entry point of the binary. Returns the process exit code.
pub fn main() -> i32 {
    let argv = args::normalised_args();
    let cli = match args::Cli::try_parse_from(&argv) {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() {
                ExitCode::USAGE
            } else {
                ExitCode::OK
            };
            let _ = e.print();
            return code;
        }
    };
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            crate::report::eprint_locked(&errors::render(&e));
            e.exit_code()
        }
    }
}

/// Resolves the settings of a command and runs it.
fn run(cli: args::Cli) -> Result<i32, CliError> {
    if matches!(cli.command, Some(args::Command::Server(_))) && !cfg!(target_os = "linux") {
        return Err(crate::server::ServerError::Unsupported.into());
    }
    let inv = Invocation::current()?;
    match cli.command {
        None => build::run(&Settings::resolve(&cli.build, &inv)?),
        Some(args::Command::Test(t)) => build::run(&Settings::resolve_test(&t, &inv)?),
        Some(args::Command::Doc(d)) => doc_cmd::run(&Settings::resolve_doc(&d, &inv)?, d.open),
        Some(args::Command::Run(r)) => run_cmd::run(&Settings::resolve_run(&r, &inv)?, &r.args),
        Some(args::Command::Check(c)) => build::run(&Settings::resolve_check(&c, &inv)?),
        Some(args::Command::Clippy(c)) => build::run(&Settings::resolve_clippy(&c, &inv)?),
        Some(args::Command::Cache(c)) => cache_cmd::run(&CacheCommandSettings::resolve(&c, &inv)?),
        Some(args::Command::Explain(e)) => explain_cmd::run(&ExplainSettings::resolve(&e, &inv)?),
        Some(args::Command::Server(s)) => {
            crate::server::command::run(&ServerSettings::resolve(&s, &inv)?)?;
            Ok(ExitCode::OK)
        }
    }
}
