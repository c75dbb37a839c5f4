//! `--message-format json` parity: every message hbuild prints
//! (`compiler-artifact`, `build-script-executed`, `compiler-message`,
//! `build-finished`) equals Cargo's for the same command, field by field,
//! after the normalisation in `tests/common/messages.rs`, and comes in an
//! order Cargo guarantees.
//!
//! Each fixture gets one target dir per tool, reused by its flag sets, so
//! only the first build of each is cold (messages of fresh units are
//! printed all the same); kitchen-sink's hbuild builds start from the
//! suite's warm cache, so its messages of cache hits are compared too.
//! `--release` runs on the small fixtures (kitchen-sink's profile
//! overrides are dev ones; its release build alone would take minutes on
//! two cores). The `big` fixture adds no message feature the others lack (build scripts
//! with links, cfgs, env and C code are in kitchen-sink) and is left out
//! for its build time.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::common::messages::{
    diff, key_order, normalise, normalise_str, order_violations, ordered_edges,
};
use crate::common::{fixture, warm_cache_for, Ws};

/// A fixture copy built by both tools.
struct Pair {
    ws: Ws,
    cargo_dir: PathBuf,
    hbuild_dir: PathBuf,
    /// Messages compared so far, per reason.
    compared: BTreeMap<String, usize>,
    problems: String,
}

impl Pair {
    fn new(name: &str) -> Self {
        let ws = fixture(name);
        if name == "kitchen-sink" {
            warm_cache_for(&ws, name);
        }
        let cargo_dir = ws.tmp.path().join("cargo-target");
        let hbuild_dir = ws.tmp.path().join("hbuild-target");
        Pair {
            ws,
            cargo_dir,
            hbuild_dir,
            compared: BTreeMap::new(),
            problems: String::new(),
        }
    }

    /// Builds `args` with Cargo and with hbuild and records every
    /// difference between their messages.
    fn compare(&mut self, args: &[&str], succeeds: bool) {
        let (cdir, hdir) = (
            self.cargo_dir.to_str().unwrap(),
            self.hbuild_dir.to_str().unwrap(),
        );
        let mut cargs = vec!["build", "--message-format", "json", "--target-dir", cdir];
        cargs.extend_from_slice(args);
        let c = self.ws.cargo(&cargs, &[]);
        let mut hargs = vec!["--message-format", "json", "--target-dir", hdir];
        hargs.extend_from_slice(args);
        let h = self.ws.hbuild(&hargs);
        assert_eq!(
            (c.code == 0, h.code),
            (succeeds, c.code),
            "`{}`: exit codes\n--- cargo\n{}\n--- hbuild\n{}",
            args.join(" "),
            c.stderr,
            h.stderr
        );
        let cm = normalise(&c.stdout, &self.cargo_dir);
        let hm = normalise(&h.stdout, &self.hbuild_dir);
        let (d, n) = diff(&cm, &hm);
        for (reason, count) in n {
            *self.compared.entry(reason).or_default() += count;
        }
        let mut plan_args = vec!["--plan", "--target-dir", hdir];
        plan_args.extend_from_slice(args);
        let edges = ordered_edges(&self.ws.hbuild(&plan_args).ok().stdout);
        let mut order = Vec::new();
        for (tool, msgs) in [("cargo", &cm), ("hbuild", &hm)] {
            order.extend(
                order_violations(msgs, &edges)
                    .into_iter()
                    .map(|v| format!("  {tool}: {v}\n")),
            );
        }
        if !d.is_empty() || !order.is_empty() {
            self.problems.push_str(&format!(
                "--- `cargo build {}`\n{d}{}",
                args.join(" "),
                order.concat()
            ));
        }
    }

    /// Fails with every difference found; checks that messages of each
    /// of `reasons` were compared at all.
    fn finish(self, reasons: &[&str]) {
        assert!(
            self.problems.is_empty(),
            "JSON messages differ from Cargo's:\n{}",
            self.problems
        );
        for r in reasons {
            assert!(
                self.compared.get(*r).is_some_and(|n| *n > 0),
                "no `{r}` message compared: {:?}",
                self.compared
            );
        }
    }
}

