//! `cargo hbuild check` and `cargo hbuild clippy` on the `lints` fixture:
//! the diagnostics and exit codes of `cargo clippy`, replayed from the
//! cache exactly, re-linting only what an edit reaches, and the non-member
//! checks shared with `cargo hbuild check`.

use std::collections::BTreeSet;

use crate::common::lint::{json_diags, messages_by_crate, short_diags, summary_lines};
use crate::common::{executed, fixture, rebuilt_units, Run, Ws};

/// `cargo clippy ARGS` in its own target dir.
fn cargo_clippy(ws: &Ws, args: &[&str]) -> Run {
    let target = ws.tmp.path().join("cargo-target");
    let mut a = vec!["clippy", "--target-dir", target.to_str().unwrap()];
    a.extend_from_slice(args);
    ws.cargo(&a, &[])
}

/// `cargo hbuild clippy ARGS`.
fn hbuild_clippy(ws: &Ws, args: &[&str]) -> Run {
    let mut a = vec!["clippy"];
    a.extend_from_slice(args);
    ws.hbuild(&a)
}

/// `ARGS` with `--message-format FMT` before the `--` of Clippy's arguments.
fn with_format<'a>(args: &[&'a str], fmt: &'a str) -> Vec<&'a str> {
    let at = args.iter().position(|a| *a == "--").unwrap_or(args.len());
    let mut v = args[..at].to_vec();
    v.extend(["--message-format", fmt]);
    v.extend_from_slice(&args[at..]);
    v
}

/// Clippy's default lints, `-W clippy::pedantic`, and `-D warnings` (with
/// `--keep-going`, so that what fails does not depend on which crate
/// Cargo happened to start first).
const CLIPPY_ARGS: [&[&str]; 3] = [
    &[],
    &["--", "-W", "clippy::pedantic"],
    &["--keep-going", "--", "-D", "warnings"],
];

#[test]
fn clippy_reports_what_cargo_clippy_reports() {
    let ws = fixture("lints");
    for args in CLIPPY_ARGS {
        let (c, h) = (
            cargo_clippy(&ws, &with_format(args, "short")),
            hbuild_clippy(&ws, &with_format(args, "short")),
        );
        assert_eq!(h.code, c.code, "exit code for {args:?}\n{}", h.stderr);
        let cd = short_diags(&c);
        assert!(
            cd.len() >= 6,
            "cargo clippy {args:?} reported too little: {cd:?}"
        );
        assert_eq!(short_diags(&h), cd, "short diagnostics for {args:?}");
        assert_eq!(
            summary_lines(&h),
            summary_lines(&c),
            "summaries for {args:?}"
        );
        let (c, h) = (
            cargo_clippy(&ws, &with_format(args, "json")),
            hbuild_clippy(&ws, &with_format(args, "json")),
        );
        assert_eq!(h.code, c.code, "exit code for {args:?} (json)");
        assert_eq!(
            json_diags(&h),
            json_diags(&c),
            "compiler messages for {args:?}"
        );
    }
    // Without `--keep-going` too, `-D warnings` fails as Cargo's does.
    let (c, h) = (
        cargo_clippy(&ws, &["--", "-D", "warnings"]),
        hbuild_clippy(&ws, &["--", "-D", "warnings"]),
    );
    assert_eq!((h.code, c.code), (101, 101), "{}", h.stderr);
}

#[test]
fn all_targets_prints_each_diagnostic_once_as_cargo_does() {
    let ws = fixture("lints");
    let args = ["--all-targets", "--message-format", "short"];
    let (c, h) = (cargo_clippy(&ws, &args), hbuild_clippy(&ws, &args).ok());
    let printed = |r: &Run| {
        let mut v: Vec<String> = r
            .stderr
            .lines()
            .filter(|l| {
                short_diags(&Run {
                    code: 0,
                    stdout: String::new(),
                    stderr: l.to_string(),
                })
                .len()
                    == 1
            })
            .map(str::to_string)
            .collect();
        v.sort();
        v
    };
    assert_eq!(printed(&h), printed(&c), "each diagnostic once");
    // Which of a library's two checks prints its warnings depends on
    // which ends first; the counts do not.
    let counts = |r: &Run| -> (BTreeSet<String>, usize) {
        let mut dups = 0;
        let lines = summary_lines(r)
            .into_iter()
            .map(|l| match l.rfind(" (") {
                Some(i) if l[i..].contains("duplicate") => {
                    dups += l[i + 2..]
                        .split(' ')
                        .next()
                        .unwrap()
                        .parse::<usize>()
                        .unwrap();
                    l[..i].to_string()
                }
                _ => l,
            })
            .collect();
        (lines, dups)
    };
    let (hc, cc) = (counts(&h), counts(&c));
    assert!(cc.1 >= 4, "{:?}", c.stderr);
    assert_eq!(hc, cc);
}

