//! `.cargo/config.toml` discovery and the settings hbuild honours, with
//! Cargo's precedence: environment over config files, deeper directories
//! over their ancestors, `$CARGO_HOME/config.toml` last. Arrays from several
//! files are joined, higher-precedence entries last.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::toolchain::TargetInfo;
use super::WorkspaceError;

/// One `[env]` entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EnvEntry {
    /// The value (already made absolute when `relative = true`).
    pub value: String,
    /// Whether it overrides a variable already in the environment.
    pub force: bool,
}

/// `build.target-dir` of a config file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TargetDirSetting {
    /// As written (Cargo rejects an empty one).
    pub raw: String,
    /// Made absolute against the directory that holds the file's `.cargo/`.
    pub path: PathBuf,
    /// The file that set it.
    pub file: PathBuf,
}

/// `build.jobs` (or `CARGO_BUILD_JOBS`) as written.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum JobsSetting {
    /// A number: positive, or negative for "all CPUs but n" (0 is an error).
    Count(i64),
    /// `"default"`: the available parallelism.
    Default,
    /// Anything else, reported when it is the setting in force.
    Invalid(String),
}

impl JobsSetting {
    /// From an environment value or a config string.
    pub fn parse(s: &str) -> Self {
        match s.trim().parse::<i64>() {
            Ok(n) => JobsSetting::Count(n),
            Err(_) if s == "default" => JobsSetting::Default,
            Err(_) => JobsSetting::Invalid(s.to_string()),
        }
    }
}

/// The configuration hbuild reads, merged over all config files.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CargoConfig {
    /// Files read, highest precedence first (they enter the analysis key).
    pub files: Vec<PathBuf>,
    /// `build.rustflags`.
    pub build_rustflags: Option<Vec<String>>,
    /// `build.target`.
    pub build_target: Option<String>,
    /// `build.target-dir` of the config files (the environment's
    /// `CARGO_TARGET_DIR`/`CARGO_BUILD_TARGET_DIR` are applied by
    /// [`super::target_dir::resolve`]).
    pub target_dir: Option<TargetDirSetting>,
    /// `build.jobs` of the config files (`-j` and `CARGO_BUILD_JOBS` are
    /// applied by the CLI).
    pub jobs: Option<JobsSetting>,
    /// `build.rustc-wrapper`.
    pub rustc_wrapper: Option<PathBuf>,
    /// `build.rustc`.
    pub rustc: Option<PathBuf>,
    /// `target.<key>.rustflags` where key is a triple or `cfg(..)`.
    pub target_rustflags: Vec<(String, Vec<String>)>,
    /// `target.<key>.linker`, made absolute when given with a path.
    pub target_linker: Vec<(String, PathBuf)>,
    /// `[env]`.
    pub env: BTreeMap<String, EnvEntry>,
}

fn parse_flags(v: &toml::Value) -> Option<Vec<String>> {
    match v {
        toml::Value::String(s) => Some(s.split_whitespace().map(str::to_string).collect()),
        toml::Value::Array(a) => Some(
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect(),
        ),
        _ => None,
    }
}

/// Config files that apply to `cwd`, highest precedence first. Where both
/// `config` and `config.toml` exist, Cargo reads `config`.
pub fn discover(cwd: &Path, cargo_home: Option<&Path>) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for dir in cwd.ancestors() {
        for name in ["config", "config.toml"] {
            let p = dir.join(".cargo").join(name);
            if p.is_file() {
                out.push(p);
                break;
            }
        }
    }
    if let Some(home) = cargo_home {
        for name in ["config", "config.toml"] {
            let p = home.join(name);
            if p.is_file() && !out.contains(&p) {
                out.push(p);
                break;
            }
        }
    }
    out
}

impl CargoConfig {
    /// Reads the config files that apply to `cwd`, then applies `CARGO_*`
    /// environment overrides from `env`.
    pub fn load(
        cwd: &Path,
        cargo_home: Option<&Path>,
        env: &BTreeMap<String, String>,
    ) -> Result<Self, WorkspaceError> {
        let mut cfg = Self::from_files(cwd, cargo_home)?;
        cfg.apply_env(env);
        Ok(cfg)
    }

