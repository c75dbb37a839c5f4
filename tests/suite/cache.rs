//! The content-addressed cache: hits after the target dir is removed, hits
//! across checkouts with byte-identical outputs, exactly the affected
//! actions re-run after each kind of input change, and corrupt entries are
//! detected and rebuilt.

use crate::common::{
    executed, fixture, logging_wrapper, rebuilt_units, warm_cache_copy_for, warm_cache_for, Ws,
};

fn expected_cli(ws: &Ws) -> String {
    std::fs::read_to_string(ws.path("expected/app-cli.stdout")).unwrap()
}

fn json(ws: &Ws, args: &[&str], env: &[(&str, &str)]) -> crate::common::Run {
    let mut a = vec!["--message-format", "json"];
    a.extend_from_slice(args);
    ws.hbuild_env(&a, env).ok()
}

#[test]
fn cache_survives_removed_target_dirs_and_other_checkouts_with_identical_bytes() {
    let a = fixture("kitchen-sink");
    // Reproducible bytes need incremental compilation off, as in CI.
    let first = json(&a, &[], &[("CARGO_INCREMENTAL", "0")]);
    assert_eq!(
        executed(&first),
        first.summary()["actions_total"].as_u64().unwrap()
    );

    // 1. Remove the target dir: everything comes from the cache, no rustc.
    std::fs::remove_dir_all(a.path("target")).unwrap();
    let (wrapper, log) = logging_wrapper(a.tmp.path());
    let second = json(
        &a,
        &[],
        &[
            ("RUSTC_WRAPPER", wrapper.to_str().unwrap()),
            ("CARGO_INCREMENTAL", "0"),
        ],
    );
    let s = second.summary();
    assert_eq!(s["executed"], 0, "{s}");
    assert_eq!(s["cache_hits"]["local"], s["actions_total"], "{s}");
    let compiled = crate::common::compiles(&log);
    assert!(compiled.is_empty(), "rustc compiled: {compiled:?}");
    assert_eq!(a.run_program("target/debug/app-cli"), expected_cli(&a));

    // 2. An independent build of the same sources elsewhere, without any
    // cache, gives the same bytes: sharing a cache across machines is sound.
    let b = fixture("kitchen-sink");
    b.hbuild_env(&["--no-cache"], &[("CARGO_INCREMENTAL", "0")])
        .ok();
    let outputs = [
        "target/debug/app-cli",
        "target/debug/helper",
        "target/debug/libapp_core.rlib",
        "target/debug/libplugin.so",
    ];
    for f in outputs {
        assert_eq!(
            std::fs::read(a.path(f)).unwrap(),
            std::fs::read(b.path(f)).unwrap(),
            "{f} is not reproducible across checkouts"
        );
    }

    // 3. That other checkout with the first one's cache: every key hits,
    // also with incremental compilation on (the dev default), which is an
    // execution strategy and not part of the key.
    std::fs::remove_dir_all(b.path("target")).unwrap();
    let run = b
        .hbuild_env(
            &[
                "--message-format",
                "json",
                "--cache-dir",
                a.cache.to_str().unwrap(),
            ],
            &[],
        )
        .ok();
    let s = run.summary();
    assert_eq!(s["executed"], 0, "keys depend on the checkout path: {s}");
    for f in outputs {
        assert_eq!(
            std::fs::read(a.path(f)).unwrap(),
            std::fs::read(b.path(f)).unwrap(),
            "{f} differs"
        );
    }
}

