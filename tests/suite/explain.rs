//! `--explain`: the printed reasons for each kind of change.

use crate::common::snap::{pin, redact};
use crate::common::{fixture, warm_cache_for, Run, Ws};

/// The explain report of a build's human output, redacted: its `Rebuilt` and
/// `Explain` lines with their reasons (the `Compiling` lines around it
/// follow the scheduler's order).
fn report(ws: &Ws, r: &Run) -> String {
    let mut keep = false;
    let mut lines = Vec::new();
    for l in r.stderr.lines() {
        let t = l.trim_start();
        if t.starts_with("Rebuilt ") || t.starts_with("Explain ") {
            keep = true;
        } else if !(l.starts_with("             ") && keep) {
            keep = false;
        }
        if keep {
            lines.push(l);
        }
    }
    redact(ws, &lines.join("\n"))
}

fn explain(ws: &Ws, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut a = vec!["--explain"];
    a.extend_from_slice(args);
    ws.hbuild_env(&a, env).ok()
}

fn explain_json(ws: &Ws, args: &[&str], env: &[(&str, &str)]) -> Vec<serde_json::Value> {
    let mut a = vec!["--explain", "--message-format", "json"];
    a.extend_from_slice(args);
    ws.hbuild_env(&a, env).ok().messages("hbuild-explain")
}

/// `cargo hbuild explain <unit>`'s answer, redacted; it must succeed.
fn explain_unit(ws: &Ws, unit: &str) -> String {
    let out = std::process::Command::new(crate::common::hbuild_bin())
        .args(["hbuild", "explain", unit])
        .current_dir(&ws.root)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    redact(ws, &err)
}

fn warm(ws: &Ws) {
    warm_cache_for(ws, "kitchen-sink");
    ws.hbuild(&[]).ok();
}

#[test]
fn first_build_ever() {
    let ws = fixture("kitchen-sink");
    let r = explain(&ws, &["-p", "util"], &[]);
    pin("explain_first_build", &report(&ws, &r));
}

#[test]
fn leaf_file_change_names_the_file() {
    let ws = fixture("kitchen-sink");
    warm(&ws);
    ws.append("crates/app/src/bin/helper.rs", "\n// edited\n");
    let r = explain(&ws, &[], &[]);
    // A leaf change has no followers.
    pin("explain_leaf_file", &report(&ws, &r));
}

#[test]
fn shared_crate_change_is_the_root_cause_of_its_dependents() {
    let ws = fixture("kitchen-sink");
    warm(&ws);
    ws.append(
        "crates/util/src/lib.rs",
        "\npub fn explain_test() -> u8 { 1 }\n",
    );
    let msgs = explain_json(&ws, &[], &[]);
    let roots: Vec<_> = msgs.iter().filter(|m| m["root_cause"] == true).collect();
    assert_eq!(roots.len(), 1, "exactly one root cause: {msgs:#?}");
    assert_eq!(roots[0]["unit"], "util");
    let followers: Vec<_> = msgs.iter().filter(|m| m["root_cause"] == false).collect();
    assert!(!followers.is_empty());
    for f in followers {
        let text = f["reasons"].to_string();
        assert!(
            text.contains("\"rebuilt\":\"") && text.contains("crates/util/src/lib.rs"),
            "dependent not attributed to util: {f}"
        );
    }
    // Human form, verbose: the chain is spelled out.
    ws.append(
        "crates/util/src/lib.rs",
        "\npub fn explain_test2() -> u8 { 2 }\n",
    );
    let r = explain(&ws, &["-v"], &[]);
    pin("explain_shared_crate_verbose", &report(&ws, &r));
}

#[test]
fn feature_flip_is_reported() {
    let ws = fixture("kitchen-sink");
    warm(&ws);
    let r = explain(&ws, &["--features", "app/extra"], &[]);
    pin("explain_feature_flip", &report(&ws, &r));
}

#[test]
fn rustflags_change_is_reported() {
    let ws = fixture("kitchen-sink");
    warm(&ws);
    let r = explain(&ws, &["-p", "util"], &[("RUSTFLAGS", "--cfg explain_flag")]);
    pin("explain_rustflags", &report(&ws, &r));
}

#[test]
fn profile_change_is_reported() {
    let ws = fixture("kitchen-sink");
    warm(&ws);
    ws.append(
        "Cargo.toml",
        "\n[profile.dev.package.util]\nopt-level = 2\n",
    );
    let r = explain(&ws, &["-p", "util"], &[]);
    pin("explain_profile", &report(&ws, &r));
}

#[test]
fn touch_without_change_rebuilds_nothing() {
    let ws = fixture("kitchen-sink");
    warm(&ws);
    let f = ws.path("crates/util/src/lib.rs");
    let content = std::fs::read(&f).unwrap();
    std::fs::write(&f, content).unwrap();
    let r = explain(&ws, &[], &[]);
    pin("explain_touch", &report(&ws, &r));
}

