//! Building with hbuild: the programs it builds behave like Cargo's, the
//! artifacts land at Cargo's paths, and failures look like Cargo's.

use crate::common::{file_set, fixture};

fn expected(ws: &crate::common::Ws, name: &str) -> String {
    std::fs::read_to_string(ws.path(&format!("expected/{name}.stdout"))).unwrap()
}

/// Uplifted files (Cargo's paths), ignoring dep-info and Cargo's own bookkeeping.
pub(crate) fn uplifted(dir: &std::path::Path) -> Vec<String> {
    let hashed = |p: &str| {
        p.rsplit(['-', '.'])
            .any(|part| part.len() == 16 && part.bytes().all(|b| b.is_ascii_hexdigit()))
    };
    file_set(dir, |p| {
        let top = !p.contains('/');
        !p.ends_with(".d")
            && !p.starts_with('.')
            && (top || (p.starts_with("examples/") && !hashed(p)))
    })
}

#[test]
fn test_harnesses_built_by_hbuild_pass() {
    let ws = fixture("kitchen-sink");
    let run = ws.hbuild(&["--tests", "--message-format", "json"]).ok();
    let exes: Vec<String> = run
        .messages("compiler-artifact")
        .iter()
        .filter(|m| m["profile"]["test"] == true)
        .filter_map(|m| m["executable"].as_str().map(str::to_string))
        .collect();
    assert!(
        exes.len() >= 3,
        "expected lib, bin and integration test harnesses, got {exes:?}"
    );
    for exe in &exes {
        let out = std::process::Command::new(exe)
            .current_dir(ws.path("crates/app"))
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{exe} failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            stdout.contains("test result: ok"),
            "{exe} did not run tests:\n{stdout}"
        );
    }
    // The integration test found the binary through CARGO_BIN_EXE_app-cli.
    assert!(ws.path("target/debug/app-cli").exists());
}

#[test]
fn release_build_is_drop_in_for_ci_scripts() {
    let ws = fixture("kitchen-sink");
    ws.hbuild(&["--release"]).ok();
    assert_eq!(
        ws.run_program("target/release/app-cli"),
        expected(&ws, "app-cli")
    );
    assert!(ws.path("target/release/libapp_core.rlib").exists());
    assert!(ws.path("target/release/libplugin.so").exists());
}

#[test]
fn explicit_target_changes_the_layout_like_cargo() {
    let ws = fixture("failures");
    ws.hbuild(&[
        "--target",
        "x86_64-unknown-linux-gnu",
        "-p",
        "ok-bin",
        "-p",
        "needs-header",
    ])
    .ok();
    assert_eq!(
        ws.run_program("target/x86_64-unknown-linux-gnu/debug/ok-bin"),
        expected(&ws, "ok-bin")
    );
    assert!(!ws.path("target/debug/ok-bin").exists());
    // Build scripts are host units: compiled into the host directory.
    assert!(walkdir::WalkDir::new(ws.path("target/hbuild/debug/build"))
        .into_iter()
        .flatten()
        .any(|e| e
            .file_name()
            .to_string_lossy()
            .starts_with("build_script_build")));
}

