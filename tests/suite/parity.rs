//! Parity with Cargo: the units hbuild plans (features, profiles,
//! dependency edges) equal Cargo's own unit graph for the same command, and
//! the rustc command lines hbuild runs equal Cargo's after normalising what
//! legitimately differs (hashes in `-C metadata`/`extra-filename`/file
//! names, absolute output paths, and hbuild's `--remap-path-prefix`, which
//! keeps absolute paths out of cached outputs).

use std::collections::BTreeMap;
use std::path::Path;

use crate::common::units::{diff, from_plan, from_unit_graph};
use crate::common::{fixture, Ws};

const HOST: &str = "x86_64-unknown-linux-gnu";

fn unit_parity(ws: &Ws, args: &[&str]) {
    command_unit_parity(ws, "build", args)
}

/// `cargo COMMAND --unit-graph ARGS` against `cargo hbuild [COMMAND] --plan ARGS`.
fn command_unit_parity(ws: &Ws, command: &str, args: &[&str]) {
    let mut cargo_args = vec![command, "--unit-graph", "-Z", "unstable-options"];
    cargo_args.extend_from_slice(args);
    let c = ws.cargo(&cargo_args, &[("RUSTC_BOOTSTRAP", "1")]).ok();
    let mut hb_args = if command == "build" {
        vec![]
    } else {
        vec![command]
    };
    hb_args.push("--plan");
    hb_args.extend_from_slice(args);
    let h = ws.hbuild(&hb_args).ok();
    let triple = args
        .iter()
        .position(|a| *a == "--target")
        .map(|i| args[i + 1]);
    let cargo_units = from_unit_graph(&c.stdout);
    let hb_units = from_plan(&h.stdout, triple);
    assert!(!cargo_units.is_empty());
    let d = diff(&cargo_units, &hb_units);
    assert!(
        d.is_empty(),
        "unit graph differs from Cargo's for `{}`:\n{d}",
        args.join(" ")
    );
}

#[test]
fn kitchen_sink_units_match_cargo_for_many_flag_combinations() {
    let ws = fixture("kitchen-sink");
    for args in [
        &[][..],
        &["--release"],
        &["--all-targets"],
        &["--tests"],
        &["--examples"],
        &["-p", "util"],
        &["-p", "app", "--no-default-features"],
        &["--features", "app/extra"],
        &["--all-features"],
        &["--target", HOST],
        &["--profile", "ci"],
        &["--release", "--all-targets"],
        &["--workspace", "--exclude", "plugin"],
        &["-p", "mymacro"],
        &["--bin", "helper"],
    ] {
        unit_parity(&ws, args);
    }
}

/// `--features dep-name/feat` for dependencies of the selected members:
/// renamed (`myutil` is util), a member that is a dependency, from the
/// registry, optional (turned on by it, even through `dep:`), weak, and
/// declared on both sides (`shared` is a normal and a build dependency);
/// and a non-member `-p`, which gets what the members ask.
#[test]
fn command_line_dependency_features_units_match_cargo() {
    let ws = fixture("kitchen-sink");
    for args in [
        &["-p", "app", "--features", "myutil/fancy"][..],
        &["--features", "cnative/wide"],
        &["-p", "app", "--features", "serde/rc"],
        &["-p", "app", "--features", "ryu/small"],
        &[
            "-p",
            "app",
            "--no-default-features",
            "--features",
            "itoa/no-panic",
        ],
        &["-p", "app", "--features", "ryu?/small"],
        &["-p", "app", "--features", "extra,ryu?/small"],
        &["-p", "app", "--features", "shared/b"],
        &["-p", "serde"],
    ] {
        unit_parity(&ws, args);
    }
    for name in ["resolver-v1", "resolver-v2"] {
        let ws = fixture(name);
        for args in [&["--features", "feat/dev"][..], &["--features", "feat/pm"]] {
            unit_parity(&ws, args);
        }
    }
}