#[test]
fn env_var_declared_by_build_script_is_reported() {
    let ws = fixture("kitchen-sink");
    warm(&ws);
    let r = explain(&ws, &[], &[("APP_BUILD_KNOB", "on")]);
    pin("explain_build_script_env", &report(&ws, &r));
}

#[test]
fn secrets_are_named_but_not_shown() {
    let ws = fixture("kitchen-sink");
    warm(&ws);
    // A config [env] entry reaches every rustc call: its value is in keys.
    std::fs::create_dir_all(ws.path(".cargo")).unwrap();
    std::fs::write(
        ws.path(".cargo/config.toml"),
        "[env]\nDEPLOY_TOKEN = \"hunter2\"\n",
    )
    .unwrap();
    let r = explain(&ws, &["-p", "util"], &[]);
    pin("explain_secret", &report(&ws, &r));
    assert!(
        !r.stderr.contains("hunter2"),
        "secret printed: {}",
        r.stderr
    );
}

#[test]
fn lockfile_bump_names_the_dependency() {
    let ws = fixture("kitchen-sink");
    warm(&ws);
    let lock = std::fs::read_to_string(ws.path("Cargo.lock")).unwrap();
    let itoa = lock
        .split("[[package]]")
        .find(|p| p.contains("name = \"itoa\""))
        .expect("itoa locked")
        .to_string();
    let version = itoa
        .lines()
        .find_map(|l| l.strip_prefix("version = \""))
        .unwrap()
        .trim_end_matches('"')
        .to_string();
    let older = if version == "1.0.18" {
        "1.0.17"
    } else {
        "1.0.18"
    };
    ws.cargo(&["update", "-p", "itoa", "--precise", older], &[])
        .ok();
    let r = explain(&ws, &[], &[]);
    assert!(r.stderr.contains("Rebuilt itoa"), "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!("itoa@{version}`"))
            && r.stderr.contains(&format!("itoa@{older}`")),
        "old and new versions named: {}",
        r.stderr
    );
}

#[test]
fn explain_subcommand_answers_from_the_last_build() {
    let ws = fixture("kitchen-sink");
    warm(&ws);
    ws.append("crates/util/src/lib.rs", "\n// x\n");
    ws.hbuild(&[]).ok();
    pin("explain_subcommand", &explain_unit(&ws, "util"));
    let out = std::process::Command::new(crate::common::hbuild_bin())
        .args(["hbuild", "explain", "nosuch"])
        .current_dir(&ws.root)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    pin(
        "explain_subcommand_unknown",
        &redact(&ws, &String::from_utf8_lossy(&out.stderr)),
    );
}

/// The record's inode: a rewrite replaces the file.
fn record_inode(ws: &Ws) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let p = ws.root.join("target/hbuild/explain/last-build.json");
    std::fs::metadata(&p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .ino()
}

#[test]
fn a_no_op_leaves_the_record_alone_and_it_still_answers() {
    let ws = fixture("kitchen-sink");
    warm(&ws);
    ws.append("crates/util/src/lib.rs", "\n// x\n");
    ws.hbuild(&[]).ok();
    // A no-op records the outcomes it found. Under load, the first no-op
    // after a build does not always find what the next one finds (and then
    // rightly records again), so no-ops repeat until one leaves the record
    // as the one before it wrote it; the record must answer as before.
    let mut last: Option<(u64, String)> = None;
    let mut outputs = Vec::new();
    let (first, after_edit) = loop {
        assert!(
            outputs.len() < 5,
            "every no-op rewrote the record:\n{}",
            outputs.join("\n---\n")
        );
        outputs.push(ws.hbuild(&["-v"]).ok().stderr);
        let now = (record_inode(&ws), explain_unit(&ws, "util"));
        match last {
            Some(before) if before.0 == now.0 => {
                assert_eq!(now.1, before.1, "the record kept answers otherwise");
                break now;
            }
            _ => last = Some(now),
        }
    };
    assert!(
        after_edit.contains("fresh in the last build")
            && after_edit.contains("crates/util/src/lib.rs"),
        "{after_edit}"
    );
    // Another profile's build replaces the record; the next dev no-op
    // records again, because the record it would skip is not its own.
    ws.hbuild(&["--release", "-p", "util"]).ok();
    let release = record_inode(&ws);
    assert_ne!(release, first);
    ws.hbuild(&[]).ok();
    assert_ne!(
        record_inode(&ws),
        release,
        "a no-op trusted another build's record"
    );
    let now = explain_unit(&ws, "util");
    assert!(now.starts_with("util: fresh in the last build"), "{now}");
}
