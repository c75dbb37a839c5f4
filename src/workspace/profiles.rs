//! Profiles: `[profile.*]` tables of the workspace root manifest, resolved
//! per unit exactly as Cargo does (built-in defaults, `inherits`, the
//! profile table, host defaults, `build-override`, `package."*"` for
//! non-members, `package.<name>`).

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::config::{merge_deep, CargoConfig};
use super::profile_env::profiles_from_env;
use super::WorkspaceError;

/// Debuginfo level as written in a profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DebugInfo {
    /// `false` / 0.
    None,
    /// `1` / "limited".
    Limited,
    /// `2` / `true` / "full".
    Full,
    /// "line-tables-only".
    LineTablesOnly,
    /// "line-directives-only".
    LineDirectivesOnly,
}

impl DebugInfo {
    /// The `-C debuginfo=` value, or None when off.
    pub fn flag(self) -> Option<&'static str> {
        match self {
            DebugInfo::None => None,
            DebugInfo::Limited => Some("1"),
            DebugInfo::Full => Some("2"),
            DebugInfo::LineTablesOnly => Some("line-tables-only"),
            DebugInfo::LineDirectivesOnly => Some("line-directives-only"),
        }
    }

    /// Whether any debuginfo is produced.
    pub fn is_on(self) -> bool {
        self != DebugInfo::None
    }

    /// The value of the `DEBUG` variable for build scripts.
    pub fn env_value(self) -> &'static str {
        if self.is_on() {
            "true"
        } else {
            "false"
        }
    }
}

/// `opt-level`. Serialised as written in a profile (`"0"`, `"s"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum OptLevel {
    /// `0`.
    #[serde(rename = "0")]
    O0,
    /// `1`.
    #[serde(rename = "1")]
    O1,
    /// `2`.
    #[serde(rename = "2")]
    O2,
    /// `3`.
    #[serde(rename = "3")]
    O3,
    /// `"s"`: optimise for size.
    #[serde(rename = "s")]
    S,
    /// `"z"`: optimise for size, without loop vectorisation.
    #[serde(rename = "z")]
    Z,
}

impl OptLevel {
    /// The value of `-C opt-level=` and of `OPT_LEVEL` for build scripts.
    pub fn as_str(self) -> &'static str {
        match self {
            OptLevel::O0 => "0",
            OptLevel::O1 => "1",
            OptLevel::O2 => "2",
            OptLevel::O3 => "3",
            OptLevel::S => "s",
            OptLevel::Z => "z",
        }
    }

    fn parse(s: &str) -> Option<OptLevel> {
        Some(match s {
            "0" => OptLevel::O0,
            "1" => OptLevel::O1,
            "2" => OptLevel::O2,
            "3" => OptLevel::O3,
            "s" => OptLevel::S,
            "z" => OptLevel::Z,
            _ => return None,
        })
    }
}

impl std::fmt::Display for OptLevel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `panic`: the panic strategy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PanicStrategy {
    /// `unwind` (the default).
    Unwind,
    /// `abort`.
    Abort,
}

impl PanicStrategy {
    /// The value of `-C panic=`.
    pub fn as_str(self) -> &'static str {
        match self {
            PanicStrategy::Unwind => "unwind",
            PanicStrategy::Abort => "abort",
        }
    }
}

impl std::fmt::Display for PanicStrategy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// LTO setting as written.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Lto {
    /// `false` (the default).
    False,
    /// `true` or "fat".
    Fat,
    /// "thin".
    Thin,
    /// "off".
    Off,
}

