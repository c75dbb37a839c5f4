//! `.cargo/config.toml` discovery and the settings hbuild honours, with
//! Cargo's precedence: `--config` values over `CARGO_*` environment
//! variables over config files, deeper directories over their ancestors,
//! `$CARGO_HOME/config.toml` last. Tables merge, arrays from several sources
//! are joined (higher-precedence entries last, the environment's between
//! the files' and `--config`'s), and other values are replaced.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::config_arg::ConfigArg;
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

/// Where a config value was set: it decides how the value ranks against
/// the environment (`--config` wins over `CARGO_*` variables, which win
/// over config files) and what relative paths are relative to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum ConfigSource {
    /// A config file found from the current directory or `$CARGO_HOME`.
    File(PathBuf),
    /// A `--config PATH` file.
    CliFile(PathBuf),
    /// A `--config KEY=VALUE` argument.
    CliValue,
}

impl ConfigSource {
    /// Whether the value came from `--config`.
    pub fn is_cli(&self) -> bool {
        !matches!(self, ConfigSource::File(_))
    }
}

impl std::fmt::Display for ConfigSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConfigSource::File(p) | ConfigSource::CliFile(p) => write!(f, "{}", p.display()),
            // Cargo's own words for it.
            ConfigSource::CliValue => f.write_str("--config cli option"),
        }
    }
}

/// A config value with the source that set it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Sourced<T> {
    /// The value.
    pub value: T,
    /// Where it was set.
    pub source: ConfigSource,
}

/// `build.target-dir` of a config file or `--config`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TargetDirSetting {
    /// As written (Cargo rejects an empty one).
    pub raw: String,
    /// Made absolute against the directory that holds the file's `.cargo/`
    /// (the current directory for `--config KEY=VALUE`).
    pub path: PathBuf,
    /// Where it was set.
    pub source: ConfigSource,
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

/// A `rustflags` list joined over the sources, lowest precedence first.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct FlagList {
    /// The flags.
    pub flags: Vec<String>,
    /// How many of the last flags come from `--config`: the environment's
    /// go before them.
    from_cli: usize,
    /// Whether the last source wrote a string (replaced by the next string,
    /// as Cargo does) rather than an array (joined).
    is_string: bool,
    /// The source of the last value, for a type mismatch.
    last: Option<ConfigSource>,
}

impl FlagList {
    /// Merges a config value; `Ok(false)` when it is no list of flags.
    fn merge(
        &mut self,
        key: &str,
        v: &toml::Value,
        source: &ConfigSource,
    ) -> Result<bool, WorkspaceError> {
        let (flags, is_string): (Vec<String>, bool) = match v {
            toml::Value::String(s) => (s.split_whitespace().map(str::to_string).collect(), true),
            toml::Value::Array(a) => (
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect(),
                false,
            ),
            _ => return Ok(false),
        };
        if let Some(last) = self.last.as_ref().filter(|_| self.is_string != is_string) {
            let (expected, found) = if is_string {
                ("array", "string")
            } else {
                ("string", "array")
            };
            return Err(WorkspaceError::Invalid(format!(
                "failed to merge config value of `{key}` from `{source}` into `{last}`: expected {expected}, but found {found}"
            )));
        }
        let n = flags.len();
        if is_string {
            self.flags = flags;
            self.from_cli = 0;
        } else {
            self.flags.extend(flags);
        }
        if source.is_cli() {
            self.from_cli += n;
        }
        self.is_string = is_string;
        self.last = Some(source.clone());
        Ok(true)
    }

    /// Adds the flags of a `CARGO_*` variable, which Cargo always joins:
    /// after the config files' flags, before `--config`'s.
    fn insert_env(&mut self, flags: Vec<String>) {
        let at = self.flags.len() - self.from_cli;
        self.flags.splice(at..at, flags);
    }
}

/// A setting that `--config` may have set, so that the environment's
/// `CARGO_*` variable must not replace it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
enum CliSet {
    BuildTarget,
    Rustc,
    RustcWrapper,
    Linker(String),
}

