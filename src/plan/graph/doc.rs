//! Documentation actions (`cargo hbuild doc`). Each target is documented
//! on its own into a private directory with `rustdoc --merge=none`, which
//! writes its pages and its share of the cross-crate files
//! (`--parts-out-dir`) but never reads another crate's output, so the
//! action is hermetic and cacheable. One last action assembles
//! `target/doc/` from them and writes the search index, `crates.js` and
//! the other shared files with `rustdoc --merge=finalize`. These rustdoc
//! options are unstable: the actions set `RUSTC_BOOTSTRAP=1` for rustdoc
//! alone.

use std::collections::BTreeSet;
use std::path::PathBuf;

use super::{base_action, compile, Step};
use crate::core::ActionId;
use crate::plan::action::{
    Action, ActionDep, ActionKind, FlagOrigins, InputFile, Needs, ScriptInputs,
};
use crate::plan::rustc_args::feature_cfg_flags;
use crate::plan::unit::CompileKind;
use crate::plan::units::UnitGraph;
use crate::plan::PlanContext;
use crate::workspace::model::TargetKind;

/// The action documenting a unit's target.
pub(super) fn doc_action(
    s: &Step<'_, '_>,
    inputs: Vec<InputFile>,
    own_run: Option<ActionId>,
    link_search: &BTreeSet<ActionId>,
) -> Action {
    let (cx, u) = (s.cx, s.u);
    let pkg = &cx.model.packages[u.pkg];
    let target = &pkg.targets[u.target];
    let mut a = base_action(cx, u, s.i, ActionKind::Doc);
    let externs = compile::dep_edges(s, target, &mut a);
    let (src, cwd) = super::source_and_cwd(cx, pkg, target);
    let dir = private_dir(cx, u.kind, &target.name, &u.short_hash());
    let mut argv = vec![format!("--edition={}", target.edition)];
    for ct in &target.crate_types {
        argv.extend(["--crate-type".into(), ct.as_str().to_string()]);
    }
    argv.extend([
        "--crate-name".into(),
        target.crate_name(),
        src,
        "-o".into(),
        dir.join("out").display().to_string(),
    ]);
    if !pkg.is_local() {
        argv.extend(["--cap-lints".into(), "allow".into()]);
    }
    argv.extend(feature_cfg_flags(u, pkg));
    argv.extend([
        "--error-format=json".into(),
        "--json=diagnostic-rendered-ansi,artifacts,future-incompat".into(),
        "-C".into(),
        format!("metadata={}", u.short_hash()),
        "-L".into(),
        format!("dependency={}", cx.layout.deps(u.kind).display()),
    ]);
    for (name, path) in &externs {
        argv.extend(["--extern".into(), format!("{name}={}", path.display())]);
    }
    if target.is_proc_macro() {
        argv.extend(["--extern".into(), "proc_macro".into()]);
    }
    let private = cx.request.doc.as_ref().is_some_and(|d| d.private_items);
    if private || matches!(target.kind, TargetKind::Bin) {
        argv.push("--document-private-items".into());
        if !private {
            argv.push("-Arustdoc::private-intra-doc-links".into());
        }
    }
    argv.extend(["--crate-version".into(), pkg.version.clone()]);
    argv.extend(pkg.lint_flags.iter().cloned());
    argv.extend(rustdocflags(cx));
    argv.extend([
        "-Zunstable-options".into(),
        "--merge=none".into(),
        "--parts-out-dir".into(),
        dir.join("parts").display().to_string(),
    ]);
    a.program = super::rustdoc(cx);
    a.argv = argv;
    a.flag_origins = FlagOrigins {
        rustflags: rustdocflags(cx),
        lints: pkg.lint_flags.clone(),
    };
    a.cwd = cwd;
    a.env = doc_env(s, own_run);
    a.inputs = inputs;
    a.output_root = cx.layout.internal(u.kind);
    a.out_dir = Some(dir);
    a.script_inputs = ScriptInputs {
        own: own_run,
        link_search: link_search.iter().copied().collect(),
        links_metadata: Vec::new(),
        link_libs: false,
    };
    a
}

