//! `--message-format json`: Cargo's machine messages on stdout
//! (`compiler-message`, `compiler-artifact`, `build-script-executed`,
//! `build-finished`) plus hbuild's own `hbuild-summary`. Every field is
//! rendered from the plan the way Cargo renders it from its unit;
//! docs/differences.md lists where the values deliberately differ.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{json, Value};

use super::{print_stdout_line, strip_ansi, MessageFormat, ReportConfig};
use crate::core::PackageId;
use crate::exec::events::{BuildEvent, Diagnostic};
use crate::plan::{Action, ActionGraph, ActionKind};
use crate::workspace::model::CrateType;

/// The `target` object Cargo prints: the target as `cargo metadata`
/// describes it, whatever the unit's mode, with Cargo's field order.
#[derive(Serialize)]
struct TargetMsg<'a> {
    kind: &'a [String],
    crate_types: &'a [CrateType],
    name: &'a str,
    src_path: &'a Path,
    edition: &'a str,
    #[serde(
        rename = "required-features",
        skip_serializing_if = "<[String]>::is_empty"
    )]
    required_features: &'a [String],
    doc: bool,
    doctest: bool,
    test: bool,
}

impl<'a> TargetMsg<'a> {
    fn of(a: &'a Action) -> Self {
        let t = &a.target_meta;
        TargetMsg {
            kind: &t.kind,
            crate_types: &t.crate_types,
            name: &a.target_name,
            src_path: &a.src_path,
            edition: &a.edition,
            required_features: &t.required_features,
            doc: t.doc,
            doctest: t.doctest,
            test: t.test,
        }
    }
}

/// The `target` object of Cargo's messages, as a value.
pub fn target_json(a: &Action) -> Value {
    serde_json::to_value(TargetMsg::of(a)).unwrap_or_default()
}

/// The `profile` object of `compiler-artifact`.
#[derive(Serialize)]
struct ProfileMsg<'a> {
    opt_level: &'a str,
    debuginfo: Value,
    debug_assertions: bool,
    overflow_checks: bool,
    test: bool,
}

impl<'a> ProfileMsg<'a> {
    fn of(a: &'a Action) -> Self {
        let p = &a.profile;
        ProfileMsg {
            opt_level: p.opt_level.as_str(),
            debuginfo: match p.debuginfo.flag() {
                None => json!(0),
                Some("1") => json!(1),
                Some("2") => json!(2),
                Some(other) => json!(other),
            },
            debug_assertions: p.debug_assertions,
            overflow_checks: p.overflow_checks,
            test: a.mode.is_rustc_test(),
        }
    }
}

#[derive(Serialize)]
struct ArtifactMsg<'a> {
    reason: &'static str,
    package_id: &'a PackageId,
    manifest_path: &'a Path,
    target: TargetMsg<'a>,
    profile: ProfileMsg<'a>,
    features: &'a [String],
    filenames: Vec<PathBuf>,
    executable: Option<PathBuf>,
    fresh: bool,
}

/// rustc's diagnostic as Cargo re-serialises it when it strips colours:
/// `rendered` first, the other fields (with `$message_type`) in name
/// order, `code` last.
#[derive(Serialize, Deserialize)]
struct RustcMessage {
    rendered: String,
    #[serde(flatten)]
    other: BTreeMap<String, Value>,
    code: Option<DiagnosticCode>,
}

#[derive(Serialize, Deserialize)]
struct DiagnosticCode {
    code: String,
    #[serde(flatten)]
    other: BTreeMap<String, Value>,
}

#[derive(Serialize)]
struct CompilerMsg<'a> {
    reason: &'static str,
    package_id: &'a PackageId,
    manifest_path: &'a Path,
    target: TargetMsg<'a>,
    message: &'a RawValue,
}

#[derive(Serialize)]
struct ScriptMsg<'a> {
    reason: &'static str,
    package_id: &'a PackageId,
    linked_libs: &'a [String],
    linked_paths: &'a [String],
    cfgs: &'a [String],
    env: &'a [(String, String)],
    out_dir: &'a Path,
}

#[derive(Serialize)]
struct FinishedMsg {
    reason: &'static str,
    success: bool,
}

