//! What `cargo clippy` and `cargo hbuild clippy` report, normalised for
//! comparison: each diagnostic by place, level, code and message, and the
//! per-crate summary lines.

use std::collections::{BTreeMap, BTreeSet};

use super::Run;

/// One diagnostic: where, how severe, which lint and what it says.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Diag {
    /// `file:line:col` of the primary span (empty without a span).
    pub place: String,
    /// `warning`, `error`...
    pub level: String,
    /// The lint or error code (`clippy::needless_return`); JSON only.
    pub code: Option<String>,
    /// The message.
    pub message: String,
}

/// The diagnostics of `--message-format short`: rustc's one-line form
/// `file:line:col: level: message` on stderr.
pub fn short_diags(run: &Run) -> BTreeSet<Diag> {
    run.stderr
        .lines()
        .filter_map(|l| {
            let mut parts = l.splitn(4, ": ");
            let place = parts.next()?;
            let level = parts.next()?;
            let message = parts.collect::<Vec<_>>().join(": ");
            let is_place = place.split(':').count() == 3
                && place.rsplit(':').take(2).all(|n| n.parse::<u32>().is_ok());
            (is_place && matches!(level, "warning" | "error")).then(|| Diag {
                place: place.to_string(),
                level: level.to_string(),
                code: None,
                message,
            })
        })
        .collect()
}

/// The diagnostic of a `compiler-message`.
fn json_diag(m: &serde_json::Value) -> Diag {
    let msg = &m["message"];
    let place = msg["spans"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["is_primary"] == true))
        .map(|s| {
            format!(
                "{}:{}:{}",
                s["file_name"].as_str().unwrap_or(""),
                s["line_start"],
                s["column_start"]
            )
        })
        .unwrap_or_default();
    Diag {
        place,
        level: msg["level"].as_str().unwrap_or("").to_string(),
        code: msg["code"]["code"].as_str().map(str::to_string),
        message: msg["message"].as_str().unwrap_or("").to_string(),
    }
}

/// The diagnostics of `--message-format json`, from `compiler-message`.
pub fn json_diags(run: &Run) -> BTreeSet<Diag> {
    run.messages("compiler-message")
        .iter()
        .map(json_diag)
        .collect()
}

/// The `compiler-message`s of each crate (package name, target name), in
/// the order they came, whole but for the package id (which holds the
/// checkout's path) and the target's `src_path`.
pub fn messages_by_crate(run: &Run) -> BTreeMap<(String, String), Vec<serde_json::Value>> {
    let mut out: BTreeMap<(String, String), Vec<serde_json::Value>> = BTreeMap::new();
    for m in run.messages("compiler-message") {
        let package = m["package_id"]
            .as_str()
            .and_then(|id| id.rsplit('/').next())
            .unwrap_or("")
            .to_string();
        let target = m["target"]["name"].as_str().unwrap_or("").to_string();
        out.entry((package, target))
            .or_default()
            .push(m["message"].clone());
    }
    out
}

/// Cargo's lines that sum up a crate (`generated 3 warnings`, `could not
/// compile ... due to 2 previous errors`), without the `(run `cargo clippy
/// --fix ...` to apply N suggestions)` hint that hbuild does not print.
pub fn summary_lines(run: &Run) -> BTreeSet<String> {
    run.stderr
        .lines()
        .filter(|l| l.contains(" generated ") || l.contains("could not compile"))
        .map(|l| match l.find(" (run `cargo") {
            Some(i) => l[..i].to_string(),
            None => l.to_string(),
        })
        .collect()
}
