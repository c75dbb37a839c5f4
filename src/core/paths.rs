//! Relative paths, the only path type allowed inside cache keys and cache
//! entries.

use std::fmt;
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

/// A normalised relative path with `/` separators and no `..`, `.` or
/// root components. Cache entries store output paths as `RelPath`s so that a
/// (possibly hostile) entry can never name a file outside its output root.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RelPath(String);

/// Why a string is not a valid [`RelPath`].
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("`{path}` is not a safe relative path: {why}")]
pub struct RelPathError {
    /// The offending path.
    pub path: String,
    /// What is wrong with it.
    pub why: &'static str,
}

impl RelPath {
    /// Validates and wraps a `/`-separated relative path.
    pub fn new(s: impl Into<String>) -> Result<Self, RelPathError> {
        let s = s.into();
        let err = |why| RelPathError {
            path: s.clone(),
            why,
        };
        if s.is_empty() {
            return Err(err("it is empty"));
        }
        if s.starts_with('/') || s.contains('\\') || s.contains('\0') {
            return Err(err("it is absolute or contains `\\` or NUL"));
        }
        if s.len() >= 2 && s.as_bytes()[1] == b':' {
            return Err(err("it has a drive prefix"));
        }
        for part in s.split('/') {
            match part {
                "" => return Err(err("it has an empty component")),
                "." | ".." => return Err(err("it has a `.` or `..` component")),
                _ => {}
            }
        }
        Ok(RelPath(s))
    }

    /// The relative path of `path` below `base`, if `path` is inside it.
    pub fn strip(path: &Path, base: &Path) -> Option<Self> {
        let rel = path.strip_prefix(base).ok()?;
        let mut parts = Vec::new();
        for c in rel.components() {
            match c {
                Component::Normal(p) => parts.push(p.to_str()?.to_string()),
                _ => return None,
            }
        }
        RelPath::new(parts.join("/")).ok()
    }

    /// The path as a string with `/` separators.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `base` joined with this path.
    pub fn under(&self, base: &Path) -> PathBuf {
        let mut p = base.to_path_buf();
        for part in self.0.split('/') {
            p.push(part);
        }
        p
    }
}

impl TryFrom<String> for RelPath {
    type Error = RelPathError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        RelPath::new(s)
    }
}

impl From<RelPath> for String {
    fn from(p: RelPath) -> String {
        p.0
    }
}

impl fmt::Display for RelPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for RelPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RelPath({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_relative_paths() {
        assert_eq!(
            RelPath::new("deps/libfoo.rlib").unwrap().as_str(),
            "deps/libfoo.rlib"
        );
    }

    #[test]
    fn rejects_escapes() {
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a//b",
            "./a",
            "C:/x",
            "a\\b",
        ] {
            assert!(RelPath::new(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn strip_and_under_round_trip() {
        let base = Path::new("/t/debug");
        let p = RelPath::strip(Path::new("/t/debug/deps/x.rlib"), base).unwrap();
        assert_eq!(p.as_str(), "deps/x.rlib");
        assert_eq!(p.under(base), PathBuf::from("/t/debug/deps/x.rlib"));
        assert!(RelPath::strip(Path::new("/elsewhere/x"), base).is_none());
    }
}
