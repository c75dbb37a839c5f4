//! Layer 0: the command line. Parses arguments, resolves them with the
//! environment into a [`BuildRequest`], runs the pipeline and maps every
//! error to a message and an exit code. Nothing below this layer sees clap
//! or exits the process.

pub mod args;
pub mod build;
pub mod cache_cmd;
pub mod errors;

use clap::Parser;

pub use errors::ExitCode;

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
    let result = match cli.command {
        None => build::run(cli.build, &argv),
        Some(args::Command::Cache(c)) => cache_cmd::run(c),
        Some(args::Command::Explain(e)) => build::explain_unit(e),
        Some(args::Command::Server(s)) => crate::server::command::run(s),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            crate::report::eprint_locked(&errors::render(&e));
            e.exit_code()
        }
    }
}
