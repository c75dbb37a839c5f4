//! `cargo hbuild run`: a build of one binary or example, then that program
//! in place of this process, as Cargo runs it: its arguments, Cargo's
//! environment, the cwd, stdin, stdout and stderr unchanged, and its exit
//! code or signal as the command's own.

use std::process::Command;

use super::build::{run_direct, Direct};
use super::errors::{CliError, ExitCode};
use crate::report::Reporter;
use crate::settings::Settings;

/// Builds, then replaces this process with the program.
pub fn run(settings: &Settings, args: &[String]) -> Result<i32, CliError> {
    let Direct { code, run, .. } = run_direct(settings)?;
    if code != ExitCode::OK {
        return Ok(code);
    }
    // `--plan` builds nothing and runs nothing.
    let Some(target) = run else {
        return Ok(code);
    };
    let shown = target
        .program
        .strip_prefix(&settings.cwd)
        .unwrap_or(&target.program)
        .display()
        .to_string();
    let line = std::iter::once(shown)
        .chain(args.iter().map(|a| shell_word(a)))
        .collect::<Vec<_>>()
        .join(" ");
    Reporter::new(settings.report.clone())
        .with_human(|h| h.status("Running", &format!("`{line}`")));
    let mut cmd = Command::new(&target.program);
    cmd.args(args).envs(&target.env);
    Err(CliError::Run {
        program: target.program.clone(),
        source: exec(cmd),
    })
}

/// Replaces this process (Unix), or runs the program and exits with its
/// code elsewhere; returns only on failure to start it.
#[cfg(unix)]
fn exec(mut cmd: Command) -> std::io::Error {
    use std::os::unix::process::CommandExt;
    cmd.exec()
}

#[cfg(not(unix))]
fn exec(mut cmd: Command) -> std::io::Error {
    match cmd.status() {
        Ok(s) => std::process::exit(s.code().unwrap_or(ExitCode::FAILURE)),
        Err(e) => e,
    }
}

/// An argument as a shell would need it (for the `Running` line).
fn shell_word(a: &str) -> String {
    let plain = !a.is_empty()
        && a.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
    if plain {
        a.to_string()
    } else {
        format!("'{}'", a.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn arguments_are_quoted_as_a_shell_needs() {
        assert_eq!(super::shell_word("--x=1"), "--x=1");
        assert_eq!(super::shell_word("a b"), "'a b'");
        assert_eq!(super::shell_word("it's"), "'it'\\''s'");
        assert_eq!(super::shell_word(""), "''");
    }
}
