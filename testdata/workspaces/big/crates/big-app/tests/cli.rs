//! Runs the `big-app` binary.

use std::process::Command;

#[test]
fn big_app_runs() {
    let out = Command::new(env!("CARGO_BIN_EXE_big-app")).output().expect("run big-app");
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).expect("utf-8");
    assert!(stdout.starts_with("big-app report\n"));
    assert!(stdout.contains("typenum: 6*7=42 1000+24=1024\n"));
    assert!(stdout.contains("roundtrip=ok"));
}

#[test]
fn big_app_args() {
    let out = Command::new(env!("CARGO_BIN_EXE_big-app"))
        .args(["--text", "x-5", "--repeat", "2"])
        .output()
        .expect("run big-app");
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).expect("utf-8");
    assert!(stdout.contains("regex: x=5\n"));
    assert!(stdout.contains("summary: {\"chars\":7,\"repeat\":2}\n"));
}
