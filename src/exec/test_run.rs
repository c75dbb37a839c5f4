//! Running a test binary or a library's doctests: the process with its
//! output captured to the action's files, the declared runtime inputs its
//! key covers, and the files it read outside them.

use std::fs::File;
use std::path::{Component, Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

use super::events::{BuildEvent, Outcome};
use super::invoke::Executed;
use super::observe;
use super::outcome::Failure;
use super::store::Manifest;
use super::ExecShared;
use crate::plan::action::TestRunInfo;
use crate::plan::Action;

/// How test runs see which files they open: the `LD_PRELOAD` shim of
/// [`super::observe`], built on first use.
pub struct Observer {
    /// Where the shim is built, when the build has test runs.
    dir: Option<PathBuf>,
    /// The C compiler (`CC`), if set.
    cc: Option<PathBuf>,
    shim: OnceLock<Result<observe::Shim, String>>,
    /// Whether unavailability was said already (once per build).
    told: AtomicBool,
}

impl Observer {
    /// The observer of a build (`has_tests`: whether it runs any test).
    pub(super) fn new(has_tests: bool, target_dir: &Path, cc: Option<PathBuf>) -> Self {
        Observer {
            dir: has_tests.then(|| target_dir.join("hbuild").join("tools")),
            cc,
            shim: OnceLock::new(),
            told: AtomicBool::new(false),
        }
    }

    /// The shim, or None (said once) when it cannot be had.
    fn shim(&self, sh: &ExecShared) -> Option<&observe::Shim> {
        let dir = self.dir.as_ref()?;
        let got = self
            .shim
            .get_or_init(|| match observe::prepare(dir, self.cc.as_deref()) {
                observe::Availability::Available(s) => Ok(s),
                observe::Availability::Unavailable(e) => Err(e.to_string()),
            });
        match got {
            Ok(s) => Some(s),
            Err(why) => {
                self.tell_unavailable(sh, why);
                None
            }
        }
    }

    /// Says once that test runs are cached on their declared inputs alone.
    fn tell_unavailable(&self, sh: &ExecShared, why: &str) {
        if !self.told.swap(true, Ordering::Relaxed) {
            sh.emit(BuildEvent::Warning(format!(
                "cannot observe which files tests read ({why}); test results are cached on their declared inputs alone"
            )));
        }
    }
}

/// The files a test run is keyed on: its package's files and what its
/// `test-inputs` patterns match now (so a new matching file changes the
/// key).
pub(super) fn declared_files(a: &Action) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = a.inputs.iter().map(|i| i.path.clone()).collect();
    if let Some(t) = &a.test {
        for g in &t.input_globs {
            files.extend(expand_glob(g));
        }
    }
    files.sort();
    files.dedup();
    files
}

/// The manifest of a test run: its declared files, normalised.
pub(super) fn declared_manifest(sh: &ExecShared, a: &Action) -> Manifest {
    Manifest {
        files: declared_files(a)
            .iter()
            .map(|p| sh.normalizer.path(p))
            .collect(),
        env: Vec::new(),
        embeds_location: false,
    }
}

/// The files under the pattern's literal directory that it matches.
fn expand_glob(pattern: &str) -> Vec<PathBuf> {
    let pattern = super::observe::path::normalize(Path::new(pattern));
    let Ok(glob) = globset::GlobBuilder::new(&pattern.to_string_lossy())
        .literal_separator(true)
        .build()
    else {
        return Vec::new();
    };
    let matcher = glob.compile_matcher();
    let base: PathBuf = pattern
        .components()
        .take_while(|c| {
            !c.as_os_str()
                .to_string_lossy()
                .contains(['*', '?', '[', '{'])
        })
        .collect();
    if base.is_file() {
        return vec![base];
    }
    walkdir::WalkDir::new(&base)
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file() && matcher.is_match(e.path()))
        .map(|e| e.path().to_path_buf())
        .collect()
}

