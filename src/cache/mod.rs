//! Where action outputs live: a content-addressed store of blobs (CAS) and an
//! action cache (AC) mapping an [`ActionKey`] to the outputs it produced.
//!
//! * [`local`] is the on-disk store under the per-user cache directory.
//! * [`remote`] speaks the Bazel HTTP cache protocol (`/ac/`, `/cas/`).
//!
//! Cache entries only ever name outputs by [`RelPath`] below the action's
//! output root, so a broken or hostile entry cannot make hbuild write outside
//! the directories of the action that asked for it. Every blob is verified
//! against its digest when read.

pub mod local;
pub mod remote;

use serde::{Deserialize, Serialize};

use crate::core::{Digest, RelPath};

/// Version salt of the on-disk and on-wire entry format. Bumping it makes
/// every old entry a miss instead of a misread.
pub const ENTRY_FORMAT_VERSION: u32 = 1;

/// One output file of an action.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputFile {
    /// Path below the action's output root.
    pub path: RelPath,
    /// blake3 digest of the content.
    pub digest: Digest,
    /// Size in bytes.
    pub size: u64,
    /// Whether the file is executable.
    pub executable: bool,
}

/// What an action produced: its files, its captured output, and
/// hbuild-specific metadata (for example a build script's parsed directives).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionResult {
    /// Output files, sorted by path.
    pub outputs: Vec<OutputFile>,
    /// Captured standard output (rustc's JSON messages, a build script's
    /// directives), replayed on a hit.
    pub stdout: String,
    /// Captured standard error, replayed on a hit.
    pub stderr: String,
    /// What the executor keeps beside the outputs.
    pub meta: ResultMeta,
}

/// What the executor keeps beside an action's outputs. The cache stores it
/// as it is; each field is a JSON document of a type the executor owns.
/// Serialised like the map of named strings it replaced, so entries keep
/// their format.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResultMeta {
    /// For a manifest entry: the files and variables an action read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest: Option<String>,
    /// For a build-script run: its parsed directives, in portable form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub script: Option<String>,
}

impl ActionResult {
    /// A digest over the outputs only (paths, contents, modes). Two runs of
    /// an action with equal output digests are interchangeable, which is what
    /// early cutoff relies on.
    pub fn outputs_digest(&self) -> Digest {
        let mut h = blake3::Hasher::new();
        for o in &self.outputs {
            h.update(o.path.as_str().as_bytes());
            h.update(&[0, o.executable as u8]);
            h.update(o.digest.as_bytes());
        }
        Digest::from_bytes(*h.finalize().as_bytes())
    }
}

/// Outcome of a cache lookup: explicit, so that callers can say why an
/// action was executed.
#[derive(Debug)]
pub enum Lookup<T> {
    /// The entry exists and was verified.
    Hit(T),
    /// No entry under this key.
    Miss,
    /// An entry existed but was unusable (corrupt, truncated, references a
    /// missing blob); it was dropped. The string says why.
    Corrupt(String),
}

/// Errors of the cache layer.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// An I/O operation on a cache path failed.
    #[error("cache I/O error on `{path}`: {source}")]
    Io {
        /// The path involved.
        path: std::path::PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A blob did not match its digest.
    #[error("blob {digest} is corrupt: {why}")]
    Corrupt {
        /// The expected digest.
        digest: Digest,
        /// What was wrong.
        why: String,
    },
    /// A blob is missing from the store.
    #[error("blob {0} is not in the cache")]
    MissingBlob(Digest),
    /// Invalid configuration (e.g. a bad size string).
    #[error("{0}")]
    Config(String),
    /// The remote cache failed.
    #[error("remote cache: {0}")]
    Remote(String),
}

impl CacheError {
    /// Helper to attach a path to an I/O error.
    pub fn io(path: impl Into<std::path::PathBuf>, source: std::io::Error) -> Self {
        CacheError::Io {
            path: path.into(),
            source,
        }
    }
}

/// Blob access that the remote cache needs from the local store: read a blob
/// to upload it, and add a downloaded (already SHA-256-verified) file.
/// [`local::LocalCache`] implements it.
pub trait BlobStore: Send + Sync {
    /// Opens a blob for reading, verifying nothing (the caller streams it).
    fn open_blob(&self, digest: &Digest) -> Result<std::fs::File, CacheError>;
    /// Moves a file (in [`BlobStore::scratch_dir`]) into the store and
    /// returns its blake3 digest and size.
    fn adopt_file(&self, file: &std::path::Path) -> Result<(Digest, u64), CacheError>;
    /// A directory on the store's filesystem for temporary downloads, so that
    /// adopting a file is a rename.
    fn scratch_dir(&self) -> std::path::PathBuf;
}

#[cfg(test)]
mod tests {
    use super::ResultMeta;

    /// Entries written when the metadata was a map of named strings read
    /// back the same, and new entries are written as that map was.
    #[test]
    fn result_meta_keeps_the_entry_format() {
        let m = ResultMeta {
            manifest: Some("m".into()),
            script: Some("s".into()),
        };
        let text = serde_json::to_string(&m).unwrap();
        assert_eq!(text, r#"{"manifest":"m","script":"s"}"#);
        assert_eq!(serde_json::to_string(&ResultMeta::default()).unwrap(), "{}");
        let old: ResultMeta = serde_json::from_str(r#"{"script":"s"}"#).unwrap();
        assert_eq!(old.script.as_deref(), Some("s"));
        assert_eq!(old.manifest, None);
    }
}
