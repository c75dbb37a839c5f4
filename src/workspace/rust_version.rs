//! `rust-version`: Cargo refuses to build a unit whose package needs a newer
//! rustc than the one in use, unless `--ignore-rust-version` is given. The
//! check covers every unit of the build, registry packages included, and
//! names each offending unit's package once per unit, as Cargo does.

use cargo_metadata::semver::{Version, VersionReq};
use serde::{Deserialize, Serialize};

/// The rustc in use, from the `release:` line of `rustc -vV`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RustcVersion(Version);

impl RustcVersion {
    /// Parses the `release:` line of `rustc -vV` output.
    pub fn from_verbose(version_verbose: &str) -> Option<Self> {
        version_verbose
            .lines()
            .find_map(|l| l.strip_prefix("release: "))
            .and_then(|v| Version::parse(v.trim()).ok())
            .map(RustcVersion)
    }

    /// Whether a package's `rust-version` (as written, e.g. `1.80`) admits
    /// this rustc: Cargo's caret requirement, with pre-release tags of rustc
    /// ignored (a `1.96.0-nightly` satisfies `1.96`). An unparsable
    /// requirement is not this check's business: `cargo metadata` rejects it.
    pub fn satisfies(&self, rust_version: &str) -> bool {
        let Ok(req) = VersionReq::parse(&format!("^{rust_version}")) else {
            return true;
        };
        req.matches(&Version::new(self.0.major, self.0.minor, self.0.patch))
    }
}

impl std::fmt::Display for RustcVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// One unit whose package needs a newer rustc.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unsupported {
    /// Package name.
    pub name: String,
    /// Package version.
    pub version: String,
    /// Its `rust-version`, as written.
    pub requires: String,
    /// Whether it is a path package (then no `cargo update` hint is given).
    pub local: bool,
}

/// The outcome of the check for one analysis: the rustc and the units it
/// does not support (empty when all are supported).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RustVersionCheck {
    /// The rustc version, as Cargo prints it.
    pub rustc: String,
    /// Offending units, sorted by package name and version.
    pub unsupported: Vec<Unsupported>,
}

impl RustVersionCheck {
    /// Checks units given as (package name, version, rust-version, local).
    pub fn new<'a>(
        rustc: &RustcVersion,
        units: impl IntoIterator<Item = (&'a str, &'a str, &'a str, bool)>,
    ) -> Self {
        let mut unsupported: Vec<Unsupported> = units
            .into_iter()
            .filter(|(.., rv, _)| !rv.is_empty() && !rustc.satisfies(rv))
            .map(|(name, version, requires, local)| Unsupported {
                name: name.to_string(),
                version: version.to_string(),
                requires: requires.to_string(),
                local,
            })
            .collect();
        // Cargo sorts by name, then by the parsed version.
        unsupported.sort_by(|a, b| {
            (a.name.as_str(), Version::parse(&a.version).ok())
                .cmp(&(b.name.as_str(), Version::parse(&b.version).ok()))
        });
        RustVersionCheck {
            rustc: rustc.to_string(),
            unsupported,
        }
    }

    /// Cargo's error for the unsupported units, if any.
    pub fn error(&self) -> Option<super::WorkspaceError> {
        if self.unsupported.is_empty() {
            return None;
        }
        let plural = if self.unsupported.len() == 1 { "" } else { "s" };
        let mut m = format!(
            "rustc {} is not supported by the following package{plural}:\n",
            self.rustc
        );
        for u in &self.unsupported {
            m.push_str(&format!(
                "  {}@{} requires rustc {}\n",
                u.name, u.version, u.requires
            ));
        }
        if !self.unsupported.iter().any(|u| u.local) {
            m.push_str(&format!(
                "Either upgrade rustc or select compatible dependency versions with\n\
                 `cargo update <name>@<current-ver> --precise <compatible-ver>`\n\
                 where `<compatible-ver>` is the latest version supporting rustc {}\n",
                self.rustc
            ));
        }
        Some(super::WorkspaceError::RustVersion(m))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rustc(v: &str) -> RustcVersion {
        RustcVersion::from_verbose(&format!("rustc {v}\nbinary: rustc\nrelease: {v}\n")).unwrap()
    }

    #[test]
    fn caret_requirements_as_cargo() {
        let r = rustc("1.95.0");
        for ok in ["1.95", "1.95.0", "1.80", "1", "1.0.0"] {
            assert!(r.satisfies(ok), "{ok}");
        }
        for bad in ["1.96", "1.95.1", "1.999", "2"] {
            assert!(!r.satisfies(bad), "{bad}");
        }
        assert!(rustc("1.96.0-nightly").satisfies("1.96"));
        assert!(!rustc("2.0.0").satisfies("1.80"), "a caret requirement");
    }

    #[test]
    fn message_lists_every_unit_sorted_with_the_hint_only_for_dependencies() {
        let r = rustc("1.95.0");
        let c = RustVersionCheck::new(
            &r,
            [
                ("zed", "0.10.0", "1.96", true),
                ("ok", "1.0.0", "1.80", true),
                ("zed", "0.9.0", "1.96", true),
                ("none", "1.0.0", "", true),
                ("alpha", "0.1.0", "1.999", true),
                ("alpha", "0.1.0", "1.999", true),
            ],
        );
        assert_eq!(
            c.error().unwrap().to_string(),
            "rustc 1.95.0 is not supported by the following packages:\n  \
             alpha@0.1.0 requires rustc 1.999\n  alpha@0.1.0 requires rustc 1.999\n  \
             zed@0.9.0 requires rustc 1.96\n  zed@0.10.0 requires rustc 1.96\n"
        );
        let dep = RustVersionCheck::new(&r, [("dep", "1.2.3", "1.96.0", false)]);
        assert_eq!(
            dep.error().unwrap().to_string(),
            "rustc 1.95.0 is not supported by the following package:\n  \
             dep@1.2.3 requires rustc 1.96.0\n\
             Either upgrade rustc or select compatible dependency versions with\n\
             `cargo update <name>@<current-ver> --precise <compatible-ver>`\n\
             where `<compatible-ver>` is the latest version supporting rustc 1.95.0\n"
        );
        assert!(RustVersionCheck::new(&r, [("ok", "1.0.0", "1.95", true)])
            .error()
            .is_none());
    }
}