/// Runs the test process of `a` (`program` with `argv` and `env`), its
/// output going to the action's two output files. A failed run reports
/// its output and fails.
pub(super) fn execute_test(
    sh: &ExecShared,
    a: &Action,
    program: &Path,
    argv: &[String],
    env: &std::collections::BTreeMap<String, String>,
) -> Result<Executed, Failure> {
    let io_failure = |what: &str, e: std::io::Error| {
        Failure::other(format!("{what} for {}: {e}", a.display_name()))
    };
    let (out_path, err_path) = (&a.outputs[0], &a.outputs[1]);
    let stdout =
        File::create(out_path).map_err(|e| io_failure("cannot create the output file", e))?;
    let stderr =
        File::create(err_path).map_err(|e| io_failure("cannot create the output file", e))?;
    let mut cmd = Command::new(program);
    cmd.args(argv).current_dir(&a.cwd);
    for k in &a.env_remove {
        cmd.env_remove(k);
    }
    cmd.envs(env)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr);
    sh.jobserver.configure(&mut cmd);
    let log = out_path.with_file_name("access.log");
    let _ = std::fs::remove_file(&log);
    let shim = sh.observer.shim(sh);
    if let Some(s) = shim {
        let inherited = env.get("LD_PRELOAD").or_else(|| sh.env.get("LD_PRELOAD"));
        s.instrument(&mut cmd, &log, inherited.map(String::as_str));
    }
    let status = cmd.status().map_err(|e| Failure {
        errors: 0,
        warnings: 0,
        message: format!("could not execute process `{}`: {e}", program.display()),
        exit_code: None,
    })?;
    emit_output(sh, a, Outcome::Executed);
    if !status.success() {
        return Err(Failure {
            errors: 0,
            warnings: 0,
            message: format!(
                "process didn't exit successfully: `{}` ({status})",
                program.display()
            ),
            exit_code: status.code(),
        });
    }
    let undeclared = match shim {
        Some(_) => undeclared_reads(sh, a, program, env, &log),
        None => Vec::new(),
    };
    Ok(Executed {
        manifest: declared_manifest(sh, a),
        undeclared,
        script: None,
        diagnostics: Vec::new(),
        warnings: 0,
        remote: None,
        left: Vec::new(),
    })
}

/// The one warning about a test run that read `files` outside its
/// declared inputs: which files, and the declaration that would fix it.
/// Files in the workspace are suggested relative to the package, others
/// (`~/.gitconfig`) as they are.
pub(super) fn undeclared_warning(
    a: &Action,
    t: &TestRunInfo,
    files: &[PathBuf],
    workspace: &Path,
) -> String {
    let root = a.manifest_path.parent().unwrap_or(Path::new("/"));
    let listed: Vec<String> = files.iter().map(|f| format!("  {}", f.display())).collect();
    let patterns: Vec<String> = files
        .iter()
        .map(|f| match f.starts_with(workspace) {
            true => format!("\"{}\"", relative(f, root).display()),
            false => format!("\"{}\"", f.display()),
        })
        .collect();
    let what = if t.doc {
        format!("the doctests of `{}`", a.package_name)
    } else {
        format!("test `{}` of `{}`", t.label, a.package_name)
    };
    format!(
        "{what} read files outside its declared inputs, so its result is not cached:\n{}\n  = help: declare them in `{}`:\n          [package.metadata.hbuild]\n          test-inputs = [{}]",
        listed.join("\n"),
        a.manifest_path.display(),
        patterns.join(", ")
    )
}

/// `path` relative to `base` (both absolute), with `..` where needed.
fn relative(path: &Path, base: &Path) -> PathBuf {
    let p: Vec<Component> = path.components().collect();
    let b: Vec<Component> = base.components().collect();
    let common = p.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut out = PathBuf::new();
    for _ in common..b.len() {
        out.push("..");
    }
    for c in &p[common..] {
        out.push(c.as_os_str());
    }
    out
}

