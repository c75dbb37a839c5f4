//! `--explain`: the printed reasons for each kind of change.

use crate::common::{fixture, warm_cache_for, Run, Ws};

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

fn warm(ws: &Ws) {
    warm_cache_for(ws, "kitchen-sink");
    ws.hbuild(&[]).ok();
}

#[test]
fn first_build_ever() {
    let ws = fixture("kitchen-sink");
    let r = explain(&ws, &["-p", "util"], &[]);
    assert!(r.stderr.contains("Rebuilt util"), "{}", r.stderr);
    assert!(
        r.stderr.contains("first build of this unit"),
        "{}",
        r.stderr
    );
}

#[test]
fn leaf_file_change_names_the_file() {
    let ws = fixture("kitchen-sink");
    warm(&ws);
    ws.append("crates/app/src/bin/helper.rs", "\n// edited\n");
    let r = explain(&ws, &[], &[]);
    assert!(
        r.stderr.contains("Rebuilt app (bin \"helper\")"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("crates/app/src/bin/helper.rs modified"),
        "{}",
        r.stderr
    );
    assert!(
        !r.stderr.contains("more unit(s)"),
        "a leaf change has no followers: {}",
        r.stderr
    );
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
    assert!(
        r.stderr
            .contains("because util rebuilt, because crates/util/src/lib.rs modified"),
        "{}",
        r.stderr
    );
}

#[test]
fn feature_flip_is_reported() {
    let ws = fixture("kitchen-sink");
    warm(&ws);
    let r = explain(&ws, &["--features", "app/extra"], &[]);
    assert!(
        r.stderr
            .contains("features changed (turned on: extra, ryu)"),
        "{}",
        r.stderr
    );
}

#[test]
fn rustflags_change_is_reported() {
    let ws = fixture("kitchen-sink");
    warm(&ws);
    let r = explain(&ws, &["-p", "util"], &[("RUSTFLAGS", "--cfg explain_flag")]);
    assert!(
        r.stderr
            .contains("compiler flags changed (added --cfg explain_flag)"),
        "{}",
        r.stderr
    );
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
    assert!(
        r.stderr
            .contains("profile setting opt_level changed (0 -> 2)"),
        "{}",
        r.stderr
    );
}

#[test]
fn touch_without_change_rebuilds_nothing() {
    let ws = fixture("kitchen-sink");
    warm(&ws);
    let f = ws.path("crates/util/src/lib.rs");
    let content = std::fs::read(&f).unwrap();
    std::fs::write(&f, content).unwrap();
    let r = explain(&ws, &[], &[]);
    assert!(r.stderr.contains("nothing rebuilt"), "{}", r.stderr);
}

#[test]
fn env_var_declared_by_build_script_is_reported() {
    let ws = fixture("kitchen-sink");
    warm(&ws);
    let r = explain(&ws, &[], &[("APP_BUILD_KNOB", "on")]);
    assert!(
        r.stderr
            .contains("environment variable APP_BUILD_KNOB changed (unset -> on)"),
        "{}",
        r.stderr
    );
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
    assert!(r.stderr.contains("DEPLOY_TOKEN"), "{}", r.stderr);
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
    let out = std::process::Command::new(crate::common::hbuild_bin())
        .args(["hbuild", "explain", "util"])
        .current_dir(&ws.root)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("util: rebuilt") && err.contains("crates/util/src/lib.rs modified"),
        "{err}"
    );
    let out = std::process::Command::new(crate::common::hbuild_bin())
        .args(["hbuild", "explain", "nosuch"])
        .current_dir(&ws.root)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nosuch"));
}
