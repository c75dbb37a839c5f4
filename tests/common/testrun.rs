//! The output of `cargo test` as a comparable value, for parity tests of
//! `cargo hbuild test` against Cargo on `testdata/workspaces/testing`.
//!
//! # How Cargo runs the test binaries (cargo 1.95, checked on the fixture)
//!
//! * **Order.** Cargo sorts the test executables by unit before running any
//!   (`compilation.tests.sort()`): by package id first (name, then version,
//!   then source — *not* the order of `members`), then target kind
//!   `lib < bin < test < bench < example`, then target name. Every test
//!   binary of every package runs before any doctest; the doctests follow,
//!   one `Doc-tests <crate>` per selected library, packages again by name.
//!   `cargo test --workspace --all-targets --no-fail-fast` on the fixture
//!   (members listed as calc, testutil, reader, sneaky, failing) runs:
//!   `calc`: `unittests src/lib.rs`, `unittests src/main.rs`, `tests/cli.rs`,
//!   `tests/fixtures.rs`, `tests/plain.rs`, `tests/relpath.rs`,
//!   `benches/speed.rs`, `unittests examples/demo.rs`; then `failing`:
//!   `unittests src/lib.rs`, `tests/broken.rs`; then `reader`, `sneaky`,
//!   `testutil` (`unittests src/lib.rs` each). Plain `cargo test --workspace`
//!   runs the same without the bench and example, then
//!   `Doc-tests calc`, `failing`, `reader`, `sneaky`, `testutil`.
//! * **Doctests** run for every selected library, even one without any
//!   (`running 0 tests`), but not under `--all-targets` (which means
//!   `--lib --bins --tests --benches --examples`). `--doc` prints only the
//!   `Doc-tests` lines.
//! * **A positional test name** (`cargo test -p calc add`) also changes the
//!   target selection: with no target flag, Cargo uses "all test targets"
//!   (lib, bins, tests; examples not even built) and runs *no doctests*.
//!   `cargo test -p calc -- add` keeps the default selection and runs the
//!   doctests with the filter.
//! * **`harness = false`** binaries get the same `Running` line; whatever
//!   they print goes through unchanged; there is no `running N tests` and no
//!   `test result:` line.
//! * **Fail-fast** (the default): when a binary fails, Cargo prints right
//!   after it, on stderr,
//!   ``error: test failed, to rerun pass `-p failing --lib` `` (`--bin
//!   calc-cli`, `--test broken`, and for doctests
//!   ``error: doctest failed, to rerun pass `-p calc --doc` ``), runs nothing
//!   more (no doctests either) and exits with 101. A libtest failure (exit
//!   101) gets no cause; any other exit status (a `harness = false` binary
//!   exiting with 3, a signal) adds a blank line and the cause, with the
//!   absolute path of the executable:
//!   ```text
//!   error: test failed, to rerun pass `-p calc --test plain`
//!
//!   Caused by:
//!     process didn't exit successfully: `/abs/target/debug/deps/plain-<hash>` (exit status: 3)
//!   ```
//! * **`--no-fail-fast`**: the same `error: test failed, …` line after each
//!   failing binary, everything else still runs (doctests too), then a
//!   summary and exit 101:
//!   ```text
//!   error: 2 targets failed:
//!       `-p failing --lib`
//!       `-p failing --test broken`
//!   ```
//!   (`error: 1 target failed:` for one.)
//! * The `Running` lines, Cargo's `error:` lines and the summary go to
//!   stderr; everything the test binaries print (libtest's report included)
//!   goes to stdout.
//!
//! # Pairing stdout with the binaries
//!
//! stdout and stderr are captured apart, so the interleaving is lost. The
//! binaries are taken in the order of their stderr `Running`/`Doc-tests`
//! lines. stdout is cut into segments: a *block* runs from a libtest
//! `running N tests` line to its `test result:` line (or to the next
//! `running` line or the end, for a binary that died before its report);
//! a *gap* is the non-blank text between blocks. Cargo runs one binary at a
//! time and libtest starts its output with `running` and ends it with
//! `test result:`, so each harness binary owns exactly one block and each
//! harness-less one owns the gap its output makes. See [`parse`] and
//! [`parse_with`] for how a binary is told to be harness-less.

use std::fmt;

use super::{Run, Ws};

