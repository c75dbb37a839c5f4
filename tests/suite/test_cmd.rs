//! `cargo hbuild test` on the `testing` fixture: the same reports as
//! `cargo test` (the snapshots pinned from Cargo by `test_parity_harness`),
//! and passing results that are cached exactly as long as the binaries and
//! their declared inputs are unchanged.

use crate::common::snap::pin;
use crate::common::testrun::{parse_with, TestRunReport};
use crate::common::{fixture, Run, Ws};

/// The fixture's only harness-less binary under the runs below.
const NO_HARNESS: &[&str] = &["tests/plain.rs"];

/// `cargo hbuild test ARGS` with `--message-format json`: the parsed
/// report (JSON lines left out) and the run.
fn hbuild_test(ws: &Ws, args: &[&str], env: &[(&str, &str)]) -> (TestRunReport, Run) {
    let mut a = vec!["test", "--message-format", "json"];
    a.extend_from_slice(args);
    let r = ws.hbuild_env(&a, env);
    let stdout: String = r
        .stdout
        .lines()
        .filter(|l| {
            serde_json::from_str::<serde_json::Value>(l).map_or(true, |v| v.get("reason").is_none())
        })
        .map(|l| format!("{l}\n"))
        .collect();
    (parse_with(&stdout, &r.stderr, r.code, Some(NO_HARNESS)), r)
}

/// The report pinned as Cargo's for the same arguments.
fn assert_cargo_report(snapshot: &str, args: &[&str], report: &TestRunReport) {
    let header = ["cargo", "test"]
        .iter()
        .chain(args)
        .cloned()
        .collect::<Vec<_>>()
        .join(" ");
    pin(
        &format!("test_parity_{snapshot}"),
        &format!("{header}\n{}", report.clone().without_cache_marks()),
    );
}

/// The binaries a run executed (not served from the cache), as
/// `label [crate]`.
fn ran(report: &TestRunReport) -> Vec<String> {
    let mut v: Vec<String> = report
        .binaries
        .iter()
        .filter(|b| !b.cached)
        .map(|b| {
            format!(
                "{} [{}]",
                b.label,
                b.package_hint.clone().unwrap_or_default()
            )
        })
        .collect();
    v.sort();
    v
}

fn tests_summary(r: &Run) -> serde_json::Value {
    r.summary()["tests"].clone()
}

#[test]
fn test_reports_equal_cargo_test_with_every_flag() {
    let ws = fixture("testing");
    let runs: [(&str, &[&str], i32); 6] = [
        ("default", &[], 0),
        ("workspace_fail_fast", &["--workspace"], 101),
        (
            "workspace_no_fail_fast",
            &["--workspace", "--no-fail-fast"],
            101,
        ),
        ("release", &["--release"], 0),
        ("doc", &["--doc"], 0),
        ("name_filter", &["-p", "calc", "add"], 0),
    ];
    for (snapshot, args, code) in runs {
        let (report, r) = hbuild_test(&ws, args, &[]);
        assert_eq!(r.code, code, "{args:?}\n{}", r.stderr);
        assert_cargo_report(snapshot, args, &report);
    }
}

/// Every member but `sneaky`, whose test reads an undeclared file and is
/// never cached, and `failing`.
const CACHEABLE: &[&str] = &["--workspace", "--exclude", "sneaky", "--exclude", "failing"];

