//! The input root's layout and the wrapper script that runs an action in
//! it. Each root a key knows by placeholder has a directory of its own in
//! the input root; the worker's absolute path of the root is only known
//! when the action runs, so a small POSIX `sh` script sets the
//! placeholders' variables from its working directory and runs the
//! program with the action's arguments and environment, written in their
//! placeholder form. The paths rustc sees are then
//! `<input root>/ws/src/lib.rs` and the like, and the action's own
//! `--remap-path-prefix` flags, rewritten the same way, give outputs with
//! the same bytes as a local build's.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::fingerprint::{NormalizedText, PathNormalizer};

/// Each placeholder of [`PathNormalizer`] and its directory in the input
/// root.
pub(super) const ROOTS: [(&str, &str); 4] = [
    ("WORKSPACE", "ws"),
    ("TARGET_DIR", "target"),
    ("SYSROOT", "toolchain"),
    ("CARGO_HOME", "cargo"),
];

/// The wrapper script's place in the input root.
pub(super) const SCRIPT: &str = ".hbuild/run.sh";
/// Where the digest helper (`hbuild-digest`) goes in the input root.
pub(super) const HELPER: &str = ".hbuild/digest";
/// Where the script writes what the helper reports (an output).
pub(super) const DIGESTS_FILE: &str = ".hbuild/digests";
/// Where the script writes the input root's absolute path on the worker
/// (an output), so that what the action reports (dep-info) can be mapped
/// back to this machine's paths.
pub(super) const ROOT_FILE: &str = ".hbuild/root";

/// The input-root path of a local path under one of the known roots.
pub(super) fn in_root(norm: &PathNormalizer, p: &Path) -> Option<String> {
    let t = norm.path(p);
    for (name, dir) in ROOTS {
        let ph = format!("${{{name}}}");
        if let Some(rest) = t.strip_prefix(ph.as_str()) {
            if rest.is_empty() {
                return Some(dir.to_string());
            }
            if let Some(rest) = rest.strip_prefix('/') {
                return Some(format!("{dir}/{rest}"));
            }
        }
    }
    None
}

/// `text` as one shell word: literal parts single-quoted, placeholders as
/// the variables the script sets.
pub(super) fn shell_word(text: &NormalizedText) -> String {
    let mut out = String::new();
    let mut rest: &str = text;
    while !rest.is_empty() {
        let next = ROOTS
            .iter()
            .filter_map(|(name, _)| {
                let ph = format!("${{{name}}}");
                rest.find(&ph).map(|i| (i, ph))
            })
            .min_by_key(|(i, _)| *i);
        match next {
            Some((i, ph)) => {
                if i > 0 {
                    out.push_str(&single_quoted(&rest[..i]));
                }
                out.push('"');
                out.push_str(&ph);
                out.push('"');
                rest = &rest[i + ph.len()..];
            }
            None => {
                out.push_str(&single_quoted(rest));
                rest = "";
            }
        }
    }
    if out.is_empty() {
        out.push_str("''");
    }
    out
}

fn single_quoted(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// What the script runs.
pub(super) struct ScriptCall<'a> {
    /// The program, a path in the input root.
    pub(super) program: &'a str,
    /// Its arguments.
    pub(super) argv: &'a [String],
    /// Its environment (all of it: a worker inherits nothing else).
    pub(super) env: &'a BTreeMap<String, String>,
    /// Its working directory, on this machine.
    pub(super) cwd: &'a Path,
    /// Directories to make before it runs (a build script's OUT_DIR).
    pub(super) mkdirs: &'a [PathBuf],
    /// Input-root paths of outputs whose digests the helper at [`HELPER`]
    /// reports into [`DIGESTS_FILE`] once the program succeeded (builds
    /// without the bytes), if any.
    pub(super) digest: Option<&'a [String]>,
}