    /// Reads the config files that apply to `cwd`, without environment
    /// overrides.
    pub fn from_files(cwd: &Path, cargo_home: Option<&Path>) -> Result<Self, WorkspaceError> {
        let files = discover(cwd, cargo_home);
        let mut cfg = CargoConfig {
            files: files.clone(),
            ..Default::default()
        };
        // Lowest precedence first, so later assignments win and arrays join
        // with higher-precedence items last.
        for file in files.iter().rev() {
            let text = std::fs::read_to_string(file).map_err(|e| WorkspaceError::Parse {
                path: file.clone(),
                message: e.to_string(),
            })?;
            let value: toml::Table =
                text.parse()
                    .map_err(|e: toml::de::Error| WorkspaceError::Parse {
                        path: file.clone(),
                        message: e.message().to_string(),
                    })?;
            // Paths in a config file are relative to the directory that holds `.cargo/`.
            let base = file
                .parent()
                .and_then(Path::parent)
                .unwrap_or(Path::new("/"));
            cfg.merge_file(&value, base, file);
        }
        Ok(cfg)
    }

    fn merge_file(&mut self, t: &toml::Table, base: &Path, file: &Path) {
        if let Some(build) = t.get("build").and_then(|b| b.as_table()) {
            if let Some(f) = build.get("rustflags").and_then(parse_flags) {
                self.build_rustflags.get_or_insert_with(Vec::new).extend(f);
            }
            if let Some(s) = build.get("target").and_then(|v| v.as_str()) {
                self.build_target = Some(s.to_string());
            }
            if let Some(s) = build.get("target-dir").and_then(|v| v.as_str()) {
                self.target_dir = Some(TargetDirSetting {
                    raw: s.to_string(),
                    path: base.join(s),
                    file: file.to_path_buf(),
                });
            }
            if let Some(j) = build.get("jobs") {
                self.jobs = Some(match j {
                    toml::Value::Integer(n) => JobsSetting::Count(*n),
                    toml::Value::String(s) if s == "default" => JobsSetting::Default,
                    toml::Value::String(s) => JobsSetting::Invalid(s.clone()),
                    other => JobsSetting::Invalid(other.to_string()),
                });
            }
            if let Some(s) = build.get("rustc-wrapper").and_then(|v| v.as_str()) {
                self.rustc_wrapper = (!s.is_empty()).then(|| resolve_program(s, base));
            }
            if let Some(s) = build.get("rustc").and_then(|v| v.as_str()) {
                self.rustc = Some(resolve_program(s, base));
            }
        }
        if let Some(target) = t.get("target").and_then(|b| b.as_table()) {
            for (key, v) in target {
                let Some(tt) = v.as_table() else { continue };
                if let Some(f) = tt.get("rustflags").and_then(parse_flags) {
                    match self.target_rustflags.iter_mut().find(|(k, _)| k == key) {
                        Some((_, existing)) => existing.extend(f),
                        None => self.target_rustflags.push((key.clone(), f)),
                    }
                }
                if let Some(l) = tt.get("linker").and_then(|v| v.as_str()) {
                    self.target_linker.retain(|(k, _)| k != key);
                    self.target_linker
                        .push((key.clone(), resolve_program(l, base)));
                }
            }
        }
        if let Some(env) = t.get("env").and_then(|b| b.as_table()) {
            for (k, v) in env {
                let entry = match v {
                    toml::Value::String(s) => EnvEntry {
                        value: s.clone(),
                        force: false,
                    },
                    toml::Value::Table(tt) => {
                        let value = tt
                            .get("value")
                            .and_then(|v| v.as_str())
                            .unwrap_or("")
                            .to_string();
                        let relative = tt
                            .get("relative")
                            .and_then(|v| v.as_bool())
                            .unwrap_or(false);
                        EnvEntry {
                            value: if relative {
                                base.join(&value).to_string_lossy().into_owned()
                            } else {
                                value
                            },
                            force: tt.get("force").and_then(|v| v.as_bool()).unwrap_or(false),
                        }
                    }
                    other => EnvEntry {
                        value: other.to_string(),
                        force: false,
                    },
                };
                self.env.insert(k.clone(), entry);
            }
        }
    }

