//! Running one action: final argv from build-script results, key, fresh
//! check, cache lookup, execution, storing, uplifting.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use super::events::{BuildEvent, Diagnostic, Outcome};
use super::invoke::{execute_rustc, execute_script, Executed};
use super::script_output::{LinkArgTarget, ScriptOutput};
pub use super::stamp::{load_stamp, stamp_path, Stamp};
use super::stamp::{outputs_intact, refresh_moved, write_stamp};
use super::store::{HitSource, Manifest, MissInfo};
use super::ExecShared;
use crate::core::{Digest, RelPath};
use crate::fingerprint::key::{InputDigest, KeyComponents, KEY_SCHEMA_VERSION};
use crate::fingerprint::policy;
use crate::plan::action::{ActionKind, Needs};
use crate::plan::unit::Mode;
use crate::plan::Action;
use crate::workspace::model::CrateType;
use crate::workspace::model::TargetKind;

/// What dependents need from a finished (or metadata-ready) action.
#[derive(Clone, Debug)]
pub struct DepResult {
    /// Digest covering the `.rmeta` and its transitive inputs.
    pub meta: Digest,
    /// Digest covering all outputs and their transitive inputs.
    pub full: Digest,
    /// Parsed build-script output, for runs.
    pub script: Option<Arc<ScriptOutput>>,
}

/// Why an action ran rather than being a hit (input to `--explain`).
#[derive(Clone, Debug, Default)]
pub struct RunReason {
    /// The previous build's key components of this action, if any.
    pub previous: Option<KeyComponents>,
    /// The current components.
    pub current: Option<KeyComponents>,
    /// Cache miss details.
    pub miss: MissInfo,
}

/// Result of one action.
#[derive(Debug)]
pub struct Finished {
    /// Digests for dependents.
    pub result: DepResult,
    /// How.
    pub outcome: Outcome,
    /// Explain data.
    pub reason: RunReason,
    /// Why the result was not stored in the cache, if it was not.
    pub uncacheable: Option<String>,
}

/// An action failure (the build fails).
#[derive(Debug)]
pub struct Failure {
    /// rustc errors counted.
    pub errors: usize,
    /// Warnings counted.
    pub warnings: usize,
    /// Message.
    pub message: String,
}

