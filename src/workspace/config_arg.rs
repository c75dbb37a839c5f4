//! `--config KEY=VALUE` and `--config PATH`, with Cargo's rules: an
//! argument naming an existing file (relative to the current directory) is
//! an extra config file; anything else must be one TOML dotted-key
//! expression such as `build.jobs = 2`, whose value is not an inline table.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// One `--config` argument, checked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConfigArg {
    /// `--config KEY=VALUE`: a dotted-key expression, as given.
    Value {
        /// The expression.
        expr: String,
        /// The directory its relative paths are relative to: the
        /// invocation's current directory.
        cwd: PathBuf,
    },
    /// `--config PATH`: an extra config file (absolute).
    File(PathBuf),
}

/// A `--config` argument that Cargo would refuse.
#[derive(Debug, thiserror::Error)]
pub enum ConfigArgError {
    /// Neither an existing file nor valid TOML.
    #[error("failed to parse value from --config argument `{arg}` as a dotted key expression\n\nCaused by:\n  {message}")]
    NotToml {
        /// The argument.
        arg: String,
        /// The TOML parser's message.
        message: String,
    },
    /// TOML, but not a single `a.b.c = value` expression.
    #[error(
        "--config argument `{0}` was not a TOML dotted key expression (such as `build.jobs = 2`)"
    )]
    NotDotted(String),
    /// `a = { b = 1 }`.
    #[error("--config argument `{0}` sets a value to an inline table, which is not accepted")]
    InlineTable(String),
    /// A comment in the expression.
    #[error("--config argument `{0}` includes non-whitespace decoration")]
    Decoration(String),
    /// A `--config PATH` file that cannot be read or parsed.
    #[error("failed to load config from `{}`: {message}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
}

impl ConfigArg {
    /// Checks one argument; `cwd` is the invocation's current directory.
    pub fn parse(arg: &str, cwd: &Path) -> Result<ConfigArg, ConfigArgError> {
        let as_path = cwd.join(arg);
        if !arg.is_empty() && as_path.exists() {
            return Ok(ConfigArg::File(as_path));
        }
        dotted_table(arg)?;
        Ok(ConfigArg::Value {
            expr: arg.to_string(),
            cwd: cwd.to_path_buf(),
        })
    }

    /// The argument to pass on to `cargo metadata` (a file made absolute).
    pub fn as_arg(&self) -> std::ffi::OsString {
        match self {
            ConfigArg::Value { expr, .. } => expr.into(),
            ConfigArg::File(p) => p.into(),
        }
    }

    /// Whether this is a value whose key names a secret (`env.API_TOKEN`,
    /// `registries.x.token`), by the policy of [`crate::core::secret`]: such
    /// an argument must not be sent to the resident server. A file is sent
    /// by its path only.
    pub fn sets_secret(&self) -> bool {
        fn any_secret(t: &toml::Table) -> bool {
            t.iter().any(|(k, v)| {
                crate::core::secret::is_secret_var(k) || v.as_table().is_some_and(any_secret)
            })
        }
        match self {
            ConfigArg::Value { expr, .. } => dotted_table(expr).map_or(true, |t| any_secret(&t)),
            ConfigArg::File(_) => false,
        }
    }

    /// The table this argument sets.
    pub fn table(&self) -> Result<toml::Table, ConfigArgError> {
        match self {
            ConfigArg::Value { expr, .. } => dotted_table(expr),
            ConfigArg::File(path) => {
                let file_err = |message: String| ConfigArgError::File {
                    path: path.clone(),
                    message,
                };
                let text = std::fs::read_to_string(path).map_err(|e| file_err(e.to_string()))?;
                text.parse()
                    .map_err(|e: toml::de::Error| file_err(e.message().to_string()))
            }
        }
    }

    /// The directory relative paths of this argument's values are resolved
    /// against, as Cargo does: the current directory for a value, the parent
    /// of the file's directory for a file (as for `.cargo/config.toml`).
    pub fn base(&self) -> &Path {
        match self {
            ConfigArg::Value { cwd, .. } => cwd,
            ConfigArg::File(p) => p.parent().and_then(Path::parent).unwrap_or(Path::new("/")),
        }
    }
}

/// Parses a dotted-key expression into the table it sets.
fn dotted_table(arg: &str) -> Result<toml::Table, ConfigArgError> {
    let table: toml::Table = arg.parse().map_err(|e: toml::de::Error| {
        // The parser's report (position, excerpt, message), indented under
        // "Caused by:" as Cargo prints it.
        let message = e
            .to_string()
            .trim_end()
            .lines()
            .collect::<Vec<_>>()
            .join("\n  ");
        ConfigArgError::NotToml {
            arg: arg.to_string(),
            message,
        }
    })?;
    let Some(key_len) = dotted_key_len(arg) else {
        return Err(ConfigArgError::NotDotted(arg.to_string()));
    };
    if has_comment(arg) {
        return Err(ConfigArgError::Decoration(arg.to_string()));
    }
    // Walk the single path of one-entry tables the key made.
    let mut depth = 0;
    let mut level = &table;
    loop {
        let mut entries = level.iter();
        let (Some((_, value)), None) = (entries.next(), entries.next()) else {
            return Err(ConfigArgError::NotDotted(arg.to_string()));
        };
        depth += 1;
        match value {
            toml::Value::Table(inner) if depth < key_len => level = inner,
            toml::Value::Table(_) => return Err(ConfigArgError::InlineTable(arg.to_string())),
            _ if depth == key_len => return Ok(table),
            _ => return Err(ConfigArgError::NotDotted(arg.to_string())),
        }
    }
}

