//! Assembling `target/doc/`: every documented target's private pages are
//! copied into it, then `rustdoc --merge=finalize` writes the cross-crate
//! files (search index, `crates.js`, source list, static files) from their
//! parts. `help.html` and `settings.html`, which only a crate's own run
//! writes, come from documenting an empty crate named after the last
//! documented one, as they carry its name.

use std::path::Path;

use super::invoke::Executed;
use super::outcome::Failure;
use super::process;
use super::store::Manifest;
use super::ExecShared;
use crate::plan::Action;
use crate::workspace::model::TargetKind;

/// Runs the documentation index action `a`.
pub(super) fn assemble(sh: &ExecShared, a: &Action) -> Result<Executed, Failure> {
    let io = |what: &str, e: std::io::Error| Failure::other(format!("{what}: {e}"));
    let root = a.out_dir.clone().unwrap_or_default();
    std::fs::create_dir_all(&root).map_err(|e| io("cannot create the doc directory", e))?;
    for d in &a.deps {
        if let Some(dir) = &sh.graph.actions[d.action.index()].out_dir {
            link_tree(&dir.join("out"), &root)
                .map_err(|e| io(&format!("cannot assemble {}", dir.display()), e))?;
        }
    }
    shared_pages(sh, a, &root)?;
    let env = a.env.clone();
    let cmd = process::command(&a.program, None, a, &a.argv, &env, &sh.jobserver);
    let out = process::run_streaming(cmd, |_| {}).map_err(|e| io("cannot run rustdoc", e))?;
    if !out.status.success() {
        return Err(Failure::other(format!(
            "rustdoc could not write the documentation index ({}):\n{}",
            out.status, out.stderr
        )));
    }
    Ok(Executed {
        manifest: Manifest::default(),
        undeclared: Vec::new(),
        script: None,
        diagnostics: Vec::new(),
        warnings: 0,
        remote: None,
        left: Vec::new(),
    })
}

/// Makes rustdoc link to the documented dependencies' pages, as it does
/// when they are in its output directory: it looks for a directory named
/// after each crate there. Empty directories are no outputs.
pub(super) fn mark_documented_deps(sh: &ExecShared, a: &Action) {
    let Some(out) = a.out_dir.as_ref().map(|d| d.join("out")) else {
        return;
    };
    // Every documented crate below it: pages link to re-exported items of
    // transitive dependencies too.
    let actions = &sh.graph.actions;
    let mut stack: Vec<crate::core::ActionId> = a.deps.iter().map(|d| d.action).collect();
    let mut seen = std::collections::BTreeSet::new();
    while let Some(id) = stack.pop() {
        let dep = &actions[id.index()];
        if dep.kind != crate::plan::ActionKind::Doc || !seen.insert(id) {
            continue;
        }
        if dep.target_kind == TargetKind::Lib {
            let _ = std::fs::create_dir_all(out.join(dep.target_name.replace('-', "_")));
        }
        stack.extend(dep.deps.iter().map(|d| d.action));
    }
}

/// `help.html` and `settings.html`, from an empty crate of the name the
/// last documented crate has.
fn shared_pages(sh: &ExecShared, a: &Action, root: &Path) -> Result<(), Failure> {
    let io = |e: std::io::Error| Failure::other(format!("cannot write the shared doc pages: {e}"));
    let tmp = tempfile::tempdir().map_err(io)?;
    let src = tmp.path().join("lib.rs");
    std::fs::write(&src, "").map_err(io)?;
    let out_dir = tmp.path().join("out");
    let argv: Vec<String> = vec![
        "--crate-name".into(),
        a.target_name.clone(),
        "--crate-type".into(),
        "lib".into(),
        src.display().to_string(),
        "-o".into(),
        out_dir.display().to_string(),
    ];
    let cmd = process::command(&a.program, None, a, &argv, &a.env, &sh.jobserver);
    let out = process::run_streaming(cmd, |_| {}).map_err(io)?;
    if !out.status.success() {
        return Err(Failure::other(format!(
            "rustdoc could not write the shared doc pages: {}",
            out.stderr
        )));
    }
    for page in ["help.html", "settings.html"] {
        std::fs::copy(out_dir.join(page), root.join(page)).map_err(io)?;
    }
    Ok(())
}

/// Copies every file under `from` to the same place under `to`.
fn link_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    for e in walkdir::WalkDir::new(from).into_iter() {
        let e = e.map_err(std::io::Error::other)?;
        let Ok(rel) = e.path().strip_prefix(from) else {
            continue;
        };
        let dest = to.join(rel);
        if e.file_type().is_dir() {
            std::fs::create_dir_all(&dest)?;
        } else if e.file_type().is_file() && rel != Path::new(".lock") {
            // A copy, not a link: rustdoc rewrites shared files in place,
            // which must never reach a target's own (cached) output.
            let _ = std::fs::remove_file(&dest);
            std::fs::copy(e.path(), &dest)?;
        }
    }
    Ok(())
}
