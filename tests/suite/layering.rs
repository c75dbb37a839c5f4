//! The module layering that docs/architecture.md promises, checked on the
//! source: each module imports only the layers below it, so data flows one
//! way and no two modules import each other.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::common::repo_root;

/// Top-level modules from the top (the CLI, which drives every stage) to the
/// bottom (`core`: ids, digests, paths). A module may import only modules
/// below it: each stage uses the types of the stages whose output it
/// consumes, never the other way round.
const LAYERS: &[&str] = &[
    "cli",
    "server",
    "settings",
    "analysis",
    "report",
    "explain",
    "exec",
    "fingerprint",
    "cache",
    "plan",
    "workspace",
    "core",
];

/// Pure stages: they must not reach into execution, the server or output.
const PURE: &[&str] = &["plan", "fingerprint", "cache", "core"];

/// One `src/` file, its top-level module, and the crate-relative modules it
/// names (`crate::x::…` and, for siblings, `super::x`).
struct Source {
    file: PathBuf,
    module: String,
    crate_refs: BTreeSet<String>,
    super_refs: BTreeSet<String>,
}

fn sources() -> Vec<Source> {
    let src = repo_root().join("src");
    let mut out = Vec::new();
    for e in walkdir::WalkDir::new(&src) {
        let e = e.unwrap();
        if e.path().extension().is_none_or(|x| x != "rs") {
            continue;
        }
        let rel = e.path().strip_prefix(&src).unwrap().to_path_buf();
        let module = match rel.components().next() {
            Some(c) if rel.components().count() > 1 => c.as_os_str().to_str().unwrap().into(),
            _ => rel.file_stem().unwrap().to_str().unwrap().to_string(),
        };
        let text = std::fs::read_to_string(e.path()).unwrap();
        let code = strip_comments(&text);
        out.push(Source {
            crate_refs: names_after(&code, "crate::"),
            super_refs: names_after(&code, "super::"),
            file: rel,
            module,
        });
    }
    out
}

/// The code without `//` comments (doc comments name modules freely).
fn strip_comments(text: &str) -> String {
    text.lines()
        .map(|l| match l.find("//") {
            Some(i) if !l[..i].contains('"') => &l[..i],
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every identifier that follows `prefix`, including inside `use prefix{a, b}`.
fn names_after(code: &str, prefix: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = code;
    while let Some(i) = rest.find(prefix) {
        let before = rest[..i].chars().last();
        rest = &rest[i + prefix.len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for part in group[..end].split(',') {
                let id = ident(part.trim());
                if !id.is_empty() {
                    names.insert(id);
                }
            }
        } else {
            let id = ident(rest);
            if !id.is_empty() {
                names.insert(id);
            }
        }
    }
    names
}

fn ident(s: &str) -> String {
    s.chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

fn rank(module: &str) -> Option<usize> {
    LAYERS.iter().position(|m| *m == module)
}

#[test]
fn every_top_level_module_has_a_place_in_the_flow() {
    let modules: BTreeSet<String> = sources()
        .into_iter()
        .map(|s| s.module)
        .filter(|m| m != "lib" && m != "main" && m != "bin")
        .collect();
    let unplaced: Vec<_> = modules.iter().filter(|m| rank(m).is_none()).collect();
    assert!(
        unplaced.is_empty(),
        "modules missing from the layering table (and docs/architecture.md): {unplaced:?}"
    );
}

/// Helper programs in `src/bin/` are sent to remote workers: they link
/// nothing of the library, which keeps them small.
#[test]
fn helper_programs_stand_alone() {
    let bins: Vec<Source> = sources()
        .into_iter()
        .filter(|s| s.module == "bin")
        .collect();
    assert!(!bins.is_empty(), "src/bin/ holds the worker helpers");
    for s in bins {
        let text = std::fs::read_to_string(repo_root().join("src").join(&s.file)).unwrap();
        let code = strip_comments(&text);
        assert!(
            !code.contains("hbuild::") && s.crate_refs.is_empty(),
            "{} uses the library",
            s.file.display()
        );
    }
}

#[test]
fn modules_import_only_lower_layers() {
    let mut wrong = Vec::new();
    for s in sources() {
        let Some(own) = rank(&s.module) else { continue };
        for r in &s.crate_refs {
            let Some(other) = rank(r) else { continue };
            if other < own {
                wrong.push(format!("{} imports crate::{r}", s.file.display()));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports of a higher layer:\n  {}",
        wrong.join("\n  ")
    );
}

#[test]
fn nothing_below_the_cli_names_it_and_pure_stages_stay_pure() {
    let mut wrong = Vec::new();
    for s in sources() {
        let top = s.module == "lib" || s.module == "main" || s.module == "cli";
        if !top && s.crate_refs.contains("cli") {
            wrong.push(format!("{} names crate::cli", s.file.display()));
        }
        if PURE.contains(&s.module.as_str()) {
            for r in ["exec", "server", "report"] {
                if s.crate_refs.contains(r) {
                    wrong.push(format!("{} (pure) imports crate::{r}", s.file.display()));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// Sibling files of one module folder must not import each other in a
/// cycle (the folder's `mod.rs` is their parent and may be named by all).
#[test]
fn sibling_modules_have_no_import_cycles() {
    let mut edges: BTreeMap<(PathBuf, String), BTreeSet<String>> = BTreeMap::new();
    for s in sources() {
        let Some(dir) = s.file.parent().filter(|d| !d.as_os_str().is_empty()) else {
            continue;
        };
        let stem = s.file.file_stem().unwrap().to_str().unwrap().to_string();
        if stem == "mod" {
            continue;
        }
        edges
            .entry((dir.to_path_buf(), stem))
            .or_default()
            .extend(s.super_refs.iter().cloned());
    }
    let mut cycles = Vec::new();
    for ((dir, a), refs) in &edges {
        for b in refs {
            let back = edges
                .get(&(dir.clone(), b.clone()))
                .is_some_and(|r| r.contains(a));
            if back && a < b {
                cycles.push(format!("{}: {a} <-> {b}", dir.display()));
            }
        }
    }
    assert!(
        cycles.is_empty(),
        "import cycles:\n  {}",
        cycles.join("\n  ")
    );
}

#[test]
fn the_scanner_sees_grouped_and_plain_imports() {
    let code = strip_comments(
        "use crate::{plan::Action, core::Digest};\nuse crate::exec::x; // crate::report\nfn f() { notcrate::y(); super::z(); }",
    );
    assert_eq!(
        names_after(&code, "crate::"),
        ["core", "exec", "plan"].map(String::from).into()
    );
    assert_eq!(
        names_after(&code, "super::"),
        ["z"].map(String::from).into()
    );
    let _ = Path::new("");
}