/// The configuration hbuild reads, merged over all config files and
/// `--config` arguments.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CargoConfig {
    /// Files read, highest precedence first (they enter the analysis key):
    /// the `--config PATH` files, then the discovered ones.
    pub files: Vec<PathBuf>,
    /// `build.rustflags`.
    pub build_rustflags: Option<FlagList>,
    /// `build.rustdocflags`.
    pub build_rustdocflags: Option<FlagList>,
    /// `build.target`.
    pub build_target: Option<String>,
    /// `build.target-dir` (the environment's `CARGO_TARGET_DIR` and
    /// `CARGO_BUILD_TARGET_DIR` are applied by
    /// [`super::target_dir::resolve`]).
    pub target_dir: Option<TargetDirSetting>,
    /// `build.jobs` (`-j` and `CARGO_BUILD_JOBS` are applied by the CLI).
    pub jobs: Option<Sourced<JobsSetting>>,
    /// `build.rustc-wrapper`.
    pub rustc_wrapper: Option<PathBuf>,
    /// `build.rustc`.
    pub rustc: Option<PathBuf>,
    /// `target.<key>.rustflags` where key is a triple or `cfg(..)`.
    pub target_rustflags: Vec<(String, FlagList)>,
    /// `target.<key>.linker`, made absolute when given with a path.
    pub target_linker: Vec<(String, PathBuf)>,
    /// `[env]`.
    pub env: BTreeMap<String, EnvEntry>,
    /// `[profile]`: merged over the manifest's profiles.
    pub profile: toml::Table,
    /// `[profile]` as `--config` alone set it: it ranks above the
    /// `CARGO_PROFILE_*` variables, which rank above the files.
    pub profile_cli: toml::Table,
    /// Settings that `--config` set.
    cli_set: BTreeSet<CliSet>,
    /// `[env]` as merged, with the base of each entry's value.
    #[serde(skip)]
    env_raw: BTreeMap<String, (toml::Value, PathBuf)>,
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

fn read_config_file(file: &Path) -> Result<toml::Table, WorkspaceError> {
    let text = std::fs::read_to_string(file).map_err(|e| WorkspaceError::Parse {
        path: file.to_path_buf(),
        message: e.to_string(),
    })?;
    text.parse()
        .map_err(|e: toml::de::Error| WorkspaceError::Parse {
            path: file.to_path_buf(),
            message: e.message().to_string(),
        })
}

impl CargoConfig {
    /// Reads the config files that apply to `cwd` and the `--config`
    /// arguments, then applies `CARGO_*` environment overrides from `env`.
    pub fn load(
        cwd: &Path,
        cargo_home: Option<&Path>,
        args: &[ConfigArg],
        env: &BTreeMap<String, String>,
    ) -> Result<Self, WorkspaceError> {
        let mut cfg = Self::from_sources(cwd, cargo_home, args)?;
        cfg.apply_env(env);
        Ok(cfg)
    }

    /// Reads the config files that apply to `cwd`, without `--config` and
    /// environment overrides.
    #[cfg(test)]
    pub fn from_files(cwd: &Path, cargo_home: Option<&Path>) -> Result<Self, WorkspaceError> {
        Self::from_sources(cwd, cargo_home, &[])
    }

    /// Reads the config files that apply to `cwd`, then the `--config`
    /// arguments over them, without environment overrides.
    pub fn from_sources(
        cwd: &Path,
        cargo_home: Option<&Path>,
        args: &[ConfigArg],
    ) -> Result<Self, WorkspaceError> {
        let files = discover(cwd, cargo_home);
        let mut cli_files: Vec<PathBuf> = args
            .iter()
            .rev()
            .filter_map(|a| match a {
                ConfigArg::File(p) => Some(p.clone()),
                ConfigArg::Value { .. } => None,
            })
            .collect();
        cli_files.extend(files.iter().cloned());
        let mut cfg = CargoConfig {
            files: cli_files,
            ..Default::default()
        };
        // Lowest precedence first, so later assignments win and arrays join
        // with higher-precedence items last.
        for file in files.iter().rev() {
            let value = read_config_file(file)?;
            // Paths in a config file are relative to the directory that holds `.cargo/`.
            let base = file
                .parent()
                .and_then(Path::parent)
                .unwrap_or(Path::new("/"));
            cfg.merge_table(&value, base, &ConfigSource::File(file.clone()))?;
        }
        for arg in args {
            let source = match arg {
                ConfigArg::File(p) => ConfigSource::CliFile(p.clone()),
                ConfigArg::Value { .. } => ConfigSource::CliValue,
            };
            cfg.merge_table(&arg.table()?, arg.base(), &source)?;
        }
        Ok(cfg)
    }