#[test]
fn passing_results_are_cached_until_an_input_changes() {
    let ws = fixture("testing");
    let (first, r) = hbuild_test(&ws, CACHEABLE, &[]);
    r.ok();
    assert!(first.binaries.iter().all(|b| !b.cached));

    // The same tree: nothing runs, the same totals are printed.
    let (second, r) = hbuild_test(&ws, CACHEABLE, &[]);
    let t = tests_summary(&r.ok());
    assert_eq!(
        (t["run"].as_u64(), t["cached"].as_u64()),
        (Some(0), Some(11))
    );
    assert!(second.binaries.iter().all(|b| b.cached));
    assert_eq!(second.clone().without_cache_marks(), first);

    // A new function in testutil: its own runs and those of calc, which
    // has it as a dev-dependency, run again; reader and sneaky do not.
    ws.append(
        "testutil/src/lib.rs",
        "\npub fn twice(x: i64) -> i64 { 2 * x }\n",
    );
    let (edited, r) = hbuild_test(&ws, CACHEABLE, &[]);
    r.ok();
    assert_eq!(
        ran(&edited),
        [
            "Doc-tests calc [calc]",
            "Doc-tests testutil [testutil]",
            "tests/cli.rs [cli]",
            "tests/fixtures.rs [fixtures]",
            "tests/plain.rs [plain]",
            "tests/relpath.rs [relpath]",
            "unittests src/lib.rs [calc]",
            "unittests src/lib.rs [testutil]",
            "unittests src/main.rs [calc_cli]",
        ]
    );

    // A data file of calc's package re-runs calc's tests only.
    ws.replace("calc/tests/data/input.txt", "\n", "\n\n");
    let (data, _) = hbuild_test(&ws, CACHEABLE, &[]);
    assert_eq!(
        ran(&data),
        [
            "Doc-tests calc [calc]",
            "tests/cli.rs [cli]",
            "tests/fixtures.rs [fixtures]",
            "tests/plain.rs [plain]",
            "tests/relpath.rs [relpath]",
            "unittests src/lib.rs [calc]",
            "unittests src/main.rs [calc_cli]",
        ]
    );
}

#[test]
fn a_declared_test_input_outside_the_package_reruns_the_tests_that_read_it() {
    let ws = fixture("testing");
    hbuild_test(&ws, &["-p", "reader"], &[]).1.ok();
    let (again, _) = hbuild_test(&ws, &["-p", "reader"], &[]);
    assert!(again.binaries.iter().all(|b| b.cached));
    ws.append("shared-data/numbers.txt", "4\n");
    let (edited, r) = hbuild_test(&ws, &["-p", "reader"], &[]);
    // The test sums the numbers: the new one makes it fail, as it must.
    assert_eq!(r.code, 101, "{}", r.stderr);
    assert_eq!(ran(&edited), ["unittests src/lib.rs [reader]"]);
    // A new file matching the pattern changes the key too.
    ws.replace("shared-data/numbers.txt", "4\n", "");
    hbuild_test(&ws, &["-p", "reader"], &[]).1.ok();
    std::fs::write(ws.path("shared-data/extra.txt"), "x").unwrap();
    let (added, r) = hbuild_test(&ws, &["-p", "reader"], &[]);
    r.ok();
    assert_eq!(
        ran(&added),
        ["Doc-tests reader [reader]", "unittests src/lib.rs [reader]"]
    );
}

#[test]
fn a_warm_cache_serves_a_copy_in_another_directory() {
    let a = fixture("testing");
    hbuild_test(&a, CACHEABLE, &[]).1.ok();
    let mut b = fixture("testing");
    b.cache = a.cache.clone();
    let (report, r) = hbuild_test(&b, CACHEABLE, &[]);
    let r = r.ok();
    // Three test binaries bake in their checkout's paths
    // (`env!("CARGO_MANIFEST_DIR")`, `env!("CARGO_BIN_EXE_calc-cli")`):
    // run from the cache here, they would read `a`'s fixtures or start
    // `a`'s binary. They are built and run here; everything else, and
    // every other result, comes from the cache.
    assert_eq!(
        ran(&report),
        [
            "tests/cli.rs [cli]",
            "tests/fixtures.rs [fixtures]",
            "unittests src/lib.rs [reader]"
        ],
        "{}",
        r.stderr
    );
    assert_eq!(r.summary()["executed"], 6, "{}", r.stderr);
    assert_eq!(tests_summary(&r)["cached"], 8);
    // Nor does a third checkout take them from `b`.
    let mut c = fixture("testing");
    c.cache = a.cache.clone();
    let (third, r) = hbuild_test(&c, CACHEABLE, &[]);
    assert_eq!(r.ok().summary()["executed"], 6);
    assert_eq!(ran(&third), ran(&report));
}

#[test]
fn a_failing_test_fails_on_every_run_and_passing_ones_stay_cached() {
    let ws = fixture("testing");
    let args = ["-p", "failing", "--no-fail-fast"];
    let (first, r) = hbuild_test(&ws, &args, &[]);
    assert_eq!(r.code, 101);
    let (second, r) = hbuild_test(&ws, &args, &[]);
    assert_eq!(r.code, 101);
    assert_eq!(
        second.failed_targets,
        ["-p failing --lib", "-p failing --test broken"]
    );
    // Both binaries fail, so both run again; the doctests passed and are cached.
    assert_eq!(
        ran(&second),
        ["tests/broken.rs [broken]", "unittests src/lib.rs [failing]"]
    );
    assert_eq!(second.without_cache_marks(), first);
}