/// Runs one action. `deps` is indexed like `action.deps`.
pub fn run(
    sh: &ExecShared,
    a: &Action,
    deps: &[DepResult],
    on_meta: &dyn Fn(DepResult),
) -> Result<Finished, Failure> {
    let started = Instant::now();
    let script_of = |id: crate::core::ActionId| -> Option<Arc<ScriptOutput>> {
        a.deps
            .iter()
            .position(|d| d.action == id)
            .and_then(|i| deps[i].script.clone())
    };
    // 1. Final argv/env from build-script results.
    let mut argv = a.argv.clone();
    let mut env = a.env.clone();
    let mut program = a.program.clone();
    let mut out_dirs_of_search: Vec<(PathBuf, Arc<ScriptOutput>)> = Vec::new();
    if a.kind == ActionKind::BuildScriptRun {
        for (id, links) in &a.script_inputs.links_metadata {
            if let Some(s) = script_of(*id) {
                for (k, v) in &s.metadata {
                    env.insert(
                        format!(
                            "DEP_{}_{}",
                            links.to_uppercase().replace('-', "_"),
                            k.to_uppercase().replace('-', "_")
                        ),
                        v.clone(),
                    );
                }
            }
        }
    } else {
        for id in &a.script_inputs.link_search {
            let s = script_of(*id).or_else(|| sh.script_output(*id));
            if let Some(s) = s {
                out_dirs_of_search.push((
                    sh.graph.actions[id.index()]
                        .out_dir
                        .clone()
                        .unwrap_or_default(),
                    s,
                ));
            }
        }
        for (od, s) in &out_dirs_of_search {
            for l in s.link_search_args(od) {
                argv.push("-L".into());
                argv.push(l);
            }
        }
        if let Some(own) = a.script_inputs.own.and_then(script_of) {
            if a.script_inputs.link_libs {
                for l in &own.link_libs {
                    argv.push("-l".into());
                    argv.push(l.clone());
                }
            }
            let mut link_args: Vec<&String> = own.link_args.iter().collect();
            for (t, arg) in &own.link_args_for {
                let applies = match t {
                    LinkArgTarget::Bins => {
                        a.target_kind == TargetKind::Bin && a.mode == Mode::Build
                    }
                    LinkArgTarget::Bin(n) => {
                        a.target_kind == TargetKind::Bin && &a.target_name == n
                    }
                    LinkArgTarget::Tests => a.target_kind == TargetKind::Test,
                    LinkArgTarget::Benches => a.target_kind == TargetKind::Bench,
                    LinkArgTarget::Examples => a.target_kind == TargetKind::Example,
                    LinkArgTarget::Cdylib => a.crate_types.contains(&CrateType::Cdylib),
                };
                if applies {
                    link_args.push(arg);
                }
            }
            for l in link_args {
                argv.push("-C".into());
                argv.push(format!("link-arg={l}"));
            }
            for c in &own.cfgs {
                argv.push("--cfg".into());
                argv.push(c.clone());
            }
            for c in &own.check_cfgs {
                argv.push("--check-cfg".into());
                argv.push(c.clone());
            }
            for (k, v) in &own.env {
                env.insert(k.clone(), v.clone());
            }
        }
    }

    // 2. Key components known before running.
    let norm = &sh.normalizer;
    let mut comps = KeyComponents {
        schema: KEY_SCHEMA_VERSION,
        toolchain: norm.normalize(&sh.toolchain_id),
        program: "rustc".into(),
        argv: key_argv(&argv).map(|s| norm.normalize(s)).collect(),
        env: policy::keyed_env(&env, norm),
        deps: Vec::new(),
        package: a.package_id.0.clone(),
        inputs: Vec::new(),
        tracked_env: BTreeMap::new(),
    };
    if a.is_member || a.package_id.0.starts_with("path+") {
        comps.package = format!("{}@{}", a.package_name, a.package_version);
    }
    for (d, r) in a.deps.iter().zip(deps) {
        let dep = &sh.graph.actions[d.action.index()];
        let label = d.extern_name.clone().unwrap_or_else(|| dep.display_name());
        let digest = if d.needs == Needs::Metadata {
            r.meta
        } else {
            r.full
        };
        if a.kind == ActionKind::BuildScriptRun && dep.kind == ActionKind::BuildScriptCompile {
            comps.program = format!("build-script:{}", r.full);
            if let Some(exe) = &dep.executable {
                program = exe.clone();
            }
        }
        comps.deps.push((label, digest));
    }
    let pre = comps.pre_key();

    // 3. Fresh check against the stamp, then the cache.
    let stamp = load_stamp(a);
    let mut reason = RunReason {
        previous: stamp.as_ref().map(|s| s.components.clone()),
        ..Default::default()
    };
    let manifest = match &stamp {
        Some(s) if s.pre == pre => Some(s.manifest.clone()),
        _ => sh.store.manifest(&pre),
    };
    if let Some(m) = &manifest {
        fill_inputs(sh, &mut comps, m, &env);
        let key = comps.key();
        // Whether the uplifted copies need linking again (a check-only run
        // must not write, so for it that means "not fresh").
        let fresh = stamp
            .as_ref()
            .filter(|s| s.key == key && outputs_intact(a, s, !sh.fresh_only))
            .map(|s| (s, uplift_needed(a)))
            .filter(|(_, relink)| !(sh.fresh_only && *relink));
        if let Some((s, relink)) = fresh {
            replay(sh, a, &s.diagnostics, s.script.as_ref());
            if relink {
                uplift(a)?;
            }
            if !sh.fresh_only {
                // Another action may link a blob this one's outputs share.
                restamp_at_finish(sh, a, key, !relink);
            }
            let result = DepResult {
                meta: s.meta,
                full: s.full,
                script: s.script.clone().map(Arc::new),
            };
            reason.current = Some(comps);
            return Ok(Finished {
                result,
                outcome: Outcome::Fresh,
                reason,
                uncacheable: None,
            });
        }
        if sh.fresh_only {
            return Err(not_fresh(a));
        }
        let (found, miss) = sh.store.lookup(&key);
        reason.miss = miss;
        if let Some((r, src)) = found {
            clean_outputs(a);
            match sh.store.materialize(&r, &a.output_root) {
                Ok(()) => {
                    let script = r
                        .meta
                        .get("script")
                        .and_then(|s| serde_json::from_str::<ScriptOutput>(s).ok())
                        .map(|s| s.map_strings(|x| sh.normalizer.expand_all(x)));
                    let diags: Vec<String> = r.stderr.lines().map(str::to_string).collect();
                    replay(sh, a, &diags, script.as_ref());
                    let (meta, full) = digests_of_result(a, &r, &comps);
                    // Links change the outputs' ctimes: stamp them after,
                    // and again once the build is over (the same blobs may
                    // be linked for other actions).
                    uplift(a)?;
                    write_stamp(
                        a,
                        pre,
                        key,
                        &comps,
                        m.clone(),
                        &r,
                        meta,
                        full,
                        script.clone(),
                        diags,
                    );
                    restamp_at_finish(sh, a, key, false);
                    reason.current = Some(comps);
                    return Ok(Finished {
                        result: DepResult {
                            meta,
                            full,
                            script: script.map(Arc::new),
                        },
                        outcome: if src == HitSource::Local {
                            Outcome::LocalHit
                        } else {
                            Outcome::RemoteHit
                        },
                        reason,
                        uncacheable: None,
                    });
                }
                Err(why) => {
                    sh.emit(BuildEvent::Warning(format!(
                        "cache entry for {} was unusable ({why}); rebuilding",
                        a.display_name()
                    )));
                    reason.miss.corrupt = Some(why);
                }
            }
        }
    }

    // 4. Execute.
    if sh.fresh_only {
        return Err(not_fresh(a));
    }
    sh.emit(BuildEvent::ActionStarted { id: a.id });
    clean_outputs(a);
    for o in &a.outputs {
        if let Some(p) = o.parent() {
            let _ = std::fs::create_dir_all(p);
        }
    }
    let exec = match a.kind {
        ActionKind::BuildScriptRun => execute_script(sh, a, &program, &env),
        _ => execute_rustc(sh, a, &argv, &env, deps, on_meta),
    }?;
    sh.test_hooks.after_execute(a);
    // 5. Manifest of what was read, full key, store.
    let manifest = exec.manifest.clone();
    fill_inputs(sh, &mut comps, &manifest, &env);
    if sh.strict && !exec.undeclared.is_empty() {
        return Err(Failure {
            errors: 0,
            warnings: exec.warnings,
            message: format!(
                "{} read files outside its declared inputs, so it cannot be cached correctly (--strict):\n  {}",
                a.display_name(),
                exec.undeclared.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join("\n  ")
            ),
        });
    }
    for p in &exec.undeclared {
        sh.emit(BuildEvent::Warning(format!(
            "{} read `{}`, which is outside its declared inputs",
            a.display_name(),
            p.display()
        )));
    }
    let key = comps.key();
    let mut meta = BTreeMap::new();
    if let Some(s) = &exec.script {
        let portable = s.map_strings(|x| sh.normalizer.normalize(x).into());
        meta.insert(
            "script".into(),
            serde_json::to_string(&portable).expect("script output serialises"),
        );
    }
    let files = output_files(a);
    let uncacheable = uncacheable_reason(a, &exec);
    let mut result = local_result(a, &files, meta);
    result.stderr = exec.diagnostics.join("\n");
    if uncacheable.is_none() {
        if result.outputs.len() == files.len() {
            let (stamp_file, root) = (stamp_path(a), a.output_root.clone());
            sh.store.save_in_background(
                key,
                a.output_root.clone(),
                result.clone(),
                // Incremental objects are correct but not reproducible: good
                // for this machine, not for sharing.
                !is_incremental(&argv),
                move |adopted| refresh_moved(&stamp_file, &root, key, &adopted),
            );
        } else {
            sh.emit(BuildEvent::Warning(format!(
                "{}: an output is outside `{}` or unreadable; not cached",
                a.display_name(),
                a.output_root.display()
            )));
        }
        sh.store.put_manifest(&pre, &manifest);
    }
    let (m_dig, f_dig) = digests_of_result(a, &result, &comps);
    // Links change the outputs' ctimes: stamp them after.
    uplift(a)?;
    write_stamp(
        a,
        pre,
        key,
        &comps,
        manifest,
        &result,
        m_dig,
        f_dig,
        exec.script.clone(),
        exec.diagnostics,
    );
    reason.current = Some(comps);
    let _ = started;
    Ok(Finished {
        result: DepResult {
            meta: m_dig,
            full: f_dig,
            script: exec.script.map(Arc::new),
        },
        outcome: Outcome::Executed,
        reason,
        uncacheable,
    })
}