#[test]
fn mutations_rerun_exactly_the_affected_actions() {
    let ws = fixture("kitchen-sink");
    warm_cache_for(&ws, "kitchen-sink");
    let base = json(&ws, &[], &[]);
    assert_eq!(
        executed(&base),
        0,
        "warm cache should make the first build all hits"
    );

    // A source file of a leaf crate: util (lib) and what links it.
    ws.append(
        "crates/util/src/lib.rs",
        "\npub fn added_for_test() -> u32 { 7 }\n",
    );
    let r = json(&ws, &["--explain"], &[]);
    assert_eq!(
        rebuilt_units(&r),
        [
            "app",
            "app (bin \"app-cli\")",
            "app (bin \"helper\")",
            "util"
        ],
        "editing util"
    );
    assert_eq!(ws.run_program("target/debug/app-cli"), expected_cli(&ws));

    // rerun-if-env-changed: only app's build script run and app's units.
    let r = json(&ws, &["--explain"], &[("APP_BUILD_KNOB", "turned")]);
    assert_eq!(
        rebuilt_units(&r),
        [
            "app",
            "app (bin \"app-cli\")",
            "app (bin \"helper\")",
            "app (build script run)",
        ],
        "APP_BUILD_KNOB"
    );
    let out = std::process::Command::new(ws.path("target/debug/app-cli"))
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("turned"),
        "the new knob value must reach the program"
    );

    // Back to the old value: a cache hit, and the old output again.
    let r = json(&ws, &[], &[]);
    assert_eq!(executed(&r), 0);
    assert_eq!(ws.run_program("target/debug/app-cli"), expected_cli(&ws));

    // A feature: app and its bins rebuild with the feature on.
    let r = json(&ws, &["--explain", "--features", "app/extra"], &[]);
    assert_eq!(
        rebuilt_units(&r),
        [
            "app",
            "app (bin \"app-cli\")",
            "app (bin \"helper\")",
            "app (build script run)",
            "app (build script)",
            "ryu",
            "util",
        ],
        "feature app/extra"
    );
    let out = ws.run_program("target/debug/app-cli");
    assert_ne!(
        out,
        expected_cli(&ws),
        "feature `extra` must change the program's output"
    );

    // RUSTFLAGS: everything rebuilds (it is in every key), then it is a hit.
    let r = json(
        &ws,
        &["--explain", "-p", "util"],
        &[("RUSTFLAGS", "--cfg hbuild_test_flag")],
    );
    assert_eq!(rebuilt_units(&r), ["util"], "RUSTFLAGS");
    let r = json(
        &ws,
        &["-p", "util"],
        &[("RUSTFLAGS", "--cfg hbuild_test_flag")],
    );
    assert_eq!(executed(&r), 0);

    // A profile setting in Cargo.toml.
    ws.append(
        "Cargo.toml",
        "\n[profile.dev.package.util]\nopt-level = 3\n",
    );
    let r = json(&ws, &["--explain", "-p", "util"], &[]);
    assert_eq!(
        rebuilt_units(&r),
        ["util"],
        "only util's lib is affected by its package override"
    );
}

#[test]
fn rerun_if_changed_input_reruns_the_build_script() {
    let ws = fixture("kitchen-sink");
    warm_cache_for(&ws, "kitchen-sink");
    json(&ws, &[], &[]);
    // cnative's build script declares its C sources (through cc).
    let c = walkdir::WalkDir::new(ws.path("crates/cnative"))
        .into_iter()
        .flatten()
        .find(|e| e.path().extension().is_some_and(|x| x == "c"))
        .unwrap()
        .into_path();
    let mut src = std::fs::read_to_string(&c).unwrap();
    src.push_str("\n/* changed for a test */\n");
    std::fs::write(&c, src).unwrap();
    let r = json(&ws, &["--explain"], &[]);
    let explains = r.messages("hbuild-explain");
    assert!(
        explains.iter().any(|m| m["unit"]
            .as_str()
            .unwrap()
            .contains("cnative (build script run)")
            && m["reasons"].to_string().contains("rerun-if-changed")),
        "{explains:?}"
    );
    assert_eq!(ws.run_program("target/debug/app-cli"), expected_cli(&ws));
}

#[test]
fn corrupt_blob_and_entry_are_detected_and_rebuilt() {
    let ws = fixture("kitchen-sink");
    json(&ws, &["-p", "util"], &[]);
    std::fs::remove_dir_all(ws.path("target")).unwrap();
    // Corrupt every blob and truncate every action entry of the cache.
    let mut blobs = 0;
    let mut entries = 0;
    for e in walkdir::WalkDir::new(&ws.cache).into_iter().flatten() {
        let p = e.path();
        if !e.file_type().is_file() {
            continue;
        }
        let s = p.to_string_lossy();
        if s.contains("/cas/") {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o644)).unwrap();
            std::fs::write(p, b"garbage").unwrap();
            blobs += 1;
        } else if s.contains("/ac/") && entries == 0 {
            std::fs::write(p, b"{\"trunc").unwrap();
            entries += 1;
        }
    }
    assert!(blobs > 0 && entries > 0);
    let r = json(&ws, &["--explain", "-p", "util"], &[]);
    assert_eq!(
        rebuilt_units(&r),
        ["util"],
        "corrupt entries must not be trusted"
    );
    assert!(ws.path("target/debug/libutil_lib.rlib").exists());
    // And the rebuilt results are good entries again.
    std::fs::remove_dir_all(ws.path("target")).unwrap();
    let r = json(&ws, &["-p", "util"], &[]);
    assert_eq!(executed(&r), 0);
}

