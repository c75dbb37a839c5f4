//! Rendering of `--explain`: why each executed action ran, as Cargo-like
//! status lines or as `hbuild-explain` JSON messages.

use crate::exec::events::Outcome;
use crate::explain::reason::{FlagOrigin, RootCause};
use crate::explain::{ExplainedUnit, Explanation, Reason, UnitRecord};
use crate::plan::ActionGraph;

use super::{eprint_locked, print_stdout_line, MessageFormat, Reporter};

/// Prints an explanation in the build's message format.
pub fn print(graph: &ActionGraph, e: &Explanation, reporter: &Reporter, format: MessageFormat) {
    if let MessageFormat::Json { .. } = format {
        for u in &e.units {
            let a = &graph.actions[u.action];
            print_stdout_line(
                &serde_json::json!({
                    "reason": "hbuild-explain",
                    "package_id": a.package_id,
                    "target": super::json::target_json(a),
                    "unit": u.unit,
                    "root_cause": u.root_cause,
                    "reasons": u.reasons,
                    "executed_remotely": u.remote.as_ref().map(|r| serde_json::json!({
                        "engine": r.engine,
                        "worker": r.worker,
                        "engine_cache_hit": r.engine_cached,
                    })),
                })
                .to_string(),
            );
        }
        return;
    }
    print_human(&e.units, reporter);
}

/// Where the rebuilt units ran, when an engine ran some: one line, or one
/// per unit with `-v`.
fn print_remote(h: &mut super::human::Human, executed: &[ExplainedUnit]) {
    let remote: Vec<_> = executed
        .iter()
        .filter_map(|u| u.remote.as_ref().map(|r| (u, r)))
        .collect();
    let Some((_, first)) = remote.first() else {
        return;
    };
    h.status(
        "Remote",
        &format!(
            "{} of {} rebuilt unit(s) executed remotely on {}",
            remote.len(),
            executed.len(),
            first.engine
        ),
    );
    if h.verbose() > 0 {
        for (u, r) in &remote {
            let how = if r.engine_cached {
                "answered from the engine's action cache".to_string()
            } else {
                format!("on worker {}", r.worker)
            };
            h.line(&format!("             {}: {how}", u.unit));
        }
    }
}

/// Prints the recorded reasons of units of the last build
/// (`cargo hbuild explain`).
pub fn print_units(units: &[UnitRecord], json: bool) {
    for u in units {
        if json {
            print_stdout_line(
                &serde_json::json!({
                    "reason": "hbuild-explain",
                    "package_id": u.package_id,
                    "unit": u.display,
                    "outcome": u.outcome,
                    "reasons": u.reasons,
                })
                .to_string(),
            );
            continue;
        }
        let outcome = match u.outcome {
            Outcome::Executed => "rebuilt in the last build",
            Outcome::Fresh => "fresh in the last build",
            Outcome::LocalHit => "restored from the local cache in the last build",
            Outcome::RemoteHit => "restored from the remote cache in the last build",
            Outcome::RemoteLeft => {
                "found in the remote cache in the last build, its outputs left there"
            }
        };
        eprint_locked(&format!("{}: {outcome}\n", u.display));
        if u.outcome != Outcome::Executed && !u.reasons.is_empty() {
            eprint_locked("  last rebuilt because:\n");
        }
        for r in &u.reasons {
            eprint_locked(&format!("  - {}\n", describe(r)));
        }
    }
}

/// A root cause in words: the changed file itself, or the unit and why.
fn root_cause_text(rc: &RootCause) -> String {
    if rc.reasons.is_empty() {
        return format!("{} rebuilt", rc.unit);
    }
    let text = rc
        .reasons
        .iter()
        .map(describe)
        .collect::<Vec<_>>()
        .join("; ");
    if matches!(rc.reasons[0], Reason::FileChanged { .. }) {
        text
    } else {
        format!("{}: {text}", rc.unit)
    }
}

