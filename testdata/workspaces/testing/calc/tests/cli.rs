//! Runs the binary through `CARGO_BIN_EXE_calc-cli`.

use std::process::Command;

fn calc_cli(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_calc-cli"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn cli_adds() {
    let out = calc_cli(&["add", "40", "2"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "42\n");
}

#[test]
fn cli_bad_usage_exits_2() {
    let out = calc_cli(&["frobnicate", "1", "2"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        "calc-cli: unknown operation `frobnicate`\n"
    );
}

#[test]
fn cli_agrees_with_testutil() {
    let out = calc_cli(&["mul", "6", "7"]);
    assert_eq!(testutil::trimmed(&out.stdout), "42");
}
