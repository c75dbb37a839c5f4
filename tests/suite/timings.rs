//! `--timings`: the HTML report is written where Cargo writes it, and a
//! real headless Chromium draws it from `file://` with the same counts as
//! the build's own summary, the critical path marked.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::common::chromium::{dump_dom, Dom};
use crate::common::{fixture, Run, Ws};

/// tiny's actions form one chain: the build script, its run, the library
/// and the binary that uses it. Whatever their durations, it is the
/// critical path.
const TINY_CHAIN: [&str; 4] = [
    "greet (build script)",
    "greet (build script run)",
    "greet",
    "app (bin \"app\")",
];

/// The report a build says it saved (its `Timing` line), checked against
/// Cargo's naming: `target/cargo-timings/cargo-timing-<stamp>.html`, with
/// `cargo-timing.html` the same bytes.
#[track_caller]
fn saved_report(ws: &Ws, run: &Run) -> PathBuf {
    let line = run
        .stderr
        .lines()
        .find(|l| l.starts_with("      Timing report saved to "))
        .unwrap_or_else(|| panic!("no `Timing` line:\n{}", run.stderr));
    let path = PathBuf::from(
        line.trim_start()
            .strip_prefix("Timing report saved to ")
            .unwrap(),
    );
    let dir = ws.path("target/cargo-timings");
    assert_eq!(path.parent(), Some(dir.as_path()), "{line}");
    let name = path.file_name().unwrap().to_str().unwrap();
    let stamp = name
        .strip_prefix("cargo-timing-")
        .and_then(|n| n.strip_suffix(".html"))
        .unwrap_or_else(|| panic!("not Cargo's name: {name}"));
    // `20261202T034251459Z-b7b5e79d84596c9c`, as Cargo names it.
    let (time, id) = stamp.split_once('-').unwrap_or_else(|| panic!("{name}"));
    assert!(
        time.len() == 19 && time.as_bytes()[8] == b'T' && time.ends_with('Z'),
        "{name}"
    );
    assert!(
        id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit()),
        "{name}"
    );
    let page = std::fs::read(&path).unwrap();
    assert_eq!(std::fs::read(dir.join("cargo-timing.html")).unwrap(), page);
    path
}

/// The page as Chromium drew it, after its script ran.
#[track_caller]
fn drawn(report: &Path) -> Dom {
    let dom = dump_dom(report);
    assert_eq!(
        dom.tags("body")[0].attr("data-rendered"),
        "true",
        "the page's script did not finish\n--- chromium\n{}\n--- DOM\n{}",
        dom.log,
        dom.html
    );
    dom
}

/// A number shown in the statistics or totals table.
#[track_caller]
fn stat(dom: &Dom, name: &str) -> u64 {
    let cells = dom.tags_with("td", "data-stat", name);
    assert_eq!(cells.len(), 1, "one `{name}` cell");
    cells[0]
        .text
        .parse()
        .unwrap_or_else(|e| panic!("`{name}` = {:?}: {e}", cells[0].text))
}

/// The timeline's bars: one per action that ran or was checked.
fn bars(dom: &Dom) -> Vec<crate::common::chromium::Tag> {
    dom.tags("rect")
        .into_iter()
        .filter(|t| t.attr("class").split(' ').any(|c| c == "action"))
        .collect()
}

fn bars_with(dom: &Dom, outcome: &str) -> u64 {
    bars(dom)
        .iter()
        .filter(|b| b.attr("data-outcome") == outcome)
        .count() as u64
}

/// The page shows what the build's `hbuild-summary` says: in its
/// statistics table and in its timeline, one bar per action.
#[track_caller]
fn assert_matches_summary(dom: &Dom, summary: &serde_json::Value) {
    let n = |v: &serde_json::Value| v.as_u64().unwrap_or_else(|| panic!("{summary}"));
    let expected = [
        ("executed", "executed", n(&summary["executed"])),
        ("fresh", "fresh", n(&summary["fresh"])),
        (
            "local-hits",
            "local-hit",
            n(&summary["cache_hits"]["local"]),
        ),
        (
            "remote-hits",
            "remote-hit",
            n(&summary["cache_hits"]["remote"]),
        ),
    ];
    for (cell, outcome, count) in expected {
        assert_eq!(stat(dom, cell), count, "`{cell}` shown, summary {summary}");
        assert_eq!(
            bars_with(dom, outcome),
            count,
            "{outcome} bars, summary {summary}"
        );
    }
    assert_eq!(stat(dom, "actions-total"), n(&summary["actions_total"]));
    assert_eq!(bars(dom).len() as u64, n(&summary["actions_total"]));
    assert_eq!(
        stat(dom, "uncacheable"),
        summary["uncacheable"].as_array().unwrap().len() as u64
    );
    if summary["tests"].is_object() {
        let t = &summary["tests"];
        assert_eq!(stat(dom, "tests-total"), n(&t["total"]));
        assert_eq!(stat(dom, "tests-run"), n(&t["run"]));
        assert_eq!(stat(dom, "tests-cached"), n(&t["cached"]));
    }
    assert!(
        dom.tags_with("p", "id", "mismatch").is_empty(),
        "{}",
        dom.html
    );
}

