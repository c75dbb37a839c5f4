//! Keeps keys independent of where the checkout, the target dir, the cargo
//! home and the toolchain live: their absolute prefixes are replaced by
//! placeholders before hashing.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::core::Digest;
use serde::{Deserialize, Serialize};

/// Text in which the known roots are placeholders: the form of every path
/// and path-carrying string inside a key. Only [`PathNormalizer`] makes one
/// (deserialising reads back what one made), so a key component of this
/// type cannot hold a raw absolute path of the checkout by mistake.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct NormalizedText(String);

impl NormalizedText {
    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form in which the value of variable `name` is recorded under
    /// the secret policy: a secret's digest holds no path either.
    pub(crate) fn recorded_as(self, name: &str) -> NormalizedText {
        NormalizedText(crate::core::secret::recorded_value(name, &self.0))
    }
}

impl std::ops::Deref for NormalizedText {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for NormalizedText {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Display for NormalizedText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<NormalizedText> for String {
    fn from(t: NormalizedText) -> String {
        t.0
    }
}

/// Test data that contains no absolute path.
#[cfg(test)]
impl From<&str> for NormalizedText {
    fn from(s: &str) -> Self {
        NormalizedText(s.to_string())
    }
}

/// Whether `c` separates a path from what surrounds it in an argument, an
/// environment value or a list: whitespace and control characters (the
/// `\x1f` of `CARGO_ENCODED_RUSTFLAGS`), `=` (`-L dependency=P`,
/// `--remap-path-prefix=P=.`), `:` and `;` (search paths), `,`
/// (`-Wl,-rpath,P`), quotes and brackets. Anything else (a letter, `-`,
/// `_`, `.`) may continue a file name: `/w/app-utils` is not `/w/app`.
fn is_separator(c: char) -> bool {
    c.is_whitespace() || c.is_control() || "=:,;'\"`()[]{}<>|".contains(c)
}

/// Whether a path may start at byte `i` of `s`: at the start, after a
/// separator, or right after a one-letter flag at the start of a word
/// (`-L/p`, `-I/p`). Inside another path (`/x/w/app`) it may not.
fn path_may_start(s: &str, i: usize) -> bool {
    let before = &s[..i];
    let mut back = before.chars().rev();
    match (back.next(), back.next(), back.next()) {
        (None, ..) => true,
        (Some(c), ..) if is_separator(c) => true,
        (Some(letter), Some('-'), prev) => {
            letter.is_ascii_alphabetic() && prev.is_none_or(is_separator)
        }
        _ => false,
    }
}

/// Whether a path that is a root may end at byte `i` of `s`: at the end,
/// before `/` or before a separator.
fn path_may_end(s: &str, i: usize) -> bool {
    s[i..]
        .chars()
        .next()
        .is_none_or(|c| c == '/' || is_separator(c))
}

/// Replaces known absolute prefixes by placeholders.
#[derive(Clone, Debug)]
pub struct PathNormalizer {
    /// (prefix, placeholder), longest prefix first.
    prefixes: Vec<(String, &'static str)>,
}

impl PathNormalizer {
    /// Builds a normaliser for the given roots.
    pub fn new(
        workspace: &Path,
        target_dir: &Path,
        cargo_home: Option<&Path>,
        sysroot: &Path,
    ) -> Self {
        let mut prefixes: Vec<(String, &'static str)> = vec![
            (workspace.display().to_string(), "${WORKSPACE}"),
            (target_dir.display().to_string(), "${TARGET_DIR}"),
            (sysroot.display().to_string(), "${SYSROOT}"),
        ];
        if let Some(h) = cargo_home {
            prefixes.push((h.display().to_string(), "${CARGO_HOME}"));
        }
        for (p, _) in &mut prefixes {
            while p.len() > 1 && p.ends_with('/') {
                p.pop();
            }
        }
        prefixes.retain(|(p, _)| p.len() > 1);
        prefixes.sort_by_key(|p| std::cmp::Reverse(p.0.len()));
        PathNormalizer { prefixes }
    }