/// The wrapper script of `call`; an error names a value that cannot be
/// passed (a working directory outside the known roots).
pub(super) fn script(norm: &PathNormalizer, call: &ScriptCall<'_>) -> Result<String, String> {
    let mut s = String::from("R=$(pwd -P) || exit 125\n");
    for (name, dir) in ROOTS {
        s.push_str(&format!("{name}=\"$R/{dir}\"\n"));
    }
    s.push_str(&format!(
        "printf '%s\\n' \"$R\" > \"$R/{ROOT_FILE}\" || exit 125\n"
    ));
    // Names the shell cannot export (`CARGO_BIN_EXE_app-cli`) go through
    // `env`, which takes any name.
    let mut odd = Vec::new();
    for (k, v) in call.env {
        // A binary's path for a test to start at run time, never read
        // while compiling: this machine's, as a local compile bakes it.
        let value = if k.starts_with("CARGO_BIN_EXE_") {
            single_quoted(v)
        } else {
            shell_word(&norm.normalize(v))
        };
        if is_name(k) {
            s.push_str(&format!("export {k}={value}\n"));
        } else if k.is_empty() || k.contains('=') || k.contains('\0') {
            return Err(format!("the variable name `{k}` cannot be passed"));
        } else {
            odd.push(format!("{}{value}", single_quoted(&format!("{k}="))));
        }
    }
    let cwd = in_root(norm, call.cwd).ok_or_else(|| {
        format!(
            "the working directory `{}` is outside the workspace, target dir, cargo home and toolchain",
            call.cwd.display()
        )
    })?;
    for d in call.mkdirs {
        let word = shell_word(&norm.path(d));
        s.push_str(&format!("mkdir -p {word} || exit 125\n"));
    }
    s.push_str(&format!("cd \"$R\"/{} || exit 125\n", single_quoted(&cwd)));
    if call.digest.is_none() {
        s.push_str("exec ");
    }
    if !odd.is_empty() {
        s.push_str(&format!("env {} ", odd.join(" ")));
    }
    s.push_str(&format!("\"$R\"/{}", single_quoted(call.program)));
    for arg in call.argv {
        s.push_str(" \\\n  ");
        s.push_str(&shell_word(&norm.normalize(arg)));
    }
    s.push('\n');
    if let Some(files) = call.digest {
        // The program's status is the action's; the digests only follow
        // a success, and failing to write them is the wrapper's failure.
        s.push_str("s=$?\n[ \"$s\" -eq 0 ] || exit \"$s\"\n");
        s.push_str(&format!(
            "cd \"$R\" && \"$R\"/{} \"$R\"",
            single_quoted(HELPER)
        ));
        for root in norm.checkout_roots() {
            s.push_str(&format!(" --local {}", single_quoted(root)));
        }
        s.push_str(" --");
        for f in files {
            s.push_str(&format!(" {}", single_quoted(f)));
        }
        s.push_str(&format!(" > \"$R/{DIGESTS_FILE}\" || exit 125\n"));
    }
    Ok(s)
}

