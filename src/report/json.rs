//! `--message-format json`: Cargo's machine messages on stdout
//! (`compiler-message`, `compiler-artifact`, `build-script-executed`,
//! `build-finished`) plus hbuild's own `hbuild-summary`. Every field is
//! rendered from the plan the way Cargo renders it from its unit;
//! docs/differences.md lists where the values deliberately differ.

use std::path::PathBuf;

use serde_json::{json, Value};

use super::{print_stdout_line, strip_ansi, MessageFormat, ReportConfig};
use crate::exec::events::{BuildEvent, Diagnostic};
use crate::plan::unit::Mode;
use crate::plan::{Action, ActionGraph, ActionKind};

/// The `target` object Cargo prints: the target as `cargo metadata`
/// describes it, whatever the unit's mode.
pub fn target_json(a: &Action) -> Value {
    let t = &a.target_meta;
    let mut v = json!({
        "kind": t.kind,
        "crate_types": t.crate_types,
        "name": a.target_name,
        "src_path": a.src_path,
        "edition": a.edition,
    });
    // Cargo prints `required-features` only when there are some, before the
    // flags.
    if !t.required_features.is_empty() {
        v["required-features"] = json!(t.required_features);
    }
    v["doc"] = json!(t.doc);
    v["doctest"] = json!(t.doctest);
    v["test"] = json!(t.test);
    v
}

fn profile_json(a: &Action) -> Value {
    let p = &a.profile;
    let debuginfo: Value = match p.debuginfo.flag() {
        None => json!(0),
        Some("1") => json!(1),
        Some("2") => json!(2),
        Some(other) => json!(other),
    };
    json!({
        "opt_level": p.opt_level,
        "debuginfo": debuginfo,
        "debug_assertions": p.debug_assertions,
        "overflow_checks": p.overflow_checks,
        "test": a.mode == Mode::Test,
    })
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
            let Ok(mut message) = serde_json::from_str::<Value>(json) else {
                return;
            };
            if !ansi {
                if let Some(r) = message
                    .get("rendered")
                    .and_then(|r| r.as_str())
                    .map(strip_ansi)
                {
                    message["rendered"] = json!(r);
                }
            }
            print_stdout_line(
                &json!({
                    "reason": "compiler-message",
                    "package_id": a.package_id,
                    "manifest_path": a.manifest_path,
                    "target": target_json(a),
                    "message": message,
                })
                .to_string(),
            );
        }
        BuildEvent::ActionFinished { id, outcome, .. } => {
            let a = &graph.actions[id.index()];
            if a.kind == ActionKind::BuildScriptRun {
                return;
            }
            print_stdout_line(
                &json!({
                    "reason": "compiler-artifact",
                    "package_id": a.package_id,
                    "manifest_path": a.manifest_path,
                    "target": target_json(a),
                    "profile": profile_json(a),
                    "features": a.features,
                    "filenames": filenames(a),
                    "executable": executable(a),
                    "fresh": *outcome != crate::exec::events::Outcome::Executed,
                })
                .to_string(),
            );
        }
        BuildEvent::ScriptFinished {
            id,
            output,
            out_dir,
        } => {
            let a = &graph.actions[id.index()];
            print_stdout_line(
                &json!({
                    "reason": "build-script-executed",
                    "package_id": a.package_id,
                    "linked_libs": output.link_libs,
                    "linked_paths": output.link_search,
                    "cfgs": output.cfgs,
                    "env": output.env.iter().map(|(k, v)| vec![k.clone(), v.clone()]).collect::<Vec<_>>(),
                    "out_dir": out_dir,
                })
                .to_string(),
            );
        }
        BuildEvent::Finished(s) => {
            print_stdout_line(
                &json!({"reason": "build-finished", "success": s.success}).to_string(),
            );
            print_stdout_line(
                &json!({
                    "reason": "hbuild-summary",
                    "success": s.success,
                    "actions_total": s.actions_total,
                    "executed": s.executed,
                    "fresh": s.fresh,
                    "cache_hits": {"local": s.local_hits, "remote": s.remote_hits},
                    "uncacheable": s.uncacheable.iter().map(|(n, r)| json!({"action": n, "reason": r})).collect::<Vec<_>>(),
                    "elapsed_ms": s.elapsed.as_millis() as u64,
                    "remote": s.remote,
                })
                .to_string(),
            );
        }
        _ => {}
    }
}
