//! The single place that spawns processes: rustc and build scripts, with
//! their declared environment, the jobserver, and output streamed back line
//! by line.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};

use crate::plan::Action;

/// Output of a finished process.
pub struct ProcessOutput {
    /// Exit status.
    pub status: ExitStatus,
    /// Everything written to stdout.
    pub stdout: String,
    /// Everything written to stderr.
    pub stderr: String,
}

/// Builds the command for an action with the given (final) argv and env.
pub fn command(
    program: &Path,
    wrapper: Option<&Path>,
    action: &Action,
    argv: &[String],
    env: &std::collections::BTreeMap<String, String>,
    jobserver: &jobserver::Client,
) -> Command {
    let mut cmd = match wrapper {
        Some(w) => {
            let mut c = Command::new(w);
            c.arg(program);
            c
        }
        None => Command::new(program),
    };
    cmd.args(argv).current_dir(&action.cwd);
    for k in &action.env_remove {
        cmd.env_remove(k);
    }
    cmd.envs(env);
    jobserver.configure(&mut cmd);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// Runs `cmd`, calling `on_stderr_line` for every stderr line as it
/// arrives (rustc's JSON messages drive pipelining and diagnostics).
pub fn run_streaming(
    mut cmd: Command,
    mut on_stderr_line: impl FnMut(&str),
) -> std::io::Result<ProcessOutput> {
    let mut child = cmd.spawn()?;
    let mut stdout_pipe = child.stdout.take().expect("piped stdout");
    let stderr_pipe = child.stderr.take().expect("piped stderr");
    // stdout is drained on its own thread so a chatty child never blocks.
    let spawned = std::thread::Builder::new()
        .name("hbuild-stdout".into())
        .spawn(move || {
            let mut s = Vec::new();
            let _ = stdout_pipe.read_to_end(&mut s);
            String::from_utf8_lossy(&s).into_owned()
        });
    let out_thread = match spawned {
        Ok(t) => t,
        Err(e) => {
            // Nobody would read its stdout: stop the child rather than
            // leave it blocked.
            let _ = child.kill();
            let _ = child.wait();
            return Err(std::io::Error::new(
                e.kind(),
                format!("cannot start a thread to read its output: {e}"),
            ));
        }
    };
    let mut stderr = String::new();
    let mut reader = BufReader::new(stderr_pipe);
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) => break,
            Ok(_) => {
                let text = String::from_utf8_lossy(&line);
                let trimmed = text.trim_end_matches(['\n', '\r']);
                on_stderr_line(trimmed);
                stderr.push_str(trimmed);
                stderr.push('\n');
            }
            Err(_) => break,
        }
    }
    let status = child.wait()?;
    let stdout = out_thread.join().unwrap_or_default();
    Ok(ProcessOutput {
        status,
        stdout,
        stderr,
    })
}

/// A shell-like rendering of a command line for messages.
pub fn display_command(program: &Path, argv: &[String]) -> String {
    let mut s = program.display().to_string();
    for a in argv {
        s.push(' ');
        if a.contains([' ', '"', '\'']) {
            s.push('\'');
            s.push_str(&a.replace('\'', "'\\''"));
            s.push('\'');
        } else {
            s.push_str(a);
        }
    }
    s
}
