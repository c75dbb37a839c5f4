//! Where the target dir is, decided once per invocation from the flags, the
//! environment and the config files, without `cargo metadata` (a no-op
//! build must find its saved analysis and its server before any analysis).
//!
//! Cargo's precedence: `--target-dir` > `CARGO_TARGET_DIR` >
//! `--config build.target-dir` > `CARGO_BUILD_TARGET_DIR` >
//! `build.target-dir` in the config files > `<workspace root>/target`.
//! Paths from the command line and the environment are relative to the
//! current directory; a config file's are relative to the directory that
//! holds its `.cargo/` (for `$CARGO_HOME/config.toml`, the parent of
//! `$CARGO_HOME`; for a `--config PATH` file, the parent of its directory).

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use super::config::{CargoConfig, ConfigSource, TargetDirSetting};
use super::WorkspaceError;

/// Which setting decided the target dir.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum TargetDirOrigin {
    /// `--target-dir`.
    Flag,
    /// `CARGO_TARGET_DIR` or `CARGO_BUILD_TARGET_DIR`.
    Env(TargetDirVar),
    /// `build.target-dir` in this config file (or `--config` file).
    Config(PathBuf),
    /// `--config build.target-dir=...`.
    ConfigArg,
    /// None: `<workspace root>/target`, the root found from the manifests.
    WorkspaceDefault,
}

/// The target dir of an invocation (absolute).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TargetDir {
    /// The directory.
    pub path: PathBuf,
    /// What decided it.
    pub origin: TargetDirOrigin,
}

/// A variable that sets the target dir.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum TargetDirVar {
    /// `CARGO_TARGET_DIR`.
    #[serde(rename = "CARGO_TARGET_DIR")]
    CargoTargetDir,
    /// `CARGO_BUILD_TARGET_DIR`.
    #[serde(rename = "CARGO_BUILD_TARGET_DIR")]
    CargoBuildTargetDir,
}

/// What the target dir is resolved from.
pub struct TargetDirInputs<'a> {
    /// `--target-dir` as given.
    pub flag: Option<&'a Path>,
    /// The invocation's current directory.
    pub cwd: &'a Path,
    /// The invocation's environment.
    pub env: &'a BTreeMap<String, String>,
    /// The config files' settings (environment overrides not applied).
    pub config: &'a CargoConfig,
    /// `--manifest-path` (absolute), if given.
    pub manifest: Option<&'a Path>,
    /// Where the manifest search starts without `--manifest-path`.
    pub search_from: &'a Path,
    /// `$CARGO_HOME`: the workspace-root search does not cross it.
    pub cargo_home: Option<&'a Path>,
}

fn empty(where_: String) -> WorkspaceError {
    WorkspaceError::Invalid(format!(
        "the target directory is set to an empty string in {where_}"
    ))
}

/// Resolves the target dir with Cargo's precedence.
pub fn resolve(i: &TargetDirInputs<'_>) -> Result<TargetDir, WorkspaceError> {
    if let Some(f) = i.flag {
        return Ok(TargetDir {
            path: i.cwd.join(f),
            origin: TargetDirOrigin::Flag,
        });
    }
    if let Some(v) = i.env.get("CARGO_TARGET_DIR") {
        if v.is_empty() {
            return Err(empty("the `CARGO_TARGET_DIR` environment variable".into()));
        }
        return Ok(TargetDir {
            path: i.cwd.join(v),
            origin: TargetDirOrigin::Env(TargetDirVar::CargoTargetDir),
        });
    }
    // `--config build.target-dir` ranks below `CARGO_TARGET_DIR` (not a
    // config variable) and above `CARGO_BUILD_TARGET_DIR` (one).
    let cli = i.config.target_dir.as_ref().filter(|s| s.source.is_cli());
    if let Some(s) = cli {
        return from_config(s);
    }
    if let Some(v) = i.env.get("CARGO_BUILD_TARGET_DIR") {
        if v.is_empty() {
            return Err(empty(
                "environment variable `CARGO_BUILD_TARGET_DIR`".into(),
            ));
        }
        return Ok(TargetDir {
            path: i.cwd.join(v),
            origin: TargetDirOrigin::Env(TargetDirVar::CargoBuildTargetDir),
        });
    }
    if let Some(s) = &i.config.target_dir {
        return from_config(s);
    }
    let manifest = match i.manifest {
        Some(m) => m.to_path_buf(),
        None => find_manifest(i.search_from).ok_or_else(|| {
            WorkspaceError::Invalid(format!(
                "could not find `Cargo.toml` in `{}` or any parent directory",
                i.search_from.display()
            ))
        })?,
    };
    let root = workspace_root(&manifest, i.cargo_home);
    Ok(TargetDir {
        path: root.join("target"),
        origin: TargetDirOrigin::WorkspaceDefault,
    })
}

