//! Cargo's own `cargo test` on the `testing` fixture, parsed by
//! tests/common/testrun.rs and pinned: the reports `cargo hbuild test` must
//! equal. One workspace copy for all runs, so the dev build is shared.

use crate::common::snap::pin;
use crate::common::testrun::{cargo_test_run, parse, parse_with, TestRunReport};
use crate::common::{fixture, Ws};

/// The fixture's only harness-less binary under the runs below.
const NO_HARNESS: &[&str] = &["tests/plain.rs"];

/// Runs `cargo test ARGS`, checks that inferring the harness-less binaries
/// pairs the output as knowing them does, and pins the report.
fn run_and_pin(ws: &Ws, snapshot: &str, args: &[&str], exit_code: i32) -> TestRunReport {
    let r = cargo_test_run(ws, args);
    let report = parse(&r.stdout, &r.stderr, r.code);
    let known = parse_with(&r.stdout, &r.stderr, r.code, Some(NO_HARNESS));
    assert_eq!(
        report, known,
        "inferred and declared harness-less binaries differ"
    );
    assert_eq!(
        r.code,
        exit_code,
        "`cargo test {}`\n--- stdout\n{}\n--- stderr\n{}",
        args.join(" "),
        r.stdout,
        r.stderr
    );
    pin(
        &format!("test_parity_{snapshot}"),
        &format!(
            "{}\n{report}",
            ["cargo", "test"]
                .iter()
                .chain(args)
                .cloned()
                .collect::<Vec<_>>()
                .join(" ")
        ),
    );
    report
}

#[test]
fn cargo_test_reports_on_the_testing_fixture_are_pinned() {
    let ws = fixture("testing");
    let default = run_and_pin(&ws, "default", &[], 0);
    assert!(default.binaries.iter().all(|b| b.failed == 0 && !b.cached));
    let fast = run_and_pin(&ws, "workspace_fail_fast", &["--workspace"], 101);
    assert_eq!(fast.failed_targets, ["-p failing --lib"]);
    let all = run_and_pin(
        &ws,
        "workspace_no_fail_fast",
        &["--workspace", "--no-fail-fast"],
        101,
    );
    assert_eq!(
        all.failed_targets,
        ["-p failing --lib", "-p failing --test broken"]
    );
    let release = run_and_pin(&ws, "release", &["--release"], 0);
    assert_eq!(
        release, default,
        "a release run reports what a dev run does"
    );
    let doc = run_and_pin(&ws, "doc", &["--doc"], 0);
    assert!(doc
        .binaries
        .iter()
        .all(|b| b.label.starts_with("Doc-tests ")));
    let filter = run_and_pin(&ws, "name_filter", &["-p", "calc", "add"], 0);
    assert!(filter.binaries.iter().any(|b| b.filtered > 0));
}
