//! Parsing a build script's stdout (`cargo:` / `cargo::` directives), as
//! Cargo's `BuildOutput::parse`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Parsed directives of one build-script run.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScriptOutput {
    /// `rustc-link-search` (with `KIND=` prefix if given).
    pub link_search: Vec<String>,
    /// `rustc-link-lib`.
    pub link_libs: Vec<String>,
    /// `rustc-link-arg` for all targets.
    pub link_args: Vec<String>,
    /// `rustc-link-arg-bins`, `-bin=NAME=`, `-tests`, `-benches`, `-examples`, `cdylib`.
    pub link_args_for: Vec<(LinkArgTarget, String)>,
    /// `rustc-cfg`.
    pub cfgs: Vec<String>,
    /// `rustc-check-cfg`.
    pub check_cfgs: Vec<String>,
    /// `rustc-env` pairs.
    pub env: Vec<(String, String)>,
    /// `warning`.
    pub warnings: Vec<String>,
    /// `error`.
    pub errors: Vec<String>,
    /// `metadata` / old-style `cargo:KEY=VALUE`.
    pub metadata: Vec<(String, String)>,
    /// `rerun-if-changed` paths (relative to the package root).
    pub rerun_if_changed: Vec<String>,
    /// `rerun-if-env-changed` variables.
    pub rerun_if_env_changed: Vec<String>,
}

/// Which targets a `rustc-link-arg-*` applies to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LinkArgTarget {
    /// All bins.
    Bins,
    /// One bin.
    Bin(String),
    /// Integration tests.
    Tests,
    /// Benches.
    Benches,
    /// Examples.
    Examples,
    /// cdylib targets.
    Cdylib,
}

/// A directive that Cargo rejects.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid build script output line `{line}`: {why}")]
pub struct DirectiveError {
    /// The line.
    pub line: String,
    /// Why.
    pub why: String,
}

impl ScriptOutput {
    /// Parses a script's stdout.
    pub fn parse(stdout: &str) -> Result<Self, DirectiveError> {
        let mut out = ScriptOutput::default();
        for raw in stdout.lines() {
            let line = raw.trim();
            let (new_syntax, rest) = if let Some(r) = line.strip_prefix("cargo::") {
                (true, r)
            } else if let Some(r) = line.strip_prefix("cargo:") {
                (false, r)
            } else {
                continue;
            };
            let err = |why: &str| DirectiveError {
                line: line.to_string(),
                why: why.to_string(),
            };
            let Some((key, value)) = rest.split_once('=') else {
                if new_syntax {
                    return Err(err("expected `KEY=VALUE`"));
                }
                continue;
            };
            let value = value.trim_end().to_string();
            match key {
                "rustc-link-search" => out.link_search.push(value),
                "rustc-link-lib" => out.link_libs.push(value),
                "rustc-link-arg" => out.link_args.push(value),
                "rustc-link-arg-bins" => out.link_args_for.push((LinkArgTarget::Bins, value)),
                "rustc-link-arg-tests" => out.link_args_for.push((LinkArgTarget::Tests, value)),
                "rustc-link-arg-benches" => out.link_args_for.push((LinkArgTarget::Benches, value)),
                "rustc-link-arg-examples" => {
                    out.link_args_for.push((LinkArgTarget::Examples, value))
                }
                "rustc-cdylib-link-arg" | "rustc-link-arg-cdylib" => {
                    out.link_args_for.push((LinkArgTarget::Cdylib, value))
                }
                "rustc-link-arg-bin" => {
                    let (bin, arg) = value
                        .split_once('=')
                        .ok_or_else(|| err("expected `BIN=ARG`"))?;
                    out.link_args_for
                        .push((LinkArgTarget::Bin(bin.to_string()), arg.to_string()));
                }
                "rustc-flags" => parse_flags(&value, &mut out).map_err(|w| err(&w))?,
                "rustc-cfg" => out.cfgs.push(value),
                "rustc-check-cfg" => out.check_cfgs.push(value),
                "rustc-env" => {
                    let (k, v) = value
                        .split_once('=')
                        .ok_or_else(|| err("expected `VAR=VALUE`"))?;
                    if k == "RUSTC_BOOTSTRAP" {
                        return Err(err("setting RUSTC_BOOTSTRAP is not allowed"));
                    }
                    out.env.push((k.to_string(), v.to_string()));
                }
                "warning" => out.warnings.push(value),
                "error" => out.errors.push(value),
                "rerun-if-changed" => out.rerun_if_changed.push(value),
                "rerun-if-env-changed" => out.rerun_if_env_changed.push(value),
                "metadata" if new_syntax => {
                    let (k, v) = value
                        .split_once('=')
                        .ok_or_else(|| err("expected `KEY=VALUE`"))?;
                    out.metadata.push((k.to_string(), v.to_string()));
                }
                other if new_syntax => return Err(err(&format!("unknown key `{other}`"))),
                other => out.metadata.push((other.to_string(), value)),
            }
        }
        Ok(out)
    }

