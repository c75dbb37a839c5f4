//! `--explain` compares each unit with the earlier record of the same unit,
//! also when units share a package name and target: two versions of one
//! crate, and one library built for two panic strategies.

use serde_json::{json, Value};

use crate::common::{fixture, Ws};

fn explain_json(ws: &Ws, args: &[&str]) -> Vec<Value> {
    let mut a = vec!["--explain", "--message-format", "json"];
    a.extend_from_slice(args);
    ws.hbuild(&a).ok().messages("hbuild-explain")
}

/// The messages of units with reasons of their own.
fn roots(msgs: &[Value]) -> Vec<&Value> {
    msgs.iter().filter(|m| m["root_cause"] == true).collect()
}

#[test]
fn a_feature_of_one_version_is_explained_for_that_version_only() {
    let ws = fixture("two-versions");
    ws.hbuild(&[]).ok();

    // Only bitflags 1 gets a feature; bitflags 2 stays as it was.
    ws.replace(
        "crates/old-flags/Cargo.toml",
        "bitflags = \"1\"",
        "bitflags = { version = \"1\", features = [\"example_generated\"] }",
    );
    let msgs = explain_json(&ws, &[]);
    let r = roots(&msgs);
    assert_eq!(r.len(), 1, "one root cause: {msgs:#?}");
    assert_eq!(r[0]["unit"], "bitflags v1.3.2");
    assert_eq!(
        r[0]["package_id"],
        "registry+https://github.com/rust-lang/crates.io-index#bitflags@1.3.2"
    );
    assert_eq!(
        r[0]["reasons"],
        json!([{"kind": "features-changed", "added": ["example_generated"], "removed": []}])
    );
    let text = serde_json::to_string(&msgs).unwrap();
    assert!(
        !text.contains("2.13.2"),
        "nothing about the other version: {msgs:#?}"
    );
    // The dependents rebuilt only because of it, and say so.
    let followers: Vec<&str> = msgs
        .iter()
        .filter(|m| m["root_cause"] == false)
        .map(|m| m["unit"].as_str().unwrap())
        .collect();
    assert_eq!(
        followers,
        ["old-flags", "flags-app", "flags-app (bin \"flags-report\")"],
        "{msgs:#?}"
    );

    // Now only bitflags 2, in the human form.
    ws.replace(
        "crates/new-flags/Cargo.toml",
        "bitflags = \"2\"",
        "bitflags = { version = \"2\", features = [\"std\"] }",
    );
    let run = ws.hbuild(&["--explain"]).ok();
    let explained: Vec<&str> = run
        .stderr
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("Rebuilt"))
        .take_while(|l| !l.trim_start().starts_with("Finished"))
        .collect();
    assert_eq!(
        explained,
        [
            "     Rebuilt bitflags v2.13.2",
            "             - features changed (turned on: std)",
            "     Rebuilt 3 more unit(s) only because of the above",
        ],
        "{}",
        run.stderr
    );

    // The record answers per version too.
    let out = std::process::Command::new(crate::common::hbuild_bin())
        .args(["hbuild", "explain", "bitflags@1.3.2"])
        .current_dir(&ws.root)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert_eq!(
        err,
        "bitflags v1.3.2: fresh in the last build\n  last rebuilt because:\n  - features changed (turned on: example_generated)\n"
    );
}

#[test]
fn a_library_built_for_two_panic_strategies_is_compared_with_itself() {
    let ws = fixture("two-versions");
    let args = ["--release", "--all-targets"];
    ws.hbuild(&args).ok();
    ws.append("crates/old-flags/src/lib.rs", "\n// edited\n");
    let msgs = explain_json(&ws, &args);
    let mut r: Vec<(String, Value)> = roots(&msgs)
        .iter()
        .map(|m| {
            (
                m["unit"].as_str().unwrap().to_string(),
                m["reasons"].clone(),
            )
        })
        .collect();
    r.sort_by(|a, b| a.0.cmp(&b.0));
    let modified = json!([{"kind": "file-changed", "path": "crates/old-flags/src/lib.rs", "change": "modified"}]);
    assert_eq!(
        r,
        [
            ("old-flags (lib test)".to_string(), modified.clone()),
            ("old-flags (panic=abort)".to_string(), modified.clone()),
            ("old-flags (panic=unwind)".to_string(), modified),
        ],
        "each copy is compared with its own earlier build: {msgs:#?}"
    );
}