fn print<T: Serialize>(msg: &T) {
    if let Ok(line) = serde_json::to_string(msg) {
        print_stdout_line(&line);
    }
}

/// Where an output can be found: its uplifted copy if it has one.
fn reported_path(a: &Action, file: &PathBuf) -> PathBuf {
    a.uplift
        .iter()
        .find(|u| &u.from == file)
        .map_or_else(|| file.clone(), |u| u.to.clone())
}

/// Cargo's `filenames`: every output rustc writes except dep-info, in
/// crate-type order with the `.rmeta` last, each at its uplifted path.
fn filenames(a: &Action) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = a
        .outputs
        .iter()
        .filter(|o| Some(*o) != a.dep_info.as_ref() && Some(*o) != a.rmeta.as_ref())
        .map(|o| reported_path(a, o))
        .collect();
    files.extend(a.rmeta.iter().map(|m| reported_path(a, m)));
    files
}

/// Cargo's `executable`: binaries, binary examples and test harnesses;
/// never a build script.
fn executable(a: &Action) -> Option<PathBuf> {
    if a.kind != ActionKind::Compile {
        return None;
    }
    a.executable.as_ref().map(|e| reported_path(a, e))
}

/// Prints the JSON message for an event, if it has one.
pub fn event(graph: &ActionGraph, e: &BuildEvent, cfg: &ReportConfig) {
    let ansi = matches!(cfg.format, MessageFormat::Json { ansi: true, .. });
    match e {
        BuildEvent::Diagnostic {
            id,
            diag: Diagnostic::Rustc { json, .. },
        } => {
            let a = &graph.actions[id.index()];
            // Like Cargo: rustc's line as it is with colours, re-serialised
            // without them.
            let stripped = (!ansi)
                .then(|| serde_json::from_str::<RustcMessage>(json).ok())
                .flatten()
                .and_then(|mut m| {
                    m.rendered = strip_ansi(&m.rendered);
                    serde_json::to_string(&m).ok()
                });
            let Ok(message) = RawValue::from_string(stripped.unwrap_or_else(|| json.clone()))
            else {
                return;
            };
            print(&CompilerMsg {
                reason: "compiler-message",
                package_id: &a.package_id,
                manifest_path: &a.manifest_path,
                target: TargetMsg::of(a),
                message: &message,
            });
        }
        BuildEvent::ActionFinished { id, outcome, .. } => {
            let a = &graph.actions[id.index()];
            if matches!(a.kind, ActionKind::BuildScriptRun | ActionKind::TestRun) {
                return;
            }
            print(&ArtifactMsg {
                reason: "compiler-artifact",
                package_id: &a.package_id,
                manifest_path: &a.manifest_path,
                target: TargetMsg::of(a),
                profile: ProfileMsg::of(a),
                features: &a.features,
                filenames: filenames(a),
                executable: executable(a),
                fresh: *outcome != crate::exec::events::Outcome::Executed,
            });
        }
        BuildEvent::ScriptFinished {
            id,
            output,
            out_dir,
        } => {
            let a = &graph.actions[id.index()];
            print(&ScriptMsg {
                reason: "build-script-executed",
                package_id: &a.package_id,
                linked_libs: &output.link_libs,
                linked_paths: &output.link_search,
                cfgs: &output.cfgs,
                env: &output.env,
                out_dir,
            });
        }
        BuildEvent::Finished(s) => {
            print(&FinishedMsg {
                reason: "build-finished",
                success: s.success,
            });
            let mut summary = json!({
                "reason": "hbuild-summary",
                "success": s.success,
                "actions_total": s.actions_total,
                "executed": s.executed,
                "fresh": s.fresh,
                "cache_hits": {"local": s.local_hits, "remote": s.remote_hits},
                "uncacheable": s.uncacheable.iter().map(|(n, r)| json!({"action": n, "reason": r})).collect::<Vec<_>>(),
                "elapsed_ms": s.elapsed.as_millis() as u64,
                "remote": s.remote,
            });
            if let Some(x) = &s.remote_exec {
                summary["remote_execution"] = json!(x);
            }
            // Only a build with test runs has their counts.
            if let Some(t) = &s.tests {
                summary["tests"] = json!(t);
            }
            print_stdout_line(&summary.to_string());
        }
        _ => {}
    }
}