/// Runs `cargo hbuild cache ARGS --cache-dir <ws cache>`, asserting success.
fn cache_cmd(ws: &Ws, args: &[&str]) -> std::process::Output {
    let out = std::process::Command::new(crate::common::hbuild_bin())
        .arg("hbuild")
        .arg("cache")
        .args(args)
        .arg("--cache-dir")
        .arg(&ws.cache)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn cache_stats_and_gc() {
    let ws = fixture("kitchen-sink");
    json(&ws, &["-p", "util"], &[]);
    let out = cache_cmd(&ws, &["stats", "--message-format", "json"]);
    let stats: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(stats.to_string().contains("entries"), "{stats}");
    cache_cmd(&ws, &["gc", "--max-size", "0"]);
    std::fs::remove_dir_all(ws.path("target")).unwrap();
    let r = json(&ws, &["--explain", "-p", "util"], &[]);
    assert_eq!(
        rebuilt_units(&r),
        ["util"],
        "after gc to 0 bytes nothing can hit"
    );
    let bad = std::process::Command::new(crate::common::hbuild_bin())
        .args(["hbuild", "cache", "gc", "--max-size", "lots", "--cache-dir"])
        .arg(&ws.cache)
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("lots"));
}

#[test]
fn reading_outside_declared_inputs_is_reported_and_strict_fails() {
    let ws = fixture("failures");
    std::fs::write(ws.path("outside.txt"), "from outside the package\n").unwrap();
    ws.append("crates/broken-rs/src/lib.rs", "\n/// Read from outside the package.\npub const OUTSIDE: &str = include_str!(\"../../../outside.txt\");\n");
    let r = ws
        .hbuild(&["-p", "broken-rs", "--message-format", "json"])
        .ok();
    assert!(
        r.stderr.contains("outside.txt") && r.stderr.contains("outside its declared inputs"),
        "{}",
        r.stderr
    );
    let s = r.summary();
    assert!(
        s["uncacheable"]
            .to_string()
            .contains("outside its declared inputs"),
        "{s}"
    );
    std::fs::remove_dir_all(ws.path("target")).unwrap();
    let r = ws.hbuild(&["-p", "broken-rs", "--strict"]);
    assert_eq!(r.code, 101, "{}", r.stderr);
    assert!(
        r.stderr.contains("--strict") && r.stderr.contains("outside.txt"),
        "{}",
        r.stderr
    );
}

#[test]
fn early_cutoff_when_a_rerun_yields_identical_outputs() {
    let ws = fixture("failures");
    json(&ws, &["-p", "bad-build-script"], &[]);
    // The build script tracks HB_FAIL_BUILD_SCRIPT, so a new value re-runs
    // it; its outputs come out identical, so the library that depends on
    // the run is not rebuilt.
    let r = json(
        &ws,
        &["-p", "bad-build-script", "--explain"],
        &[("HB_FAIL_BUILD_SCRIPT", "0")],
    );
    assert_eq!(executed(&r), 1, "only the build-script run re-executes");
    let explains = r.messages("hbuild-explain");
    assert_eq!(explains.len(), 1, "{explains:?}");
    assert!(
        explains[0]["unit"]
            .as_str()
            .unwrap()
            .contains("build script run"),
        "{explains:?}"
    );
    assert!(
        explains[0]["reasons"]
            .to_string()
            .contains("HB_FAIL_BUILD_SCRIPT"),
        "{explains:?}"
    );
    let lib = r
        .messages("compiler-artifact")
        .into_iter()
        .find(|m| m["target"]["name"] == "bad_build_script")
        .expect("lib artifact");
    assert_eq!(lib["fresh"], true, "the library must not rebuild: {lib}");
}

#[test]
fn job_count_is_not_part_of_the_keys() {
    // `failures` has build scripts (one compiling C through `cc`), which
    // are given `NUM_JOBS` and a jobserver.
    let a = fixture("failures");
    let first = json(&a, &["--workspace", "-j2"], &[]);
    assert_eq!(
        executed(&first),
        first.summary()["actions_total"].as_u64().unwrap()
    );
    let b = fixture("failures");
    let cache = a.cache.to_str().unwrap();
    let second = json(
        &b,
        &["--workspace", "-j1", "--explain", "--cache-dir", cache],
        &[],
    );
    let s = second.summary();
    let ran: Vec<String> = second
        .messages("hbuild-explain")
        .iter()
        .map(|m| format!("{} ({})", m["unit"], m["reasons"]))
        .collect();
    assert_eq!(s["executed"], 0, "executed with -j1: {ran:#?}\n{s}");
    assert_eq!(s["cache_hits"]["local"], s["actions_total"], "{s}");
    // Build scripts are still told the real job count.
    let plan = b.hbuild(&["--workspace", "-j1", "--plan"]).ok();
    let plan: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
    let jobs: Vec<&serde_json::Value> = plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["kind"] == "build-script-run")
        .map(|a| &a["env"]["NUM_JOBS"])
        .collect();
    assert_eq!(jobs, [&serde_json::json!("1"); 2], "{plan}");
}

/// Each stamp file with its inode: a rewritten stamp gets a new one.
fn stamp_inodes(ws: &Ws) -> Vec<(std::path::PathBuf, u64)> {
    use std::os::unix::fs::MetadataExt;
    let mut out: Vec<_> = walkdir::WalkDir::new(ws.path("target/hbuild"))
        .into_iter()
        .flatten()
        .filter(|e| {
            e.path()
                .parent()
                .is_some_and(|d| d.ends_with(".hbuild-stamps"))
        })
        .map(|e| (e.path().to_path_buf(), e.metadata().unwrap().ino()))
        .collect();
    out.sort();
    out
}