const ALL: [&str; 3] = [
    "compiler-artifact",
    "build-script-executed",
    "build-finished",
];

#[test]
fn kitchen_sink_messages_match_cargo() {
    let mut p = Pair::new("kitchen-sink");
    for args in [
        &[][..],
        &["--all-targets"],
        &["--workspace"],
        &["-p", "app", "--features", "extra"],
    ] {
        p.compare(args, true);
    }
    p.finish(&ALL);
}

#[test]
fn two_versions_messages_match_cargo() {
    let mut p = Pair::new("two-versions");
    for args in [
        &[][..],
        &["--all-targets"],
        &["--workspace"],
        &["-p", "new-flags", "--features", "std"],
        &["--release"],
        // Libraries twice: panic=abort for the binary, unwind for tests.
        &["--release", "--all-targets"],
    ] {
        p.compare(args, true);
    }
    p.finish(&["compiler-artifact", "build-finished"]);
}

#[test]
fn resolver_messages_match_cargo() {
    for name in ["resolver-v1", "resolver-v2"] {
        let mut p = Pair::new(name);
        for args in [
            &[][..],
            &["--all-targets"],
            &["--workspace"],
            &["-p", "feat", "--features", "host"],
            &["--release"],
        ] {
            p.compare(args, true);
        }
        p.finish(&ALL);
    }
}

#[test]
fn failures_messages_and_diagnostics_match_cargo() {
    let mut p = Pair::new("failures");
    for args in [
        &[][..],
        &["--all-targets"],
        &["--workspace"],
        &["--release"],
    ] {
        p.compare(args, true);
    }
    // A warning, printed when compiled and replayed when fresh.
    p.ws.replace(
        "crates/ok-bin/src/main.rs",
        "    println!(\"ok\");",
        "    let unused_here = 1;\n    println!(\"ok\");",
    );
    p.compare(&["-p", "ok-bin"], true);
    p.compare(&["-p", "ok-bin"], true);
    // An error: the messages of a failed build.
    p.ws.replace(
        "crates/broken-rs/src/lib.rs",
        "let answer: u32 = 42; // HB_INJECT_TYPE_ERROR",
        "let answer: u32 = \"not a number\";",
    );
    p.compare(&["-p", "broken-rs"], false);
    let mut reasons = ALL.to_vec();
    reasons.push("compiler-message");
    p.finish(&reasons);
}

#[test]
fn normalisation_drops_only_documented_differences() {
    let t = std::path::Path::new("/t");
    assert_eq!(
        normalise_str("/t/hbuild/debug/deps/libx-0123456789abcdef.rlib", t),
        "<target>/debug/deps/libx.rlib"
    );
    assert_eq!(
        normalise_str("/t/debug/deps/libx-0123456789abcdef.rlib", t),
        "<target>/debug/deps/libx.rlib"
    );
    assert_eq!(
        normalise_str(
            "/t/hbuild/debug/build/x-0123456789abcdef/build-script-build",
            t
        ),
        "<target>/debug/build/x/build-script-build"
    );
    assert_eq!(normalise_str("foo-bar", t), "foo-bar");
    let msgs = normalise(
        "{\"reason\":\"compiler-artifact\",\"fresh\":true,\"filenames\":[\"/t/x\"]}\n\
         {\"reason\":\"hbuild-summary\"}\nnot json\n",
        t,
    );
    assert_eq!(
        msgs,
        vec![serde_json::json!({
            "reason": "compiler-artifact",
            "filenames": ["<target>/x"],
            "<key order>": "{reason,fresh,filenames}",
        })]
    );
    assert_eq!(
        key_order(r#"{"b":{"d":1,"c":[{"x":null},2]},"a":[]}"#),
        "{b{d,c[{x}]},a}"
    );
}