/// A profile resolved for one unit.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Profile {
    /// Requested profile name (`dev`, `release`, `ci`).
    pub name: String,
    /// `debug` or `release`: the root the profile inherits from (`PROFILE` env).
    pub root: String,
    /// `opt-level`.
    pub opt_level: OptLevel,
    /// Debuginfo level.
    pub debuginfo: DebugInfo,
    /// Debuginfo chosen late for host units (Cargo's "deferred" debuginfo):
    /// off unless the same unit is also built for the target.
    pub debuginfo_deferred: bool,
    /// `debug-assertions`.
    pub debug_assertions: bool,
    /// `overflow-checks`.
    pub overflow_checks: bool,
    /// `lto`.
    pub lto: Lto,
    /// `panic`.
    pub panic: PanicStrategy,
    /// `codegen-units`, None = rustc default.
    pub codegen_units: Option<u32>,
    /// `incremental` (only honoured for path packages).
    pub incremental: bool,
    /// `strip`: None = not set (Cargo may strip debuginfo automatically).
    pub strip: Option<String>,
    /// `split-debuginfo`.
    pub split_debuginfo: Option<String>,
    /// `rpath`.
    pub rpath: bool,
}

impl Profile {
    fn default_dev() -> Self {
        Profile {
            name: "dev".into(),
            root: "debug".into(),
            opt_level: OptLevel::O0,
            debuginfo: DebugInfo::Full,
            debuginfo_deferred: false,
            debug_assertions: true,
            overflow_checks: true,
            lto: Lto::False,
            panic: PanicStrategy::Unwind,
            codegen_units: None,
            incremental: true,
            strip: None,
            split_debuginfo: None,
            rpath: false,
        }
    }

    fn default_release() -> Self {
        Profile {
            name: "release".into(),
            root: "release".into(),
            opt_level: OptLevel::O3,
            debuginfo: DebugInfo::None,
            debug_assertions: false,
            overflow_checks: false,
            incremental: false,
            ..Self::default_dev()
        }
    }
}

/// A `[profile.x]` table (or an override table inside one).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct TomlProfile {
    inherits: Option<String>,
    opt_level: Option<toml::Value>,
    debug: Option<toml::Value>,
    debug_assertions: Option<bool>,
    overflow_checks: Option<bool>,
    lto: Option<toml::Value>,
    panic: Option<String>,
    codegen_units: Option<u32>,
    incremental: Option<bool>,
    strip: Option<toml::Value>,
    split_debuginfo: Option<String>,
    rpath: Option<bool>,
    build_override: Option<Box<TomlProfile>>,
    #[serde(default)]
    package: BTreeMap<String, TomlProfile>,
}

fn parse_manifest(text: &str, path: &Path) -> Result<toml::Table, WorkspaceError> {
    text.parse()
        .map_err(|e: toml::de::Error| WorkspaceError::Parse {
            path: path.to_path_buf(),
            message: e.message().to_string(),
        })
}

fn bad(name: &str, msg: String) -> WorkspaceError {
    WorkspaceError::Profile(format!("invalid `[profile.{name}]`: {msg}"))
}