/// What one `cargo test` (or `cargo hbuild test`) run reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestRunReport {
    /// The binaries run, in the order of their `Running`/`Doc-tests` lines.
    pub binaries: Vec<BinaryRun>,
    /// The exit code of the run.
    pub exit_code: i32,
    /// The targets to rerun, as Cargo quotes them (`-p failing --lib`): the
    /// list of the `N targets failed:` summary when there is one, else those
    /// of the `to rerun pass` lines.
    pub failed_targets: Vec<String>,
    /// Cargo's own `error: ` lines on stderr with their continuation lines
    /// (`Caused by:`, the indented summary list), each with its place among
    /// the status lines.
    pub errors: Vec<ErrorLine>,
}

/// One line of Cargo's error output in a test run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorLine {
    /// How many `Running`/`Doc-tests` lines came before it: Cargo reports a
    /// failed binary right after it, before the next one starts.
    pub after: usize,
    /// The line, a backquoted path of one of the binaries replaced by
    /// `` `[EXE]` `` (Cargo prints it absolute, and its hash differs by tool).
    pub text: String,
}

/// One test binary (or the doctests of one library) of a run.
#[derive(Debug, Clone, Eq)]
pub struct BinaryRun {
    /// The label of the `Running` line (`unittests src/lib.rs`,
    /// `tests/cli.rs`), or `Doc-tests calc`.
    pub label: String,
    /// The executable as the `Running` line shows it (empty for doctests).
    /// Differs between tools: kept, never compared.
    pub exe: String,
    /// The crate name: the executable's file name without its `-<hash>`, or
    /// the name after `Doc-tests`. Tells apart the `unittests src/lib.rs` of
    /// different packages.
    pub package_hint: Option<String>,
    /// Whether the binary printed a libtest report (`running N tests`).
    pub harness: bool,
    /// Counts of the `test result:` line (zero without one).
    pub passed: u32,
    /// Failed tests.
    pub failed: u32,
    /// Ignored tests.
    pub ignored: u32,
    /// Tests left out by a name filter.
    pub filtered: u32,
    /// The `Running` line ended in ` (cached)`.
    pub cached: bool,
}

impl PartialEq for BinaryRun {
    fn eq(&self, o: &Self) -> bool {
        let key = |b: &Self| {
            (
                b.label.clone(),
                b.package_hint.clone(),
                b.harness,
                [b.passed, b.failed, b.ignored, b.filtered],
                b.cached,
            )
        };
        key(self) == key(o)
    }
}

impl TestRunReport {
    /// The same report with every `cached` mark cleared: for comparing a
    /// run served from the cache with Cargo's.
    pub fn without_cache_marks(mut self) -> Self {
        for b in &mut self.binaries {
            b.cached = false;
        }
        self
    }
}

impl fmt::Display for TestRunReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "exit code: {}", self.exit_code)?;
        writeln!(f, "binaries:")?;
        for b in &self.binaries {
            writeln!(f, "  {b}")?;
        }
        writeln!(f, "failed targets:")?;
        for t in &self.failed_targets {
            writeln!(f, "  {t}")?;
        }
        writeln!(f, "cargo errors:")?;
        for e in &self.errors {
            writeln!(f, "  [after {}] {}", e.after, e.text)?;
        }
        Ok(())
    }
}

impl fmt::Display for BinaryRun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.label)?;
        if let Some(p) = &self.package_hint {
            write!(f, " [{p}]")?;
        }
        if self.cached {
            write!(f, " (cached)")?;
        }
        if self.harness {
            write!(
                f,
                ": {} passed, {} failed, {} ignored, {} filtered out",
                self.passed, self.failed, self.ignored, self.filtered
            )
        } else {
            write!(f, ": no harness")
        }
    }
}

/// Why stdout could not be paired with the binaries of stderr.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PairingError {
    /// A binary found no output of its own.
    NoOutput { label: String },
    /// A binary declared harness-less met a libtest report, or a harness
    /// binary met plain text.
    Mismatch { label: String, found: &'static str },
    /// Output was left over after the last binary.
    LeftOver { segments: usize },
    /// A `test result:` line that does not parse.
    BadResult { line: String },
}

impl fmt::Display for PairingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoOutput { label } => write!(f, "`{label}` has no output of its own"),
            Self::Mismatch { label, found } => write!(f, "`{label}` met {found}"),
            Self::LeftOver { segments } => {
                write!(f, "{segments} output segment(s) left after the last binary")
            }
            Self::BadResult { line } => write!(f, "cannot read `{line}`"),
        }
    }
}