#[test]
fn build_script_at_a_custom_path_is_named_after_its_file_stem() {
    // cnative has `build = "build/main.rs"`: Cargo compiles that script as
    // crate `build_script_main` (target `build-script-main`).
    let ws = fixture("kitchen-sink");
    let (wrapper, log) = crate::common::logging_wrapper(ws.tmp.path());
    let run = ws
        .hbuild_env(
            &["--no-cache", "--message-format", "json", "-p", "cnative"],
            &[("RUSTC_WRAPPER", wrapper.to_str().unwrap())],
        )
        .ok();
    let compiles = crate::common::compiles(&log);
    let script = compiles
        .iter()
        .find(|l| l.contains("crates/cnative/build/main.rs"))
        .expect("the build script was compiled");
    assert!(
        script.contains("--crate-name build_script_main "),
        "{script}"
    );
    let lib = compiles
        .iter()
        .find(|l| l.contains("--crate-name cnative "))
        .expect("the library was compiled");
    assert!(lib.contains("-l static=cnative_add"), "{lib}");
    let is_cnative = |m: &&serde_json::Value| {
        m["package_id"]
            .as_str()
            .is_some_and(|p| p.contains("cnative"))
    };
    let artifact = run
        .messages("compiler-artifact")
        .into_iter()
        .find(|m| is_cnative(&m) && m["target"]["kind"][0] == "custom-build")
        .expect("a build-script artifact");
    assert_eq!(artifact["target"]["name"], "build-script-main");
    // Like Cargo, the message names the hard link `build-script-main`,
    // which is the compiled script itself.
    let exe = std::path::Path::new(artifact["filenames"][0].as_str().unwrap());
    assert_eq!(exe.file_name().unwrap(), "build-script-main");
    let hashed = std::fs::read_dir(exe.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            let name = p.file_name().unwrap().to_str().unwrap();
            name.starts_with("build_script_main-") && !name.ends_with(".d")
        })
        .expect("the hashed binary beside it");
    assert_eq!(std::fs::read(exe).unwrap(), std::fs::read(hashed).unwrap());
    // The script ran, and was compiled with `CARGO_CRATE_NAME` of its name.
    let ran = run
        .messages("build-script-executed")
        .into_iter()
        .find(|m| is_cnative(&m))
        .expect("the build script ran");
    assert_eq!(
        ran["linked_libs"],
        serde_json::json!(["static=cnative_add"])
    );
    assert_eq!(
        ran["env"],
        serde_json::json!([["CNATIVE_SCRIPT_CRATE", "build_script_main"]])
    );
}

#[test]
fn resolver_fixtures_print_their_feature_sets() {
    for name in ["resolver-v1", "resolver-v2"] {
        let ws = fixture(name);
        ws.hbuild(&[]).ok();
        let expected_files = file_set(&ws.path("expected"), |_| true);
        assert!(!expected_files.is_empty());
        for f in expected_files {
            let bin = f.trim_end_matches(".stdout");
            assert_eq!(
                ws.run_program(&format!("target/debug/{bin}")),
                std::fs::read_to_string(ws.path(&format!("expected/{f}"))).unwrap(),
                "{name}/{bin}"
            );
        }
    }
}

#[test]
fn big_workspace_with_real_crates_builds_and_runs() {
    let ws = fixture("big");
    let run = ws.hbuild(&["--message-format", "json"]).ok();
    let artifacts = run.messages("compiler-artifact");
    let packages: std::collections::BTreeSet<String> = artifacts
        .iter()
        .map(|m| m["package_id"].as_str().unwrap().to_string())
        .collect();
    assert!(
        packages.len() >= 60,
        "only {} packages built",
        packages.len()
    );
    assert!(!run.messages("build-script-executed").is_empty());
    assert_eq!(
        ws.run_program("target/debug/big-app"),
        expected(&ws, "big-app")
    );
}