/// The actions marked on the critical path, in the list's order, checked
/// against the bars marked on the timeline.
#[track_caller]
fn critical_path(dom: &Dom) -> Vec<String> {
    let list: Vec<String> = dom
        .tags("li")
        .into_iter()
        .filter(|t| t.attrs.contains_key("data-action"))
        .map(|t| t.attr("data-action").to_string())
        .collect();
    let mut marked: Vec<String> = bars(dom)
        .into_iter()
        .filter(|b| b.attr("data-critical") == "true")
        .map(|b| {
            assert!(b.attr("class").contains("critical"), "{b:?}");
            b.attr("data-action").to_string()
        })
        .collect();
    let mut sorted = list.clone();
    sorted.sort();
    marked.sort();
    assert_eq!(marked, sorted, "the bars marked are the path's");
    list
}

/// The concurrency chart's maximum of running actions.
fn max_running(dom: &Dom) -> u64 {
    let lines = dom.tags_with("polyline", "class", "running");
    assert_eq!(lines.len(), 1, "one line of running actions");
    assert!(!lines[0].attr("points").is_empty());
    lines[0].attr("data-max").parse().unwrap()
}

#[test]
fn a_cold_and_a_warm_build_write_reports_that_chromium_draws() {
    let cold = fixture("tiny");
    let run = cold
        .hbuild(&["--timings", "--message-format", "json", "-j", "2"])
        .ok();
    let report = saved_report(&cold, &run);
    // As Cargo: the report is announced before `Finished`.
    let timing = run.stderr.find("Timing report saved").unwrap();
    assert!(
        timing < run.stderr.find("Finished").unwrap(),
        "{}",
        run.stderr
    );
    let dom = drawn(&report);
    assert_eq!(run.summary()["executed"], 4);
    assert_matches_summary(&dom, &run.summary());
    assert_eq!(critical_path(&dom), TINY_CHAIN);
    assert_eq!(max_running(&dom), 1, "a chain runs one action at a time");
    let names: Vec<String> = bars(&dom)
        .iter()
        .map(|b| b.attr("data-action").to_string())
        .collect();
    assert_eq!(names, TINY_CHAIN, "bars in the order the actions started");
    assert_eq!(bars(&dom)[3].attr("data-package"), "app v0.1.0");

    // Elsewhere, with the same cache: every action is a local hit.
    let mut warm = fixture("tiny");
    warm.cache = cold.cache.clone();
    let run = warm
        .hbuild(&["--timings=html", "--message-format", "json"])
        .ok();
    assert_eq!(run.summary()["cache_hits"]["local"], 4);
    let earlier = saved_report(&warm, &run);
    let dom = drawn(&earlier);
    assert_matches_summary(&dom, &run.summary());
    assert_eq!(critical_path(&dom), TINY_CHAIN);

    // And once more: every action is fresh; the report of the last build
    // replaces `cargo-timing.html`, the earlier one stays.
    let again = warm.hbuild(&["--timings", "--message-format", "json"]).ok();
    assert_eq!(again.summary()["fresh"], 4);
    let latest = saved_report(&warm, &again);
    assert_ne!(latest, earlier);
    assert!(earlier.is_file());
    let dom = drawn(&latest);
    assert_matches_summary(&dom, &again.summary());
    let reports = std::fs::read_dir(warm.path("target/cargo-timings"))
        .unwrap()
        .count();
    assert_eq!(reports, 3, "two timestamped reports and cargo-timing.html");
}