/// What a run read outside its declared inputs, from its access log.
/// A log that cannot be read, or one without the test binary itself (a
/// static binary the shim cannot enter), means the run was not observed:
/// it then counts as having read something undeclared, and is not cached.
fn undeclared_reads(
    sh: &ExecShared,
    a: &Action,
    program: &Path,
    env: &std::collections::BTreeMap<String, String>,
    log: &Path,
) -> Vec<PathBuf> {
    let unobserved = |why: &str| vec![PathBuf::from(format!("({why})"))];
    let opened = match observe::read_log(log) {
        Ok(o) => o,
        Err(e) => return unobserved(&format!("its file accesses could not be observed: {e}")),
    };
    let doc = a.test.as_ref().is_some_and(|t| t.doc);
    let me = std::fs::canonicalize(program).unwrap_or_else(|_| program.to_path_buf());
    if !doc && !opened.iter().any(|p| *p == me || p == program) {
        return unobserved("a statically linked test binary cannot be observed");
    }
    let mut exempt = vec![sh.sysroot.clone(), sh.target_dir.clone()];
    exempt.extend(sh.cargo_home.clone());
    for var in ["TMPDIR", "RUSTUP_HOME"] {
        exempt.extend(env.get(var).or_else(|| sh.env.get(var)).map(PathBuf::from));
    }
    let policy =
        observe::AccessPolicy::new(exempt, declared_files(a).into_iter().collect(), Vec::new())
            .watching(vec![sh.graph.workspace_root.clone()]);
    let mut undeclared = policy.undeclared(&opened);
    undeclared.extend(unkeyed_artifacts(sh, a, &opened));
    undeclared.sort();
    undeclared.dedup();
    undeclared
}

/// The files a run opened in the directories of uplifted artifacts
/// (`target/debug/`) that are not outputs of its dependencies: another
/// package's binary, or one left by an earlier build, which the key does
/// not cover (the target dir is otherwise exempt: its files are keyed
/// outputs or scratch).
fn unkeyed_artifacts(sh: &ExecShared, a: &Action, opened: &[PathBuf]) -> Vec<PathBuf> {
    let actions = &sh.graph.actions;
    // `target/debug/` (and `target/<triple>/debug/`): where binaries are
    // uplifted, and the parent of where test binaries are linked.
    let dirs: std::collections::BTreeSet<&Path> = actions
        .iter()
        .flat_map(|x| &x.uplift)
        .filter_map(|u| u.to.parent())
        .filter_map(|d| match d.ends_with("deps") || d.ends_with("examples") {
            true => d.parent(),
            false => Some(d),
        })
        .collect();
    let keyed: std::collections::BTreeSet<&PathBuf> = a
        .deps
        .iter()
        .flat_map(|d| &actions[d.action.index()].uplift)
        .map(|u| &u.to)
        .collect();
    opened
        .iter()
        .filter(|p| p.parent().is_some_and(|d| dirs.contains(d)) && !keyed.contains(p))
        .cloned()
        .collect()
}

/// Reports a test run's captured output, as it ran or was replayed.
pub(super) fn emit_output(sh: &ExecShared, a: &Action, outcome: Outcome) {
    let read = |p: Option<&PathBuf>| {
        p.and_then(|p| std::fs::read(p).ok())
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    };
    sh.emit(BuildEvent::TestOutput {
        id: a.id,
        outcome,
        stdout: read(a.outputs.first()),
        stderr: read(a.outputs.get(1)),
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_climb_out_of_the_package() {
        assert_eq!(
            relative(Path::new("/w/shared/x.txt"), Path::new("/w/pkg")),
            PathBuf::from("../shared/x.txt")
        );
        assert_eq!(
            relative(Path::new("/w/pkg/tests/d.txt"), Path::new("/w/pkg")),
            PathBuf::from("tests/d.txt")
        );
    }

    #[test]
    fn globs_match_below_their_literal_directory() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        std::fs::create_dir_all(root.join("pkg")).unwrap();
        std::fs::create_dir_all(root.join("data/sub")).unwrap();
        std::fs::write(root.join("data/a.txt"), "a").unwrap();
        std::fs::write(root.join("data/sub/b.txt"), "b").unwrap();
        std::fs::write(root.join("data/sub/c.json"), "c").unwrap();
        let pat = |p: &str| root.join("pkg").join(p).display().to_string();
        let mut all = expand_glob(&pat("../data/**"));
        all.sort();
        assert_eq!(
            all,
            vec![
                root.join("data/a.txt"),
                root.join("data/sub/b.txt"),
                root.join("data/sub/c.json")
            ]
        );
        assert_eq!(
            expand_glob(&pat("../data/*.txt")),
            vec![root.join("data/a.txt")]
        );
        assert_eq!(
            expand_glob(&pat("../data/sub/c.json")),
            vec![root.join("data/sub/c.json")]
        );
        assert!(expand_glob(&pat("../missing/**")).is_empty());
    }
}