    fn merge_table(
        &mut self,
        t: &toml::Table,
        base: &Path,
        source: &ConfigSource,
    ) -> Result<(), WorkspaceError> {
        if let Some(build) = t.get("build").and_then(|b| b.as_table()) {
            self.merge_build(build, base, source)?;
        }
        if let Some(target) = t.get("target").and_then(|b| b.as_table()) {
            for (key, v) in target {
                let Some(tt) = v.as_table() else { continue };
                if let Some(f) = tt.get("rustflags") {
                    let path = format!("target.{key}.rustflags");
                    match self.target_rustflags.iter_mut().find(|(k, _)| k == key) {
                        Some((_, existing)) => {
                            existing.merge(&path, f, source)?;
                        }
                        None => {
                            let mut list = FlagList::default();
                            if list.merge(&path, f, source)? {
                                self.target_rustflags.push((key.clone(), list));
                            }
                        }
                    }
                }
                if let Some(l) = tt.get("linker").and_then(|v| v.as_str()) {
                    self.target_linker.retain(|(k, _)| k != key);
                    self.target_linker
                        .push((key.clone(), resolve_program(l, base)));
                    self.note(source, CliSet::Linker(key.clone()));
                }
            }
        }
        if let Some(env) = t.get("env").and_then(|b| b.as_table()) {
            for (k, v) in env {
                // Tables merge (`env.X.value` and `env.X.force` may come from
                // two arguments); a relative value is relative to the source
                // that set it.
                let (merged, at) = self.env_raw.entry(k.clone()).or_insert_with(|| {
                    (toml::Value::Table(toml::Table::new()), base.to_path_buf())
                });
                match (&mut *merged, v) {
                    (toml::Value::Table(a), toml::Value::Table(b)) => merge_deep(a, b),
                    _ => *merged = v.clone(),
                }
                if !v.is_table() || v.get("value").is_some() {
                    *at = base.to_path_buf();
                }
                self.env.insert(k.clone(), env_entry(merged, at));
            }
        }
        if let Some(profile) = t.get("profile").and_then(|b| b.as_table()) {
            merge_deep(&mut self.profile, profile);
            if source.is_cli() {
                merge_deep(&mut self.profile_cli, profile);
            }
        }
        Ok(())
    }

    fn merge_build(
        &mut self,
        build: &toml::Table,
        base: &Path,
        source: &ConfigSource,
    ) -> Result<(), WorkspaceError> {
        if let Some(f) = build.get("rustflags") {
            let list = self.build_rustflags.get_or_insert_with(FlagList::default);
            list.merge("build.rustflags", f, source)?;
        }
        if let Some(f) = build.get("rustdocflags") {
            let list = self
                .build_rustdocflags
                .get_or_insert_with(FlagList::default);
            list.merge("build.rustdocflags", f, source)?;
        }
        if let Some(s) = build.get("target").and_then(|v| v.as_str()) {
            self.build_target = Some(s.to_string());
            self.note(source, CliSet::BuildTarget);
        }
        if let Some(s) = build.get("target-dir").and_then(|v| v.as_str()) {
            self.target_dir = Some(TargetDirSetting {
                raw: s.to_string(),
                path: base.join(s),
                source: source.clone(),
            });
        }
        if let Some(j) = build.get("jobs") {
            let value = match j {
                toml::Value::Integer(n) => JobsSetting::Count(*n),
                toml::Value::String(s) if s == "default" => JobsSetting::Default,
                toml::Value::String(s) => JobsSetting::Invalid(s.clone()),
                other => JobsSetting::Invalid(other.to_string()),
            };
            self.jobs = Some(Sourced {
                value,
                source: source.clone(),
            });
        }
        if let Some(s) = build.get("rustc-wrapper").and_then(|v| v.as_str()) {
            self.rustc_wrapper = (!s.is_empty()).then(|| resolve_program(s, base));
            self.note(source, CliSet::RustcWrapper);
        }
        if let Some(s) = build.get("rustc").and_then(|v| v.as_str()) {
            self.rustc = Some(resolve_program(s, base));
            self.note(source, CliSet::Rustc);
        }
        Ok(())
    }