    fn apply_env(&mut self, env: &BTreeMap<String, String>) {
        if let Some(v) = env.get("CARGO_BUILD_RUSTFLAGS") {
            self.build_rustflags = Some(v.split_whitespace().map(str::to_string).collect());
        }
        if let Some(v) = env.get("CARGO_BUILD_TARGET") {
            self.build_target = Some(v.clone());
        }
        if let Some(v) = env
            .get("RUSTC_WRAPPER")
            .or_else(|| env.get("CARGO_BUILD_RUSTC_WRAPPER"))
        {
            self.rustc_wrapper = (!v.is_empty()).then(|| PathBuf::from(v));
        }
        if let Some(v) = env.get("RUSTC").or_else(|| env.get("CARGO_BUILD_RUSTC")) {
            self.rustc = Some(PathBuf::from(v));
        }
        for (k, v) in env {
            let Some(rest) = k.strip_prefix("CARGO_TARGET_") else {
                continue;
            };
            if let Some(triple) = rest.strip_suffix("_RUSTFLAGS") {
                let key = triple.to_lowercase().replace('_', "-");
                let flags: Vec<String> = v.split_whitespace().map(str::to_string).collect();
                self.target_rustflags
                    .retain(|(k, _)| k.replace('_', "-") != key);
                self.target_rustflags.push((key, flags));
            } else if let Some(triple) = rest.strip_suffix("_LINKER") {
                let key = triple.to_lowercase().replace('_', "-");
                self.target_linker
                    .retain(|(k, _)| k.replace('_', "-") != key);
                self.target_linker.push((key, PathBuf::from(v)));
            }
        }
    }

    /// The rustflags for units of a platform, with Cargo's exclusive
    /// precedence: `CARGO_ENCODED_RUSTFLAGS`, `RUSTFLAGS`, then
    /// `target.<triple>.rustflags` + matching `target.'cfg(..)'.rustflags`,
    /// then `build.rustflags`.
    pub fn rustflags(
        &self,
        env: &BTreeMap<String, String>,
        info: &TargetInfo,
    ) -> Result<Vec<String>, WorkspaceError> {
        if let Some(v) = env.get("CARGO_ENCODED_RUSTFLAGS") {
            return Ok(if v.is_empty() {
                Vec::new()
            } else {
                v.split('\x1f').map(str::to_string).collect()
            });
        }
        if let Some(v) = env.get("RUSTFLAGS") {
            return Ok(v.split_whitespace().map(str::to_string).collect());
        }
        let mut from_target: Option<Vec<String>> = None;
        for (key, flags) in &self.target_rustflags {
            if same_triple(key, &info.triple) {
                from_target
                    .get_or_insert_with(Vec::new)
                    .splice(0..0, flags.iter().cloned());
            }
        }
        for (key, flags) in &self.target_rustflags {
            if key.starts_with("cfg(") && info.matches(key)? {
                from_target
                    .get_or_insert_with(Vec::new)
                    .extend(flags.iter().cloned());
            }
        }
        if let Some(f) = from_target {
            return Ok(f);
        }
        Ok(self.build_rustflags.clone().unwrap_or_default())
    }

    /// The linker for a platform: `target.<triple>.linker`, else the single
    /// matching `target.'cfg(..)'.linker`.
    pub fn linker(&self, info: &TargetInfo) -> Result<Option<PathBuf>, WorkspaceError> {
        if let Some((_, l)) = self
            .target_linker
            .iter()
            .find(|(k, _)| same_triple(k, &info.triple))
        {
            return Ok(Some(l.clone()));
        }
        let mut found = None;
        for (k, l) in &self.target_linker {
            if k.starts_with("cfg(") && info.matches(k)? {
                if found.is_some() {
                    return Err(WorkspaceError::Invalid(format!(
                        "several `target.'cfg(..)'.linker` settings match target `{}`",
                        info.triple
                    )));
                }
                found = Some(l.clone());
            }
        }
        Ok(found)
    }
}