    /// The same output with every string passed through `f` (used to keep
    /// absolute paths out of cache entries and put them back on a hit, as
    /// Cargo rewrites a moved OUT_DIR).
    pub fn map_strings(&self, f: impl Fn(&str) -> String) -> ScriptOutput {
        let v = |xs: &[String]| xs.iter().map(|x| f(x)).collect::<Vec<_>>();
        let kv = |xs: &[(String, String)]| {
            xs.iter()
                .map(|(k, x)| (k.clone(), f(x)))
                .collect::<Vec<_>>()
        };
        ScriptOutput {
            link_search: v(&self.link_search),
            link_libs: v(&self.link_libs),
            link_args: v(&self.link_args),
            link_args_for: self
                .link_args_for
                .iter()
                .map(|(t, x)| (t.clone(), f(x)))
                .collect(),
            cfgs: v(&self.cfgs),
            check_cfgs: v(&self.check_cfgs),
            env: kv(&self.env),
            warnings: v(&self.warnings),
            errors: v(&self.errors),
            metadata: kv(&self.metadata),
            rerun_if_changed: v(&self.rerun_if_changed),
            rerun_if_env_changed: self.rerun_if_env_changed.clone(),
        }
    }

    /// Whether the script declared what it depends on; otherwise it re-runs
    /// when any file of its package changes.
    pub fn has_rerun_directives(&self) -> bool {
        !self.rerun_if_changed.is_empty() || !self.rerun_if_env_changed.is_empty()
    }

    /// `-L` arguments, paths inside `out_dir` first as Cargo orders them.
    pub fn link_search_args(&self, out_dir: &Path) -> Vec<String> {
        let path_of = |s: &str| PathBuf::from(s.split_once('=').map(|(_, p)| p).unwrap_or(s));
        let (inside, outside): (Vec<&String>, Vec<&String>) = self
            .link_search
            .iter()
            .partition(|s| path_of(s).starts_with(out_dir));
        inside.into_iter().chain(outside).cloned().collect()
    }
}

fn parse_flags(value: &str, out: &mut ScriptOutput) -> Result<(), String> {
    let mut it = value.split_whitespace();
    while let Some(tok) = it.next() {
        let (flag, arg) = if tok == "-l" || tok == "-L" {
            (tok, it.next().ok_or("flag without a value")?.to_string())
        } else if let Some(v) = tok.strip_prefix("-l") {
            ("-l", v.to_string())
        } else if let Some(v) = tok.strip_prefix("-L") {
            ("-L", v.to_string())
        } else {
            return Err(format!(
                "only `-l` and `-L` flags are allowed in `rustc-flags`, not `{tok}`"
            ));
        };
        if flag == "-l" {
            out.link_libs.push(arg);
        } else {
            out.link_search.push(arg);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_syntaxes() {
        let o = ScriptOutput::parse(
            "noise\ncargo:KEY=hello\ncargo::metadata=include=/x\ncargo::rustc-cfg=has_foo\ncargo:rustc-link-search=native=/o/out\n\
             cargo::rustc-flags=-L /usr/lib -lz\ncargo::rustc-env=A=b=c\ncargo::rerun-if-env-changed=K\ncargo::warning=careful\n",
        )
        .unwrap();
        assert_eq!(
            o.metadata,
            [
                ("KEY".to_string(), "hello".to_string()),
                ("include".to_string(), "/x".to_string())
            ]
        );
        assert_eq!(o.cfgs, ["has_foo"]);
        assert_eq!(o.link_search, ["native=/o/out", "/usr/lib"]);
        assert_eq!(o.link_libs, ["z"]);
        assert_eq!(o.env, [("A".to_string(), "b=c".to_string())]);
        assert_eq!(o.warnings, ["careful"]);
        assert!(o.has_rerun_directives());
    }

    #[test]
    fn unknown_new_style_key_is_an_error() {
        let e = ScriptOutput::parse("cargo::bogus=1").unwrap_err();
        assert!(e.to_string().contains("unknown key `bogus`"));
    }

    #[test]
    fn link_search_orders_out_dir_first() {
        let o = ScriptOutput::parse(
            "cargo:rustc-link-search=/usr/lib\ncargo:rustc-link-search=native=/t/out/x\n",
        )
        .unwrap();
        assert_eq!(
            o.link_search_args(Path::new("/t/out")),
            ["native=/t/out/x", "/usr/lib"]
        );
    }
}