#[test]
fn what_clippy_lints_and_how() {
    let ws = fixture("lints");
    let run = hbuild_clippy(&ws, &["--plan", "--", "-W", "clippy::pedantic"]).ok();
    let plan: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let mut linted = BTreeSet::new();
    for a in plan["actions"].as_array().unwrap() {
        let name = a["package_name"].as_str().unwrap().to_string();
        let member = a["is_member"] == true;
        let runs_rustc = a["kind"] != "build-script-run";
        assert_eq!(
            !a["lint"].is_null(),
            member && runs_rustc,
            "members' rustc, and only theirs, goes through clippy-driver: {name}"
        );
        if member && runs_rustc {
            assert!(a["lint"]["path"]
                .as_str()
                .unwrap()
                .ends_with("clippy-driver"));
            assert_eq!(
                a["env"]["CLIPPY_ARGS"],
                "-W__CLIPPY_HACKERY__clippy::pedantic__CLIPPY_HACKERY__"
            );
            linted.insert(format!("{name} {}", a["kind"].as_str().unwrap()));
        } else {
            assert!(a["env"].get("CLIPPY_ARGS").is_none(), "{name}");
        }
        if a["kind"] == "compile" {
            assert_eq!(a["mode"], "check", "{name}");
        }
    }
    assert_eq!(
        linted,
        BTreeSet::from(
            [
                "lints-app build-script-compile",
                "lints-app compile",
                "lints-core compile",
                "lints-extra compile",
            ]
            .map(String::from)
        )
    );
    // `--no-deps`: only the selected package is linted.
    let run = hbuild_clippy(&ws, &["--plan", "--no-deps", "-p", "lints-app"]).ok();
    let plan: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    for a in plan["actions"].as_array().unwrap() {
        let app = a["package_name"] == "lints-app" && a["kind"] != "build-script-run";
        assert_eq!(!a["lint"].is_null(), app, "{}", a["package_name"]);
    }
}

#[test]
fn a_warm_cache_replays_the_same_diagnostics_in_another_checkout() {
    let first = fixture("lints");
    let cold = hbuild_clippy(&first, &[]).ok();
    let cold_json = hbuild_clippy(&first, &["--message-format", "json"]).ok();
    assert!(
        executed(&cold_json) == 0,
        "the human run stored what json needs"
    );
    let mut other = fixture("lints");
    other.cache = first.cache.clone();
    let warm = hbuild_clippy(&other, &["--message-format", "json"]).ok();
    assert_eq!(executed(&warm), 0, "{}", warm.stdout);
    assert_eq!(
        warm.summary()["cache_hits"]["local"],
        warm.summary()["actions_total"],
        "every action from the cache"
    );
    // The same messages, whole, in the same order per crate.
    let by_crate = messages_by_crate(&cold_json);
    assert!(by_crate.len() >= 4, "{by_crate:?}");
    assert_eq!(messages_by_crate(&warm), by_crate);
    // And in the human format: the same text and warning counts.
    let human = hbuild_clippy(&other, &[]).ok();
    let lines = |r: &Run| -> Vec<String> {
        let mut v: Vec<String> = r
            .stderr
            .lines()
            .filter(|l| !l.contains("Finished") && !l.contains("Summary"))
            .filter(|l| !l.contains("Checking") && !l.contains("Compiling"))
            .map(str::to_string)
            .collect();
        v.sort();
        v
    };
    assert_eq!(lines(&human), lines(&cold));
    assert_eq!(summary_lines(&human), summary_lines(&cold));
    assert!(summary_lines(&cold).contains("warning: `lints-core` (lib) generated 3 warnings"));
}

