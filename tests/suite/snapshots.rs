//! Whole outputs, pinned: the human output of a cold build, a no-op, an
//! explained rebuild and a failure, and the JSON messages of a build, on
//! the `tiny` fixture (one job, so that the order is fixed). Paths, unit
//! hashes, digests and times are redacted (tests/common/snap.rs); every
//! other byte is compared.

use crate::common::snap::{redact, redact_json_times};
use crate::common::{fixture, Run, Ws};

fn build(ws: &Ws, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut a = vec!["-j1"];
    a.extend_from_slice(args);
    ws.hbuild_env(&a, env)
}

fn snap_settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_prepend_module_to_snapshot(false);
    s.set_snapshot_path("snapshots");
    s
}

#[test]
fn human_output_of_a_cold_build_a_noop_and_an_explained_rebuild() {
    let ws = fixture("tiny");
    let cold = build(&ws, &[], &[]).ok();
    let noop = build(&ws, &[], &[]).ok();
    ws.append("greet/src/lib.rs", "\n/// Added.\npub fn added() {}\n");
    let edit = build(&ws, &["--explain"], &[]).ok();
    let env = build(&ws, &["--explain"], &[("GREETING", "hi")]).ok();
    assert_eq!(ws.run_program("target/debug/app"), "hi, world\n");
    snap_settings().bind(|| {
        insta::assert_snapshot!("tiny_cold", redact(&ws, &cold.stderr));
        insta::assert_snapshot!("tiny_noop", redact(&ws, &noop.stderr));
        insta::assert_snapshot!("tiny_explain_edit", redact(&ws, &edit.stderr));
        insta::assert_snapshot!("tiny_explain_env", redact(&ws, &env.stderr));
    });
}

#[test]
fn json_messages_of_a_build() {
    let ws = fixture("tiny");
    let run = build(
        &ws,
        &["--message-format", "json", "--features", "greet/loud"],
        &[],
    )
    .ok();
    assert_eq!(ws.run_program("target/debug/app"), "HELLO, world\n");
    let lines: Vec<String> = run
        .stdout
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("a JSON message");
            serde_json::to_string_pretty(&redact_json_times(v)).unwrap()
        })
        .collect();
    snap_settings().bind(|| {
        insta::assert_snapshot!("tiny_json", redact(&ws, &lines.join("\n")));
        insta::assert_snapshot!("tiny_json_stderr", redact(&ws, &run.stderr));
    });
}

#[test]
fn human_output_of_failures() {
    let ws = fixture("tiny");
    ws.replace("app/src/main.rs", "greet::greeting()", "greet::missing()");
    let compile = build(&ws, &[], &[]);
    assert_eq!(compile.code, 101);
    let unknown = build(&ws, &["-p", "nope"], &[]);
    assert_eq!(unknown.code, 101);
    ws.replace("greet/Cargo.toml", "edition = \"2021\"", "edition = 2021");
    let manifest = build(&ws, &[], &[]);
    assert_eq!(manifest.code, 101);
    snap_settings().bind(|| {
        insta::assert_snapshot!("tiny_compile_error", redact(&ws, &compile.stderr));
        insta::assert_snapshot!("tiny_unknown_package", redact(&ws, &unknown.stderr));
        insta::assert_snapshot!("tiny_bad_manifest", redact(&ws, &manifest.stderr));
    });
}