/// Whether a `target.<key>` (possibly from `CARGO_TARGET_<TRIPLE>_*`, where
/// `-` and `_` are both spelled `_`) names `triple`.
fn same_triple(key: &str, triple: &str) -> bool {
    key == triple || key.replace('_', "-") == triple.replace('_', "-")
}

/// A program named in config: a bare name stays a name (looked up in PATH),
/// a path with a separator is relative to the config's base directory.
fn resolve_program(s: &str, base: &Path) -> PathBuf {
    if s.contains('/') {
        base.join(s)
    } else {
        PathBuf::from(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> TargetInfo {
        TargetInfo {
            triple: "x86_64-unknown-linux-gnu".into(),
            cfg: vec!["unix".into(), "target_os=\"linux\"".into()],
        }
    }

    fn write(dir: &Path, text: &str) {
        std::fs::create_dir_all(dir.join(".cargo")).unwrap();
        std::fs::write(dir.join(".cargo/config.toml"), text).unwrap();
    }

    #[test]
    fn rustflags_precedence_is_exclusive() {
        let d = tempfile::tempdir().unwrap();
        write(
            d.path(),
            r#"
[build]
rustflags = ["--cfg", "from_build"]
[target.x86_64-unknown-linux-gnu]
rustflags = ["--cfg", "from_triple"]
linker = "cc"
[target.'cfg(unix)']
rustflags = ["--cfg", "from_cfg"]
[env]
A = "1"
B = { value = "x", relative = true }
"#,
        );
        let mut env = BTreeMap::new();
        let cfg = CargoConfig::load(d.path(), None, &env).unwrap();
        assert_eq!(
            cfg.rustflags(&env, &info()).unwrap(),
            ["--cfg", "from_triple", "--cfg", "from_cfg"]
        );
        assert_eq!(cfg.linker(&info()).unwrap(), Some(PathBuf::from("cc")));
        assert_eq!(cfg.env["A"].value, "1");
        assert_eq!(cfg.env["B"].value, d.path().join("x").to_string_lossy());
        env.insert("RUSTFLAGS".into(), "--cfg env".into());
        assert_eq!(cfg.rustflags(&env, &info()).unwrap(), ["--cfg", "env"]);
        env.insert("CARGO_ENCODED_RUSTFLAGS".into(), "--cfg\x1fenc".into());
        assert_eq!(cfg.rustflags(&env, &info()).unwrap(), ["--cfg", "enc"]);
    }

    #[test]
    fn build_rustflags_when_no_target_entry() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "[build]\nrustflags = \"-C debug-assertions\"\n");
        let cfg = CargoConfig::load(d.path(), None, &BTreeMap::new()).unwrap();
        assert_eq!(
            cfg.rustflags(&BTreeMap::new(), &info()).unwrap(),
            ["-C", "debug-assertions"]
        );
    }

    #[test]
    fn config_wins_over_config_toml_and_jobs_keep_what_was_written() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "[build]\njobs = 3\n");
        std::fs::write(d.path().join(".cargo/config"), "[build]\njobs = -1\n").unwrap();
        let cfg = CargoConfig::from_files(d.path(), None).unwrap();
        assert_eq!(cfg.files, [d.path().join(".cargo/config")]);
        assert_eq!(cfg.jobs, Some(JobsSetting::Count(-1)));
        assert_eq!(JobsSetting::parse("default"), JobsSetting::Default);
        assert_eq!(JobsSetting::parse("x"), JobsSetting::Invalid("x".into()));
    }

    #[test]
    fn malformed_config_names_the_file() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "[build\n");
        let err = CargoConfig::load(d.path(), None, &BTreeMap::new())
            .unwrap_err()
            .to_string();
        assert!(err.contains(".cargo/config.toml"), "{err}");
    }
}
