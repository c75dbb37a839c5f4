//! Every flag of `cargo build --help` is either accepted with Cargo's
//! meaning or refused with an error naming it: the flags are read from the
//! Cargo in PATH, so a flag that a new Cargo adds fails this test until it
//! is classified in [`verdict`].

use std::collections::BTreeSet;

use serde_json::Value;

use crate::common::{fixture, Run, Ws};

/// Stands for each of the flag's `[possible values: ...]` in turn.
const EACH_VALUE: &str = "<each possible value>";

/// What `cargo hbuild` does with a flag of `cargo build`.
enum Verdict<'a> {
    /// `cargo hbuild --plan ARGS` succeeds, and the check holds of its plan.
    Plans(Vec<&'a str>, fn(&Value)),
    /// `cargo hbuild ARGS` succeeds, and the check holds of its output.
    Runs(Vec<&'a str>, fn(&Run)),
    /// `cargo hbuild ARGS` fails with this exit code, naming the flag.
    Refused(Vec<&'a str>, i32),
    /// As `cargo build ARGS` on this toolchain: both succeed, or both fail
    /// with the same code and message (channel-dependent flags).
    LikeCargo(Vec<&'a str>),
}

use Verdict::*;

/// The verdict for each flag; None for a flag nobody classified.
fn verdict<'a>(flag: &'a str, host: &'a str) -> Option<Verdict<'a>> {
    let ok: fn(&Value) = |_| {};
    Some(match flag {
        "--future-incompat-report" => Refused(vec![flag], 1),
        "--message-format" => Plans(vec![flag, EACH_VALUE], ok),
        "--verbose"
        | "--quiet"
        | "--keep-going"
        | "--ignore-rust-version"
        | "--locked"
        | "--offline"
        | "--frozen" => Plans(vec![flag], ok),
        "--color" => Plans(vec![flag, EACH_VALUE], ok),
        "--config" => Plans(vec![flag, "build.jobs = 1"], one_job),
        "--jobs" => Plans(vec![flag, "1"], one_job),
        "-Z" => LikeCargo(vec![flag, "unstable-options"]),
        "--artifact-dir" => LikeCargo(vec![flag, "artifacts"]),
        "--unit-graph" => LikeCargo(vec![flag]),
        "--timings" => Runs(vec![flag], |r| {
            assert!(r.stderr.contains("Timing report saved to "), "{}", r.stderr)
        }),
        "--help" => Runs(vec![flag], |r| {
            assert!(r.stdout.contains("Usage: cargo hbuild"), "{}", r.stdout)
        }),
        "--package" => Plans(vec![flag, "greet"], |p| {
            assert_eq!(root_packages(p), ["greet"])
        }),
        "--workspace" | "--all" => Plans(vec![flag], |p| {
            assert_eq!(root_packages(p), ["app", "greet"])
        }),
        "--exclude" => Plans(vec!["--workspace", flag, "app"], |p| {
            assert_eq!(root_packages(p), ["greet"])
        }),
        "--manifest-path" => Plans(vec![flag, "app/Cargo.toml"], |p| {
            assert_eq!(root_packages(p), ["app"])
        }),
        "--lib" => Plans(vec!["-p", "greet", flag], |p| {
            assert_eq!(roots(p), [("greet".into(), "lib".into(), "greet".into())])
        }),
        "--bins" | "--bin" => Plans(
            if flag == "--bin" {
                vec![flag, "app"]
            } else {
                vec![flag]
            },
            |p| assert_eq!(roots(p), [root("bin", "app")]),
        ),
        "--examples" => Plans(vec![flag], |p| {
            assert_eq!(roots(p), [root("example", "ex")])
        }),
        "--example" => Plans(vec![flag, "ex"], |p| {
            assert_eq!(roots(p), [root("example", "ex")])
        }),
        // Every target with `test = true`, built as tests (and the bins
        // that integration tests run, built as bins).
        "--tests" => Plans(vec!["-p", "app", flag], |p| {
            assert_eq!(tests(p), [root("bin", "app"), root("test", "it")])
        }),
        "--test" => Plans(vec![flag, "it"], |p| {
            assert_eq!(tests(p), [root("test", "it")])
        }),
        // Cargo also builds the lib and bins (`bench = true` by default)
        // as benches; the target selection does not yet (a defect of its
        // own), so only the bench target is asserted here.
        "--benches" => Plans(vec!["-p", "app", flag], |p| {
            assert!(tests(p).contains(&root("bench", "bn")), "{:?}", tests(p))
        }),
        "--bench" => Plans(vec![flag, "bn"], |p| {
            assert_eq!(tests(p), [root("bench", "bn")])
        }),
        "--all-targets" => Plans(vec!["-p", "app", flag], |p| {
            let kinds: BTreeSet<String> = roots(p).into_iter().map(|r| r.1).collect();
            assert_eq!(
                kinds.into_iter().collect::<Vec<_>>(),
                ["bench", "bin", "example", "test"]
            );
        }),
        "--features" => Plans(vec!["-p", "greet", flag, "loud"], |p| {
            assert_eq!(greet_features(p), ["loud"])
        }),
        "--all-features" => Plans(vec!["-p", "greet", flag], |p| {
            assert_eq!(greet_features(p), ["loud"])
        }),
        "--no-default-features" => Plans(vec!["-p", "greet", flag], |p| {
            assert!(greet_features(p).is_empty())
        }),
        "--release" => Plans(vec![flag], |p| assert_eq!(p["profile"], "release")),
        "--profile" => Plans(vec![flag, "release"], |p| {
            assert_eq!(p["profile"], "release")
        }),
        "--target" => Plans(vec![flag, host], |p| {
            assert!(root_actions(p)
                .iter()
                .all(|a| a["compile_kind"] == "target"))
        }),
        "--target-dir" => Plans(vec![flag, "elsewhere"], |p| {
            assert!(p["target_dir"].as_str().unwrap().ends_with("/elsewhere"))
        }),
        _ => return None,
    })
}

fn root(kind: &str, name: &str) -> (String, String, String) {
    ("app".into(), kind.into(), name.into())
}

fn root_actions(plan: &Value) -> Vec<&Value> {
    plan["roots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| &plan["actions"][i.as_u64().unwrap() as usize])
        .collect()
}

/// The roots as (package, target kind, target name), sorted.
fn roots(plan: &Value) -> Vec<(String, String, String)> {
    roots_where(plan, |_| true)
}

/// The roots built as tests or benches.
fn tests(plan: &Value) -> Vec<(String, String, String)> {
    roots_where(plan, |a| a["mode"] == "test")
}

fn roots_where(plan: &Value, keep: fn(&Value) -> bool) -> Vec<(String, String, String)> {
    let s = |v: &Value| v.as_str().unwrap().to_string();
    let mut out: Vec<_> = root_actions(plan)
        .into_iter()
        .filter(|a| keep(a))
        .map(|a| {
            (
                s(&a["package_name"]),
                s(&a["target_kind"]),
                s(&a["target_name"]),
            )
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

fn root_packages(plan: &Value) -> Vec<String> {
    let mut p: Vec<String> = roots(plan).into_iter().map(|r| r.0).collect();
    p.dedup();
    p
}

fn greet_features(plan: &Value) -> Vec<String> {
    let greet = root_actions(plan)
        .into_iter()
        .find(|a| a["package_name"] == "greet")
        .unwrap();
    greet["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap().to_string())
        .collect()
}

fn one_job(plan: &Value) {
    let run = plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["kind"] == "build-script-run")
        .unwrap();
    assert_eq!(run["env"]["NUM_JOBS"], "1");
}

/// A flag of `cargo build --help` with its possible values, if listed.
struct HelpFlag {
    name: String,
    values: Vec<String>,
}

/// The long flags of the help (and the short flags that have none, `-Z`).
fn help_flags(help: &str) -> Vec<HelpFlag> {
    let mut out: Vec<HelpFlag> = Vec::new();
    let mut text_of_last = String::new();
    let finish = |out: &mut Vec<HelpFlag>, text: &str| {
        if let Some(last) = out.last_mut() {
            last.values = possible_values(text);
        }
    };
    for line in help.lines() {
        let t = line.trim_start();
        if t.starts_with('-') {
            finish(&mut out, &text_of_last);
            text_of_last.clear();
            let tokens: Vec<&str> = t.split_whitespace().collect();
            let first = tokens[0].trim_end_matches(',');
            let name =
                if !first.starts_with("--") && tokens.get(1).is_some_and(|t| t.starts_with("--")) {
                    tokens[1]
                } else {
                    first
                };
            let name = name.trim_end_matches("...");
            out.push(HelpFlag {
                name: name.to_string(),
                values: Vec::new(),
            });
        }
        text_of_last.push(' ');
        text_of_last.push_str(t);
    }
    finish(&mut out, &text_of_last);
    out
}

fn possible_values(text: &str) -> Vec<String> {
    let Some((_, rest)) = text.split_once("[possible values: ") else {
        return Vec::new();
    };
    let list = rest.split(']').next().unwrap();
    list.split(',')
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .collect()
}

/// A copy of `tiny` with an example, an integration test and a bench.
fn workspace() -> Ws {
    let ws = fixture("tiny");
    for (rel, text) in [
        ("app/examples/ex.rs", "fn main() {}\n"),
        ("app/tests/it.rs", "#[test]\nfn t() {}\n"),
        ("app/benches/bn.rs", "fn main() {}\n"),
    ] {
        std::fs::create_dir_all(ws.path(rel).parent().unwrap()).unwrap();
        std::fs::write(ws.path(rel), text).unwrap();
    }
    ws.append(
        "app/Cargo.toml",
        "\n[[bench]]\nname = \"bn\"\nharness = false\n",
    );
    ws
}

fn host_triple() -> String {
    let out = std::process::Command::new("rustc")
        .arg("-vV")
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("host: "))
        .unwrap()
        .to_string()
}

/// A check's failed assertion as an error naming the arguments, so that
/// every flag is reported.
fn caught(args: &[&str], check: impl FnOnce()) -> Result<(), String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(check)).map_err(|e| {
        let msg = e
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        format!("{args:?}: {msg}")
    })
}

/// Runs one verdict; the failure message, if any.
fn check(ws: &Ws, flag: &HelpFlag, verdict: &Verdict) -> Result<(), String> {
    let expand = |args: &[&str]| -> Vec<Vec<String>> {
        if !args.contains(&EACH_VALUE) {
            return vec![args.iter().map(|a| a.to_string()).collect()];
        }
        assert!(
            !flag.values.is_empty(),
            "{} lists no possible values",
            flag.name
        );
        flag.values
            .iter()
            .map(|v| {
                args.iter()
                    .map(|a| {
                        if *a == EACH_VALUE {
                            v.clone()
                        } else {
                            a.to_string()
                        }
                    })
                    .collect()
            })
            .collect()
    };
    let names = |r: &Run| r.stderr.starts_with("error: ") && r.stderr.contains(&flag.name);
    let (Plans(args, _) | Runs(args, _) | Refused(args, _) | LikeCargo(args)) = verdict;
    for argv in expand(args) {
        let a: Vec<&str> = argv.iter().map(String::as_str).collect();
        let fail = |what: &str, r: &Run| {
            Err(format!(
                "{a:?}: {what} (exit {})\n--- stdout\n{}\n--- stderr\n{}",
                r.code,
                r.stdout.chars().take(2000).collect::<String>(),
                r.stderr
            ))
        };
        match verdict {
            Plans(_, check) => {
                let mut with_plan = a.clone();
                with_plan.push("--plan");
                let r = ws.hbuild(&with_plan);
                if r.code != 0 {
                    return fail("should be accepted", &r);
                }
                let plan: Value = serde_json::from_str(&r.stdout)
                    .map_err(|e| format!("{a:?}: the plan is not JSON: {e}"))?;
                caught(&a, || check(&plan))?;
            }
            Runs(_, check) => {
                let r = ws.hbuild(&a);
                if r.code != 0 {
                    return fail("should be accepted", &r);
                }
                caught(&a, || check(&r))?;
            }
            Refused(_, code) => {
                let r = ws.hbuild(&a);
                if r.code != *code || !names(&r) {
                    return fail(
                        &format!("should be refused (exit {code}) naming the flag"),
                        &r,
                    );
                }
            }
            LikeCargo(_) => {
                let mut cargo_args = vec!["build", "--target-dir", "cargo-target"];
                cargo_args.extend_from_slice(&a);
                let c = ws.cargo(&cargo_args, &[]);
                let mut with_plan = a.clone();
                with_plan.push("--plan");
                let r = ws.hbuild(&with_plan);
                if c.code == 0 && r.code != 0 {
                    return fail("Cargo accepts it", &r);
                }
                if c.code != 0 && (r.code != c.code || r.stderr != c.stderr || !names(&r)) {
                    return fail(&format!("Cargo refuses it:\n{}", c.stderr), &r);
                }
            }
        }
    }
    Ok(())
}

#[test]
fn every_flag_of_cargo_build_is_accepted_or_refused_by_name() {
    let ws = workspace();
    let help = ws.cargo(&["build", "--help"], &[]).ok().stdout;
    let flags = help_flags(&help);
    let host = host_triple();
    let host = host.as_str();
    let names: BTreeSet<&str> = flags.iter().map(|f| f.name.as_str()).collect();
    // The parser itself is checked on what it must find.
    for must in ["--package", "--config", "-Z", "--message-format", "--help"] {
        assert!(names.contains(must), "{must} not found in:\n{help}");
    }
    let unclassified: Vec<&str> = names
        .iter()
        .copied()
        .filter(|f| verdict(f, host).is_none())
        .collect();
    assert!(
        unclassified.is_empty(),
        "flags of `cargo build` with no verdict: {unclassified:?}"
    );
    let failures: Vec<String> = std::thread::scope(|s| {
        let chunks: Vec<&[HelpFlag]> = flags.chunks(flags.len().div_ceil(2)).collect();
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|chunk| {
                let ws = &ws;
                s.spawn(move || {
                    chunk
                        .iter()
                        .filter_map(|f| check(ws, f, &verdict(&f.name, host).unwrap()).err())
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn the_help_parser_finds_long_flags_short_only_flags_and_values() {
    let help = "Options:\n      --message-format <FMT>     Error format [possible values: human, short,\n                                 json]\n  -v, --verbose...               Use verbose output\n  -Z <FLAG>                      Unstable\n  -h, --help                     Print help\n";
    let flags = help_flags(help);
    let names: Vec<&str> = flags.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["--message-format", "--verbose", "-Z", "--help"]);
    assert_eq!(flags[0].values, ["human", "short", "json"]);
    assert!(flags[1].values.is_empty());
}

#[test]
fn z_flags_with_rustc_bootstrap_take_unstable_options_and_refuse_the_others_by_name() {
    let ws = fixture("tiny");
    let bootstrap = [("RUSTC_BOOTSTRAP", "1")];
    ws.hbuild_env(&["-Z", "unstable-options"], &bootstrap).ok();
    assert_eq!(ws.run_program("target/debug/app"), "hello, world\n");
    let r = ws.hbuild_env(&["-Zbuild-std=core", "--plan"], &bootstrap);
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (
            1,
            "error: `-Z build-std` is not supported by cargo-hbuild\n"
        )
    );
    // What Cargo itself says of a flag it does not know.
    let r = ws.hbuild_env(
        &["-Z", "unstable-options", "--artifact-dir", "a"],
        &bootstrap,
    );
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (
            1,
            "error: `--artifact-dir` is not supported by cargo-hbuild\n"
        )
    );
}

#[test]
fn keep_going_builds_what_does_not_depend_on_a_failure_like_cargo() {
    let ws = crate::common::workspace(&[
        (
            "Cargo.toml",
            "[workspace]\nmembers = [\"bad\", \"good\"]\nresolver = \"2\"\n",
        ),
        (
            "bad/Cargo.toml",
            "[package]\nname = \"bad\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
        ),
        ("bad/src/lib.rs", "pub fn f() -> u32 { \"no\" }\n"),
        (
            "good/Cargo.toml",
            "[package]\nname = \"good\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
        ),
        ("good/src/main.rs", "fn main() { println!(\"good\"); }\n"),
    ]);
    let c = ws.cargo(
        &[
            "build",
            "-j1",
            "--keep-going",
            "--target-dir",
            "cargo-target",
        ],
        &[],
    );
    let h = ws.hbuild(&["-j1", "--keep-going"]);
    for (who, r, dir) in [("cargo", &c, "cargo-target"), ("hbuild", &h, "target")] {
        assert_eq!(r.code, 101, "{who}: {}", r.stderr);
        assert!(
            r.stderr.contains("error: could not compile `bad` (lib)"),
            "{who}: {}",
            r.stderr
        );
        assert_eq!(
            ws.run_program(&format!("{dir}/debug/good")),
            "good\n",
            "{who}"
        );
    }
}
