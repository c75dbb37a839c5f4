//! Profile settings from the environment: `CARGO_PROFILE_<NAME>_<KEY>` and
//! `CARGO_PROFILE_<NAME>_BUILD_OVERRIDE_<KEY>`, as Cargo reads them (CI
//! scripts set `CARGO_PROFILE_RELEASE_DEBUG=true` or
//! `CARGO_PROFILE_DEV_DEBUG=0`).
//!
//! Cargo looks the variables up from the profiles it knows: the name is
//! upper-cased with `-` turned into `_` (`ci-fast` reads `CARGO_PROFILE_CI_FAST_LTO`).
//! They rank above the config files and below `--config`; `package`
//! overrides have no variables.

use std::collections::{BTreeMap, BTreeSet};

use super::errors::WorkspaceError;

/// How a variable's text becomes a TOML value.
#[derive(Clone, Copy)]
enum Kind {
    Bool,
    Int,
    Str,
    /// `true`/`false`, an integer or a string, as the key allows
    /// (`opt-level = 2` or `"s"`, `debug = true`, `1` or `"limited"`).
    Any,
}

/// The keys of a profile table that a variable can set.
const KEYS: &[(&str, Kind)] = &[
    ("opt-level", Kind::Any),
    ("debug", Kind::Any),
    ("debug-assertions", Kind::Bool),
    ("overflow-checks", Kind::Bool),
    ("lto", Kind::Any),
    ("panic", Kind::Str),
    ("codegen-units", Kind::Int),
    ("incremental", Kind::Bool),
    ("strip", Kind::Any),
    ("split-debuginfo", Kind::Str),
    ("rpath", Kind::Bool),
    ("inherits", Kind::Str),
];

fn var_part(key: &str) -> String {
    key.to_uppercase().replace('-', "_")
}

fn value(var: &str, key: &str, kind: Kind, text: &str) -> Result<toml::Value, WorkspaceError> {
    let boolean = match text {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    };
    let int = text.parse::<i64>().ok();
    let v = match kind {
        Kind::Bool => boolean.map(toml::Value::Boolean),
        Kind::Int => int.map(toml::Value::Integer),
        Kind::Str => Some(toml::Value::String(text.to_string())),
        Kind::Any => Some(
            boolean
                .map(toml::Value::Boolean)
                .or(int.map(toml::Value::Integer))
                .unwrap_or_else(|| toml::Value::String(text.to_string())),
        ),
    };
    v.ok_or_else(|| {
        let expected = match kind {
            Kind::Bool => "a boolean (`true` or `false`)",
            _ => "an integer",
        };
        WorkspaceError::Profile(format!(
            "error in environment variable `{var}`: could not load config key `{key}`: expected {expected}, found `{text}`"
        ))
    })
}

/// The `[profile]` tables the environment sets for the profiles `names`.
pub(crate) fn profiles_from_env<'a>(
    names: impl IntoIterator<Item = &'a str>,
    env: &BTreeMap<String, String>,
) -> Result<toml::Table, WorkspaceError> {
    let names: BTreeSet<&str> = names.into_iter().collect();
    let mut out = toml::Table::new();
    for name in names {
        let prefix = format!("CARGO_PROFILE_{}_", var_part(name));
        let mut table = toml::Table::new();
        let mut overrides = toml::Table::new();
        for (key, kind) in KEYS {
            let direct = format!("{prefix}{}", var_part(key));
            if let Some(text) = env.get(&direct) {
                let path = format!("profile.{name}.{key}");
                table.insert(key.to_string(), value(&direct, &path, *kind, text)?);
            }
            let build = format!("{prefix}BUILD_OVERRIDE_{}", var_part(key));
            if let (Some(text), false) = (env.get(&build), *key == "inherits") {
                let path = format!("profile.{name}.build-override.{key}");
                overrides.insert(key.to_string(), value(&build, &path, *kind, text)?);
            }
        }
        if !overrides.is_empty() {
            table.insert("build-override".into(), toml::Value::Table(overrides));
        }
        if !table.is_empty() {
            out.insert(name.to_string(), toml::Value::Table(table));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> BTreeMap<String, String> {
        vars.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn variables_become_typed_profile_keys() {
        let e = env(&[
            ("CARGO_PROFILE_RELEASE_DEBUG", "true"),
            ("CARGO_PROFILE_RELEASE_OPT_LEVEL", "s"),
            ("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "1"),
            ("CARGO_PROFILE_DEV_DEBUG", "0"),
            ("CARGO_PROFILE_DEV_BUILD_OVERRIDE_OPT_LEVEL", "3"),
            ("CARGO_PROFILE_CI_FAST_LTO", "thin"),
            ("CARGO_PROFILE_CI_FAST_OVERFLOW_CHECKS", "false"),
            ("CARGO_PROFILE_UNKNOWN_DEBUG", "true"),
        ]);
        let t = profiles_from_env(["dev", "release", "ci-fast"], &e).unwrap();
        let expected: toml::Table = toml::from_str(
            r#"
            [dev]
            debug = 0
            build-override = { opt-level = 3 }
            [release]
            debug = true
            opt-level = "s"
            codegen-units = 1
            [ci-fast]
            lto = "thin"
            overflow-checks = false
            "#,
        )
        .unwrap();
        assert_eq!(t, expected);
    }

    #[test]
    fn a_value_of_the_wrong_type_names_the_variable() {
        let e = env(&[("CARGO_PROFILE_DEV_DEBUG_ASSERTIONS", "yes")]);
        let err = profiles_from_env(["dev"], &e).unwrap_err().to_string();
        assert_eq!(
            err,
            "error in environment variable `CARGO_PROFILE_DEV_DEBUG_ASSERTIONS`: could not load config key `profile.dev.debug-assertions`: expected a boolean (`true` or `false`), found `yes`"
        );
        let e = env(&[("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "many")]);
        let err = profiles_from_env(["release"], &e).unwrap_err().to_string();
        assert!(
            err.contains("`CARGO_PROFILE_RELEASE_CODEGEN_UNITS`"),
            "{err}"
        );
        assert!(err.contains("expected an integer"), "{err}");
    }
}
