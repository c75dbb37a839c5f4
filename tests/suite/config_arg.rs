//! `--config KEY=VALUE` and `--config PATH`: they reach what the config
//! files feed (target dir, `[env]`, rustflags, profiles) with Cargo's
//! precedence, and a changed argument never reuses an analysis planned
//! with another.

use crate::common::{fixture, Ws};

/// Whether a verbose build said it reused the saved analysis.
fn reused(run: &crate::common::Run) -> bool {
    run.stderr.contains("Reusing the saved analysis")
}

#[test]
fn config_values_set_the_target_dir_and_the_env_of_build_scripts_like_cargo() {
    let ws = fixture("tiny");
    let env = "env.GREETING = \"hi\"";
    let r = ws
        .hbuild(&["--config", "build.target-dir = \"out\"", "--config", env])
        .ok();
    assert!(
        r.stderr.contains("warning: greet@0.1.0: greeting is hi"),
        "{}",
        r.stderr
    );
    assert_eq!(ws.run_program("out/debug/app"), "hi, world\n");
    assert!(!ws.path("target").exists(), "nothing lands in target/");
    ws.cargo(
        &[
            "build",
            "--config",
            "build.target-dir = \"cargo-out\"",
            "--config",
            env,
        ],
        &[],
    )
    .ok();
    assert_eq!(ws.run_program("cargo-out/debug/app"), "hi, world\n");
    // `CARGO_BUILD_TARGET_DIR` is a config variable: `--config` wins.
    ws.hbuild_env(
        &["--config", "build.target-dir = \"out2\""],
        &[("CARGO_BUILD_TARGET_DIR", "env-out")],
    )
    .ok();
    assert_eq!(ws.run_program("out2/debug/app"), "hello, world\n");
    assert!(!ws.path("env-out").exists());
}

#[test]
fn a_config_file_argument_is_read_relative_to_its_parent_and_followed_when_edited() {
    let ws = fixture("tiny");
    std::fs::create_dir_all(ws.path("conf/ci")).unwrap();
    let write = |greeting: &str| {
        std::fs::write(
            ws.path("conf/ci/extra.toml"),
            format!("[build]\ntarget-dir = \"ci-target\"\n[env]\nGREETING = \"{greeting}\"\n"),
        )
        .unwrap();
    };
    write("file");
    let build = || ws.hbuild(&["-v", "--config", "conf/ci/extra.toml"]).ok();
    assert!(!reused(&build()));
    // Relative to the parent of the file's directory, as Cargo reads it.
    assert_eq!(ws.run_program("conf/ci-target/debug/app"), "file, world\n");
    assert!(reused(&build()), "nothing changed");
    write("edit");
    assert!(!reused(&build()), "the file is an input of the analysis");
    assert_eq!(ws.run_program("conf/ci-target/debug/app"), "edit, world\n");
    ws.cargo(&["build", "--config", "conf/ci/extra.toml"], &[])
        .ok();
    assert_eq!(ws.run_program("conf/ci-target/debug/app"), "edit, world\n");
}

fn print_cfg(ws: &Ws) {
    ws.replace(
        "app/src/main.rs",
        "    println!(\"{}, world\", greet::greeting());",
        "    println!(\"{}\", if cfg!(hb_one) { \"one\" } else if cfg!(hb_two) { \"two\" } else { \"none\" });",
    );
}

#[test]
fn another_config_value_plans_again_and_builds_with_its_flags() {
    let ws = fixture("tiny");
    print_cfg(&ws);
    let build = |extra: &[&str]| {
        let mut args = vec!["-v"];
        args.extend_from_slice(extra);
        let r = ws.hbuild(&args).ok();
        (reused(&r), ws.run_program("target/debug/app"))
    };
    let one = ["--config", "build.rustflags = [\"--cfg\", \"hb_one\"]"];
    let two = ["--config", "build.rustflags = [\"--cfg\", \"hb_two\"]"];
    assert_eq!(build(&one), (false, "one\n".into()));
    assert_eq!(build(&one), (true, "one\n".into()), "the same request");
    assert_eq!(build(&two), (false, "two\n".into()), "another --config");
    assert_eq!(build(&[]), (false, "none\n".into()), "no --config");
    assert_eq!(build(&one), (true, "one\n".into()), "saved per request");
    // The environment's flags join the config's, before `--config`'s.
    let r = ws
        .hbuild_env(
            &["--plan", one[0], one[1]],
            &[("CARGO_BUILD_RUSTFLAGS", "--cfg hb_env")],
        )
        .ok();
    let plan: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let app = plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["target_name"] == "app")
        .unwrap();
    let argv: Vec<&str> = app["argv"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    let at = argv.iter().position(|a| *a == "hb_env").unwrap();
    assert_eq!(argv[at - 1..at + 3], ["--cfg", "hb_env", "--cfg", "hb_one"]);
}

/// The `opt_level` of the plan's `app` unit.
fn opt_level(ws: &Ws, extra: &[&str]) -> String {
    let mut args = vec!["--plan"];
    args.extend_from_slice(extra);
    let r = ws.hbuild(&args).ok();
    let plan: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["target_name"] == "app")
        .map(|a| a["profile"]["opt_level"].as_str().unwrap().to_string())
        .unwrap()
}

#[test]
fn profiles_of_config_files_and_config_values_win_over_the_manifest() {
    let ws = fixture("tiny");
    ws.append("Cargo.toml", "\n[profile.dev]\nopt-level = 1\n");
    assert_eq!(opt_level(&ws, &[]), "1");
    ws.write_config("[profile.dev]\nopt-level = 2\n");
    assert_eq!(opt_level(&ws, &[]), "2", "a config file's profile");
    let arg = ["--config", "profile.dev.opt-level = 3"];
    assert_eq!(opt_level(&ws, &arg), "3", "--config over the files");
    // What Cargo passes to rustc.
    let r = ws.cargo(&["build", "-v", arg[0], arg[1]], &[]).ok();
    let app = r
        .stderr
        .lines()
        .find(|l| l.contains("--crate-name app"))
        .unwrap();
    assert!(app.contains("-C opt-level=3"), "{app}");
}