/// Parses a run, inferring which binaries have no harness.
///
/// A binary whose turn meets plain text rather than a libtest block is
/// taken as harness-less and owns that text. This needs every harness-less
/// binary to print at least one non-blank line and no two of them to run
/// back to back; when that does not hold, some binary is left without
/// output (nothing can stand in for a missing segment: libtest never prints
/// outside its block) and this panics with both streams rather than guess.
/// Use [`parse_with`] when a harness-less binary may be silent.
pub fn parse(stdout: &str, stderr: &str, exit_code: i32) -> TestRunReport {
    parse_with(stdout, stderr, exit_code, None)
}

/// Like [`parse`], with the labels of the harness-less binaries given
/// (`Some(&["tests/plain.rs"])`): those own the text before the next block
/// if there is any, or nothing; every other binary must own a block.
pub fn parse_with(
    stdout: &str,
    stderr: &str,
    exit_code: i32,
    no_harness: Option<&[&str]>,
) -> TestRunReport {
    try_parse(stdout, stderr, exit_code, no_harness).unwrap_or_else(|e| {
        panic!("cannot pair the test output: {e}\n--- stdout\n{stdout}\n--- stderr\n{stderr}")
    })
}

/// [`parse_with`] returning the pairing error instead of panicking.
pub fn try_parse(
    stdout: &str,
    stderr: &str,
    exit_code: i32,
    no_harness: Option<&[&str]>,
) -> Result<TestRunReport, PairingError> {
    let mut binaries: Vec<BinaryRun> = stderr.lines().filter_map(status_line).collect();
    let segments = segments(stdout)?;
    pair(&mut binaries, &segments, no_harness)?;
    let errors = cargo_errors(stderr, &binaries);
    let failed_targets = failed_targets(&errors);
    Ok(TestRunReport {
        binaries,
        exit_code,
        failed_targets,
        errors,
    })
}

/// `cargo test ARGS` in the workspace copy, its target directory inside it.
pub fn cargo_test_run(ws: &Ws, args: &[&str]) -> Run {
    let mut a = vec!["test"];
    a.extend_from_slice(args);
    let target = ws.path("target");
    ws.cargo(&a, &[("CARGO_TARGET_DIR", target.to_str().unwrap())])
}

/// The report of `cargo test ARGS` in the workspace copy (see
/// [`cargo_test_run`]).
pub fn cargo_test(ws: &Ws, args: &[&str]) -> TestRunReport {
    let r = cargo_test_run(ws, args);
    parse(&r.stdout, &r.stderr, r.code)
}

/// A `Running …` or `Doc-tests …` status line of Cargo (right-aligned verb,
/// no colour), as a binary with no counts yet.
fn status_line(line: &str) -> Option<BinaryRun> {
    let (rest, doc) = if let Some(r) = line.strip_prefix("     Running ") {
        (r, false)
    } else {
        (line.strip_prefix("   Doc-tests ")?, true)
    };
    let (rest, cached) = match rest.strip_suffix(" (cached)") {
        Some(r) => (r, true),
        None => (rest, false),
    };
    let (label, exe, hint) = if doc {
        (format!("Doc-tests {rest}"), String::new(), rest.to_string())
    } else {
        let (label, exe) = rest.split_once(" (")?;
        let exe = exe.strip_suffix(')')?;
        (label.to_string(), exe.to_string(), crate_of_exe(exe))
    };
    Some(BinaryRun {
        label,
        exe,
        package_hint: Some(hint),
        harness: false,
        passed: 0,
        failed: 0,
        ignored: 0,
        filtered: 0,
        cached,
    })
}

/// `target/debug/deps/calc_cli-0123456789abcdef` → `calc_cli`.
fn crate_of_exe(exe: &str) -> String {
    let file = exe.rsplit('/').next().unwrap_or(exe);
    let file = file.strip_suffix(".exe").unwrap_or(file);
    match file.rsplit_once('-') {
        Some((stem, hash)) if hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()) => {
            stem.to_string()
        }
        _ => file.to_string(),
    }
}

/// A piece of stdout: a libtest block or the plain text between blocks.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    /// From `running N tests` to `test result:` (its counts), or to where
    /// the binary stopped without a report (`None`).
    Block(Option<[u32; 4]>),
    /// Non-blank text outside blocks.
    Text,
}

