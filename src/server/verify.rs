//! Checking a finished build, and rendering its no-op for a client.
//!
//! The check is the direct path itself: the saved analysis is loaded as a
//! build would load it, and the executor runs in check-only mode
//! ([`crate::exec::RunPolicy::CheckOnly`]) over the same stamps, inputs
//! and outputs. Only when every action is fresh is the invocation a no-op,
//! and the events of that run are what the next identical invocation
//! prints.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::watch::WatchSet;
use crate::analysis::run::{self as direct};
use crate::analysis::{persist, Analysis};
use crate::core::FileStamp;
use crate::exec::events::{BuildEvent, EventSink};
use crate::exec::store::Store;
use crate::exec::{self, worker, BuildSummary, Reasons};
use crate::fingerprint::FileStates;
use crate::plan::ActionGraph;
use crate::report::{MessageFormat, ReportConfig, Reporter};
use crate::settings::Settings;

/// A build invocation with its saved analysis, as the direct path loads it.
pub struct Prepared {
    settings: Settings,
    analysis: Analysis,
    /// What the build depends on.
    pub watch: WatchSet,
}

/// A verified no-op.
pub struct Verified {
    /// The graph (for rendering).
    pub graph: Arc<ActionGraph>,
    /// The events of the check run, in order.
    pub events: Vec<BuildEvent>,
    /// Its summary.
    pub summary: BuildSummary,
    /// Its explain data.
    pub reasons: Reasons,
    /// Variables the result depends on, with their values (None: unset).
    pub env: BTreeMap<String, Option<String>>,
    /// The target dir.
    pub target_dir: PathBuf,
    /// Message format of the invocation.
    pub format: MessageFormat,
    /// The explain record's stamp as this server wrote it.
    pub explain_stamp: Mutex<Option<FileStamp>>,
}

struct Recorder(Mutex<Vec<BuildEvent>>);

impl EventSink for Recorder {
    fn event(&self, _graph: &ActionGraph, event: BuildEvent) {
        self.0.lock().expect("recorder lock").push(event);
    }
}

/// Loads the saved analysis of a build's settings (as the client resolved
/// them), and the set of paths its result depends on (read from the
/// actions' stamps).
pub fn prepare(settings: Settings) -> Result<Prepared, String> {
    let (req, opts) = (&settings.request, &settings.analysis);
    let analysis = persist::load(req, opts)
        .ok_or_else(|| "the saved analysis is missing or out of date".to_string())?;
    let deps = dependencies(&analysis, req, opts);
    let mut watch = WatchSet::default();
    for p in &deps.listings {
        watch.add_listing(p);
    }
    for p in &deps.files {
        watch.add_file(p);
    }
    Ok(Prepared {
        settings,
        analysis,
        watch,
    })
}

/// The paths a build's result depends on, as its saved analysis and the
/// actions' stamps name them.
pub(crate) struct Dependencies {
    /// Files whose content or existence matters (absent ones too).
    pub(crate) files: Vec<PathBuf>,
    /// Directories whose entries matter (a new file can be a new target).
    pub(crate) listings: Vec<PathBuf>,
}

/// What a build of `analysis` depends on: the analysis' own inputs and
/// record, and each action's stamp, uplifted files, outputs and inputs.
pub(crate) fn dependencies(
    analysis: &Analysis,
    req: &crate::plan::BuildRequest,
    opts: &crate::analysis::AnalysisOptions,
) -> Dependencies {
    let mut files: Vec<PathBuf> = analysis.inputs.files.keys().cloned().collect();
    let mut listings = Vec::new();
    for p in analysis.inputs.stamps.keys() {
        if p.is_dir() {
            listings.push(p.clone());
        } else {
            files.push(p.clone());
        }
    }
    files.extend(persist::record_file(req, opts));
    let norm = direct::normalizer(analysis, req);
    for a in &analysis.graph.actions {
        files.push(worker::stamp_path(a));
        for u in &a.uplift {
            files.push(u.from.clone());
            files.push(u.to.clone());
        }
        let Some(s) = worker::load_stamp(a) else {
            continue;
        };
        files.extend(s.outputs.iter().map(|o| o.path.under(&a.output_root)));
        files.extend(s.manifest.files.iter().map(|f| norm.expand(f)));
    }
    Dependencies { files, listings }
}