    /// Replaces every known root in `s` by its placeholder, where the root
    /// is a whole path or a whole leading part of one (component
    /// boundaries): `/w/app/src` and `--remap-path-prefix=/w/app=.` contain
    /// the root `/w/app`, `/w/app-utils/src` and `/x/w/app` do not. Where
    /// roots nest (the target dir inside the workspace), the longest wins.
    pub fn normalize(&self, s: &str) -> NormalizedText {
        let mut out = String::with_capacity(s.len());
        let mut rest = 0;
        let mut i = 0;
        while let Some(off) = s[i..].find('/') {
            let at = i + off;
            let root = self
                .prefixes
                .iter()
                .find(|(p, _)| s[at..].starts_with(p.as_str()) && path_may_end(s, at + p.len()));
            match root {
                Some((p, ph)) if path_may_start(s, at) => {
                    out.push_str(&s[rest..at]);
                    out.push_str(ph);
                    rest = at + p.len();
                    i = rest;
                }
                _ => i = at + 1,
            }
        }
        out.push_str(&s[rest..]);
        NormalizedText(out)
    }

    /// The absolute roots this normaliser replaces but the sysroot's (the
    /// toolchain remaps its own paths): the workspace, the target dir and
    /// the Cargo home, whose bytes in an output tie it to this checkout.
    pub fn checkout_roots(&self) -> impl Iterator<Item = &str> {
        self.prefixes
            .iter()
            .filter(|(_, ph)| *ph != "${SYSROOT}")
            .map(|(p, _)| p.as_str())
    }

    /// A digest of [`PathNormalizer::checkout_roots`]: the key component
    /// of an action whose outputs embed them.
    pub fn location_digest(&self) -> Digest {
        let mut roots: Vec<&str> = self.checkout_roots().collect();
        roots.sort_unstable();
        Digest::of_bytes(roots.join("\0").as_bytes())
    }

    /// The placeholder form of a path.
    pub fn path(&self, p: &Path) -> NormalizedText {
        self.normalize(&p.display().to_string())
    }

    /// Replaces every placeholder in `s` by this machine's path.
    pub fn expand_all(&self, s: &str) -> String {
        let mut out = s.to_string();
        for (p, ph) in &self.prefixes {
            if out.contains(ph) {
                out = out.replace(ph, p);
            }
        }
        out
    }

