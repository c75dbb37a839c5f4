//! The output layout.
//!
//! Internal artifacts live under `<target-dir>/hbuild/` so they never clash
//! with Cargo's own files in the same target dir:
//!
//! ```text
//! <target-dir>/hbuild/[<triple>/]<profile-dir>/
//!     deps/               lib<crate>-<hash>.{rlib,rmeta,so,a}, <crate>-<hash>, <crate>-<hash>.d
//!     examples/           example binaries
//!     build/<pkg>-<hash>/ build-script compile (binary) or run (out/ = OUT_DIR, output, stderr)
//!     incremental/        rustc incremental state
//! ```
//!
//! Final artifacts are uplifted to Cargo's paths: `<target-dir>/[<triple>/]<profile-dir>/<bin>`,
//! `lib<crate>.rlib`, `examples/<name>`.

use std::path::{Path, PathBuf};

use super::unit::CompileKind;

/// Paths of one build.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Layout {
    /// The target dir.
    pub target_dir: PathBuf,
    /// Profile directory name (`debug`, `release`, custom).
    pub profile_dir: String,
    /// `--target` triple, if given.
    pub triple: Option<String>,
}

impl Layout {
    fn kind_prefix(&self, base: &Path, kind: CompileKind) -> PathBuf {
        match (kind, &self.triple) {
            (CompileKind::Target, Some(t)) => base.join(t).join(&self.profile_dir),
            _ => base.join(&self.profile_dir),
        }
    }

    /// `<target>/hbuild`.
    pub fn hbuild_root(&self) -> PathBuf {
        self.target_dir.join("hbuild")
    }

    /// Internal directory of a compile kind: the output root of its actions.
    pub fn internal(&self, kind: CompileKind) -> PathBuf {
        self.kind_prefix(&self.hbuild_root(), kind)
    }

    /// `deps/` of a compile kind.
    pub fn deps(&self, kind: CompileKind) -> PathBuf {
        self.internal(kind).join("deps")
    }

    /// `examples/` (internal).
    pub fn examples(&self, kind: CompileKind) -> PathBuf {
        self.internal(kind).join("examples")
    }

    /// `build/<pkg>-<hash>`.
    pub fn build(&self, kind: CompileKind, pkg: &str, hash: &str) -> PathBuf {
        self.internal(kind)
            .join("build")
            .join(format!("{pkg}-{hash}"))
    }

    /// `incremental/`.
    pub fn incremental(&self, kind: CompileKind) -> PathBuf {
        self.internal(kind).join("incremental")
    }

    /// Cargo's directory for uplifted artifacts.
    pub fn uplift(&self, kind: CompileKind) -> PathBuf {
        self.kind_prefix(&self.target_dir, kind)
    }

    /// `CARGO_TARGET_TMPDIR`.
    pub fn tmp(&self) -> PathBuf {
        self.target_dir.join("tmp")
    }
}