impl TomlProfile {
    fn merge_into(&self, p: &mut Profile, profile_name: &str) -> Result<(), WorkspaceError> {
        if let Some(v) = &self.opt_level {
            let level = match v {
                toml::Value::Integer(i @ 0..=3) => OptLevel::parse(&i.to_string()),
                toml::Value::String(s) => OptLevel::parse(s),
                _ => None,
            };
            p.opt_level = match level {
                Some(l) => l,
                None => {
                    let other = v;
                    return Err(bad(
                        profile_name,
                        format!("opt-level {other} must be 0-3, \"s\" or \"z\""),
                    ));
                }
            };
        }
        if let Some(v) = &self.debug {
            p.debuginfo = match v {
                toml::Value::Boolean(true) | toml::Value::Integer(2) => DebugInfo::Full,
                toml::Value::Boolean(false) | toml::Value::Integer(0) => DebugInfo::None,
                toml::Value::Integer(1) => DebugInfo::Limited,
                toml::Value::String(s) => match s.as_str() {
                    "full" => DebugInfo::Full,
                    "limited" => DebugInfo::Limited,
                    "none" => DebugInfo::None,
                    "line-tables-only" => DebugInfo::LineTablesOnly,
                    "line-directives-only" => DebugInfo::LineDirectivesOnly,
                    _ => return Err(bad(profile_name, format!("unknown debug setting `{s}`"))),
                },
                other => {
                    return Err(bad(
                        profile_name,
                        format!("unknown debug setting `{other}`"),
                    ))
                }
            };
            p.debuginfo_deferred = false;
        }
        if let Some(v) = self.debug_assertions {
            p.debug_assertions = v;
        }
        if let Some(v) = self.overflow_checks {
            p.overflow_checks = v;
        }
        if let Some(v) = &self.lto {
            p.lto = match v {
                toml::Value::Boolean(true) => Lto::Fat,
                toml::Value::Boolean(false) => Lto::False,
                toml::Value::String(s) => match s.as_str() {
                    "fat" => Lto::Fat,
                    "thin" => Lto::Thin,
                    "off" => Lto::Off,
                    "false" | "no" => Lto::Off,
                    "true" | "yes" => Lto::Fat,
                    _ => return Err(bad(profile_name, format!("unknown lto setting `{s}`"))),
                },
                other => return Err(bad(profile_name, format!("unknown lto setting `{other}`"))),
            };
        }
        if let Some(v) = &self.panic {
            p.panic = match v.as_str() {
                "unwind" => PanicStrategy::Unwind,
                "abort" => PanicStrategy::Abort,
                _ => {
                    return Err(bad(
                        profile_name,
                        format!("panic must be \"unwind\" or \"abort\", not `{v}`"),
                    ))
                }
            };
        }
        if let Some(v) = self.codegen_units {
            p.codegen_units = Some(v);
        }
        if let Some(v) = self.incremental {
            p.incremental = v;
        }
        // Cargo resets `strip` on every merged table: absent means "not set".
        p.strip = match &self.strip {
            None => None,
            Some(toml::Value::Boolean(true)) => Some("symbols".into()),
            Some(toml::Value::Boolean(false)) => Some("none".into()),
            Some(toml::Value::String(s)) => Some(s.clone()),
            Some(other) => {
                return Err(bad(
                    profile_name,
                    format!("unknown strip setting `{other}`"),
                ))
            }
        };
        if let Some(v) = &self.split_debuginfo {
            p.split_debuginfo = Some(v.clone());
        }
        if let Some(v) = self.rpath {
            p.rpath = v;
        }
        Ok(())
    }
}

/// All profiles of a workspace plus the one that was requested.
#[derive(Clone, Debug)]
pub struct Profiles {
    tables: BTreeMap<String, TomlProfile>,
    requested: String,
    /// `CARGO_INCREMENTAL` override.
    incremental_override: Option<bool>,
}

/// Where a unit sits, which decides the overrides that apply to it.
#[derive(Clone, Copy, Debug)]
pub struct ProfileFor<'a> {
    /// Package name.
    pub package: &'a str,
    /// Package version (for `name@version` override specs).
    pub version: &'a str,
    /// Whether the package is a workspace member.
    pub is_member: bool,
    /// Whether the package is a path package (incremental applies).
    pub is_local: bool,
    /// Build script, proc-macro or one of their dependencies.
    pub for_host: bool,
    /// Forced `panic = "unwind"` (host units and the test graph).
    pub force_unwind: bool,
}

impl Profiles {
    /// Reads `[profile]` from the root manifest and selects `requested`.
    #[cfg(test)]
    pub fn load(
        root_manifest: &Path,
        requested: &str,
        incremental_override: Option<bool>,
    ) -> Result<Self, WorkspaceError> {
        Self::load_with_config(
            root_manifest,
            &CargoConfig::default(),
            &BTreeMap::new(),
            requested,
            incremental_override,
        )
    }