/// A dependency's feature from the command line reaches rustc as Cargo
/// passes it: `greet` is app's dependency, not selected.
#[test]
fn command_line_dependency_feature_reaches_rustc_as_with_cargo() {
    let ws = fixture("tiny");
    let h = rustc_parity_of(
        &ws,
        "build",
        &["-p", "app", "--features", "greet/loud"],
        &[],
        3,
        |_, _| {},
    );
    let greet = &h["greet"];
    assert!(
        greet
            .iter()
            .all(|args| args.contains(&"--cfg feature=\"loud\"".to_string())),
        "{greet:?}"
    );
}

#[test]
fn test_units_match_cargo_test() {
    let ws = fixture("kitchen-sink");
    for args in [
        // Not `--no-run`: Cargo plans the doctests there too (and builds
        // the libraries only they need) but never runs them; hbuild plans
        // only what the command runs.
        &[][..],
        &["--release"],
        &["--doc"],
        &["--workspace", "--all-targets"],
        &["-p", "app", "--lib"],
        &["-p", "app", "integ"],
        &["--examples"],
        &["--target", HOST],
    ] {
        command_unit_parity(&ws, "test", args);
    }
    let ws = fixture("testing");
    for args in [&[][..], &["--workspace", "--release"]] {
        command_unit_parity(&ws, "test", args);
    }
}

#[test]
fn check_units_match_cargo_check() {
    let ws = fixture("kitchen-sink");
    for args in [
        &[][..],
        &["--all-targets"],
        &["--release"],
        &["-p", "app"],
        &["-p", "mymacro"],
        &["--workspace", "--tests"],
        &["--profile", "test"],
    ] {
        command_unit_parity(&ws, "check", args);
    }
    let ws = fixture("testing");
    for args in [&[][..], &["--all-targets"], &["--release"], &["-p", "calc"]] {
        command_unit_parity(&ws, "check", args);
    }
}

#[test]
fn doc_units_match_cargo_doc() {
    let ws = fixture("kitchen-sink");
    for args in [
        &[][..],
        &["--no-deps"],
        &["-p", "app"],
        &["--workspace", "--document-private-items"],
    ] {
        command_unit_parity(&ws, "doc", args);
    }
}

#[test]
fn resolver_versions_units_match_cargo() {
    for name in ["resolver-v1", "resolver-v2"] {
        let ws = fixture(name);
        for args in [&[][..], &["--all-targets"], &["--release"]] {
            unit_parity(&ws, args);
        }
    }
}

#[test]
fn big_workspace_units_match_cargo() {
    let ws = fixture("big");
    for args in [&[][..], &["--release"], &["--all-targets"]] {
        unit_parity(&ws, args);
    }
}