/// Why an executed action's result must not be cached, if it must not.
fn uncacheable_reason(a: &Action, exec: &Executed) -> Option<String> {
    if !exec.undeclared.is_empty() {
        return Some(format!(
            "{} read files outside its declared inputs",
            a.display_name()
        ));
    }
    None
}

/// Whether rustc runs with incremental compilation.
fn is_incremental(argv: &[String]) -> bool {
    argv.iter().any(|x| x.starts_with("incremental="))
}

/// The argv as keyed: without `-C incremental=DIR`, an execution strategy
/// (like the rustc wrapper) that must not change what rustc produces.
fn key_argv(argv: &[String]) -> impl Iterator<Item = &String> {
    let mut skip = false;
    argv.iter()
        .enumerate()
        .filter(move |(i, x)| {
            if std::mem::take(&mut skip) {
                return false;
            }
            if *x == "-C"
                && argv
                    .get(i + 1)
                    .is_some_and(|n| n.starts_with("incremental="))
            {
                skip = true;
                return false;
            }
            true
        })
        .map(|(_, x)| x)
}

/// The result of an executed action: its outputs hashed in place.
fn local_result(
    a: &Action,
    files: &[PathBuf],
    meta: BTreeMap<String, String>,
) -> crate::cache::ActionResult {
    let mut outputs = Vec::new();
    for f in files {
        let (Some(path), Ok((digest, size))) =
            (RelPath::strip(f, &a.output_root), Digest::of_file(f))
        else {
            continue;
        };
        outputs.push(crate::cache::OutputFile {
            path,
            digest,
            size,
            executable: super::store::is_executable(f),
        });
    }
    outputs.sort_by(|x, y| x.path.cmp(&y.path));
    crate::cache::ActionResult {
        outputs,
        meta,
        ..Default::default()
    }
}

