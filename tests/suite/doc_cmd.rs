//! `cargo hbuild doc`: the same `target/doc/` as `cargo doc`, file for file
//! and byte for byte, replayed from the cache in another checkout;
//! `--no-deps`, `-p`, `RUSTDOCFLAGS` and `--open` as with Cargo.

use std::path::Path;

use crate::common::{fixture, workspace, Ws};

/// Every file under `dir` (relative, sorted) with its bytes; Cargo's lock
/// file left out.
fn tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = walkdir::WalkDir::new(dir)
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            let rel = e.path().strip_prefix(dir).unwrap().display().to_string();
            (rel, std::fs::read(e.path()).unwrap())
        })
        .filter(|(rel, _)| rel != ".lock")
        .collect();
    v.sort();
    v
}

/// `cargo doc ARGS` with its own target dir inside the copy.
fn cargo_doc(ws: &Ws, args: &[&str], env: &[(&str, &str)]) -> crate::common::Run {
    let mut a = vec!["doc"];
    a.extend_from_slice(args);
    let target = ws.path("target-cargo");
    let mut e = vec![("CARGO_TARGET_DIR", target.to_str().unwrap())];
    e.extend_from_slice(env);
    ws.cargo(&a, &e)
}

fn assert_same_tree(cargo: &Path, hbuild: &Path) {
    let (c, h) = (tree(cargo), tree(hbuild));
    let names = |t: &[(String, Vec<u8>)]| t.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    assert_eq!(names(&h), names(&c), "file sets differ");
    // help.html and settings.html name the crate documented last, which
    // for Cargo depends on its job order: they are compared as files only.
    let per_run = ["help.html", "settings.html"];
    for ((name, cb), (_, hb)) in c.iter().zip(&h) {
        assert!(
            per_run.contains(&name.as_str()) || cb == hb,
            "{name} differs from Cargo's"
        );
    }
}

#[test]
fn doc_equals_cargo_doc_and_is_replayed_from_the_cache_elsewhere() {
    // Docs of a package with a build script name its OUT_DIR (rustdoc
    // pages generated sources by their absolute path): they are redone in
    // another checkout, as tiny's `greet` is.
    for (name, args, redone) in [
        ("testing", &[][..], 0),
        ("testing", &["--no-deps", "-p", "calc"][..], 0),
        ("tiny", &["--document-private-items"][..], 1),
    ] {
        let ws = fixture(name);
        cargo_doc(&ws, args, &[]).ok();
        let mut a = vec!["doc"];
        a.extend_from_slice(args);
        ws.hbuild(&a).ok();
        assert_same_tree(&ws.path("target-cargo/doc"), &ws.path("target/doc"));
        // Another checkout with the warm cache runs no other rustdoc.
        let mut other = fixture(name);
        other.cache = ws.cache.clone();
        a.extend(["--message-format", "json"]);
        let r = other.hbuild(&a).ok();
        assert_eq!(r.summary()["executed"], redone, "{}", r.stderr);
        assert_same_tree(&ws.path("target-cargo/doc"), &other.path("target/doc"));
    }
}

#[test]
fn doc_prints_cargos_lines_and_rustdocflags_deny_warnings_like_cargo() {
    let ws = workspace(&[
        (
            "Cargo.toml",
            "[package]\nname = \"links\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
        ),
        ("src/lib.rs", "/// See [`Missing`].\npub fn f() {}\n"),
    ]);
    let ok = ws.hbuild(&["doc"]).ok();
    assert!(
        ok.stderr.contains(" Documenting links v0.1.0 ("),
        "{}",
        ok.stderr
    );
    assert!(
        ok.stderr.contains(&format!(
            "   Generated {}/target/doc/links/index.html\n",
            ws.root.display()
        )),
        "{}",
        ok.stderr
    );
    assert!(
        ok.stderr.contains("unresolved link to `Missing`"),
        "{}",
        ok.stderr
    );
    let deny = [("RUSTDOCFLAGS", "-D warnings")];
    let hb = ws.hbuild_env(&["doc"], &deny);
    let cargo = cargo_doc(&ws, &[], &deny);
    assert_eq!(hb.code, 101, "{}", hb.stderr);
    assert_eq!(hb.code, cargo.code);
    assert!(
        hb.stderr.contains("error: unresolved link to `Missing`"),
        "{}",
        hb.stderr
    );
    assert!(
        hb.stderr.contains("error: could not document `links`"),
        "{}",
        hb.stderr
    );
    // The same from `[build] rustdocflags`.
    ws.write_config("[build]\nrustdocflags = [\"-D\", \"warnings\"]\n");
    let config = ws.hbuild(&["doc"]);
    assert_eq!(config.code, 101, "{}", config.stderr);
    assert_eq!(config.code, cargo_doc(&ws, &[], &[]).code);
}

#[test]
fn doc_open_starts_the_browser_or_prints_the_path() {
    let ws = fixture("tiny");
    let page = ws.path("target/doc/app/index.html");
    let opened = ws
        .hbuild_env(&["doc", "--open"], &[("BROWSER", "true")])
        .ok();
    assert!(
        opened
            .stderr
            .contains(&format!("     Opening {}", page.display())),
        "{}",
        opened.stderr
    );
    let none = ws
        .hbuild_env(&["doc", "--open"], &[("BROWSER", "false")])
        .ok();
    assert!(
        none.stderr
            .contains(&format!("it is at {}", page.display())),
        "{}",
        none.stderr
    );
}