    /// Reads `[profile]` from the root manifest with, over it, as Cargo
    /// ranks them: the `[profile]` tables of the config files, the
    /// `CARGO_PROFILE_*` variables of `env`, then `--config`.
    pub fn load_with_config(
        root_manifest: &Path,
        config: &CargoConfig,
        env: &BTreeMap<String, String>,
        requested: &str,
        incremental_override: Option<bool>,
    ) -> Result<Self, WorkspaceError> {
        let text = std::fs::read_to_string(root_manifest).map_err(|e| WorkspaceError::Parse {
            path: root_manifest.to_path_buf(),
            message: e.to_string(),
        })?;
        let mut doc = parse_manifest(&text, root_manifest)?;
        let profile = doc
            .entry("profile")
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if let toml::Value::Table(t) = profile {
            merge_deep(t, &config.profile);
            let known: Vec<String> = t.keys().cloned().collect();
            let names = ["dev", "release", "test", "bench"]
                .into_iter()
                .chain(known.iter().map(String::as_str))
                .chain([requested]);
            merge_deep(t, &profiles_from_env(names, env)?);
            merge_deep(t, &config.profile_cli);
        }
        Self::from_doc(&doc, root_manifest, requested, incremental_override)
    }

    /// As [`Profiles::load`] but from text (for tests).
    #[cfg(test)]
    pub fn from_manifest_text(
        text: &str,
        path: &Path,
        requested: &str,
        incremental_override: Option<bool>,
    ) -> Result<Self, WorkspaceError> {
        let doc = parse_manifest(text, path)?;
        Self::from_doc(&doc, path, requested, incremental_override)
    }

    fn from_doc(
        doc: &toml::Table,
        path: &Path,
        requested: &str,
        incremental_override: Option<bool>,
    ) -> Result<Self, WorkspaceError> {
        let mut tables = BTreeMap::new();
        if let Some(profile) = doc.get("profile").and_then(|v| v.as_table()) {
            for (name, v) in profile {
                let t: TomlProfile =
                    v.clone()
                        .try_into()
                        .map_err(|e: toml::de::Error| WorkspaceError::Parse {
                            path: path.to_path_buf(),
                            message: format!("in `[profile.{name}]`: {}", e.message()),
                        })?;
                tables.insert(name.clone(), t);
            }
        }
        let p = Profiles {
            tables,
            requested: requested.to_string(),
            incremental_override,
        };
        // Validate the chain now so that errors name the profile up front.
        p.base_chain(requested)?;
        Ok(p)
    }

    /// The directory name under the target dir (`debug`, `release`, `<name>`).
    pub fn dir_name(&self) -> String {
        match self.requested.as_str() {
            "dev" | "test" => "debug".into(),
            "release" | "bench" => "release".into(),
            other => other.into(),
        }
    }

    /// Profile names from the built-in root to `name`.
    fn base_chain(&self, name: &str) -> Result<Vec<String>, WorkspaceError> {
        let mut chain = vec![name.to_string()];
        let mut cur = name.to_string();
        loop {
            let parent = match cur.as_str() {
                "dev" | "release" => break,
                "test" => self
                    .tables
                    .get("test")
                    .and_then(|t| t.inherits.clone())
                    .unwrap_or("dev".into()),
                "bench" => self
                    .tables
                    .get("bench")
                    .and_then(|t| t.inherits.clone())
                    .unwrap_or("release".into()),
                other => match self.tables.get(other) {
                    None => {
                        return Err(WorkspaceError::Profile(format!(
                            "profile `{other}` is not defined (requested `{name}`)"
                        )))
                    }
                    Some(t) => t.inherits.clone().ok_or_else(|| {
                        WorkspaceError::Profile(format!(
                            "profile `{other}` is missing an `inherits` directive"
                        ))
                    })?,
                },
            };
            if chain.contains(&parent) {
                return Err(WorkspaceError::Profile(format!(
                    "profile inheritance loop detected with profile `{parent}`"
                )));
            }
            chain.push(parent.clone());
            cur = parent;
        }
        chain.reverse();
        Ok(chain)
    }