fn is_name(k: &str) -> bool {
    !k.is_empty()
        && !k.starts_with(|c: char| c.is_ascii_digit())
        && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Maps text a remote action wrote (dep-info, diagnostics) back to this
/// machine: `<root on the worker>/ws/...` becomes the workspace's path.
pub(super) struct BackMap {
    pairs: Vec<(String, String)>,
}

impl BackMap {
    /// For the input root `root` on the worker.
    pub(super) fn new(norm: &PathNormalizer, root: &str) -> Self {
        let mut pairs: Vec<(String, String)> = ROOTS
            .iter()
            .map(|(name, dir)| {
                let local = norm.expand(&norm.normalize(&format!("${{{name}}}")));
                (format!("{root}/{dir}"), local.display().to_string())
            })
            .filter(|(_, local)| !local.starts_with('$'))
            .collect();
        pairs.sort_by_key(|p| std::cmp::Reverse(p.0.len()));
        BackMap { pairs }
    }

    /// `text` with the worker's root paths replaced.
    pub(super) fn apply(&self, text: &str) -> String {
        let mut out = text.to_string();
        for (from, to) in &self.pairs {
            if out.contains(from.as_str()) {
                out = out.replace(from.as_str(), to);
            }
        }
        out
    }

    /// The local path of an input-root path (`target/debug/x`).
    pub(super) fn local_path(&self, root: &str, rel: &str) -> Option<PathBuf> {
        let full = format!("{root}/{rel}");
        let mapped = self.apply(&full);
        (mapped != full).then(|| PathBuf::from(mapped))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm() -> PathNormalizer {
        PathNormalizer::new(
            Path::new("/w/app"),
            Path::new("/w/app/target"),
            Some(Path::new("/home/u/.cargo")),
            Path::new("/home/u/.rustup/toolchains/stable"),
        )
    }

    #[test]
    fn local_paths_map_to_their_root_directories() {
        let n = norm();
        let m = |p: &str| in_root(&n, Path::new(p));
        assert_eq!(m("/w/app/src/lib.rs").as_deref(), Some("ws/src/lib.rs"));
        assert_eq!(
            m("/w/app/target/hbuild/debug/deps/liba.rlib").as_deref(),
            Some("target/hbuild/debug/deps/liba.rlib")
        );
        assert_eq!(
            m("/home/u/.rustup/toolchains/stable/bin/rustc").as_deref(),
            Some("toolchain/bin/rustc")
        );
        assert_eq!(m("/w/app").as_deref(), Some("ws"));
        assert_eq!(m("/usr/bin/cc"), None);
        assert_eq!(m("/w/app-other/x"), None);
    }

    #[test]
    fn words_quote_literals_and_expand_roots() {
        let n = norm();
        let w = |s: &str| shell_word(&n.normalize(s));
        assert_eq!(
            w("--remap-path-prefix=/w/app=."),
            r#"'--remap-path-prefix='"${WORKSPACE}"'=.'"#
        );
        assert_eq!(w("/w/app/target/x"), r#""${TARGET_DIR}"'/x'"#);
        assert_eq!(w("it's $HOME `x`"), r#"'it'\''s $HOME `x`'"#);
        assert_eq!(w(""), "''");
    }

    #[test]
    fn the_script_sets_the_roots_then_runs_the_program_in_its_directory() {
        let n = norm();
        let env = BTreeMap::from([
            ("CARGO_MANIFEST_DIR".to_string(), "/w/app".to_string()),
            ("CARGO_PKG_NAME".to_string(), "app".to_string()),
        ]);
        let argv = vec![
            "--crate-name".to_string(),
            "app".into(),
            "src/lib.rs".into(),
        ];
        let s = script(
            &n,
            &ScriptCall {
                program: "toolchain/bin/rustc",
                argv: &argv,
                env: &env,
                cwd: Path::new("/w/app"),
                mkdirs: &[PathBuf::from("/w/app/target/out")],
                digest: None,
            },
        )
        .unwrap();
        assert_eq!(
            s,
            "R=$(pwd -P) || exit 125\n\
             WORKSPACE=\"$R/ws\"\n\
             TARGET_DIR=\"$R/target\"\n\
             SYSROOT=\"$R/toolchain\"\n\
             CARGO_HOME=\"$R/cargo\"\n\
             printf '%s\\n' \"$R\" > \"$R/.hbuild/root\" || exit 125\n\
             export CARGO_MANIFEST_DIR=\"${WORKSPACE}\"\n\
             export CARGO_PKG_NAME='app'\n\
             mkdir -p \"${TARGET_DIR}\"'/out' || exit 125\n\
             cd \"$R\"/'ws' || exit 125\n\
             exec \"$R\"/'toolchain/bin/rustc' \\\n  '--crate-name' \\\n  'app' \\\n  'src/lib.rs'\n"
        );
        let outside = script(
            &n,
            &ScriptCall {
                program: "toolchain/bin/rustc",
                argv: &argv,
                env: &env,
                cwd: Path::new("/elsewhere"),
                mkdirs: &[],
                digest: None,
            },
        );
        assert!(outside.unwrap_err().contains("`/elsewhere` is outside"));
    }

    #[test]
    fn names_the_shell_cannot_export_go_through_env() {
        let n = norm();
        let env = BTreeMap::from([(
            "CARGO_BIN_EXE_app-cli".to_string(),
            "/w/app/target/debug/app-cli".to_string(),
        )]);
        let s = script(
            &n,
            &ScriptCall {
                program: "toolchain/bin/rustc",
                argv: &[],
                env: &env,
                cwd: Path::new("/w/app"),
                mkdirs: &[],
                digest: None,
            },
        )
        .unwrap();
        assert!(
            s.ends_with(
                "exec env 'CARGO_BIN_EXE_app-cli=''/w/app/target/debug/app-cli' \"$R\"/'toolchain/bin/rustc'\n"
            ),
            "{s}"
        );
    }

    #[test]
    fn with_digests_the_script_reports_them_after_a_success() {
        let n = norm();
        let files = vec!["target/deps/liba.rlib".to_string()];
        let s = script(
            &n,
            &ScriptCall {
                program: "toolchain/bin/rustc",
                argv: &[],
                env: &BTreeMap::new(),
                cwd: Path::new("/w/app"),
                mkdirs: &[],
                digest: Some(&files),
            },
        )
        .unwrap();
        assert!(
            s.ends_with(
                "cd \"$R\"/'ws' || exit 125\n\
                 \"$R\"/'toolchain/bin/rustc'\n\
                 s=$?\n\
                 [ \"$s\" -eq 0 ] || exit \"$s\"\n\
                 cd \"$R\" && \"$R\"/'.hbuild/digest' \"$R\" --local '/home/u/.cargo' \
                 --local '/w/app/target' --local '/w/app' -- 'target/deps/liba.rlib' \
                 > \"$R/.hbuild/digests\" || exit 125\n"
            ),
            "{s}"
        );
    }

    #[test]
    fn worker_paths_map_back_to_this_machine() {
        let n = norm();
        let b = BackMap::new(&n, "/tmp/w1");
        assert_eq!(
            b.apply("/tmp/w1/target/hbuild/debug/deps/a.d: /tmp/w1/ws/src/lib.rs"),
            "/w/app/target/hbuild/debug/deps/a.d: /w/app/src/lib.rs"
        );
        assert_eq!(
            b.local_path("/tmp/w1", "target/x.rlib"),
            Some(PathBuf::from("/w/app/target/x.rlib"))
        );
        assert_eq!(b.local_path("/tmp/w1", ".hbuild/root"), None);
    }
}