    /// Reverses [`PathNormalizer::path`].
    pub fn expand(&self, s: &NormalizedText) -> PathBuf {
        for (p, ph) in &self.prefixes {
            if let Some(rest) = s.strip_prefix(ph) {
                if rest.is_empty() || rest.starts_with('/') {
                    return PathBuf::from(format!("{p}{rest}"));
                }
            }
        }
        PathBuf::from(s.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(ws: &str) -> PathNormalizer {
        PathNormalizer::new(
            Path::new(ws),
            &Path::new(ws).join("target"),
            Some(Path::new("/home/u/.cargo")),
            Path::new("/rust"),
        )
    }

    fn n(ws: &str, s: &str) -> String {
        norm(ws).normalize(s).into()
    }

    #[test]
    fn target_inside_workspace_wins() {
        let n = norm("/a/proj");
        assert_eq!(
            n.normalize("--out-dir /a/proj/target/hbuild/debug/deps")
                .as_str(),
            "--out-dir ${TARGET_DIR}/hbuild/debug/deps"
        );
        assert_eq!(
            n.normalize("/a/proj/src/lib.rs").as_str(),
            "${WORKSPACE}/src/lib.rs"
        );
        assert_eq!(
            n.normalize("/home/u/.cargo/registry/src/x").as_str(),
            "${CARGO_HOME}/registry/src/x"
        );
        let p = n.path(Path::new("/a/proj/src/lib.rs"));
        assert_eq!(n.expand(&p), PathBuf::from("/a/proj/src/lib.rs"));
        // A sibling of the target dir inside the workspace.
        assert_eq!(
            n.normalize("/a/proj/target-other/x").as_str(),
            "${WORKSPACE}/target-other/x"
        );
    }

    #[test]
    fn two_checkouts_normalise_equally() {
        assert_eq!(
            norm("/a/proj").normalize("-L dependency=/a/proj/target/x"),
            norm("/b/other").normalize("-L dependency=/b/other/target/x")
        );
    }

    #[test]
    fn a_root_matches_whole_components_only() {
        assert_eq!(
            n("/w/app", "/w/app-utils/src/lib.rs"),
            "/w/app-utils/src/lib.rs"
        );
        assert_eq!(n("/w/app", "/w/app2"), "/w/app2");
        assert_eq!(n("/w/app", "/w/app.old/x"), "/w/app.old/x");
        assert_eq!(n("/w/app", "/w/app"), "${WORKSPACE}");
        assert_eq!(n("/w/app", "/w/app/"), "${WORKSPACE}/");
        // Inside another path, the root's text is not the root.
        assert_eq!(n("/w/app", "/x/w/app/src"), "/x/w/app/src");
        assert_eq!(n("/rust", "/rustup/toolchains"), "/rustup/toolchains");
        // A root given with a trailing slash is the same root.
        let slash = PathNormalizer::new(
            Path::new("/w/app/"),
            Path::new("/t"),
            None,
            Path::new("/rust"),
        );
        assert_eq!(
            slash.normalize("/w/app/src /w/app-x").as_str(),
            "${WORKSPACE}/src /w/app-x"
        );
    }

    #[test]
    fn roots_inside_arguments() {
        assert_eq!(
            n("/w/app", "--remap-path-prefix=/w/app=."),
            "--remap-path-prefix=${WORKSPACE}=."
        );
        assert_eq!(
            n("/w/app", "--remap-path-prefix=/w/app-utils=."),
            "--remap-path-prefix=/w/app-utils=."
        );
        assert_eq!(
            n("/w/app", "dependency=/w/app/target/debug/deps"),
            "dependency=${TARGET_DIR}/debug/deps"
        );
        assert_eq!(
            n("/w/app", "native=/w/app-utils/target/lib"),
            "native=/w/app-utils/target/lib"
        );
        assert_eq!(
            n(
                "/w/app",
                "link-arg=-Wl,-rpath,/w/app/lib,-rpath,/w/app-utils/lib"
            ),
            "link-arg=-Wl,-rpath,${WORKSPACE}/lib,-rpath,/w/app-utils/lib"
        );
        // One-letter flags glued to their path; not a longer word.
        assert_eq!(
            n("/w/app", "-I/w/app/include -L/w/app"),
            "-I${WORKSPACE}/include -L${WORKSPACE}"
        );
        assert_eq!(n("/w/app", "x-I/w/app/include"), "x-I/w/app/include");
        assert_eq!(
            n("/w/app", "\"/w/app/a b\" '/w/app-utils'"),
            "\"${WORKSPACE}/a b\" '/w/app-utils'"
        );
    }

    #[test]
    fn roots_inside_lists() {
        assert_eq!(
            n("/w/app", "/w/app/bin:/w/app-utils/bin:/usr/bin:/w/app"),
            "${WORKSPACE}/bin:/w/app-utils/bin:/usr/bin:${WORKSPACE}"
        );
        assert_eq!(
            n("/w/app", "/w/app-utils;/w/app;/w/app/x"),
            "/w/app-utils;${WORKSPACE};${WORKSPACE}/x"
        );
        // CARGO_ENCODED_RUSTFLAGS separates with 0x1f.
        assert_eq!(
            n("/w/app", "-L\x1f/w/app/native\x1f-L\x1f/w/app-utils"),
            "-L\x1f${WORKSPACE}/native\x1f-L\x1f/w/app-utils"
        );
    }

    #[test]
    fn a_sibling_of_the_workspace_keeps_its_path_and_expands_back() {
        // A workspace at /x/app whose path dependency lives at /x/app-utils.
        let n = norm("/x/app");
        let dep = n.path(Path::new("/x/app-utils/src/lib.rs"));
        assert_eq!(dep.as_str(), "/x/app-utils/src/lib.rs");
        assert!(!dep.contains("${"), "{dep}");
        assert_eq!(n.expand(&dep), PathBuf::from("/x/app-utils/src/lib.rs"));
        // Text that only looks like a placeholder path is not expanded.
        let odd: NormalizedText = "${WORKSPACE}-utils/x".into();
        assert_eq!(n.expand(&odd), PathBuf::from("${WORKSPACE}-utils/x"));
        assert_eq!(
            n.expand_all("${WORKSPACE}/a:${TARGET_DIR}"),
            "/x/app/a:/x/app/target"
        );
    }
}