/// The variables a finished check depends on beyond the analysis' own
/// (those its actions track), or the first path it read, or an output it
/// found, that `known` does not name: a stamp could have been rewritten
/// between reading the set and the check, or a build meanwhile could have
/// left a build script's `OUT_DIR` with new files.
pub(crate) fn tracked_env(
    graph: &ActionGraph,
    reasons: &Reasons,
    norm: &crate::fingerprint::PathNormalizer,
    known: impl Fn(&std::path::Path) -> bool,
) -> Result<std::collections::BTreeSet<String>, String> {
    let mut env = std::collections::BTreeSet::new();
    for (_, r) in reasons.values() {
        let Some(c) = &r.current else { continue };
        if let Some(missing) = c
            .inputs
            .iter()
            .map(|i| norm.expand(&i.path))
            .find(|f| !known(f))
        {
            return Err(format!("`{}` is read but not watched", missing.display()));
        }
        env.extend(c.tracked_env.keys().cloned());
    }
    for a in &graph.actions {
        let unwatched = worker::load_stamp(a).and_then(|s| {
            s.outputs
                .iter()
                .map(|o| o.path.under(&a.output_root))
                .find(|f| !known(f))
        });
        if let Some(f) = unwatched {
            return Err(format!("output `{}` is not watched", f.display()));
        }
    }
    Ok(env)
}

/// Runs the check. Holds the target-dir lock meanwhile, like a build.
pub fn check(p: Prepared) -> Result<Verified, String> {
    let target_dir = p.analysis.layout.target_dir.clone();
    let _lock = crate::exec::lock::try_lock_target_dir(&target_dir)
        .map_err(|e| format!("cannot lock the target dir: {e}"))?
        .ok_or_else(|| "another build holds the target dir".to_string())?;
    let file_states = Arc::new(FileStates::load(&direct::file_states_path(&target_dir)));
    let store = Arc::new(Store::new(None, None));
    let req = &p.settings.request;
    let opts = direct::exec_options(
        &p.analysis,
        req,
        p.settings.run,
        store,
        file_states,
        exec::RunPolicy::CheckOnly,
    );
    let norm = direct::normalizer(&p.analysis, req);
    let graph = Arc::new(p.analysis.graph);
    let recorder = Arc::new(Recorder(Mutex::new(Vec::new())));
    let (summary, reasons) =
        exec::execute(graph.clone(), opts, recorder.clone()).map_err(|e| e.to_string())?;
    let events = std::mem::take(&mut *recorder.0.lock().expect("recorder lock"));
    if !summary.success {
        let first = events.iter().find_map(|e| match e {
            BuildEvent::ActionFailed { message, .. } => Some(message.clone()),
            _ => None,
        });
        return Err(format!(
            "not a no-op: {}",
            first.unwrap_or_else(|| "an action did not finish".into())
        ));
    }
    // Everything the check read must be watched.
    let mut env: BTreeMap<String, Option<String>> = p.analysis.inputs.env.clone();
    for k in tracked_env(&graph, &reasons, &norm, |f| p.watch.has_file(f))? {
        env.insert(k, None);
    }
    for (k, v) in env.iter_mut() {
        *v = req.env.get(k).cloned();
    }
    let verified = Verified {
        graph,
        events,
        summary,
        reasons,
        env,
        target_dir,
        format: p.settings.report.format,
        explain_stamp: Mutex::new(None),
    };
    write_explain_record(&verified);
    Ok(verified)
}