fn segments(stdout: &str) -> Result<Vec<Segment>, PairingError> {
    let mut out = Vec::new();
    let mut in_block = false;
    for line in stdout.lines() {
        if is_running_line(line) {
            out.push(Segment::Block(None));
            in_block = true;
        } else if in_block && line.starts_with("test result: ") {
            *out.last_mut().unwrap() = Segment::Block(Some(result_counts(line)?));
            in_block = false;
        } else if !in_block && !line.trim().is_empty() && out.last() != Some(&Segment::Text) {
            out.push(Segment::Text);
        }
    }
    Ok(out)
}

/// libtest's `running 1 test` / `running 7 tests`.
fn is_running_line(line: &str) -> bool {
    let Some(rest) = line.strip_prefix("running ") else {
        return false;
    };
    let Some((n, word)) = rest.split_once(' ') else {
        return false;
    };
    !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) && (word == "test" || word == "tests")
}

/// `test result: ok. 6 passed; 0 failed; 1 ignored; 0 measured; 0 filtered
/// out; finished in 0.08s` → passed, failed, ignored, filtered.
fn result_counts(line: &str) -> Result<[u32; 4], PairingError> {
    let bad = || PairingError::BadResult {
        line: line.to_string(),
    };
    let (_, rest) = line.split_once(". ").ok_or_else(bad)?;
    let mut counts = [None; 4];
    for part in rest.split("; ") {
        let (n, what) = part.split_once(' ').ok_or_else(bad)?;
        let slot = match what {
            "passed" => 0,
            "failed" => 1,
            "ignored" => 2,
            "filtered out" => 3,
            _ => continue,
        };
        counts[slot] = Some(n.parse::<u32>().map_err(|_| bad())?);
    }
    let [Some(p), Some(f), Some(i), Some(x)] = counts else {
        return Err(bad());
    };
    Ok([p, f, i, x])
}

/// Gives each binary, in order, its segment (see the module doc).
fn pair(
    binaries: &mut [BinaryRun],
    segments: &[Segment],
    no_harness: Option<&[&str]>,
) -> Result<(), PairingError> {
    let mut next = segments.iter().peekable();
    for b in binaries.iter_mut() {
        let declared = no_harness.map(|l| l.contains(&b.label.as_str()));
        match (declared, next.peek()) {
            (Some(true), Some(Segment::Text)) | (None, Some(Segment::Text)) => {
                next.next();
                b.harness = false;
            }
            (Some(true), _) => b.harness = false,
            (Some(false), Some(Segment::Text)) => {
                return Err(PairingError::Mismatch {
                    label: b.label.clone(),
                    found: "plain text where a libtest report was due",
                });
            }
            (_, Some(Segment::Block(counts))) => {
                let [p, f, i, x] = counts.unwrap_or_default();
                (b.harness, b.passed, b.failed, b.ignored, b.filtered) = (true, p, f, i, x);
                next.next();
            }
            (_, None) => {
                return Err(PairingError::NoOutput {
                    label: b.label.clone(),
                })
            }
        }
    }
    match next.count() {
        0 => Ok(()),
        segments => Err(PairingError::LeftOver { segments }),
    }
}

/// Cargo's `error: ` lines and their continuations, up to the next status
/// line or the next error.
fn cargo_errors(stderr: &str, binaries: &[BinaryRun]) -> Vec<ErrorLine> {
    let mut out = Vec::new();
    let mut open = false;
    let mut after = 0;
    for line in stderr.lines() {
        let error = line.starts_with("error: ");
        if status_line(line).is_some() {
            after += 1;
            open = false;
        } else if error || (open && is_continuation(line)) {
            out.push(ErrorLine {
                after,
                text: hide_exe_paths(line, binaries),
            });
            open = true;
        } else if !line.is_empty() {
            open = false;
        }
    }
    out
}

/// `Caused by:`, its indented cause and the indented list of a summary;
/// not Cargo's right-aligned status lines.
fn is_continuation(line: &str) -> bool {
    line == "Caused by:"
        || line.starts_with("    `")
        || line
            .strip_prefix("  ")
            .is_some_and(|r| r.starts_with(|c: char| c.is_ascii_lowercase()))
}

