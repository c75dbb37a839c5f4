//! Keeps keys independent of where the checkout, the target dir, the cargo
//! home and the toolchain live: their absolute prefixes are replaced by
//! placeholders before hashing.

use std::path::{Path, PathBuf};

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
        prefixes.retain(|(p, _)| p.len() > 1);
        prefixes.sort_by_key(|p| std::cmp::Reverse(p.0.len()));
        PathNormalizer { prefixes }
    }

    /// Replaces every occurrence of a known prefix in `s`.
    pub fn normalize(&self, s: &str) -> String {
        let mut out = s.to_string();
        for (p, ph) in &self.prefixes {
            if out.contains(p.as_str()) {
                out = out.replace(p.as_str(), ph);
            }
        }
        out
    }

    /// The workspace-relative or placeholder form of a path.
    pub fn path(&self, p: &Path) -> String {
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

    /// Reverses [`PathNormalizer::path`] for a placeholder path.
    pub fn expand(&self, s: &str) -> PathBuf {
        for (p, ph) in &self.prefixes {
            if let Some(rest) = s.strip_prefix(ph) {
                return PathBuf::from(format!("{p}{rest}"));
            }
        }
        PathBuf::from(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_inside_workspace_wins() {
        let n = PathNormalizer::new(
            Path::new("/a/proj"),
            Path::new("/a/proj/target"),
            Some(Path::new("/home/u/.cargo")),
            Path::new("/rust"),
        );
        assert_eq!(
            n.normalize("--out-dir /a/proj/target/hbuild/debug/deps"),
            "--out-dir ${TARGET_DIR}/hbuild/debug/deps"
        );
        assert_eq!(n.normalize("/a/proj/src/lib.rs"), "${WORKSPACE}/src/lib.rs");
        assert_eq!(
            n.normalize("/home/u/.cargo/registry/src/x"),
            "${CARGO_HOME}/registry/src/x"
        );
        assert_eq!(
            n.expand("${WORKSPACE}/src/lib.rs"),
            PathBuf::from("/a/proj/src/lib.rs")
        );
    }

    #[test]
    fn two_checkouts_normalise_equally() {
        let a = PathNormalizer::new(
            Path::new("/a/proj"),
            Path::new("/a/proj/target"),
            None,
            Path::new("/rust"),
        );
        let b = PathNormalizer::new(
            Path::new("/b/other"),
            Path::new("/b/other/target"),
            None,
            Path::new("/rust"),
        );
        assert_eq!(
            a.normalize("-L dependency=/a/proj/target/x"),
            b.normalize("-L dependency=/b/other/target/x")
        );
    }
}