#[test]
fn an_edit_relints_the_crate_and_its_dependents_only() {
    let ws = fixture("lints");
    hbuild_clippy(&ws, &[]).ok();
    let explained = |ws: &Ws, args: &[&str]| {
        let mut a = vec!["--explain", "--message-format", "json"];
        a.extend_from_slice(args);
        rebuilt_units(&hbuild_clippy(ws, &a).ok())
    };
    ws.append(
        "lints-core/src/lib.rs",
        "\npub fn more() -> u32 {\n    return 1;\n}\n",
    );
    assert_eq!(
        explained(&ws, &[]),
        ["lints-app (bin \"lints-app\")", "lints-core"]
    );
    ws.append("lints-extra/src/lib.rs", "\n// a comment\n");
    assert_eq!(explained(&ws, &[]), ["lints-extra"]);
    // The configuration reaches every linted crate, not the others.
    ws.replace("clippy.toml", "threshold = 3", "threshold = 4");
    let mut linted = explained(&ws, &[]);
    linted.retain(|u| u != "lints-app (build script run)");
    assert_eq!(
        linted,
        [
            "lints-app (bin \"lints-app\")",
            "lints-app (build script)",
            "lints-core",
            "lints-extra"
        ]
    );
    // A closer configuration that appears hides the root one: found
    // before the crate is linted, not from what it read last time.
    std::fs::write(
        ws.path("lints-extra/clippy.toml"),
        "disallowed-names = [\"flag\"]\n",
    )
    .unwrap();
    let run = hbuild_clippy(&ws, &["--explain", "--message-format", "json"]).ok();
    assert_eq!(rebuilt_units(&run), ["lints-extra"]);
    let extra: Vec<String> = json_diags(&run)
        .into_iter()
        .filter(|d| d.place.starts_with("lints-extra/"))
        .filter_map(|d| d.code)
        .collect();
    assert_eq!(
        extra,
        ["clippy::disallowed_names", "clippy::bool_comparison"]
    );
    // A changed Clippy argument is a flag change, said so.
    let run = hbuild_clippy(
        &ws,
        &[
            "--explain",
            "--message-format",
            "json",
            "--",
            "-W",
            "clippy::pedantic",
        ],
    )
    .ok();
    let core = run
        .messages("hbuild-explain")
        .into_iter()
        .find(|m| m["unit"] == "lints-core")
        .expect("lints-core re-linted");
    assert!(
        core["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["kind"] == "flags-changed"
                && r["origin"] == "clippy"
                && r["added"] == serde_json::json!(["-W", "clippy::pedantic"])),
        "{core}"
    );
}

#[test]
fn a_failed_lint_is_not_cached() {
    let ws = fixture("lints");
    // The warnings are stored; denied, they fail, which is never stored.
    hbuild_clippy(&ws, &[]).ok();
    let args = [
        "--keep-going",
        "--message-format",
        "json",
        "--",
        "-D",
        "warnings",
    ];
    let first = hbuild_clippy(&ws, &args);
    let again = hbuild_clippy(&ws, &args);
    for r in [&first, &again] {
        assert_eq!(r.code, 101, "{}", r.stderr);
        assert_eq!(r.summary()["success"], false);
        assert_eq!(r.summary()["cache_hits"]["local"], 0, "{}", r.stdout);
    }
    let errors = |r: &Run| -> BTreeSet<String> {
        json_diags(r)
            .into_iter()
            .filter(|d| d.level == "error")
            .map(|d| format!("{} {}", d.place, d.message))
            .collect()
    };
    assert!(errors(&first).len() >= 4, "{:?}", errors(&first));
    assert_eq!(errors(&again), errors(&first), "reported again");
    // Only what succeeded (helper's check) is fresh, both times.
    assert_eq!(again.summary()["fresh"], first.summary()["fresh"]);
}

#[test]
fn check_and_clippy_share_the_checks_of_non_members() {
    let ws = fixture("lints");
    let explain = ["--explain", "--message-format", "json"];
    let fresh_helper = |r: &Run| {
        r.messages("compiler-artifact")
            .iter()
            .find(|m| m["target"]["name"] == "helper")
            .map(|m| m["fresh"] == true)
            .expect("helper checked")
    };
    let mut a = vec!["clippy"];
    a.extend(explain);
    ws.hbuild(&a).ok();
    let mut c = vec!["check"];
    c.extend(explain);
    let check = ws.hbuild(&c).ok();
    let rebuilt = rebuilt_units(&check);
    assert!(fresh_helper(&check), "{}", check.stdout);
    assert!(rebuilt.contains(&"lints-core".to_string()), "{rebuilt:?}");
    assert!(
        !rebuilt.iter().any(|u| u.starts_with("helper")),
        "{rebuilt:?}"
    );
    // Back to clippy: the members' lints come from the cache.
    let back = ws.hbuild(&a).ok();
    assert_eq!(executed(&back), 0, "{}", back.stdout);
    assert!(fresh_helper(&back));

    // And the other way round, in a new checkout.
    let ws = fixture("lints");
    ws.hbuild(&c).ok();
    let lint = ws.hbuild(&a).ok();
    assert!(fresh_helper(&lint), "{}", lint.stdout);
    assert!(!rebuilt_units(&lint).iter().any(|u| u.starts_with("helper")));
}

