//! Finds the binary next to the test's own directory, as assert_cmd's
//! `cargo_bin` does: `target/<profile>/deps/relpath-…` → `target/<profile>/calc-cli`.

use std::process::Command;

#[test]
fn relpath_finds_calc_cli() {
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap();
    let bin = deps.parent().unwrap().join("calc-cli");
    assert!(bin.exists(), "no binary at {}", bin.display());
    let out = Command::new(bin).args(["sub", "10", "4"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "6\n");
}
