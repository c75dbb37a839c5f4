//! `--message-format json`: Cargo's machine messages on stdout
//! (`compiler-message`, `compiler-artifact`, `build-script-executed`,
//! `build-finished`) plus hbuild's own `hbuild-summary`.

use serde_json::{json, Value};

use super::{print_stdout_line, strip_ansi, MessageFormat, ReportConfig};
use crate::exec::events::{BuildEvent, Diagnostic};
use crate::plan::unit::Mode;
use crate::plan::{Action, ActionGraph, ActionKind};

/// The `target` object Cargo prints.
pub fn target_json(a: &Action) -> Value {
    let (kind, crate_types) = match a.kind {
        ActionKind::Compile => (
            a.metadata_kind.clone(),
            if a.crate_types.is_empty() {
                vec!["bin".to_string()]
            } else {
                a.crate_types.clone()
            },
        ),
        _ => (vec!["custom-build".to_string()], vec!["bin".to_string()]),
    };
    json!({
        "kind": kind,
        "crate_types": crate_types,
        "name": a.target_name,
        "src_path": a.src_path,
        "edition": a.edition,
        "doc": a.target_kind == crate::workspace::model::TargetKind::Lib,
        "doctest": a.target_kind == crate::workspace::model::TargetKind::Lib && a.kind == ActionKind::Compile,
        "test": a.mode == Mode::Test,
    })
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
            if let Some(obj) = message.as_object_mut() {
                obj.remove("$message_type");
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
        BuildEvent::ActionFinished {
            id,
            filenames,
            executable,
            outcome,
            ..
        } => {
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
                    "filenames": filenames,
                    "executable": executable,
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