#[test]
fn no_cache_test_results_runs_every_test() {
    let ws = fixture("testing");
    hbuild_test(&ws, &["-p", "testutil"], &[]).1.ok();
    let (flag, r) = hbuild_test(&ws, &["-p", "testutil", "--no-cache-test-results"], &[]);
    assert_eq!(tests_summary(&r.ok())["run"], 2);
    assert!(flag.binaries.iter().all(|b| !b.cached));
    let (var, r) = hbuild_test(
        &ws,
        &["-p", "testutil"],
        &[("HBUILD_CACHE_TEST_RESULTS", "0")],
    );
    assert_eq!(tests_summary(&r.ok())["run"], 2);
    assert!(var.binaries.iter().all(|b| !b.cached));
    // Selecting tests by name is its own entry.
    let (filtered, _) = hbuild_test(&ws, &["-p", "testutil", "--", "sum"], &[]);
    assert!(filtered.binaries.iter().all(|b| !b.cached));
}

#[test]
fn test_binaries_built_by_hbuild_run_from_where_they_are_reported() {
    let ws = fixture("testing");
    let r = ws
        .hbuild(&["test", "--no-run", "-p", "calc", "--message-format", "json"])
        .ok();
    let exes: Vec<String> = r
        .messages("compiler-artifact")
        .iter()
        .filter(|m| m["profile"]["test"] == true)
        .filter_map(|m| m["executable"].as_str().map(str::to_string))
        .collect();
    assert_eq!(exes.len(), 6, "{exes:?}");
    let deps = ws.path("target/debug/deps");
    for exe in &exes {
        assert!(std::path::Path::new(exe).starts_with(&deps), "{exe}");
    }
    // The relative-path test finds `deps/../calc-cli` and passes, run from
    // the package root as Cargo runs it.
    let relpath = exes.iter().find(|e| e.contains("/relpath-")).unwrap();
    let out = std::process::Command::new(relpath)
        .current_dir(ws.path("calc"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // `Executable` lines, as `cargo test --no-run` prints them.
    let executables: Vec<&str> = r
        .stderr
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("Executable "))
        .map(|l| l.split(" (").next().unwrap())
        .collect();
    assert_eq!(
        executables,
        [
            "unittests src/lib.rs",
            "unittests src/main.rs",
            "tests/cli.rs",
            "tests/fixtures.rs",
            "tests/plain.rs",
            "tests/relpath.rs",
        ]
    );
}

/// The stderr of a run without timings and compile lines, redacted.
fn status_lines(ws: &Ws, r: &Run) -> String {
    let text: String = r
        .stderr
        .lines()
        .filter(|l| {
            !l.trim_start().starts_with("Compiling") && !l.trim_start().starts_with("Finished")
        })
        .map(|l| format!("{l}\n"))
        .collect();
    crate::common::snap::redact(ws, &text)
}

#[test]
fn a_test_reading_an_undeclared_file_is_warned_about_and_not_cached_until_declared() {
    let ws = fixture("testing");
    let human = |args: &[&str]| {
        let mut a = vec!["test", "-p", "sneaky"];
        a.extend_from_slice(args);
        ws.hbuild(&a)
    };
    human(&[]).ok();
    // Run again: the unit tests read ../shared-data, so they run again,
    // with one warning that says what to declare; the doctests did not.
    let again = human(&[]).ok();
    pin("test_undeclared_input_warning", &status_lines(&ws, &again));
    let strict = human(&["--strict"]);
    assert_eq!(strict.code, 101, "{}", strict.stderr);
    assert!(
        strict
            .stderr
            .contains("cannot be cached correctly (--strict)"),
        "{}",
        strict.stderr
    );

    ws.append(
        "sneaky/Cargo.toml",
        "\n[package.metadata.hbuild]\ntest-inputs = [\"../shared-data/numbers.txt\"]\n",
    );
    let declared = human(&[]).ok();
    assert!(
        !declared.stderr.contains("declared inputs"),
        "{}",
        declared.stderr
    );
    let cached = human(&[]).ok();
    let report = crate::common::testrun::parse(&cached.stdout, &cached.stderr, cached.code);
    assert!(
        report.binaries.iter().all(|b| b.cached),
        "{}",
        cached.stderr
    );
    // Declared, the file is keyed: changing it runs the test again (and
    // fails it, as the count is wrong).
    ws.append("shared-data/numbers.txt", "40\n");
    let edited = human(&[]);
    assert_eq!(edited.code, 101);
    assert!(edited
        .stderr
        .contains("error: test failed, to rerun pass `-p sneaky --lib`"));
}

/// The summary line of a nextest run (`14 tests run: 14 passed, 1 skipped`).
fn nextest_summary(r: &Run) -> String {
    r.stderr
        .lines()
        .find(|l| l.trim_start().starts_with("Summary ["))
        .map(|l| l.split("] ").nth(1).unwrap_or("").trim().to_string())
        .unwrap_or_else(|| panic!("no nextest summary:\n{}", r.stderr))
}

#[test]
fn nextest_runs_hbuild_built_binaries_with_the_documented_recipe() {
    let recipe = crate::common::repo_root().join("docs/recipes/hbuild-cargo.sh");
    let bin = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(crate::common::hbuild_bin(), bin.path().join("cargo-hbuild"))
        .unwrap();
    let path = format!(
        "{}:{}",
        bin.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let selections: [&[&str]; 2] = [
        &[
            "-p", "calc", "--lib", "--bins", "--test", "cli", "--test", "fixtures", "--test",
            "relpath",
        ],
        &["-p", "failing", "--no-fail-fast"],
    ];
    for args in selections {
        let nextest = |ws: &Ws, env: &[(&str, &str)]| {
            let mut c = std::process::Command::new("cargo-nextest");
            c.arg("nextest").arg("run").args(args).current_dir(&ws.root);
            c.env("CARGO_TARGET_DIR", ws.path("target"));
            c.env("HBUILD_CACHE_DIR", &ws.cache);
            c.env_remove("CARGO");
            for (k, v) in env {
                c.env(k, v);
            }
            Run::from(c.output().unwrap())
        };
        let plain = fixture("testing");
        let cargo = nextest(&plain, &[]);
        let ws = fixture("testing");
        let hb = nextest(
            &ws,
            &[("CARGO", recipe.to_str().unwrap()), ("PATH", path.as_str())],
        );
        assert_eq!(hb.code, cargo.code, "{args:?}\n{}", hb.stderr);
        assert_eq!(nextest_summary(&hb), nextest_summary(&cargo), "{args:?}");
        // hbuild built them: its own directory is there, Cargo's is not.
        assert!(ws.path("target/hbuild").is_dir(), "{}", hb.stderr);
        assert!(!ws.path("target/debug/.fingerprint").exists());
    }
}

#[test]
fn a_test_starting_another_packages_binary_is_keyed_on_it_or_not_cached() {
    let ws = crate::common::workspace(&[
        (
            "Cargo.toml",
            "[workspace]\nmembers = [\"tool\", \"user\"]\nresolver = \"2\"\n",
        ),
        (
            "tool/Cargo.toml",
            "[package]\nname = \"tool\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
        ),
        ("tool/src/main.rs", "fn main() { println!(\"one\"); }\n"),
        (
            "user/Cargo.toml",
            "[package]\nname = \"user\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
        ),
        ("user/src/lib.rs", ""),
        (
            "user/tests/calls_tool.rs",
            r#"#[test]
fn tool_says_one() {
    let exe = std::env::current_exe().unwrap();
    let tool = exe.parent().unwrap().parent().unwrap().join("tool");
    let out = std::process::Command::new(tool).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "one\n");
}
"#,
        ),
    ]);
    // The binary exists from a build; `test -p user` does not build it.
    ws.hbuild(&["-p", "tool"]).ok();
    let args = ["test", "-p", "user", "--test", "calls_tool"];
    let first = ws.hbuild(&args).ok();
    assert!(
        first.stderr.contains("target/debug/tool"),
        "an unkeyed binary read is named:\n{}",
        first.stderr
    );
    // Not cached: after the binary changes, the test runs and fails.
    ws.replace("tool/src/main.rs", "one", "two");
    ws.hbuild(&["-p", "tool"]).ok();
    let second = ws.hbuild(&args);
    assert_eq!(
        second.code, 101,
        "a stale pass was replayed:\n{}",
        second.stderr
    );
}