fn fill_inputs(
    sh: &ExecShared,
    comps: &mut KeyComponents,
    m: &Manifest,
    env: &BTreeMap<String, String>,
) {
    let paths: Vec<PathBuf> = m.files.iter().map(|f| sh.normalizer.expand(f)).collect();
    let digests = sh.file_states.digest_all(&paths);
    comps.inputs = m
        .files
        .iter()
        .zip(digests)
        .map(|(p, d)| InputDigest {
            path: p.clone(),
            digest: d,
        })
        .collect();
    comps.tracked_env = policy::keyed_tracked_env(
        m.env.iter().map(|k| {
            let value = env.get(k).or_else(|| sh.env.get(k));
            (k.as_str(), value.map(String::as_str))
        }),
        &sh.normalizer,
    );
}

fn clean_outputs(a: &Action) {
    for o in &a.outputs {
        let _ = std::fs::remove_file(o);
    }
    if let Some(od) = &a.out_dir {
        let _ = std::fs::remove_dir_all(od);
    }
}

/// Every file the action produced.
fn output_files(a: &Action) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = a.outputs.iter().filter(|o| o.is_file()).cloned().collect();
    if let Some(od) = &a.out_dir {
        for e in walkdir::WalkDir::new(od).into_iter().flatten() {
            if e.file_type().is_file() {
                files.push(e.into_path());
            }
        }
    }
    files.sort();
    files
}

fn digests_of_result(
    a: &Action,
    r: &crate::cache::ActionResult,
    comps: &KeyComponents,
) -> (Digest, Digest) {
    let full = {
        let mut h = blake3::Hasher::new();
        h.update(b"full");
        h.update(consumed_digest(a, r).as_bytes());
        for (_, d) in &comps.deps {
            h.update(d.as_bytes());
        }
        Digest::from_bytes(*h.finalize().as_bytes())
    };
    let meta = match &a.rmeta {
        Some(rm) => {
            let rel = RelPath::strip(rm, &a.output_root);
            let rmeta_digest = r
                .outputs
                .iter()
                .find(|o| Some(&o.path) == rel.as_ref())
                .map(|o| o.digest);
            match rmeta_digest {
                Some(d) => meta_digest(d, comps),
                None => full,
            }
        }
        None => full,
    };
    (meta, full)
}

/// A digest of what dependents consume of a result: every output except
/// the files only hbuild reads (dep-info, a build script's raw stdout and
/// stderr), which name the checkout's paths, plus a build script's parsed
/// directives in their portable form. Two checkouts that produce the same
/// consumable bytes thus give their dependents the same keys, whichever of
/// them stored the entry first.
fn consumed_digest(a: &Action, r: &crate::cache::ActionResult) -> Digest {
    let mut private: Vec<&PathBuf> = a.dep_info.iter().collect();
    if a.kind == ActionKind::BuildScriptRun {
        private.extend(&a.outputs);
    }
    let private: Vec<RelPath> = private
        .into_iter()
        .filter_map(|p| RelPath::strip(p, &a.output_root))
        .collect();
    let mut h = blake3::Hasher::new();
    for o in r.outputs.iter().filter(|o| !private.contains(&o.path)) {
        h.update(o.path.as_str().as_bytes());
        h.update(&[0, o.executable as u8]);
        h.update(o.digest.as_bytes());
    }
    if let Some(script) = r.meta.get("script") {
        h.update(b"\0script\0");
        h.update(script.as_bytes());
    }
    Digest::from_bytes(*h.finalize().as_bytes())
}