/// Replaces a backquoted path whose file name is one of the binaries' by
/// `` `[EXE]` `` (Cargo prints it absolute, and its hash differs by tool).
fn hide_exe_paths(line: &str, binaries: &[BinaryRun]) -> String {
    let mut parts: Vec<String> = line.split('`').map(str::to_string).collect();
    for p in parts.iter_mut().skip(1).step_by(2) {
        let file = p.rsplit('/').next().unwrap_or(p);
        if binaries
            .iter()
            .any(|b| !b.exe.is_empty() && b.exe.rsplit('/').next() == Some(file))
        {
            *p = "[EXE]".to_string();
        }
    }
    parts.join("`")
}

/// The targets of the `N targets failed:` list, else of the `to rerun pass`
/// lines.
fn failed_targets(errors: &[ErrorLine]) -> Vec<String> {
    let errors: Vec<&str> = errors.iter().map(|e| e.text.as_str()).collect();
    let quoted = |s: &str| s.split('`').nth(1).map(str::to_string);
    if let Some(at) = errors
        .iter()
        .position(|e| e.starts_with("error: ") && e.ends_with(" failed:"))
    {
        return errors[at + 1..]
            .iter()
            .take_while(|l| l.starts_with("    `"))
            .filter_map(|l| quoted(l))
            .collect();
    }
    errors
        .iter()
        .filter(|e| e.contains("failed, to rerun pass `"))
        .filter_map(|e| quoted(e.split_once("to rerun pass ").unwrap().1))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: &str = "test result: ok. 2 passed; 0 failed; 1 ignored; 0 measured; 3 filtered out; finished in 0.01s";
    const FAILED: &str = "test result: FAILED. 1 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.01s";

    fn block(n: u32, result: &str) -> String {
        format!("\nrunning {n} tests\ntest a ... ok\n\n{result}\n\n")
    }

    #[test]
    fn labels_exe_hints_and_cache_marks_come_from_the_status_lines() {
        let stderr = "   Compiling calc v0.1.0 (/w/calc)\n     Running unittests src/lib.rs (target/debug/deps/calc-0123456789abcdef) (cached)\n   Doc-tests calc\n";
        let stdout = block(3, OK) + &block(0, OK);
        let r = parse(&stdout, stderr, 0);
        let b = &r.binaries;
        assert_eq!(b.len(), 2);
        assert_eq!(b[0].label, "unittests src/lib.rs");
        assert_eq!(b[0].exe, "target/debug/deps/calc-0123456789abcdef");
        assert_eq!(b[0].package_hint.as_deref(), Some("calc"));
        assert!(b[0].cached && !b[1].cached);
        assert_eq!(
            (b[0].passed, b[0].failed, b[0].ignored, b[0].filtered),
            (2, 0, 1, 3)
        );
        assert_eq!(b[1].label, "Doc-tests calc");
        assert_eq!(r.to_string(), "exit code: 0\nbinaries:\n  unittests src/lib.rs [calc] (cached): 2 passed, 0 failed, 1 ignored, 3 filtered out\n  Doc-tests calc [calc]: 2 passed, 0 failed, 1 ignored, 3 filtered out\nfailed targets:\ncargo errors:\n");
    }

    #[test]
    fn exe_paths_are_kept_but_not_compared() {
        let stdout = block(1, OK);
        let a = parse(
            &stdout,
            "     Running tests/cli.rs (target/debug/deps/cli-0123456789abcdef)\n",
            0,
        );
        let b = parse(
            &stdout,
            "     Running tests/cli.rs (/abs/target/debug/deps/cli-fedcba9876543210)\n",
            0,
        );
        assert_ne!(a.binaries[0].exe, b.binaries[0].exe);
        assert_eq!(a, b);
        let c = parse(
            &stdout,
            "     Running tests/cli.rs (target/debug/deps/cli-0123456789abcdef) (cached)\n",
            0,
        );
        assert_ne!(a, c);
        assert_eq!(a, c.without_cache_marks());
    }

    const THREE: &str = "     Running tests/a.rs (t/a-0123456789abcdef)\n     Running tests/plain.rs (t/plain-0123456789abcdef)\n     Running tests/b.rs (t/b-0123456789abcdef)\n";

    #[test]
    fn a_harness_less_binary_owns_the_text_between_blocks() {
        let stdout = block(1, OK) + "plain: hello\nsecond line\n" + &block(2, FAILED);
        for known in [None, Some(&["tests/plain.rs"][..])] {
            let r = parse_with(&stdout, THREE, 101, known);
            let harness: Vec<bool> = r.binaries.iter().map(|b| b.harness).collect();
            assert_eq!(harness, [true, false, true]);
            assert_eq!((r.binaries[2].passed, r.binaries[2].failed), (1, 1));
            assert_eq!(
                r.binaries[1].to_string(),
                "tests/plain.rs [plain]: no harness"
            );
        }
    }

    #[test]
    fn a_silent_harness_less_binary_is_an_error_unless_declared() {
        let stdout = block(1, OK) + &block(2, OK);
        assert_eq!(
            try_parse(&stdout, THREE, 0, None),
            Err(PairingError::NoOutput {
                label: "tests/b.rs".into()
            })
        );
        let r = try_parse(&stdout, THREE, 0, Some(&["tests/plain.rs"])).unwrap();
        assert!(!r.binaries[1].harness && r.binaries[2].harness);
    }

    #[test]
    fn undeclared_text_and_left_over_output_are_errors() {
        let stdout = block(1, OK) + "stray\n" + &block(2, OK);
        assert!(matches!(
            try_parse(&stdout, THREE, 0, Some(&[])),
            Err(PairingError::Mismatch { label, .. }) if label == "tests/plain.rs"
        ));
        let extra = block(1, OK) + &block(1, OK);
        assert_eq!(
            try_parse(
                &extra,
                "     Running tests/a.rs (t/a-0123456789abcdef)\n",
                0,
                None
            ),
            Err(PairingError::LeftOver { segments: 1 })
        );
    }

    #[test]
    fn a_binary_that_died_before_its_report_keeps_its_block() {
        let stdout = "\nrunning 2 tests\ntest a ... ok\n".to_string() + &block(1, OK);
        let stderr = "     Running tests/a.rs (t/a-0123456789abcdef)\n     Running tests/b.rs (t/b-0123456789abcdef)\n";
        let r = parse(&stdout, stderr, 101);
        assert!(r.binaries[0].harness && r.binaries[0].passed == 0);
        assert_eq!(r.binaries[1].passed, 2);
    }

    #[test]
    fn fail_fast_and_no_fail_fast_errors_give_the_failed_targets() {
        let stdout = block(1, FAILED) + &block(1, FAILED);
        let fast = "     Running tests/a.rs (t/a-0123456789abcdef)\nerror: test failed, to rerun pass `-p x --test a`\n";
        let r = parse(&block(1, FAILED), fast, 101);
        assert_eq!(r.failed_targets, ["-p x --test a"]);
        assert_eq!(
            r.errors,
            [ErrorLine {
                after: 1,
                text: "error: test failed, to rerun pass `-p x --test a`".into()
            }]
        );
        let slow = "     Running tests/a.rs (t/a-0123456789abcdef)\nerror: test failed, to rerun pass `-p x --test a`\n\nCaused by:\n  process didn't exit successfully: `/abs/t/a-0123456789abcdef` (exit status: 3)\n     Running tests/b.rs (t/b-0123456789abcdef)\nerror: test failed, to rerun pass `-p x --test b`\nerror: 2 targets failed:\n    `-p x --test a`\n    `-p x --test b`\nwarning: unrelated\n    `-p not --listed`\n";
        let r = parse(&stdout, slow, 101);
        assert_eq!(r.failed_targets, ["-p x --test a", "-p x --test b"]);
        let errors: Vec<(usize, &str)> = r
            .errors
            .iter()
            .map(|e| (e.after, e.text.as_str()))
            .collect();
        assert_eq!(
            errors,
            [
                (1, "error: test failed, to rerun pass `-p x --test a`"),
                (1, "Caused by:"),
                (
                    1,
                    "  process didn't exit successfully: `[EXE]` (exit status: 3)"
                ),
                (2, "error: test failed, to rerun pass `-p x --test b`"),
                (2, "error: 2 targets failed:"),
                (2, "    `-p x --test a`"),
                (2, "    `-p x --test b`"),
            ]
        );
    }

    #[test]
    fn a_malformed_result_line_is_named() {
        let stdout = "\nrunning 1 test\ntest result: ok. many passed\n";
        assert_eq!(
            try_parse(stdout, "   Doc-tests x\n", 0, None),
            Err(PairingError::BadResult {
                line: "test result: ok. many passed".into()
            })
        );
    }
}