/// Where one target's documentation is written before it is assembled.
fn private_dir(cx: &PlanContext<'_>, kind: CompileKind, name: &str, hash: &str) -> PathBuf {
    cx.layout
        .internal(kind)
        .join("doc")
        .join(format!("{name}-{hash}"))
}

/// The environment of rustdoc: the package's, its build script's
/// `OUT_DIR`, and permission for the unstable `--merge` options.
fn doc_env(
    s: &Step<'_, '_>,
    own_run: Option<ActionId>,
) -> std::collections::BTreeMap<String, String> {
    let pkg = &s.cx.model.packages[s.u.pkg];
    let mut env = super::package_env_with_out_dir(s.cx, pkg, s.done, own_run);
    env.insert("RUSTC_BOOTSTRAP".into(), "1".into());
    env
}

/// Appends the action that assembles `target/doc/` from every documented
/// target, when the request documents.
/// Returns the index pages of the documented roots, in Cargo's order.
pub(super) fn add_doc_index(
    cx: &PlanContext<'_>,
    ug: &UnitGraph,
    actions: &mut Vec<Action>,
) -> Vec<PathBuf> {
    if cx.request.doc.is_none() {
        return Vec::new();
    }
    let doc_root = cx.layout.target_dir.join("doc");
    let mut pages: Vec<(String, String)> = ug
        .roots
        .iter()
        .map(|r| &actions[r.index()])
        .filter(|a| a.kind == ActionKind::Doc)
        .map(|a| (a.package_name.clone(), a.target_name.replace('-', "_")))
        .collect();
    pages.sort();
    let pages: Vec<PathBuf> = pages
        .into_iter()
        .map(|(_, t)| doc_root.join(t).join("index.html"))
        .collect();
    let docs: Vec<ActionId> = actions
        .iter()
        .filter(|a| a.kind == ActionKind::Doc)
        .map(|a| a.id)
        .collect();
    // The crate whose name the shared pages carry: the last documented.
    let Some(&last) = ug
        .roots
        .iter()
        .filter(|r| actions[r.index()].kind == ActionKind::Doc)
        .max()
    else {
        return pages;
    };
    let mut a = base_action(
        cx,
        &ug.units[last.index()],
        actions.len(),
        ActionKind::DocIndex,
    );
    a.target_name = actions[last.index()].target_name.replace('-', "_");
    a.program = super::rustdoc(cx);
    a.argv = vec![
        "-o".into(),
        doc_root.display().to_string(),
        "-Zunstable-options".into(),
        "--merge=finalize".into(),
    ];
    for id in &docs {
        let parts = actions[id.index()]
            .out_dir
            .as_ref()
            .map(|d| d.join("parts"))
            .unwrap_or_default();
        a.argv
            .extend(["--include-parts-dir".into(), parts.display().to_string()]);
        a.deps.push(ActionDep {
            action: *id,
            extern_name: None,
            needs: Needs::Full,
        });
    }
    a.env = [("RUSTC_BOOTSTRAP".to_string(), "1".to_string())].into();
    a.cwd = cx.model.root.clone();
    a.inputs = Vec::new();
    a.output_root = cx.layout.target_dir.clone();
    a.out_dir = Some(doc_root);
    a.is_root = true;
    actions.push(a);
    pages
}

/// rustdoc's flags in Cargo's precedence: `CARGO_ENCODED_RUSTDOCFLAGS`,
/// `RUSTDOCFLAGS` (space separated), then `build.rustdocflags`.
pub(super) fn rustdocflags(cx: &PlanContext<'_>) -> Vec<String> {
    let env = &cx.request.env;
    if let Some(e) = env.get("CARGO_ENCODED_RUSTDOCFLAGS") {
        return e
            .split('\x1f')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
    }
    if let Some(f) = env.get("RUSTDOCFLAGS") {
        return f.split_whitespace().map(str::to_string).collect();
    }
    cx.config
        .build_rustdocflags
        .as_ref()
        .map(|l| l.flags.clone())
        .unwrap_or_default()
}
