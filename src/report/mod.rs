//! Layer 5: the only module that writes to the terminal. It implements the
//! executor's [`EventSink`] in three styles: human (Cargo-like status lines,
//! with a progress bar on a terminal), plain lines for CI logs, and
//! `--message-format json`.

pub mod human;
pub mod json;

use std::io::Write;
use std::sync::Mutex;

use crate::exec::events::{BuildEvent, EventSink};
use crate::plan::ActionGraph;

/// How messages are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageFormat {
    /// Cargo's human output.
    Human,
    /// Short diagnostics.
    Short,
    /// JSON on stdout; `render` = also render diagnostics on stderr.
    Json {
        /// `json-render-diagnostics`.
        render: bool,
        /// Keep ANSI colours in `rendered` (`json-diagnostic-rendered-ansi`).
        ansi: bool,
    },
}

/// Output settings decided once, at the CLI edge.
#[derive(Clone, Debug)]
pub struct ReportConfig {
    /// Format.
    pub format: MessageFormat,
    /// Colour on stderr.
    pub color: bool,
    /// `-v` count.
    pub verbose: u8,
    /// `-q`.
    pub quiet: bool,
    /// Draw a progress bar (stderr is a terminal).
    pub progress: bool,
    /// Print `--explain` reasons.
    pub explain: bool,
}

/// Writes to stderr under a lock so lines from threads never interleave.
pub fn eprint_locked(s: &str) {
    let stderr = std::io::stderr();
    let mut l = stderr.lock();
    let _ = l.write_all(s.as_bytes());
    let _ = l.flush();
}

/// Writes a line to stdout under a lock.
pub fn print_stdout_line(s: &str) {
    let stdout = std::io::stdout();
    let mut l = stdout.lock();
    let _ = writeln!(l, "{s}");
    let _ = l.flush();
}

/// Strips ANSI escape sequences (for non-colour output).
pub fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            if chars.peek() == Some(&'[') {
                chars.next();
                for c2 in chars.by_ref() {
                    if c2.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

/// The reporter: forwards events to the human and JSON renderers.
pub struct Reporter {
    cfg: ReportConfig,
    human: Mutex<human::Human>,
}

impl Reporter {
    /// A reporter for a build.
    pub fn new(cfg: ReportConfig) -> Self {
        Reporter {
            human: Mutex::new(human::Human::new(cfg.clone())),
            cfg,
        }
    }

    /// Prints a final error (not tied to an action).
    pub fn error(&self, msg: &str) {
        self.human.lock().expect("reporter lock").error(msg);
    }

    /// Access to the human renderer (explain output, summary).
    pub fn with_human<R>(&self, f: impl FnOnce(&mut human::Human) -> R) -> R {
        f(&mut self.human.lock().expect("reporter lock"))
    }
}

impl EventSink for Reporter {
    fn event(&self, graph: &ActionGraph, event: BuildEvent) {
        if let MessageFormat::Json { .. } = self.cfg.format {
            json::event(graph, &event, &self.cfg);
        }
        self.human
            .lock()
            .expect("reporter lock")
            .event(graph, event);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_colour_codes() {
        assert_eq!(
            strip_ansi("\x1b[0m\x1b[1m\x1b[38;5;9merror\x1b[0m: x"),
            "error: x"
        );
    }
}