/// A one-line form of a reason.
pub(crate) fn describe(r: &Reason) -> String {
    match r {
        Reason::FirstBuild => "first build of this unit".into(),
        Reason::NotInCache {
            remote_missed,
            corrupt,
        } => match (corrupt, remote_missed) {
            (Some(c), _) => format!("the cache entry was corrupt and was dropped ({c})"),
            (None, true) => "not in the cache (missed locally and in the remote cache)".into(),
            (None, false) => {
                "not in the cache (new key, or the cache was cleared or evicted)".into()
            }
        },
        Reason::ToolchainChanged => "the toolchain changed".into(),
        Reason::PackageChanged { old, new } => {
            format!("the package changed from `{old}` to `{new}`")
        }
        Reason::FileChanged { path, change } => format!("{path} {}", change.as_str()),
        Reason::RerunIfChanged { path, change } => {
            format!(
                "build script re-ran because rerun-if-changed file {path} {}",
                change.as_str()
            )
        }
        Reason::EnvChanged {
            name,
            old,
            new,
            secret,
        } => {
            if *secret {
                format!("environment variable {name} changed (value hidden)")
            } else {
                let show = |v: &Option<String>| match v.as_deref() {
                    None => "unset".to_string(),
                    Some("") => "\"\"".to_string(),
                    Some(v) => v.to_string(),
                };
                format!(
                    "environment variable {name} changed ({} -> {})",
                    show(old),
                    show(new)
                )
            }
        }
        Reason::FeaturesChanged { added, removed } => {
            let mut parts = Vec::new();
            if !added.is_empty() {
                parts.push(format!("turned on: {}", added.join(", ")));
            }
            if !removed.is_empty() {
                parts.push(format!("turned off: {}", removed.join(", ")));
            }
            format!("features changed ({})", parts.join("; "))
        }
        Reason::ProfileChanged { setting, old, new } => {
            format!("profile setting {setting} changed ({old} -> {new})")
        }
        Reason::FlagsChanged {
            origin,
            added,
            removed,
        } => {
            let mut parts = Vec::new();
            if !added.is_empty() {
                parts.push(format!("added {}", added.join(" ")));
            }
            if !removed.is_empty() {
                parts.push(format!("removed {}", removed.join(" ")));
            }
            let what = match origin {
                FlagOrigin::Rustflags => "RUSTFLAGS changed",
                FlagOrigin::Lints => "lint flags from [lints] changed",
                FlagOrigin::BuildScript => "flags from the build script changed",
                FlagOrigin::Clippy => "Clippy's arguments changed",
                FlagOrigin::Other => "compiler flags changed",
            };
            format!("{what} ({})", parts.join("; "))
        }
        Reason::DependencyChanged {
            dependency,
            rebuilt,
            root_cause,
        } => {
            let mut s = match rebuilt {
                Some(r) => format!("because {r} rebuilt"),
                None => format!("because dependency `{dependency}` changed"),
            };
            if let Some(rc) = root_cause {
                s.push_str(&format!(", because {}", root_cause_text(rc)));
            }
            s
        }
        Reason::BuildScriptChanged => "the build script was rebuilt".into(),
    }
}

fn print_human(executed: &[ExplainedUnit], reporter: &Reporter) {
    reporter.with_human(|h| {
        if executed.is_empty() {
            h.status(
                "Explain",
                "nothing rebuilt: every action was fresh or cached",
            );
            return;
        }
        let roots: Vec<_> = executed.iter().filter(|u| u.root_cause).collect();
        let followers: Vec<_> = executed.iter().filter(|u| !u.root_cause).collect();
        // Units with the same own reasons (RUSTFLAGS, a profile change) are
        // listed once, unless -v asks for every unit.
        let mut groups: Vec<(Vec<String>, Vec<String>)> = Vec::new();
        for u in &roots {
            let own: Vec<String> = u
                .reasons
                .iter()
                .filter(|r| !matches!(r, Reason::DependencyChanged { .. }))
                .map(describe)
                .collect();
            let name = u.unit.clone();
            match groups
                .iter_mut()
                .find(|(o, _)| *o == own && h.verbose() == 0)
            {
                Some((_, names)) => names.push(name),
                None => groups.push((own, vec![name])),
            }
        }
        for (own, names) in &groups {
            let who = match names.len() {
                1 => names[0].clone(),
                n => format!("{} and {} more unit(s)", names[0], n - 1),
            };
            h.status("Rebuilt", &who);
            for r in own {
                h.line(&format!("             - {r}"));
            }
        }
        print_remote(h, executed);
        if !followers.is_empty() {
            h.status(
                "Rebuilt",
                &format!("{} more unit(s) only because of the above", followers.len()),
            );
            if h.verbose() > 0 {
                for u in &followers {
                    h.line(&format!("             {}:", u.unit));
                    for r in &u.reasons {
                        h.line(&format!("               - {}", describe(r)));
                    }
                }
            }
        }
    });
}