#[test]
fn check_prints_cargos_lines_and_uplifts_nothing() {
    let ws = fixture("lints");
    let run = ws.hbuild(&["check"]).ok();
    assert!(
        run.stderr.contains("    Checking lints-core v0.1.0 ("),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("   Compiling lints-app v0.1.0 ("),
        "the build script is built"
    );
    assert!(run
        .stderr
        .contains("    Finished `dev` profile [unoptimized + debuginfo] target(s) in "));
    assert!(
        !run.stderr.contains("clippy::"),
        "no lint of Clippy's: {}",
        run.stderr
    );
    assert!(
        run.stderr.contains("unused variable: `unused`"),
        "rustc's own warnings"
    );
    assert_eq!(
        crate::build::uplifted(&ws.path("target/debug")),
        Vec::<String>::new()
    );
    let json = ws.hbuild(&["check", "--message-format", "json"]).ok();
    for m in json.messages("compiler-artifact") {
        if m["target"]["name"] == "build-script-build" {
            continue;
        }
        let files = m["filenames"].as_array().unwrap();
        assert!(
            files.len() == 1 && files[0].as_str().unwrap().ends_with(".rmeta"),
            "a check writes only metadata: {m}"
        );
        assert_eq!(m["executable"], serde_json::Value::Null);
    }
}

#[test]
fn clippy_fix_is_refused_naming_the_flag() {
    let ws = fixture("lints");
    let run = ws.hbuild(&["clippy", "--fix"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("--fix"), "{}", run.stderr);
    assert!(!ws.path("target").exists(), "nothing built");
}

#[test]
fn short_lines_parse_and_others_do_not() {
    let r = Run {
        code: 0,
        stdout: String::new(),
        stderr: "    Checking a v0.1.0 (/w/a)\n\
             a/src/lib.rs:5:5: warning: unneeded `return` statement\n\
             a/src/lib.rs:9:1: error: this: has colons\n\
             warning: `a` (lib) generated 1 warning (run `cargo clippy --fix --lib -p a` to apply 1 suggestion)\n"
            .into(),
    };
    let d: Vec<_> = short_diags(&r).into_iter().collect();
    assert_eq!(d.len(), 2, "{d:?}");
    assert_eq!(d[1].message, "this: has colons");
    assert_eq!(
        summary_lines(&r),
        BTreeSet::from(["warning: `a` (lib) generated 1 warning".to_string()])
    );
}

#[test]
fn a_toolchain_without_clippy_is_an_error_naming_the_component() {
    use std::os::unix::fs::PermissionsExt;
    let ws = fixture("lints");
    let out = std::process::Command::new("rustc")
        .args(["--print", "sysroot"])
        .output()
        .unwrap();
    let sysroot = String::from_utf8(out.stdout).unwrap().trim().to_string();
    // A toolchain whose sysroot and cargo directory have no clippy-driver.
    let tools = ws.tmp.path().join("bare-toolchain");
    let fake_sysroot = tools.join("sysroot");
    std::fs::create_dir_all(fake_sysroot.join("bin")).unwrap();
    let rustc = tools.join("rustc");
    std::fs::write(
        &rustc,
        format!(
            "#!/bin/sh\nif [ \"$1 $2\" = \"--print sysroot\" ]; then echo '{}'; exit 0; fi\nexec '{sysroot}/bin/rustc' \"$@\"\n",
            fake_sysroot.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&rustc, std::fs::Permissions::from_mode(0o755)).unwrap();
    let cargo = tools.join("cargo");
    std::os::unix::fs::symlink(format!("{sysroot}/bin/cargo"), &cargo).unwrap();
    let env = [
        ("RUSTC", rustc.to_str().unwrap()),
        ("CARGO", cargo.to_str().unwrap()),
    ];
    let run = ws.hbuild_env(&["clippy"], &env);
    assert_eq!(run.code, 101, "{}", run.stderr);
    assert!(
        run.stderr.contains("`clippy-driver` is not installed")
            && run
                .stderr
                .contains(&fake_sysroot.join("bin/clippy-driver").display().to_string())
            && run.stderr.contains("rustup component add clippy"),
        "{}",
        run.stderr
    );
    // `check` needs no Clippy.
    ws.hbuild_env(&["check"], &env).ok();
}
