//! The timing report's HTML: one file with its data as JSON, its style
//! and its script inline (no network, it opens from `file://`). The script
//! draws the timeline, the concurrency chart and the tables from the data.

use serde::Serialize;

use super::schedule::{CriticalPath, Sample};
use super::{Row, Status};
use crate::cache::remote::RemoteStats;
use crate::exec::BuildSummary;
use crate::plan::{ActionGraph, ActionKind};

const STYLE: &str = include_str!("page.css");
const SCRIPT: &str = include_str!("page.js");

/// Everything the page shows.
pub(super) struct Report<'a> {
    /// When the invocation started (UTC, RFC 3339).
    pub(super) started: String,
    pub(super) graph: &'a ActionGraph,
    pub(super) summary: &'a BuildSummary,
    /// The actions that ended, by start time.
    pub(super) rows: Vec<Row>,
    /// What each row waited for (row indices).
    pub(super) deps: Vec<Vec<usize>>,
    /// Over row indices.
    pub(super) critical: CriticalPath,
    pub(super) concurrency: Vec<Sample>,
}

/// The page's data, as its script reads it (times in seconds since the
/// build started).
#[derive(Serialize)]
struct Data<'a> {
    started: &'a str,
    profile: &'a str,
    success: bool,
    elapsed: f64,
    summary: SummaryData<'a>,
    actions: Vec<ActionData<'a>>,
    critical: CriticalData,
    /// `[time, running, waiting]`.
    concurrency: Vec<(f64, usize, usize)>,
}

#[derive(Serialize)]
struct SummaryData<'a> {
    actions_total: usize,
    executed: usize,
    fresh: usize,
    local_hits: usize,
    remote_hits: usize,
    skipped: usize,
    uncacheable: Vec<Uncacheable<'a>>,
    tests: Option<TestsData>,
    remote: Option<&'a RemoteStats>,
}

#[derive(Serialize)]
struct Uncacheable<'a> {
    action: &'a str,
    reason: &'a str,
}

#[derive(Serialize)]
struct TestsData {
    total: usize,
    run: usize,
    cached: usize,
    passed: usize,
    failed: usize,
}

#[derive(Serialize)]
struct ActionData<'a> {
    name: String,
    package: String,
    kind: ActionKind,
    outcome: Status,
    ready: f64,
    start: f64,
    end: f64,
    deps: &'a [usize],
    critical: bool,
}

#[derive(Serialize)]
struct CriticalData {
    duration: f64,
    actions: Vec<usize>,
}

/// The page of `r`.
pub(super) fn render(r: &Report<'_>) -> String {
    let json = serde_json::to_string(&data(r)).expect("the report's data serialises");
    // In JSON, `<` occurs only inside strings, where its escape means the
    // same: no `</script>` can end the data early.
    let json = json.replace('<', "\\u003c");
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>cargo hbuild timings</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n\
         {BODY}<script>\nconst DATA = {json};\n</script>\n<script>\n{SCRIPT}</script>\n\
         </body>\n</html>\n"
    )
}

/// The page's skeleton; the script fills it.
const BODY: &str = r#"<h1>Build timings</h1>
<noscript><p class="warning">This report is drawn by its script: open it with JavaScript enabled.</p></noscript>
<table id="totals" class="summary"></table>
<h2>Cache statistics</h2>
<table id="stats" class="summary"></table>
<div id="uncacheable"></div>
<h2>Timeline</h2>
<div id="legend" class="legend"></div>
<div class="scroll"><svg id="timeline" xmlns="http://www.w3.org/2000/svg"></svg></div>
<h2>Concurrency</h2>
<div id="concurrency-legend" class="legend"></div>
<div class="scroll"><svg id="concurrency" xmlns="http://www.w3.org/2000/svg"></svg></div>
<h2>Critical path</h2>
<p id="critical-summary"></p>
<ol id="critical-path"></ol>
<h2>Actions</h2>
<table id="actions" class="actions"></table>
"#;

fn data<'a>(r: &'a Report<'a>) -> Data<'a> {
    let s = r.summary;
    let secs = |d: std::time::Duration| d.as_secs_f64();
    let on_path: std::collections::BTreeSet<usize> = r.critical.actions.iter().copied().collect();
    Data {
        started: &r.started,
        profile: &r.graph.profile,
        success: s.success,
        elapsed: secs(s.elapsed),
        summary: SummaryData {
            actions_total: s.actions_total,
            executed: s.executed,
            fresh: s.fresh,
            local_hits: s.local_hits,
            remote_hits: s.remote_hits,
            skipped: s.skipped,
            uncacheable: s
                .uncacheable
                .iter()
                .map(|(action, reason)| Uncacheable { action, reason })
                .collect(),
            tests: s.tests.as_ref().map(|t| TestsData {
                total: t.total,
                run: t.run,
                cached: t.cached,
                passed: t.passed,
                failed: t.failed,
            }),
            remote: s.remote.as_ref(),
        },
        actions: r
            .rows
            .iter()
            .enumerate()
            .map(|(i, row)| {
                let a = &r.graph.actions[row.id.index()];
                ActionData {
                    name: a.display_name(),
                    package: format!("{} v{}", a.package_name, a.package_version),
                    kind: a.kind,
                    outcome: row.status,
                    ready: secs(row.span.ready),
                    start: secs(row.span.start),
                    end: secs(row.span.end),
                    deps: &r.deps[i],
                    critical: on_path.contains(&i),
                }
            })
            .collect(),
        critical: CriticalData {
            duration: secs(r.critical.duration),
            actions: r.critical.actions.clone(),
        },
        concurrency: r
            .concurrency
            .iter()
            .map(|c| (secs(c.at), c.running, c.waiting))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::ActionId;
    use crate::exec::events::ActionSpan;

    #[test]
    fn names_cannot_end_the_script_early() {
        let mut graph = crate::fingerprint::fixture::graph();
        graph.actions[0].package_name = "x</script><b>".into();
        let summary = BuildSummary::default();
        let report = Report {
            started: "2026-01-01T00:00:00.000Z".into(),
            graph: &graph,
            summary: &summary,
            rows: vec![Row {
                id: ActionId(0),
                status: Status::Executed,
                span: ActionSpan::default(),
            }],
            deps: vec![vec![]],
            critical: CriticalPath::default(),
            concurrency: vec![],
        };
        let html = render(&report);
        assert_eq!(html.matches("</script>").count(), 2, "{html}");
        assert!(html.contains(r"x\u003c/script>\u003cb>"));
        // Nothing is loaded from elsewhere.
        for external in [" src=", " href=", "<link", "@import", "url("] {
            assert!(!html.contains(external), "{external}");
        }
    }
}