/// A RUSTC_WRAPPER that records each invocation (cwd, argv separated by
/// 0x1f) in a file of its own, so parallel calls never interleave.
fn write_wrapper(dir: &Path) -> std::path::PathBuf {
    let p = dir.join("log-rustc.sh");
    std::fs::write(
        &p,
        "#!/bin/bash\nlog=\"$HB_RUSTC_LOG/$$-$RANDOM$RANDOM\"\n{ printf '%s' \"$PWD\"; for a in \"$@\"; do printf '\\037%s' \"$a\"; done; printf '\\n'; } > \"$log\"\nexec \"$@\"\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

/// Normalised rustc invocations: crate name → list of argument multisets.
fn invocations(log: &str) -> BTreeMap<String, Vec<Vec<String>>> {
    let hash = regex_lite_hash;
    let mut out: BTreeMap<String, Vec<Vec<String>>> = BTreeMap::new();
    for line in log.lines() {
        let mut parts = line.split('\x1f');
        let _cwd = parts.next();
        let argv: Vec<&str> = parts.skip(1).collect();
        let Some(ci) = argv.iter().position(|a| *a == "--crate-name") else {
            continue;
        };
        let name = argv[ci + 1].to_string();
        if name == "___" {
            continue;
        }
        let mut norm = Vec::new();
        let mut i = 0;
        while i < argv.len() {
            let a = argv[i];
            let two = [
                "-C",
                "-L",
                "--extern",
                "--cfg",
                "--check-cfg",
                "--crate-type",
                "--cap-lints",
                "--crate-name",
                "--out-dir",
                "--target",
                "-l",
                "--remap-path-prefix",
            ];
            if two.contains(&a) && i + 1 < argv.len() {
                let v = argv[i + 1];
                i += 2;
                let skip = (a == "-C"
                    && (v.starts_with("metadata=") || v.starts_with("extra-filename=")))
                    || a == "--out-dir"
                    || a == "--remap-path-prefix"
                    || (a == "-L" && v.starts_with("dependency="));
                if skip {
                    continue;
                }
                let v = if a == "--extern" {
                    // Keep the name and the file kind; drop directory and hash.
                    match v.split_once('=') {
                        Some((n, p)) => format!("{n}={}", hash(p.rsplit('/').next().unwrap_or(p))),
                        None => v.to_string(),
                    }
                } else if a == "-L" {
                    // `<build>/<pkg>-<hash>/out/...` → `<pkg>/out/...`
                    match v.find("/build/") {
                        Some(idx) => {
                            let (kind, _) = v.split_once('=').unwrap_or(("", ""));
                            let rest = &v[idx + "/build/".len()..];
                            format!("{kind}={}", hash(rest))
                        }
                        None => v.to_string(),
                    }
                } else if v.starts_with("incremental=") {
                    // Whether, not where: the directory is in each tool's target layout.
                    "incremental=<dir>".to_string()
                } else {
                    v.to_string()
                };
                norm.push(format!("{a} {v}"));
            } else {
                i += 1;
                if a.starts_with("--json")
                    || a.starts_with("--error-format")
                    || a.starts_with("--diagnostic-width")
                    || a.starts_with("--remap-path-prefix=")
                {
                    continue;
                }
                let a = match a.find("/registry/src/") {
                    Some(idx) => format!(
                        "<registry>{}",
                        &a[idx + "/registry/src/".len()..]
                            .split_once('/')
                            .map(|x| x.1)
                            .unwrap_or("")
                    ),
                    None => a.to_string(),
                };
                norm.push(a);
            }
        }
        out.entry(name).or_default().push(norm);
    }
    for v in out.values_mut() {
        v.sort();
    }
    out
}

/// Removes `-<16 hex>` hash suffixes.
fn regex_lite_hash(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'-'
            && i + 17 <= b.len()
            && b[i + 1..i + 17].iter().all(|c| c.is_ascii_hexdigit())
            && (i + 17 == b.len() || !b[i + 17].is_ascii_hexdigit())
        {
            i += 17;
            continue;
        }
        out.push(b[i] as char);
        i += 1;
    }
    out
}

/// Builds with Cargo and with hbuild (no cache) through a logging
/// RUSTC_WRAPPER, compares the rustc calls, then hands both target dirs to
/// `check`.
fn rustc_parity(ws: &Ws, args: &[&str], check: impl FnOnce(&Path, &Path)) {
    rustc_parity_of(ws, "build", args, &[], 10, check);
}

/// [`rustc_parity`] for `cargo COMMAND` and `cargo hbuild COMMAND`.
fn command_rustc_parity(ws: &Ws, command: &str, args: &[&str], check: impl FnOnce(&Path, &Path)) {
    rustc_parity_of(ws, command, args, &[], 10, check);
}

/// [`rustc_parity`] of `COMMAND` with the variables `env`, for a build of
/// at least `min_calls` rustc calls; returns hbuild's normalised
/// invocations.
fn rustc_parity_of(
    ws: &Ws,
    command: &str,
    args: &[&str],
    env: &[(&str, &str)],
    min_calls: usize,
    check: impl FnOnce(&Path, &Path),
) -> BTreeMap<String, Vec<Vec<String>>> {
    let logs = tempfile::tempdir().unwrap();
    let wrapper = write_wrapper(logs.path());
    let clog = logs.path().join("cargo.log");
    let hlog = logs.path().join("hbuild.log");
    std::fs::create_dir_all(&clog).unwrap();
    std::fs::create_dir_all(&hlog).unwrap();
    let ctarget = logs.path().join("cargo-target");
    let htarget = logs.path().join("hbuild-target");
    let mut cargs = vec![command, "--target-dir", ctarget.to_str().unwrap()];
    cargs.extend_from_slice(args);
    let with = |log: &Path| -> Vec<(&str, String)> {
        [
            ("RUSTC_WRAPPER", wrapper.to_str().unwrap().to_string()),
            ("HB_RUSTC_LOG", log.to_str().unwrap().to_string()),
        ]
        .into_iter()
        .chain(env.iter().map(|(k, v)| (*k, v.to_string())))
        .collect()
    };
    let cenv = with(&clog);
    let cenv: Vec<(&str, &str)> = cenv.iter().map(|(k, v)| (*k, v.as_str())).collect();
    ws.cargo(&cargs, &cenv).ok();
    let mut hargs = if command == "build" {
        vec![]
    } else {
        vec![command]
    };
    hargs.extend(["--no-cache", "--target-dir", htarget.to_str().unwrap()]);
    hargs.extend_from_slice(args);
    let henv = with(&hlog);
    let henv: Vec<(&str, &str)> = henv.iter().map(|(k, v)| (*k, v.as_str())).collect();
    ws.hbuild_env(&hargs, &henv).ok();
    let read_all = |dir: &Path| -> String {
        let mut s = String::new();
        for e in std::fs::read_dir(dir).unwrap() {
            s.push_str(&std::fs::read_to_string(e.unwrap().path()).unwrap());
        }
        s
    };
    let c = invocations(&read_all(&clog));
    let h = invocations(&read_all(&hlog));
    assert!(c.len() >= min_calls, "too few rustc calls recorded: {c:?}");
    let mut problems = String::new();
    for (name, cv) in &c {
        match h.get(name) {
            None => problems.push_str(&format!(
                "crate `{name}` compiled by cargo but not by hbuild\n"
            )),
            Some(hv) if hv != cv => problems.push_str(&format!(
                "crate `{name}` compiled differently:\n  cargo  {cv:?}\n  hbuild {hv:?}\n"
            )),
            _ => {}
        }
    }
    for name in h.keys() {
        if !c.contains_key(name) {
            problems.push_str(&format!(
                "crate `{name}` compiled by hbuild but not by cargo\n"
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "rustc invocations differ for `{}`:\n{problems}",
        args.join(" ")
    );
    check(&ctarget, &htarget);
    h
}

#[test]
fn kitchen_sink_rustc_invocations_match_cargo_dev() {
    let ws = fixture("kitchen-sink");
    rustc_parity(&ws, &[], |cargo, hbuild| {
        let expected = std::fs::read_to_string(ws.path("expected/app-cli.stdout")).unwrap();
        for dir in [cargo, hbuild] {
            let out = std::process::Command::new(dir.join("debug/app-cli"))
                .output()
                .unwrap();
            assert_eq!(
                String::from_utf8_lossy(&out.stdout),
                expected,
                "{}",
                dir.display()
            );
        }
    });
}

#[test]
fn kitchen_sink_rustc_invocations_and_programs_match_cargo_release_all_targets() {
    let ws = fixture("kitchen-sink");
    rustc_parity(&ws, &["--release", "--all-targets"], |cargo, hbuild| {
        // The programs behave the same and land at the same paths.
        for bin in ["app-cli", "helper", "examples/demo"] {
            let run = |d: &Path| {
                let out = std::process::Command::new(d.join("release").join(bin))
                    .current_dir(&ws.root)
                    .output()
                    .unwrap();
                assert!(out.status.success(), "{bin} failed");
                String::from_utf8(out.stdout).unwrap()
            };
            assert_eq!(
                run(cargo),
                run(hbuild),
                "{bin} prints differently when built by hbuild"
            );
        }
        let (c, h) = (
            crate::build::uplifted(&cargo.join("release")),
            crate::build::uplifted(&hbuild.join("release")),
        );
        assert_eq!(c, h, "uplifted file sets differ");
        assert!(
            h.contains(&"app-cli".to_string())
                && h.contains(&"examples/demo".to_string())
                && h.contains(&"libplugin.so".to_string()),
            "{h:?}"
        );
    });
}

#[test]
fn build_scripts_and_c_code_match_cargo_with_explicit_host_target() {
    // Host units (build scripts, their deps) and target units are split
    // differently with an explicit --target, even the host triple.
    rustc_parity(
        &fixture("kitchen-sink"),
        &[
            "--target", HOST, "-p", "foo-sys", "-p", "cnative", "-p", "mymacro",
        ],
        |_, _| {},
    );
}

#[test]
fn profile_variables_rank_between_config_files_and_config_values_as_with_cargo() {
    // CI scripts tune profiles with CARGO_PROFILE_* variables: above the
    // config files, below `--config`, build overrides included.
    let ws = fixture("kitchen-sink");
    std::fs::create_dir_all(ws.path(".cargo")).unwrap();
    std::fs::write(
        ws.path(".cargo/config.toml"),
        "[profile.dev]\nopt-level = 1\ncodegen-units = 4\ndebug-assertions = true\n",
    )
    .unwrap();
    let env = [
        ("CARGO_PROFILE_DEV_OPT_LEVEL", "2"),
        ("CARGO_PROFILE_DEV_CODEGEN_UNITS", "8"),
        ("CARGO_PROFILE_DEV_DEBUG", "0"),
        ("CARGO_PROFILE_DEV_DEBUG_ASSERTIONS", "false"),
        ("CARGO_PROFILE_DEV_BUILD_OVERRIDE_OPT_LEVEL", "1"),
    ];
    let args = ["-p", "cnative", "--config", "profile.dev.codegen-units=2"];
    let h = rustc_parity_of(&ws, "build", &args, &env, 3, |_, _| {});
    let cnative = h["cnative"].concat().join(" ");
    for flag in ["opt-level=2", "codegen-units=2", "strip=debuginfo"] {
        assert!(cnative.contains(flag), "{flag} missing: {cnative}");
    }
    // The config file's `debug-assertions = true` would be `-C
    // debug-assertions=on` at opt-level 2; the variable turned it off,
    // rustc's default there.
    assert!(!cnative.contains("debug-assertions"), "{cnative}");
    assert!(!cnative.contains("-C debuginfo"), "{cnative}");
    // cnative's build script is `build/main.rs`.
    let script = h["build_script_main"].concat().join(" ");
    assert!(script.contains("opt-level=1"), "{script}");
}

#[test]
fn kitchen_sink_rustc_invocations_match_cargo_check() {
    let ws = fixture("kitchen-sink");
    let args = ["--workspace", "--all-targets"];
    command_rustc_parity(&ws, "check", &args, |cargo, hbuild| {
        // Nothing is uplifted by a check.
        for dir in [cargo, hbuild] {
            let up = crate::build::uplifted(&dir.join("debug"));
            assert_eq!(up, Vec::<String>::new(), "{}", dir.display());
        }
    });
}

#[test]
fn normalisation_drops_only_hashes() {
    assert_eq!(
        regex_lite_hash("libfoo-0123456789abcdef.rlib"),
        "libfoo.rlib"
    );
    assert_eq!(
        regex_lite_hash("foo-sys-0123456789abcdef/out"),
        "foo-sys/out"
    );
    assert_eq!(regex_lite_hash("foo-bar"), "foo-bar");
}