    /// The profile for one unit.
    pub fn get(&self, f: ProfileFor<'_>) -> Result<Profile, WorkspaceError> {
        let chain = self.base_chain(&self.requested)?;
        let mut p = if chain[0] == "release" {
            Profile::default_release()
        } else {
            Profile::default_dev()
        };
        for name in &chain {
            if let Some(t) = self.tables.get(name) {
                t.merge_into(&mut p, name)?;
            }
        }
        if f.for_host {
            p.opt_level = OptLevel::O0;
            p.codegen_units = None;
            p.debuginfo_deferred = true;
        }
        // Overrides: every table in the inheritance chain contributes
        // build-override and package tables, outermost last.
        for name in &chain {
            let Some(t) = self.tables.get(name) else {
                continue;
            };
            if f.for_host {
                if let Some(bo) = &t.build_override {
                    bo.merge_into(&mut p, name)?;
                }
            }
            if !f.is_member {
                if let Some(all) = t.package.get("*") {
                    all.merge_into(&mut p, name)?;
                }
            }
            let spec_name = format!("{}@{}", f.package, f.version);
            if let Some(spec) = t
                .package
                .get(f.package)
                .or_else(|| t.package.get(&spec_name))
            {
                spec.merge_into(&mut p, name)?;
            }
        }
        if f.force_unwind || f.for_host {
            p.panic = PanicStrategy::Unwind;
        }
        if let Some(v) = self.incremental_override {
            p.incremental = v;
        }
        if !f.is_local {
            p.incremental = false;
        }
        p.name = self.requested.clone();
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: &str = r#"
[profile.dev]
opt-level = 1
[profile.dev.package."*"]
opt-level = 2
debug = false
[profile.dev.build-override]
opt-level = 0
debug = true
[profile.release]
lto = "thin"
panic = "abort"
codegen-units = 4
[profile.ci]
inherits = "release"
codegen-units = 8
[profile.ci.package.util]
opt-level = 2
"#;

    fn f(pkg: &str, member: bool, host: bool) -> ProfileFor<'_> {
        ProfileFor {
            package: pkg,
            version: "1.0.0",
            is_member: member,
            is_local: member,
            for_host: host,
            force_unwind: false,
        }
    }

    #[test]
    fn member_and_registry_in_dev() {
        let p =
            Profiles::from_manifest_text(MANIFEST, Path::new("Cargo.toml"), "dev", None).unwrap();
        let m = p.get(f("app", true, false)).unwrap();
        assert_eq!(
            (m.opt_level.as_str(), m.debuginfo, m.incremental),
            ("1", DebugInfo::Full, true)
        );
        let r = p.get(f("anyhow", false, false)).unwrap();
        assert_eq!(
            (r.opt_level.as_str(), r.debuginfo, r.incremental),
            ("2", DebugInfo::None, false)
        );
        // package."*" beats build-override for registry build scripts.
        let rh = p.get(f("anyhow", false, true)).unwrap();
        assert_eq!(rh.opt_level, OptLevel::O2);
        let mh = p.get(f("app", true, true)).unwrap();
        assert_eq!(
            (mh.opt_level.as_str(), mh.debuginfo, mh.debuginfo_deferred),
            ("0", DebugInfo::Full, false)
        );
    }

    #[test]
    fn custom_profile_inherits_release() {
        let p =
            Profiles::from_manifest_text(MANIFEST, Path::new("Cargo.toml"), "ci", None).unwrap();
        assert_eq!(p.dir_name(), "ci");
        let u = p.get(f("util", true, false)).unwrap();
        assert_eq!(
            (
                u.opt_level.as_str(),
                u.codegen_units,
                u.lto.clone(),
                u.panic.as_str()
            ),
            ("2", Some(8), Lto::Thin, "abort")
        );
        let host = p.get(f("util", true, true)).unwrap();
        assert_eq!(host.panic, PanicStrategy::Unwind);
    }

    #[test]
    fn undefined_profile_is_an_error() {
        let err = Profiles::from_manifest_text(MANIFEST, Path::new("Cargo.toml"), "nope", None)
            .unwrap_err();
        assert!(
            err.to_string().contains("profile `nope` is not defined"),
            "{err}"
        );
    }
}