/// The number of parts of the dotted key before the `=` (`a."b.c".d` has
/// three), or None when the text does not start with a key.
fn dotted_key_len(arg: &str) -> Option<usize> {
    let mut parts = 0;
    let mut chars = arg.trim_start().chars().peekable();
    loop {
        while chars.next_if(|c| *c == ' ' || *c == '\t').is_some() {}
        match chars.next()? {
            q @ ('"' | '\'') => {
                let mut escaped = false;
                loop {
                    let c = chars.next()?;
                    if q == '"' && c == '\\' && !escaped {
                        escaped = true;
                        continue;
                    }
                    if c == q && !escaped {
                        break;
                    }
                    escaped = false;
                }
            }
            c if c.is_ascii_alphanumeric() || c == '-' || c == '_' => {
                while chars
                    .next_if(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                    .is_some()
                {}
            }
            _ => return None,
        }
        parts += 1;
        while chars.next_if(|c| *c == ' ' || *c == '\t').is_some() {}
        match chars.next()? {
            '.' => continue,
            '=' => return Some(parts),
            _ => return None,
        }
    }
}

/// Whether a `#` starts a comment (outside every string).
fn has_comment(arg: &str) -> bool {
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in arg.chars() {
        match quote {
            Some('"') if c == '\\' && !escaped => {
                escaped = true;
                continue;
            }
            Some(q) if c == q && !escaped => quote = None,
            Some(_) => {}
            None if c == '"' || c == '\'' => quote = Some(c),
            None if c == '#' => return true,
            None => {}
        }
        escaped = false;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(arg: &str) -> Result<ConfigArg, String> {
        ConfigArg::parse(arg, Path::new("/nonexistent")).map_err(|e| e.to_string())
    }

    fn parse_ok(arg: &str) -> ConfigArg {
        ConfigArg::parse(arg, Path::new("/nonexistent")).unwrap()
    }

    #[test]
    fn dotted_keys_are_values() {
        for ok in [
            "build.jobs=2",
            " build.jobs = 2 ",
            "build.rustflags = [\"--cfg\", \"a b\"]",
            "target.'cfg(target_os = \"linux\")'.rustflags = [\"-Cx\"]",
            "target.\"x86_64-unknown-linux-gnu\".linker = \"cc\"",
            "env.X = \"a # not a comment\"",
            "profile.dev.package.\"*\".opt-level = 1",
        ] {
            assert_eq!(
                parse(ok),
                Ok(ConfigArg::Value {
                    expr: ok.into(),
                    cwd: "/nonexistent".into()
                }),
                "{ok}"
            );
        }
        let t = parse_ok("target.'cfg(unix)'.rustflags = [\"-Cx\"]")
            .table()
            .unwrap();
        assert_eq!(
            t["target"]["cfg(unix)"]["rustflags"][0].as_str(),
            Some("-Cx")
        );
    }

    #[test]
    fn bad_values_name_the_argument() {
        let e = parse("foo").unwrap_err();
        assert!(
            e.starts_with(
                "failed to parse value from --config argument `foo` as a dotted key expression\n\nCaused by:\n  "
            ),
            "{e}"
        );
        // A file that does not exist is read as TOML, as Cargo does.
        assert!(parse("missing.toml")
            .unwrap_err()
            .contains("`missing.toml`"));
        assert!(parse("build.jobs=").unwrap_err().contains("`build.jobs=`"));
        assert_eq!(
            parse("build = { jobs = 2 }").unwrap_err(),
            "--config argument `build = { jobs = 2 }` sets a value to an inline table, which is not accepted"
        );
        assert_eq!(
            parse("build.jobs = 2 # two").unwrap_err(),
            "--config argument `build.jobs = 2 # two` includes non-whitespace decoration"
        );
        for not_dotted in ["[build]\njobs = 2", "a = 1\nb = 2"] {
            assert_eq!(
                parse(not_dotted).unwrap_err(),
                format!("--config argument `{not_dotted}` was not a TOML dotted key expression (such as `build.jobs = 2`)")
            );
        }
    }

    #[test]
    fn values_with_secret_keys_are_known() {
        assert!(parse_ok("env.API_TOKEN = \"x\"").sets_secret());
        assert!(parse_ok("registries.x.token = \"x\"").sets_secret());
        assert!(!parse_ok("env.GREETING = \"token\"").sets_secret());
    }

    #[test]
    fn an_existing_path_is_a_file_with_cargos_base() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("sub/deep")).unwrap();
        std::fs::write(d.path().join("sub/deep/x.toml"), "[build]\njobs = 2\n").unwrap();
        let arg = ConfigArg::parse("sub/deep/x.toml", d.path()).unwrap();
        assert_eq!(arg, ConfigArg::File(d.path().join("sub/deep/x.toml")));
        assert_eq!(arg.base(), d.path().join("sub"));
        assert_eq!(arg.table().unwrap()["build"]["jobs"].as_integer(), Some(2));
        let value = ConfigArg::parse("a.b=1", Path::new("/cwd")).unwrap();
        assert_eq!(value.base(), Path::new("/cwd"));
        // A directory exists but is no config file.
        let e = ConfigArg::parse("sub", d.path())
            .unwrap()
            .table()
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("failed to load config from `"), "{e}");
    }
}