    /// Records (or clears) that `--config` set a setting.
    fn note(&mut self, source: &ConfigSource, what: CliSet) {
        if source.is_cli() {
            self.cli_set.insert(what);
        } else {
            self.cli_set.remove(&what);
        }
    }

    /// Whether `--config` set it (so that a `CARGO_*` variable does not).
    fn by_cli(&self, what: &CliSet) -> bool {
        self.cli_set.contains(what)
    }

    fn apply_env(&mut self, env: &BTreeMap<String, String>) {
        let words = |v: &str| -> Vec<String> { v.split_whitespace().map(str::to_string).collect() };
        if let Some(v) = env.get("CARGO_BUILD_RUSTFLAGS") {
            self.build_rustflags
                .get_or_insert_with(FlagList::default)
                .insert_env(words(v));
        }
        if let Some(v) = env.get("CARGO_BUILD_TARGET") {
            if !self.by_cli(&CliSet::BuildTarget) {
                self.build_target = Some(v.clone());
            }
        }
        // `RUSTC_WRAPPER` and `RUSTC` name the tools over any config, as
        // Cargo does; `CARGO_BUILD_*` are config variables below `--config`.
        let wrapper = env.get("RUSTC_WRAPPER").or_else(|| {
            env.get("CARGO_BUILD_RUSTC_WRAPPER")
                .filter(|_| !self.by_cli(&CliSet::RustcWrapper))
        });
        if let Some(v) = wrapper {
            self.rustc_wrapper = (!v.is_empty()).then(|| PathBuf::from(v));
        }
        let rustc = env.get("RUSTC").or_else(|| {
            env.get("CARGO_BUILD_RUSTC")
                .filter(|_| !self.by_cli(&CliSet::Rustc))
        });
        if let Some(v) = rustc {
            self.rustc = Some(PathBuf::from(v));
        }
        for (k, v) in env {
            let Some(rest) = k.strip_prefix("CARGO_TARGET_") else {
                continue;
            };
            if let Some(triple) = rest.strip_suffix("_RUSTFLAGS") {
                let key = triple.to_lowercase().replace('_', "-");
                match self
                    .target_rustflags
                    .iter_mut()
                    .find(|(k, _)| same_triple(k, &key))
                {
                    Some((_, list)) => list.insert_env(words(v)),
                    None => {
                        let mut list = FlagList::default();
                        list.insert_env(words(v));
                        self.target_rustflags.push((key, list));
                    }
                }
            } else if let Some(triple) = rest.strip_suffix("_LINKER") {
                let key = triple.to_lowercase().replace('_', "-");
                let from_cli = self
                    .target_linker
                    .iter()
                    .any(|(k, _)| same_triple(k, &key) && self.by_cli(&CliSet::Linker(k.clone())));
                if !from_cli {
                    self.target_linker.retain(|(k, _)| !same_triple(k, &key));
                    self.target_linker.push((key, PathBuf::from(v)));
                }
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
        for (key, list) in &self.target_rustflags {
            if same_triple(key, &info.triple) {
                from_target
                    .get_or_insert_with(Vec::new)
                    .splice(0..0, list.flags.iter().cloned());
            }
        }
        for (key, list) in &self.target_rustflags {
            if key.starts_with("cfg(") && info.matches(key)? {
                from_target
                    .get_or_insert_with(Vec::new)
                    .extend(list.flags.iter().cloned());
            }
        }
        if let Some(f) = from_target {
            return Ok(f);
        }
        Ok(self
            .build_rustflags
            .as_ref()
            .map(|l| l.flags.clone())
            .unwrap_or_default())
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

/// One `[env]` entry: a string, or a `{ value, force, relative }` table.
fn env_entry(v: &toml::Value, base: &Path) -> EnvEntry {
    match v {
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
    }
}

/// Merges `over` into `into`: tables key by key, any other value replaced.
pub(crate) fn merge_deep(into: &mut toml::Table, over: &toml::Table) {
    for (k, v) in over {
        match (into.get_mut(k), v) {
            (Some(toml::Value::Table(a)), toml::Value::Table(b)) => merge_deep(a, b),
            _ => {
                into.insert(k.clone(), v.clone());
            }
        }
    }
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
        let cfg = CargoConfig::load(d.path(), None, &[], &env).unwrap();
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
        let cfg = CargoConfig::load(d.path(), None, &[], &BTreeMap::new()).unwrap();
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
        assert_eq!(cfg.jobs.map(|j| j.value), Some(JobsSetting::Count(-1)));
        assert_eq!(JobsSetting::parse("default"), JobsSetting::Default);
        assert_eq!(JobsSetting::parse("x"), JobsSetting::Invalid("x".into()));
    }

    #[test]
    fn malformed_config_names_the_file() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "[build\n");
        let err = CargoConfig::load(d.path(), None, &[], &BTreeMap::new())
            .unwrap_err()
            .to_string();
        assert!(err.contains(".cargo/config.toml"), "{err}");
    }

    fn args(cwd: &Path, raw: &[&str]) -> Vec<ConfigArg> {
        raw.iter()
            .map(|a| ConfigArg::parse(a, cwd).unwrap())
            .collect()
    }

    fn vars(v: &[(&str, &str)]) -> BTreeMap<String, String> {
        v.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn rustflags_lists_join_files_then_the_environment_then_config_args() {
        // As `cargo build -v` shows: `--cfg file --cfg env --cfg cli`.
        let d = tempfile::tempdir().unwrap();
        write(
            d.path(),
            "[build]\nrustflags = [\"--cfg\", \"file\"]\n[target.x86_64-unknown-linux-gnu]\nrustflags = [\"--cfg\", \"tfile\"]\n",
        );
        let cli = args(
            d.path(),
            &[
                "build.rustflags = [\"--cfg\", \"cli\"]",
                "target.x86_64-unknown-linux-gnu.rustflags = [\"--cfg\", \"tcli\"]",
            ],
        );
        let env = vars(&[
            ("CARGO_BUILD_RUSTFLAGS", "--cfg env"),
            (
                "CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS",
                "--cfg tenv",
            ),
        ]);
        let cfg = CargoConfig::load(d.path(), None, &cli, &env).unwrap();
        assert_eq!(
            cfg.build_rustflags.unwrap().flags,
            ["--cfg", "file", "--cfg", "env", "--cfg", "cli"]
        );
        assert_eq!(
            CargoConfig::load(d.path(), None, &cli, &BTreeMap::new())
                .unwrap()
                .rustflags(&BTreeMap::new(), &info())
                .unwrap(),
            ["--cfg", "tfile", "--cfg", "tcli"]
        );
        let cfg = CargoConfig::load(d.path(), None, &cli, &env).unwrap();
        assert_eq!(
            cfg.rustflags(&BTreeMap::new(), &info()).unwrap(),
            ["--cfg", "tfile", "--cfg", "tenv", "--cfg", "tcli"]
        );
        // RUSTFLAGS still wins over every config source.
        let rf = vars(&[("RUSTFLAGS", "--cfg plain")]);
        assert_eq!(cfg.rustflags(&rf, &info()).unwrap(), ["--cfg", "plain"]);
    }

    #[test]
    fn a_string_replaces_a_string_and_a_type_mismatch_names_both_sources() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "[build]\nrustflags = \"--cfg file\"\n");
        let cli = args(d.path(), &["build.rustflags = \"--cfg cli\""]);
        let env = vars(&[("CARGO_BUILD_RUSTFLAGS", "--cfg env")]);
        let cfg = CargoConfig::load(d.path(), None, &cli, &env).unwrap();
        assert_eq!(
            cfg.build_rustflags.unwrap().flags,
            ["--cfg", "env", "--cfg", "cli"]
        );
        let cli = args(d.path(), &["build.rustflags = [\"--cfg\", \"cli\"]"]);
        let e = CargoConfig::load(d.path(), None, &cli, &env)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            format!(
                "failed to merge config value of `build.rustflags` from `--config cli option` into `{}`: expected string, but found array",
                d.path().join(".cargo/config.toml").display()
            )
        );
    }

    #[test]
    fn config_args_win_over_config_variables_but_not_over_tool_variables() {
        let d = tempfile::tempdir().unwrap();
        write(
            d.path(),
            "[build]\ntarget = \"file-triple\"\nrustc = \"file-rustc\"\n[target.x86_64-unknown-linux-gnu]\nlinker = \"file-cc\"\n[env]\nA = \"file\"\nB = \"file\"\n",
        );
        let cli = args(
            Path::new("/cwd"),
            &[
                "build.target = \"cli-triple\"",
                "build.rustc = \"bin/cli-rustc\"",
                "target.x86_64-unknown-linux-gnu.linker = \"cli-cc\"",
                "env.A = \"cli\"",
                "env.C.value = \"c\"",
                "env.C.relative = true",
            ],
        );
        let env = vars(&[
            ("CARGO_BUILD_TARGET", "env-triple"),
            ("CARGO_BUILD_RUSTC", "env-rustc"),
            ("CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER", "env-cc"),
        ]);
        let cfg = CargoConfig::load(d.path(), None, &cli, &env).unwrap();
        assert_eq!(cfg.build_target.as_deref(), Some("cli-triple"));
        // A path in a `--config` value is relative to the current directory.
        assert_eq!(cfg.rustc, Some(PathBuf::from("/cwd/bin/cli-rustc")));
        assert_eq!(cfg.linker(&info()).unwrap(), Some(PathBuf::from("cli-cc")));
        assert_eq!(
            (cfg.env["A"].value.as_str(), cfg.env["B"].value.as_str()),
            ("cli", "file")
        );
        assert_eq!(cfg.env["C"].value, "/cwd/c");
        // Without `--config`, the variables win over the file.
        let cfg = CargoConfig::load(d.path(), None, &[], &env).unwrap();
        assert_eq!(cfg.build_target.as_deref(), Some("env-triple"));
        assert_eq!(cfg.rustc, Some(PathBuf::from("env-rustc")));
        assert_eq!(cfg.linker(&info()).unwrap(), Some(PathBuf::from("env-cc")));
        // `RUSTC` names the tool over any config.
        let cfg = CargoConfig::load(d.path(), None, &cli, &vars(&[("RUSTC", "tool")])).unwrap();
        assert_eq!(cfg.rustc, Some(PathBuf::from("tool")));
    }

    #[test]
    fn config_files_are_read_after_the_discovered_ones_relative_to_their_parent() {
        let d = tempfile::tempdir().unwrap();
        write(
            d.path(),
            "[build]\njobs = 1\ntarget-dir = \"file\"\n[profile.dev]\nopt-level = 1\ndebug = 0\n",
        );
        std::fs::create_dir_all(d.path().join("extra/conf")).unwrap();
        let extra = d.path().join("extra/conf/more.toml");
        std::fs::write(
            &extra,
            "[build]\njobs = 2\ntarget-dir = \"out\"\n[profile.dev]\nopt-level = 2\n",
        )
        .unwrap();
        let cli = args(d.path(), &["extra/conf/more.toml", "build.jobs = 3"]);
        let cfg = CargoConfig::from_sources(d.path(), None, &cli).unwrap();
        assert_eq!(
            cfg.files,
            [extra.clone(), d.path().join(".cargo/config.toml")]
        );
        assert_eq!(
            cfg.jobs,
            Some(Sourced {
                value: JobsSetting::Count(3),
                source: ConfigSource::CliValue
            })
        );
        let td = cfg.target_dir.unwrap();
        assert_eq!(
            (td.path, td.source),
            (d.path().join("extra/out"), ConfigSource::CliFile(extra))
        );
        assert_eq!(cfg.profile["dev"]["opt-level"].as_integer(), Some(2));
        assert_eq!(cfg.profile["dev"]["debug"].as_integer(), Some(0));
    }
}