pub(super) fn meta_digest(rmeta: Digest, comps: &KeyComponents) -> Digest {
    let mut h = blake3::Hasher::new();
    h.update(b"meta");
    h.update(rmeta.as_bytes());
    for (_, d) in &comps.deps {
        h.update(d.as_bytes());
    }
    Digest::from_bytes(*h.finalize().as_bytes())
}

/// The failure of a check-only run ([`super::ExecOptions::fresh_only`]).
fn not_fresh(a: &Action) -> Failure {
    Failure {
        errors: 0,
        warnings: 0,
        message: format!("{} is not fresh", a.display_name()),
    }
}

/// Whether an uplifted copy is missing or is not the output itself: a no-op
/// build then leaves the target dir untouched, so that a watcher sees no
/// change.
fn uplift_needed(a: &Action) -> bool {
    use std::os::unix::fs::MetadataExt;
    a.uplift.iter().any(
        |u| match (std::fs::metadata(&u.from), std::fs::symlink_metadata(&u.to)) {
            (Ok(f), Ok(t)) => f.dev() != t.dev() || f.ino() != t.ino(),
            _ => true,
        },
    )
}

/// Brings the action's stamp up to date at the end of the build with what
/// later hard links did to its outputs' ctimes; `if_linked`: only if the
/// build linked a file into or out of the cache.
fn restamp_at_finish(sh: &ExecShared, a: &Action, key: crate::core::ActionKey, if_linked: bool) {
    let (stamp_file, root) = (stamp_path(a), a.output_root.clone());
    let step = move || refresh_moved(&stamp_file, &root, key, &[]);
    if if_linked {
        sh.store.at_finish_if_linked(step);
    } else {
        sh.store.at_finish(step);
    }
}

/// Copies internal outputs to Cargo's paths (hard link, else copy). A
/// file that cannot be put in place fails the action: the build must not
/// succeed without the artifact a script will run.
fn uplift(a: &Action) -> Result<(), Failure> {
    for u in &a.uplift {
        if let Some(d) = u.to.parent() {
            // An error here shows as the link's and the copy's below.
            let _ = std::fs::create_dir_all(d);
        }
        // Never write through an existing link: remove first, as Cargo does.
        let _ = std::fs::remove_file(&u.to);
        let Err(link) = std::fs::hard_link(&u.from, &u.to) else {
            continue;
        };
        if let Err(copy) = std::fs::copy(&u.from, &u.to) {
            return Err(Failure {
                errors: 0,
                warnings: 0,
                message: format!(
                    "failed to link or copy `{}` to `{}`: {copy} (hard link: {link})",
                    u.from.display(),
                    u.to.display()
                ),
            });
        }
    }
    Ok(())
}

fn replay(sh: &ExecShared, a: &Action, diags: &[String], script: Option<&ScriptOutput>) {
    for d in diags {
        if let Some(diag) = parse_diagnostic(d) {
            sh.emit(BuildEvent::Diagnostic { id: a.id, diag });
        }
    }
    if let (Some(s), Some(od)) = (script, &a.out_dir) {
        sh.emit(BuildEvent::ScriptFinished {
            id: a.id,
            output: s.clone(),
            out_dir: od.clone(),
        });
    }
}

pub(super) fn parse_diagnostic(line: &str) -> Option<Diagnostic> {
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    if v.get("$message_type").and_then(|t| t.as_str()) != Some("diagnostic") {
        return None;
    }
    Some(Diagnostic::Rustc {
        json: line.to_string(),
        rendered: v
            .get("rendered")
            .and_then(|r| r.as_str())
            .unwrap_or("")
            .to_string(),
        level: v
            .get("level")
            .and_then(|r| r.as_str())
            .unwrap_or("")
            .to_string(),
    })
}

#[cfg(test)]
mod key_tests {
    use super::*;

    #[test]
    fn incremental_dir_is_not_keyed() {
        let argv: Vec<String> = [
            "--crate-name",
            "a",
            "-C",
            "incremental=/t/inc",
            "-C",
            "debuginfo=2",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let keyed: Vec<&String> = key_argv(&argv).collect();
        assert_eq!(keyed, ["--crate-name", "a", "-C", "debuginfo=2"]);
        assert!(is_incremental(&argv));
        assert!(!is_incremental(&argv[..2]));
    }
}