fn from_config(s: &TargetDirSetting) -> Result<TargetDir, WorkspaceError> {
    if s.raw.is_empty() {
        return Err(empty(s.source.to_string()));
    }
    let origin = match &s.source {
        ConfigSource::File(f) | ConfigSource::CliFile(f) => TargetDirOrigin::Config(f.clone()),
        ConfigSource::CliValue => TargetDirOrigin::ConfigArg,
    };
    Ok(TargetDir {
        path: s.path.clone(),
        origin,
    })
}

/// The first `Cargo.toml` in `dir` or its ancestors, as Cargo looks for it.
fn find_manifest(dir: &Path) -> Option<PathBuf> {
    dir.ancestors()
        .map(|d| d.join("Cargo.toml"))
        .find(|m| m.is_file())
}

fn read_toml(p: &Path) -> Option<toml::Table> {
    std::fs::read_to_string(p).ok()?.parse().ok()
}

/// Cargo's workspace root of a package manifest: the manifest itself if it
/// has `[workspace]`, the directory `package.workspace` names, else the
/// nearest ancestor whose manifest has a `[workspace]` that does not exclude
/// it; the package's own directory when there is none. Manifests that do
/// not parse are passed over: `cargo metadata` reports them.
fn workspace_root(manifest: &Path, cargo_home: Option<&Path>) -> PathBuf {
    let dir = manifest.parent().unwrap_or(Path::new("/"));
    let Some(doc) = read_toml(manifest) else {
        return dir.to_path_buf();
    };
    if doc.contains_key("workspace") {
        return dir.to_path_buf();
    }
    if let Some(explicit) = doc
        .get("package")
        .and_then(|p| p.get("workspace"))
        .and_then(|w| w.as_str())
    {
        return normalize(&dir.join(explicit));
    }
    let mut previous: Option<&Path> = None;
    for ancestor in dir.ancestors().skip(1) {
        // Never walk out of `$CARGO_HOME` (registry sources live there) nor
        // out of a `cargo package` staging directory.
        if previous.is_some_and(|p| Some(p) == cargo_home) || ancestor.ends_with("target/package") {
            break;
        }
        previous = Some(ancestor);
        let candidate = ancestor.join("Cargo.toml");
        let Some(ws) = read_toml(&candidate).and_then(|d| d.get("workspace").cloned()) else {
            continue;
        };
        if !is_excluded(&ws, ancestor, manifest) {
            return ancestor.to_path_buf();
        }
    }
    dir.to_path_buf()
}

/// Cargo's test: in `exclude` and not an explicit member (both as path
/// prefixes, globs not expanded).
fn is_excluded(ws: &toml::Value, root: &Path, manifest: &Path) -> bool {
    let listed = |key: &str| {
        ws.get(key)
            .and_then(|v| v.as_array())
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str())
            .any(|p| manifest.starts_with(root.join(p)))
    };
    listed("exclude") && !listed("members")
}