/// Records the no-op in the explain record, as a direct no-op build does.
fn write_explain_record(v: &Verified) {
    crate::explain::record(&v.graph, &v.reasons, &v.target_dir);
    *v.explain_stamp.lock().expect("explain stamp lock") =
        FileStamp::of(&crate::explain::record_path(&v.target_dir));
}

impl Verified {
    /// The first variable the result depends on whose value differs in the
    /// client's environment, if any.
    pub fn env_matches(&self, env: &BTreeMap<String, String>) -> Option<String> {
        let changed = self
            .env
            .iter()
            .find(|(k, v)| env.get(*k) != v.as_ref())
            .map(|(k, _)| k.clone());
        // A newly set `RUSTFLAGS` is a change even though it was not
        // recorded (it was unset).
        changed.or_else(|| {
            env.keys()
                .find(|k| persist::is_relevant_prefix(k) && !self.env.contains_key(*k))
                .cloned()
        })
    }

    /// The explain record as a direct no-op would leave it: rewritten when
    /// another build replaced it since.
    pub fn refresh_explain_record(&self) {
        let now = FileStamp::of(&crate::explain::record_path(&self.target_dir));
        if now != *self.explain_stamp.lock().expect("explain stamp lock") {
            write_explain_record(self);
        }
    }

    /// What the no-op prints, as the direct path would print it.
    pub fn render(&self, cfg: &ReportConfig, elapsed: Duration) -> (Vec<u8>, Vec<u8>) {
        let mut s = self.summary.clone();
        s.elapsed = elapsed;
        replay(cfg, &self.graph, self.events.iter().cloned(), Some(s))
    }
}

/// The output of a no-op's events as the direct path prints them (stdout,
/// stderr): the `-v` line of the reused analysis, the events, then the
/// closing lines of `finished` if given. No progress bar.
pub(crate) fn replay(
    cfg: &ReportConfig,
    graph: &ActionGraph,
    events: impl IntoIterator<Item = BuildEvent>,
    finished: Option<BuildSummary>,
) -> (Vec<u8>, Vec<u8>) {
    let mut cfg = cfg.clone();
    cfg.progress = false;
    let ((), out, err) = crate::report::capture(|| {
        let r = Reporter::new(cfg.clone());
        if cfg.verbose > 0 {
            direct::print_reused(&r);
        }
        for e in events {
            r.event(graph, e);
        }
        if let Some(s) = finished {
            r.event(graph, BuildEvent::Finished(s));
        }
    });
    (out, err)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verified(env: &[(&str, Option<&str>)]) -> Verified {
        Verified {
            graph: Arc::new(ActionGraph::default()),
            events: Vec::new(),
            summary: BuildSummary::default(),
            reasons: Reasons::new(),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.map(str::to_string)))
                .collect(),
            target_dir: PathBuf::from("/t"),
            format: MessageFormat::Human,
            explain_stamp: Mutex::new(None),
        }
    }

    #[test]
    fn environment_changes_that_matter() {
        let v = verified(&[("PATH", Some("/bin")), ("TRACKED", None)]);
        let env = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert_eq!(
            v.env_matches(&env(&[("PATH", "/bin"), ("TERM", "xterm")])),
            None
        );
        assert_eq!(
            v.env_matches(&env(&[("PATH", "/usr/bin")])).as_deref(),
            Some("PATH")
        );
        assert_eq!(
            v.env_matches(&env(&[("PATH", "/bin"), ("TRACKED", "1")]))
                .as_deref(),
            Some("TRACKED")
        );
        // Newly set: unknown last time, but of a family that matters.
        assert_eq!(
            v.env_matches(&env(&[("PATH", "/bin"), ("RUSTFLAGS", "--cfg x")]))
                .as_deref(),
            Some("RUSTFLAGS")
        );
        // The server's own settings do not.
        assert_eq!(
            v.env_matches(&env(&[("PATH", "/bin"), ("HBUILD_SERVER", "1")])),
            None
        );
    }
}