#[test]
fn a_test_run_with_timings_shows_its_test_runs() {
    let ws = fixture("tiny");
    let run = ws
        .hbuild(&["test", "--timings", "--message-format", "json"])
        .ok();
    let tests = &run.summary()["tests"];
    assert_eq!(tests["total"], 3, "{}", run.summary());
    let dom = drawn(&saved_report(&ws, &run));
    assert_matches_summary(&dom, &run.summary());
    let runs = dom.tags_with("rect", "data-kind", "test-run");
    let names: Vec<&str> = runs.iter().map(|r| r.attr("data-action")).collect();
    assert_eq!(
        names,
        [
            "app (bin \"app\" test run)",
            "greet (lib \"greet\" test run)",
            "greet (doctests)"
        ],
        "the test runs, in Cargo's order"
    );
    assert!(runs.iter().all(|r| r.attr("data-outcome") == "executed"));
    // Test runs run one after the other, each after the last: the path
    // ends with them.
    let owned: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let path = critical_path(&dom);
    assert!(path.ends_with(&owned), "{path:?}");

    // Again: the results are cached, and the page says so.
    let run = ws
        .hbuild(&["test", "--timings", "--message-format", "json"])
        .ok();
    assert_eq!(run.summary()["tests"]["cached"], 3, "{}", run.summary());
    let dom = drawn(&saved_report(&ws, &run));
    assert_matches_summary(&dom, &run.summary());
    assert_eq!(stat(&dom, "tests-cached"), 3);
}

#[test]
fn a_failed_build_still_writes_its_report() {
    let ws = fixture("failures");
    ws.replace(
        "crates/broken-rs/src/lib.rs",
        "let answer: u32 = 42; // HB_INJECT_TYPE_ERROR",
        "let answer: u32 = \"not a number\";",
    );
    let run = ws.hbuild(&["--timings", "-p", "broken-rs", "--message-format", "json"]);
    assert_eq!(run.code, 101, "{}", run.stderr);
    let dom = drawn(&saved_report(&ws, &run));
    assert_eq!(bars_with(&dom, "failed"), 1);
    assert_eq!(stat(&dom, "failed"), 1);
    let failed = dom.tags_with("rect", "data-outcome", "failed");
    assert_eq!(failed[0].attr("data-action"), "broken-rs");
}

#[test]
fn timings_formats_other_than_html_are_refused_naming_the_flag() {
    let ws = fixture("tiny");
    let run = ws.hbuild(&["--timings=json"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("invalid value 'json' for '--timings[=<FMTS>]'")
            && run.stderr.contains("[possible values: html]"),
        "{}",
        run.stderr
    );
    assert!(!ws.path("target").exists(), "nothing was built");
}

#[test]
fn the_server_never_answers_a_build_with_timings() {
    let ws = fixture("tiny");
    let env = [("HBUILD_SERVER_IDLE_TIMEOUT", "120s")];
    ws.hbuild_env(&["--server", "--message-format", "json"], &env)
        .ok();
    let status = || -> serde_json::Value {
        let run = ws
            .hbuild(&["server", "status", "--message-format", "json"])
            .ok();
        serde_json::from_str(run.stdout.trim()).unwrap()
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while status()["status"]["verified"].as_u64().unwrap_or(0) < 1 {
        assert!(
            Instant::now() < deadline,
            "the server never checked the build"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // The no-op is verified: the same invocation would be answered, with
    // `--timings` it is built directly and writes its report.
    let run = ws.hbuild(&["--timings", "--message-format", "json"]).ok();
    let answered = status()["status"]["answered"].as_u64().unwrap();
    // Without the flag, the server does answer it (so it could have).
    ws.hbuild(&["--message-format", "json"]).ok();
    let answered_plain = status()["status"]["answered"].as_u64().unwrap();
    ws.hbuild(&["server", "stop"]).ok();
    assert_eq!(answered, 0, "the server answered a --timings build");
    assert_eq!(answered_plain, 1, "the server answers the plain build");
    assert_eq!(run.summary()["fresh"], 4);
    let dom = drawn(&saved_report(&ws, &run));
    assert_matches_summary(&dom, &run.summary());
}

#[test]
fn the_dom_reader_sees_attributes_and_text() {
    let dom = Dom {
        html: r#"<td data-stat="executed">4</td><rect class="a b" data-action="app (bin &quot;app&quot;)" data-x="1&amp;2"><title>t</title></rect><tdx>"#.into(),
        log: String::new(),
    };
    let td = dom.tags("td");
    assert_eq!(td.len(), 1);
    assert_eq!(
        (td[0].attr("data-stat"), td[0].text.as_str()),
        ("executed", "4")
    );
    let r = dom.tags_with("rect", "class", "a b");
    assert_eq!(r[0].attr("data-action"), "app (bin \"app\")");
    assert_eq!(r[0].attr("data-x"), "1&2");
}
