//! Runs `feature-report`; checks only lines that hold under both resolvers.

use std::process::Command;

#[test]
fn normal_dep_has_target_feature() {
    let out = Command::new(env!("CARGO_BIN_EXE_feature-report"))
        .output()
        .expect("run feature-report");
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).expect("utf-8");
    let first = stdout.lines().next().expect("a line");
    assert!(first.contains("target=true"), "{first}");
    // In test builds the dev-dependency feature is active under both resolvers.
    assert!(first.contains("dev=true"), "{first}");
}
