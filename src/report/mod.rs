//! Layer 5: the only module that writes to the terminal. It implements the
//! executor's [`EventSink`] in three styles: human (Cargo-like status lines,
//! with a progress bar on a terminal), plain lines for CI logs, and
//! `--message-format json`.

pub mod explain;
pub mod human;
pub mod json;
pub mod timings;

use std::io::Write;
use std::sync::Mutex;

use crate::exec::events::{BuildEvent, EventSink};
use crate::plan::ActionGraph;

/// How messages are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
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
    /// The invocation's directory (paths in `Running` lines are relative
    /// to it).
    #[serde(default)]
    pub cwd: std::path::PathBuf,
    /// `--timings`: write the HTML timing report when the build ends.
    #[serde(default)]
    pub timings: bool,
}

thread_local! {
    /// When set, this thread's output goes to these buffers (stdout, stderr)
    /// instead of the terminal: the resident server renders a build's
    /// output for a client this way.
    static CAPTURE: std::cell::RefCell<Option<(Vec<u8>, Vec<u8>)>> =
        const { std::cell::RefCell::new(None) };
}

/// Runs `f` with this thread's output captured; returns `f`'s result and
/// what it would have written to stdout and stderr.
pub fn capture<R>(f: impl FnOnce() -> R) -> (R, Vec<u8>, Vec<u8>) {
    let previous = CAPTURE.with(|c| c.replace(Some((Vec::new(), Vec::new()))));
    let r = f();
    let (out, err) = CAPTURE
        .with(|c| c.replace(previous))
        .expect("capture buffers present");
    (r, out, err)
}

/// Appends to the capture buffer if this thread captures; false otherwise.
fn captured(stdout: bool, s: &[u8]) -> bool {
    CAPTURE.with(|c| match c.borrow_mut().as_mut() {
        Some((out, err)) => {
            if stdout {
                out.extend_from_slice(s);
            } else {
                err.extend_from_slice(s);
            }
            true
        }
        None => false,
    })
}

/// Writes to stderr under a lock so lines from threads never interleave.
pub fn eprint_locked(s: &str) {
    if captured(false, s.as_bytes()) {
        return;
    }
    let stderr = std::io::stderr();
    let mut l = stderr.lock();
    let _ = l.write_all(s.as_bytes());
    let _ = l.flush();
}

/// Writes output rendered elsewhere (by the resident server) as it is.
pub fn write_raw(stdout: &[u8], stderr: &[u8]) {
    if !stdout.is_empty() {
        let mut l = std::io::stdout().lock();
        let _ = l.write_all(stdout);
        let _ = l.flush();
    }
    if !stderr.is_empty() {
        let mut l = std::io::stderr().lock();
        let _ = l.write_all(stderr);
        let _ = l.flush();
    }
}

/// Writes text to stdout as it is (a test's output), under a lock.
pub fn print_stdout_raw(s: &str) {
    if s.is_empty() || captured(true, s.as_bytes()) {
        return;
    }
    let mut l = std::io::stdout().lock();
    let _ = l.write_all(s.as_bytes());
    let _ = l.flush();
}

/// Writes a line to stdout under a lock.
pub fn print_stdout_line(s: &str) {
    if captured(true, format!("{s}\n").as_bytes()) {
        return;
    }
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

/// The reporter: forwards events to the human and JSON renderers, and
/// to the timing report with `--timings`.
pub struct Reporter {
    cfg: ReportConfig,
    human: Mutex<human::Human>,
    timings: Option<Mutex<timings::Timings>>,
}

impl Reporter {
    /// A reporter for a build.
    pub fn new(cfg: ReportConfig) -> Self {
        Reporter {
            human: Mutex::new(human::Human::new(cfg.clone())),
            timings: cfg.timings.then(|| Mutex::new(timings::Timings::new())),
            cfg,
        }
    }

    /// Access to the human renderer (explain output, summary).
    pub fn with_human<R>(&self, f: impl FnOnce(&mut human::Human) -> R) -> R {
        f(&mut self.human())
    }

    // A panic while rendering (on a worker's thread) must not keep the
    // build's failure from being reported: the renderer's state stays
    // usable, at worst with a line half printed.
    fn human(&self) -> std::sync::MutexGuard<'_, human::Human> {
        self.human
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records the event for the timing report; at the end of the build,
    /// writes the report and says where, as Cargo does before `Finished`.
    fn timings(&self, graph: &ActionGraph, event: &BuildEvent) {
        let Some(t) = &self.timings else { return };
        let mut t = t.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let BuildEvent::Finished(summary) = event else {
            return t.record(event);
        };
        let human = self.human();
        match t.write(graph, summary, &self.cfg.cwd) {
            Ok(path) => human.status(
                "Timing",
                &format!("report saved to {}", self.cfg.cwd.join(path).display()),
            ),
            Err(e) => human.warning(&e.to_string()),
        }
    }
}

impl EventSink for Reporter {
    fn event(&self, graph: &ActionGraph, event: BuildEvent) {
        if let MessageFormat::Json { .. } = self.cfg.format {
            json::event(graph, &event, &self.cfg);
        }
        self.timings(graph, &event);
        self.human().event(graph, event);
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

    #[test]
    fn capture_collects_this_threads_output_only() {
        let ((), out, err) = capture(|| {
            print_stdout_line("{\"reason\":\"x\"}");
            eprint_locked("   Finished\n");
        });
        assert_eq!(out, b"{\"reason\":\"x\"}\n");
        assert_eq!(err, b"   Finished\n");
        // Nested captures restore the outer buffer.
        let ((), _, outer) = capture(|| {
            let ((), _, inner) = capture(|| eprint_locked("inner"));
            assert_eq!(inner, b"inner");
            eprint_locked("outer");
        });
        assert_eq!(outer, b"outer");
    }
}