#[test]
fn noops_after_hits_and_reruns_write_nothing() {
    let ws = fixture("kitchen-sink");
    // Copied, not linked: no other test's build may link these blobs.
    warm_cache_copy_for(&ws, "kitchen-sink");
    let total = |r: &crate::common::Run| r.summary()["actions_total"].as_u64().unwrap();
    // Materialising links blobs into the target dir; outputs with equal
    // bytes (empty `stderr` files of build-script runs) share one inode, so
    // each link moves the ctime of the others. Then a build script re-runs,
    // and its previous result comes back from the cache.
    for env in [&[][..], &[("APP_BUILD_KNOB", "on")][..], &[][..]] {
        let built = json(&ws, &[], env);
        assert!(executed(&built) + built.summary()["cache_hits"]["local"].as_u64().unwrap() > 0);
        let stamps = stamp_inodes(&ws);
        assert!(!stamps.is_empty());
        for _ in 0..2 {
            let noop = json(&ws, &[], env);
            assert_eq!(
                noop.summary()["fresh"].as_u64(),
                Some(total(&noop)),
                "{}",
                noop.stdout
            );
            assert_eq!(
                stamp_inodes(&ws),
                stamps,
                "a no-op rewrote a stamp after {env:?}"
            );
        }
    }
    assert_eq!(ws.run_program("target/debug/app-cli"), expected_cli(&ws));
}

/// The key components of every action, from the stamps of a build.
fn stamp_components(ws: &Ws) -> Vec<serde_json::Value> {
    walkdir::WalkDir::new(ws.path("target/hbuild"))
        .into_iter()
        .flatten()
        .filter(|e| {
            e.path()
                .parent()
                .is_some_and(|d| d.ends_with(".hbuild-stamps"))
        })
        .map(|e| {
            let stamp: serde_json::Value =
                serde_json::from_slice(&std::fs::read(e.path()).unwrap()).unwrap();
            stamp["components"].clone()
        })
        .collect()
}

#[test]
fn a_path_dependency_beside_the_workspace_keeps_its_own_path_in_keys() {
    // /x/app, and its path dependency at /x/app-utils: a sibling whose name
    // starts with the workspace root's.
    let tmp = tempfile::tempdir().unwrap();
    let write = |rel: &str, text: &str| {
        let p = tmp.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    write(
        "app/Cargo.toml",
        "[package]\nname = \"app\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
         [dependencies]\napp-utils = { path = \"../app-utils\" }\n\n[workspace]\n",
    );
    write(
        "app/src/main.rs",
        "fn main() {\n    println!(\"{}\", app_utils::name());\n}\n",
    );
    write(
        "app-utils/Cargo.toml",
        "[package]\nname = \"app-utils\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
    );
    write(
        "app-utils/src/lib.rs",
        "pub fn name() -> &'static str {\n    \"from app-utils\"\n}\n",
    );
    let root = tmp.path().join("app");
    let utils = tmp.path().join("app-utils");
    let cache = tmp.path().join("hbuild-cache");
    let ws = Ws { tmp, root, cache };
    ws.hbuild(&[]).ok();
    assert_eq!(ws.run_program("target/debug/app"), "from app-utils\n");

    let all = stamp_components(&ws);
    assert_eq!(all.len(), 2, "{all:?}");
    for c in &all {
        let text = c.to_string();
        assert!(
            !text.contains("${WORKSPACE}-utils"),
            "a key took /x/app-utils for a path inside /x/app: {text}"
        );
    }
    let crate_named = |name: &str| {
        all.iter()
            .find(|c| {
                c["argv"]
                    .as_array()
                    .unwrap()
                    .windows(2)
                    .any(|w| w[0] == "--crate-name" && w[1] == name)
            })
            .unwrap_or_else(|| panic!("no compile of {name}: {all:?}"))
    };
    let input_paths = |c: &serde_json::Value| -> Vec<String> {
        c["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["path"].as_str().unwrap().to_string())
            .collect()
    };
    let dep = crate_named("app_utils");
    let dep_src = utils.join("src/lib.rs").display().to_string();
    assert!(input_paths(dep).contains(&dep_src), "{dep}");
    assert_eq!(
        dep["env"]["CARGO_MANIFEST_DIR"].as_str(),
        Some(utils.display().to_string().as_str()),
        "{dep}"
    );
    // The workspace's own files are still relative to its placeholder.
    let app = crate_named("app");
    assert!(
        input_paths(app).contains(&"${WORKSPACE}/src/main.rs".to_string()),
        "{app}"
    );
}