#[test]
fn compile_error_fails_like_cargo_and_recovers() {
    let ws = fixture("failures");
    let original = std::fs::read_to_string(ws.path("crates/broken-rs/src/lib.rs")).unwrap();
    ws.append(
        "crates/broken-rs/src/lib.rs",
        "\npub fn broken() -> u32 { \"not a number\" }\n",
    );
    let run = ws.hbuild(&["-p", "broken-rs"]);
    assert_eq!(run.code, 101, "{}", run.stderr);
    assert!(
        run.stderr.contains("error[E0308]: mismatched types"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("error: could not compile `broken-rs` (lib) due to 1 previous error"),
        "{}",
        run.stderr
    );
    std::fs::write(ws.path("crates/broken-rs/src/lib.rs"), original).unwrap();
    ws.hbuild(&["-p", "broken-rs"]).ok();
}

#[test]
fn panicking_build_script_fails_like_cargo_and_recovers() {
    let ws = fixture("failures");
    let run = ws.hbuild_env(
        &["-p", "bad-build-script"],
        &[("HB_FAIL_BUILD_SCRIPT", "1")],
    );
    assert_eq!(run.code, 101, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("error: failed to run custom build command for `bad-build-script v"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("--- stderr") && run.stderr.contains("panicked"),
        "{}",
        run.stderr
    );
    ws.hbuild(&["-p", "bad-build-script"]).ok();
}

#[test]
fn missing_c_header_fails_and_recovers() {
    let ws = fixture("failures");
    let header = std::fs::read_dir(ws.path("crates/needs-header")).unwrap();
    drop(header);
    let h = find_file(&ws.path("crates/needs-header"), "present.h").expect("fixture has present.h");
    let saved = std::fs::read(&h).unwrap();
    std::fs::remove_file(&h).unwrap();
    let run = ws.hbuild(&["-p", "needs-header"]);
    assert_eq!(run.code, 101, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("failed to run custom build command for `needs-header"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("present.h"),
        "the missing header is named: {}",
        run.stderr
    );
    std::fs::write(&h, saved).unwrap();
    ws.hbuild(&["-p", "needs-header"]).ok();
}

fn find_file(dir: &std::path::Path, name: &str) -> Option<std::path::PathBuf> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .flatten()
        .find(|e| e.file_name() == name)
        .map(|e| e.into_path())
}

#[test]
fn json_messages_follow_cargo() {
    let ws = fixture("kitchen-sink");
    // Messages are the same whether actions ran or came from the cache.
    crate::common::warm_cache_for(&ws, "kitchen-sink");
    let run = ws.hbuild(&["--message-format", "json", "-p", "app"]).ok();
    let finished = run.messages("build-finished");
    assert_eq!(finished.len(), 1);
    assert_eq!(finished[0]["success"], true);
    let cli = run
        .messages("compiler-artifact")
        .into_iter()
        .find(|m| m["target"]["name"] == "app-cli")
        .expect("app-cli artifact");
    assert!(cli["executable"]
        .as_str()
        .unwrap()
        .ends_with("target/debug/app-cli"));
    let scripts = run.messages("build-script-executed");
    assert!(
        scripts.iter().any(|m| m["cfgs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c == "app_has_foo")),
        "{scripts:?}"
    );
    let s = run.summary();
    assert_eq!(
        s["actions_total"].as_u64(),
        Some(
            s["executed"].as_u64().unwrap()
                + s["fresh"].as_u64().unwrap()
                + s["cache_hits"]["local"].as_u64().unwrap()
        )
    );
}

#[test]
fn a_second_build_waits_for_the_target_dir_lock() {
    let ws = fixture("failures");
    ws.hbuild(&["-p", "ok-bin"]).ok();
    let lock_path = ws.path("target/hbuild/.lock");
    let f = std::fs::File::options()
        .write(true)
        .open(&lock_path)
        .unwrap();
    f.lock().unwrap();
    let mut child = std::process::Command::new(crate::common::hbuild_bin())
        .args(["hbuild", "-p", "ok-bin"])
        .current_dir(&ws.root)
        .env("HBUILD_CACHE_DIR", &ws.cache)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the second build did not wait for the lock"
    );
    f.unlock().unwrap();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("Blocking") && err.contains("waiting for file lock"),
        "{err}"
    );
}

#[test]
fn saved_analysis_is_reused_until_one_of_its_inputs_changes() {
    let ws = fixture("failures");
    let build = |env: &[(&str, &str)], extra: &[&str]| {
        let mut args = vec!["-v", "-p", "ok-bin"];
        args.extend_from_slice(extra);
        ws.hbuild_env(&args, env)
            .ok()
            .stderr
            .contains("Reusing the saved analysis")
    };
    assert!(!build(&[], &[]), "first build cannot reuse anything");
    assert!(build(&[], &[]), "nothing changed: the analysis is reused");
    ws.append("crates/ok-bin/Cargo.toml", "\n# edited\n");
    assert!(!build(&[], &[]), "a manifest changed");
    assert!(build(&[], &[]));
    ws.append("Cargo.lock", "\n");
    assert!(!build(&[], &[]), "Cargo.lock changed");
    std::fs::create_dir_all(ws.path(".cargo")).unwrap();
    std::fs::write(
        ws.path(".cargo/config.toml"),
        "[env]\nOK_BIN_NOTE = \"x\"\n",
    )
    .unwrap();
    assert!(!build(&[], &[]), "a config file appeared");
    assert!(build(&[], &[]));
    assert!(
        !build(&[("RUSTFLAGS", "--cfg reuse_test")], &[]),
        "RUSTFLAGS changed"
    );
    assert!(!build(&[], &[]), "RUSTFLAGS changed back");
    assert!(
        !build(&[], &["--release"]),
        "other flags are another request"
    );
    assert!(
        build(&[], &[]),
        "the plain request's analysis is still there"
    );
    std::fs::write(ws.path("crates/ok-bin/src/extra.rs"), "").unwrap();
    assert!(
        !build(&[], &[]),
        "a new file in a package can be a new target"
    );
    assert_eq!(ws.run_program("target/debug/ok-bin"), "ok\n");
}

/// The `compiler-artifact` message of a target, from a JSON build.
fn artifact(run: &crate::common::Run, target: &str) -> serde_json::Value {
    run.messages("compiler-artifact")
        .into_iter()
        .find(|m| m["target"]["name"] == target)
        .unwrap_or_else(|| panic!("no artifact for {target}:\n{}", run.stdout))
}

#[test]
fn a_panic_in_an_action_fails_the_build_and_the_next_build_runs_it_again() {
    let ws = fixture("failures");
    let args = ["-p", "ok-bin", "-p", "broken-rs"];
    let panic_in = [(hbuild::PANIC_IN_VAR, "ok-bin (bin \"ok-bin\")")];
    let run = ws.hbuild_bounded(&args, &panic_in);
    assert_eq!(run.code, 101, "{}", run.stderr);
    assert!(
        run.stderr.lines().any(|l| l
            == "error: internal error while running ok-bin (bin \"ok-bin\") \
                (this is a bug in cargo-hbuild, please report it): \
                HBUILD_TEST_PANIC_IN names ok-bin (bin \"ok-bin\")"),
        "{}",
        run.stderr
    );
    assert!(
        !run.stderr
            .lines()
            .any(|l| l.trim_start().starts_with("Finished")),
        "{}",
        run.stderr
    );
    // The panic struck before the binary was put in place.
    assert!(!ws.path("target/debug/ok-bin").exists());

    // The lock was released, and nothing of the panicked action is
    // trusted: it runs again, and the program works.
    let json = ["--message-format", "json"];
    let run = ws
        .hbuild_bounded(&[&args[..], &json[..]].concat(), &[])
        .ok();
    assert_eq!(artifact(&run, "ok-bin")["fresh"], false);
    assert_eq!(ws.run_program("target/debug/ok-bin"), "ok\n");
    assert!(ws.path("target/debug/libbroken_rs.rlib").is_file());
    // What the failed build left (broken-rs, finished or not started) is
    // consistent: a third build has nothing to do.
    let run = ws
        .hbuild_bounded(&[&args[..], &json[..]].concat(), &[])
        .ok();
    assert_eq!(crate::common::executed(&run), 0, "{}", run.stdout);
    assert_eq!(artifact(&run, "broken_rs")["fresh"], true);
}

#[test]
fn an_artifact_that_cannot_be_put_in_place_fails_the_build() {
    let ws = fixture("failures");
    // A directory where the binary goes: neither a hard link nor a copy
    // can replace it.
    let dest = ws.path("target/debug/ok-bin");
    std::fs::create_dir_all(&dest).unwrap();
    std::fs::write(dest.join("keep"), "not a binary").unwrap();
    let expected_error = |ws: &crate::common::Ws| {
        let deps = ws.path("target/hbuild/debug/deps");
        let from = std::fs::read_dir(&deps)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| {
                let name = p.file_name().unwrap().to_string_lossy().into_owned();
                name.starts_with("ok_bin-") && p.extension().is_none()
            })
            .expect("the binary was built");
        format!(
            "failed to link or copy `{}` to `{}`: Is a directory (os error 21)",
            from.display(),
            dest.display()
        )
    };
    let run = ws.hbuild(&["-p", "ok-bin"]);
    assert_eq!(run.code, 101, "{}", run.stderr);
    assert!(run.stderr.contains(&expected_error(&ws)), "{}", run.stderr);
    // The action's outputs are fine and stamped, but it is not done until
    // its binary is in place: the next build fails the same way.
    let run = ws.hbuild(&["-p", "ok-bin"]);
    assert_eq!(run.code, 101, "{}", run.stderr);
    assert!(run.stderr.contains(&expected_error(&ws)), "{}", run.stderr);
    std::fs::remove_dir_all(&dest).unwrap();
    ws.hbuild(&["-p", "ok-bin"]).ok();
    assert_eq!(ws.run_program("target/debug/ok-bin"), "ok\n");
}

#[test]
fn config_target_dir_holds_the_artifacts_and_the_saved_analysis() {
    let ws = fixture("failures");
    ws.write_config("[build]\ntarget-dir = \"out\"\n");
    let reused = |dir: &str| {
        ws.hbuild_in(dir, &["-v", "-p", "ok-bin"], &[])
            .ok()
            .stderr
            .contains("Reusing the saved analysis")
    };
    assert!(!reused(""), "first build cannot reuse anything");
    assert!(reused(""), "a no-op finds the analysis saved under out/");
    assert_eq!(ws.run_program("out/debug/ok-bin"), "ok\n");
    assert!(ws.path("out/hbuild/.lock").exists());
    assert!(!ws.path("target").exists(), "nothing lands in target/");
    // From a member's directory the path is still relative to the directory
    // that holds `.cargo/`.
    assert!(
        !reused("crates/ok-bin"),
        "another directory is another request"
    );
    assert!(reused("crates/ok-bin"));
    assert!(!ws.path("crates/ok-bin/out").exists());
    assert!(!ws.path("crates/ok-bin/target").exists());
}

#[test]
fn jobs_reach_build_scripts_with_cargo_precedence() {
    let ws = crate::common::workspace(&[
        (
            "Cargo.toml",
            "[package]\nname = \"jobs\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
        ),
        (
            "build.rs",
            "fn main() {\n    println!(\"cargo::rustc-env=SEEN_JOBS={}\", std::env::var(\"NUM_JOBS\").unwrap());\n}\n",
        ),
        (
            "src/main.rs",
            "fn main() {\n    println!(\"{}\", env!(\"SEEN_JOBS\"));\n}\n",
        ),
    ]);
    let config = |jobs: &str| {
        std::fs::create_dir_all(ws.path(".cargo")).unwrap();
        std::fs::write(
            ws.path(".cargo/config.toml"),
            format!("[build]\njobs = {jobs}\n"),
        )
        .unwrap();
    };
    // Each case in its own target dirs, so that Cargo runs the script too.
    let mut case = 0;
    let mut seen = |args: &[&str], env: &[(&str, &str)]| {
        case += 1;
        let (c, h) = (format!("cargo-{case}"), format!("hbuild-{case}"));
        let mut cargs = vec!["build", "--target-dir", &c];
        cargs.extend_from_slice(args);
        ws.cargo(&cargs, env).ok();
        // NUM_JOBS is left out of keys (an execution detail), so a cached
        // run would replay the first case's value.
        let mut hargs = vec!["--no-cache", "--target-dir", &h];
        hargs.extend_from_slice(args);
        ws.hbuild_env(&hargs, env).ok();
        let cargo = ws.run_program(&format!("{c}/debug/jobs"));
        let hbuild = ws.run_program(&format!("{h}/debug/jobs"));
        assert_eq!(hbuild, cargo, "NUM_JOBS for {args:?} {env:?}");
        hbuild
    };
    config("3");
    assert_eq!(seen(&[], &[]), "3\n", "build.jobs");
    assert_eq!(seen(&[], &[("CARGO_BUILD_JOBS", "5")]), "5\n");
    assert_eq!(seen(&["-j", "4"], &[("CARGO_BUILD_JOBS", "5")]), "4\n");
    config("-1");
    let cpus = std::thread::available_parallelism().unwrap().get();
    assert_eq!(
        seen(&[], &[]),
        format!("{}\n", cpus.saturating_sub(1).max(1))
    );
    config("0");
    let cargo = ws.cargo(&["build"], &[]);
    let hbuild = ws.hbuild(&[]);
    assert_eq!(cargo.code, 101);
    assert_eq!(hbuild.code, 101);
    assert!(
        cargo.stderr.contains("error: jobs may not be 0"),
        "{}",
        cargo.stderr
    );
    assert_eq!(hbuild.stderr, "error: jobs may not be 0\n");
}

/// Each stamp file of the build with its inode and mtime: a stamp that is
/// rewritten gets a new inode.
fn stamp_files(ws: &crate::common::Ws) -> Vec<(std::path::PathBuf, u64, std::time::SystemTime)> {
    use std::os::unix::fs::MetadataExt;
    let mut out: Vec<_> = walkdir::WalkDir::new(ws.path("target/hbuild"))
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .filter(|e| {
            e.path()
                .parent()
                .is_some_and(|d| d.ends_with(".hbuild-stamps"))
        })
        .map(|e| {
            let m = e.metadata().unwrap();
            (e.into_path(), m.ino(), m.modified().unwrap())
        })
        .collect();
    out.sort();
    out
}

#[test]
fn an_edit_that_keeps_size_mtime_and_inode_is_rebuilt_and_noops_stay_noops() {
    let ws = fixture("failures");
    let main = "crates/ok-bin/src/main.rs";
    // Old, so that the digest memo trusts the file's stamp (files modified
    // in the last seconds are always hashed again).
    ws.set_mtime(
        main,
        std::time::SystemTime::now() - std::time::Duration::from_secs(3600),
    );
    let args = ["--message-format", "json", "-p", "ok-bin"];
    let first = ws.hbuild(&args).ok();
    assert_eq!(crate::common::executed(&first), 1);
    assert_eq!(ws.run_program("target/debug/ok-bin"), "ok\n");

    ws.overwrite_in_place_keeping_mtime(main, "\"ok\"", "\"OK\"");
    let edited = ws.hbuild(&args).ok();
    let artifact = |r: &crate::common::Run| {
        r.messages("compiler-artifact")
            .into_iter()
            .find(|m| m["target"]["name"] == "ok-bin")
            .unwrap_or_else(|| panic!("no artifact for ok-bin:\n{}", r.stdout))
    };
    assert_eq!(artifact(&edited)["fresh"], false, "{}", edited.stdout);
    assert_eq!(crate::common::executed(&edited), 1, "{}", edited.stdout);
    assert_eq!(ws.run_program("target/debug/ok-bin"), "OK\n");

    // The cache adopted the new binary by hard link and the uplift linked
    // it again, which moves its ctime: neither is a change. Two no-ops in a
    // row do nothing, and do not even rewrite a stamp.
    let stamps = stamp_files(&ws);
    for _ in 0..2 {
        let noop = ws.hbuild(&args).ok();
        assert_eq!(artifact(&noop)["fresh"], true, "{}", noop.stdout);
        assert_eq!(noop.summary()["fresh"], 1, "{}", noop.stdout);
        assert_eq!(stamp_files(&ws), stamps, "a no-op rewrote a stamp");
    }
    assert_eq!(ws.run_program("target/debug/ok-bin"), "OK\n");
}