/// `a/b/../c` → `a/c`, without touching the file system (as Cargo does).
fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(p: &Path, text: &str) {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    const PKG: &str = "[package]\nname = \"p\"\nversion = \"0.1.0\"\n";

    fn resolve_in(
        cwd: &Path,
        flag: Option<&Path>,
        env: &[(&str, &str)],
        home: Option<&Path>,
    ) -> Result<TargetDir, WorkspaceError> {
        let env: BTreeMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let config = CargoConfig::from_files(cwd, home).unwrap();
        resolve(&TargetDirInputs {
            flag,
            cwd,
            env: &env,
            config: &config,
            manifest: None,
            search_from: cwd,
            cargo_home: home,
        })
    }

    #[test]
    fn precedence_is_flag_env_build_env_config_default() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        write(&root.join("Cargo.toml"), "[workspace]\nmembers = [\"a\"]\n");
        write(&root.join("a/Cargo.toml"), PKG);
        let a = root.join("a");
        let at =
            |env: &[(&str, &str)], flag: Option<&Path>| resolve_in(&a, flag, env, None).unwrap();
        assert_eq!(at(&[], None).path, root.join("target"));
        assert_eq!(at(&[], None).origin, TargetDirOrigin::WorkspaceDefault);
        write(
            &root.join(".cargo/config.toml"),
            "[build]\ntarget-dir = \"out\"\n",
        );
        let c = at(&[], None);
        assert_eq!(
            c.path,
            root.join("out"),
            "relative to the dir holding .cargo"
        );
        assert_eq!(
            c.origin,
            TargetDirOrigin::Config(root.join(".cargo/config.toml"))
        );
        let both = [("CARGO_TARGET_DIR", "t1"), ("CARGO_BUILD_TARGET_DIR", "t2")];
        assert_eq!(at(&both[1..], None).path, a.join("t2"), "relative to cwd");
        assert_eq!(at(&both, None).path, a.join("t1"));
        assert_eq!(at(&both, Some(Path::new("/abs"))).path, Path::new("/abs"));
    }

    #[test]
    fn deeper_config_wins_and_cargo_home_config_is_relative_to_its_parent() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("ws");
        write(&root.join("Cargo.toml"), PKG);
        let home = d.path().join("home/.cargo");
        write(
            &home.join("config.toml"),
            "[build]\ntarget-dir = \"from-home\"\n",
        );
        let got = resolve_in(&root, None, &[], Some(&home)).unwrap();
        assert_eq!(got.path, d.path().join("home/from-home"));
        write(
            &d.path().join(".cargo/config.toml"),
            "[build]\ntarget-dir = \"up\"\n",
        );
        write(
            &root.join(".cargo/config"),
            "[build]\ntarget-dir = \"here\"\n",
        );
        let got = resolve_in(&root, None, &[], Some(&home)).unwrap();
        assert_eq!(got.path, root.join("here"));
    }

    #[test]
    fn empty_settings_are_errors_naming_where() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        write(&root.join("Cargo.toml"), PKG);
        let err = |env: &[(&str, &str)]| resolve_in(root, None, env, None).unwrap_err().to_string();
        assert_eq!(
            err(&[("CARGO_TARGET_DIR", "")]),
            "the target directory is set to an empty string in the `CARGO_TARGET_DIR` environment variable"
        );
        assert_eq!(
            err(&[("CARGO_BUILD_TARGET_DIR", "")]),
            "the target directory is set to an empty string in environment variable `CARGO_BUILD_TARGET_DIR`"
        );
        write(
            &root.join(".cargo/config.toml"),
            "[build]\ntarget-dir = \"\"\n",
        );
        assert_eq!(
            err(&[]),
            format!(
                "the target directory is set to an empty string in {}",
                root.join(".cargo/config.toml").display()
            )
        );
    }

    #[test]
    fn workspace_root_as_cargo_finds_it() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("ws");
        write(
            &root.join("Cargo.toml"),
            "[workspace]\nmembers = [\"crates/*\", \"tools/kept\"]\nexclude = [\"tools\"]\n",
        );
        for m in ["crates/a", "tools/kept", "tools/alone", "nested/inner"] {
            write(&root.join(m).join("Cargo.toml"), PKG);
        }
        // Outside the root, pointing at it.
        let elsewhere = d.path().join("elsewhere/Cargo.toml");
        write(
            &elsewhere,
            "[package]\nname = \"e\"\nversion = \"0.1.0\"\nworkspace = \"../ws\"\n",
        );
        let root_of = |m: &str| workspace_root(&root.join(m).join("Cargo.toml"), None);
        assert_eq!(root_of("crates/a"), root);
        assert_eq!(root_of("tools/kept"), root, "an explicit member");
        assert_eq!(root_of("tools/alone"), root.join("tools/alone"), "excluded");
        assert_eq!(root_of("nested/inner"), root);
        assert_eq!(workspace_root(&elsewhere, None), root);
        assert_eq!(root_of(""), root);
        // The search does not leave `$CARGO_HOME`.
        let home = root.join("home");
        write(&home.join("registry/src/p/Cargo.toml"), PKG);
        assert_eq!(
            workspace_root(&home.join("registry/src/p/Cargo.toml"), Some(&home)),
            home.join("registry/src/p")
        );
        // From a subdirectory, the manifest above is found first.
        let nested = root.join("crates/a/src/deep");
        std::fs::create_dir_all(&nested).unwrap();
        assert_eq!(
            resolve_in(&nested, None, &[], None).unwrap().path,
            root.join("target")
        );
    }
}
