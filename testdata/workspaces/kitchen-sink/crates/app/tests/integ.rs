//! Integration test: runs the `app-cli` binary and checks its stdout.

use std::process::Command;

fn run_app_cli() -> String {
    let exe = env!("CARGO_BIN_EXE_app-cli");
    let out = Command::new(exe).output().expect("run app-cli");
    assert!(out.status.success(), "app-cli failed: {:?}", out.status);
    String::from_utf8(out.stdout).expect("utf-8 stdout")
}

#[test]
fn app_cli_prints_report() {
    let stdout = run_app_cli();
    let mut expected = app_core::report().join("\n");
    expected.push('\n');
    assert_eq!(stdout, expected);
}

#[test]
fn app_cli_fixed_lines() {
    let stdout = run_app_cli();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[0], "app-cli report");
    assert!(lines.contains(&"generated: 42"));
    assert!(lines.contains(&"dep_foo_key: hello_from_foo"));
    assert!(lines.contains(&"cfg app_has_foo: true"));
    assert!(lines.contains(&"greeting: hello from app/build.rs"));
    assert!(lines.contains(&"cnative: add(40, 2)=42 version=3 script=build_script_main"));
}

#[test]
fn helper_runs() {
    let exe = env!("CARGO_BIN_EXE_helper");
    let out = Command::new(exe).output().expect("run helper");
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "helper: answer=42 util=7\n");
}
