//! `--timings`: Cargo's HTML timing report, for hbuild's actions. It
//! collects every action's span from the build's events (fresh actions,
//! cache hits and test runs included) and, when the build ends, writes
//! `cargo-timings/cargo-timing-<timestamp>.html` under the target dir and
//! a copy named `cargo-timing.html`, as Cargo does. The page is
//! self-contained: its data, style and script are inline.

mod page;
mod schedule;

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::core::{ActionId, Digest};
use crate::exec::events::{ActionSpan, BuildEvent, Outcome};
use crate::exec::BuildSummary;
use crate::plan::{Action, ActionGraph};

/// Why the timing report could not be written.
#[derive(Debug, thiserror::Error)]
pub enum TimingsError {
    /// The report's directory or file could not be written.
    #[error("cannot write the timing report `{}`: {source}", path.display())]
    Write {
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

/// How an action ended, as the report colours it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Status {
    /// Run now.
    Executed,
    /// Up to date in the target dir.
    Fresh,
    /// Restored from the local cache.
    LocalHit,
    /// Restored from the remote cache.
    RemoteHit,
    /// Failed (a test run that failed included).
    Failed,
}

impl From<Outcome> for Status {
    fn from(o: Outcome) -> Self {
        match o {
            Outcome::Executed => Status::Executed,
            Outcome::Fresh => Status::Fresh,
            Outcome::LocalHit => Status::LocalHit,
            Outcome::RemoteHit | Outcome::RemoteLeft => Status::RemoteHit,
        }
    }
}

/// One action that ended.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Row {
    pub(crate) id: ActionId,
    pub(crate) status: Status,
    pub(crate) span: ActionSpan,
}

/// The collector of one build's timings.
pub struct Timings {
    /// Wall-clock time of the invocation's start (the report's name).
    started: SystemTime,
    rows: Vec<Row>,
}

impl Default for Timings {
    fn default() -> Self {
        Self::new()
    }
}

impl Timings {
    /// A collector for a build starting now.
    pub fn new() -> Self {
        Timings {
            started: SystemTime::now(),
            rows: Vec::new(),
        }
    }

    /// Notes how an action ended.
    pub fn record(&mut self, event: &BuildEvent) {
        let (id, status, span) = match event {
            BuildEvent::ActionFinished { id, outcome, span } => (*id, (*outcome).into(), *span),
            BuildEvent::ActionFailed { id, span, .. } => (*id, Status::Failed, *span),
            _ => return,
        };
        self.rows.push(Row { id, status, span });
    }

    /// Writes the report of the build that ended with `summary`; returns
    /// the timestamped file's path (relative paths taken from `cwd`).
    pub fn write(
        &self,
        graph: &ActionGraph,
        summary: &BuildSummary,
        cwd: &Path,
    ) -> Result<PathBuf, TimingsError> {
        let mut rows = self.rows.clone();
        rows.sort_by_key(|r| (r.span.start, r.id));
        let html = page::render(&self.report(graph, summary, &rows));
        let dir = cwd.join(&graph.target_dir).join("cargo-timings");
        let err = |path: &Path| {
            let path = path.to_path_buf();
            move |source| TimingsError::Write { path, source }
        };
        std::fs::create_dir_all(&dir).map_err(err(&dir))?;
        let stamped = dir.join(format!("cargo-timing-{}.html", file_stamp(self.started)));
        std::fs::write(&stamped, &html).map_err(err(&stamped))?;
        let latest = dir.join("cargo-timing.html");
        std::fs::write(&latest, &html).map_err(err(&latest))?;
        Ok(stamped)
    }

    /// What the page shows.
    fn report<'a>(
        &self,
        graph: &'a ActionGraph,
        summary: &'a BuildSummary,
        rows: &[Row],
    ) -> page::Report<'a> {
        // The report's rows are the actions that ended, by start time;
        // edges point into them.
        let mut row_of = vec![None; graph.actions.len()];
        for (r, row) in rows.iter().enumerate() {
            row_of[row.id.index()] = Some(r);
        }
        let spans: Vec<Option<ActionSpan>> = rows.iter().map(|r| Some(r.span)).collect();
        let deps: Vec<Vec<usize>> = rows
            .iter()
            .map(|r| {
                waits_for(&graph.actions[r.id.index()])
                    .filter_map(|d| row_of.get(d.index()).copied().flatten())
                    .collect()
            })
            .collect();
        let critical = schedule::critical_path(&spans, &deps);
        let all: Vec<ActionSpan> = rows.iter().map(|r| r.span).collect();
        page::Report {
            started: rfc3339(self.started),
            graph,
            summary,
            rows: rows.to_vec(),
            deps,
            critical,
            concurrency: schedule::concurrency(&all),
        }
    }
}

/// The actions that `a` waits for before it may start: its dependencies,
/// and for a test run the run before it (Cargo's order).
fn waits_for(a: &Action) -> impl Iterator<Item = ActionId> + '_ {
    a.deps
        .iter()
        .map(|d| d.action)
        .chain(a.test.as_ref().and_then(|t| t.after))
}

/// Cargo's report name: the start time in UTC to the millisecond, and an
/// id that keeps two reports of the same millisecond apart.
fn file_stamp(t: SystemTime) -> String {
    let since = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let c = Civil::of(since);
    let id = Digest::of_bytes(format!("{}:{}", since.as_nanos(), std::process::id()).as_bytes());
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}{:03}Z-{}",
        c.year,
        c.month,
        c.day,
        c.hour,
        c.minute,
        c.second,
        since.subsec_millis(),
        &id.to_hex()[..16]
    )
}

/// `2026-01-31T12:34:56.789Z`.
fn rfc3339(t: SystemTime) -> String {
    let since = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let c = Civil::of(since);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        c.year,
        c.month,
        c.day,
        c.hour,
        c.minute,
        c.second,
        since.subsec_millis()
    )
}

/// A UTC date and time of day.
#[derive(Debug, PartialEq, Eq)]
struct Civil {
    year: i64,
    month: u32,
    day: u32,
    hour: u64,
    minute: u64,
    second: u64,
}

impl Civil {
    /// The UTC date and time `since` the Unix epoch (Hinnant's
    /// days-to-civil algorithm, for the proleptic Gregorian calendar).
    fn of(since: Duration) -> Self {
        let secs = since.as_secs();
        let days = (secs / 86_400) as i64;
        let rem = secs % 86_400;
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = yoe + era * 400 + i64::from(month <= 2);
        Civil {
            year,
            month,
            day,
            hour: rem / 3_600,
            minute: rem % 3_600 / 60,
            second: rem % 60,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64, millis: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_millis(millis)
    }

    #[test]
    fn dates_are_utc_civil_dates() {
        assert_eq!(rfc3339(at(0, 0)), "1970-01-01T00:00:00.000Z");
        // A leap day, and the last second of a year.
        assert_eq!(rfc3339(at(951_782_400, 5)), "2000-02-29T00:00:00.005Z");
        assert_eq!(rfc3339(at(1_735_689_599, 999)), "2024-12-31T23:59:59.999Z");
        assert_eq!(rfc3339(at(1_798_774_971, 459)), "2027-01-01T03:42:51.459Z");
    }

    #[test]
    fn report_names_are_cargos() {
        let name = file_stamp(at(1_735_689_599, 999));
        let (time, id) = name.split_once('-').unwrap();
        assert_eq!(time, "20241231T235959999Z");
        assert_eq!(id.len(), 16);
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
    }
}
