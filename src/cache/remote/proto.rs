//! The wire format: REAPI `ActionResult` entries (the
//! `build.bazel.remote.execution.v2` messages of `bazel-remote-apis`), and
//! hbuild's own metadata blob stored as the reserved output
//! [`METADATA_PATH`].
//!
//! Decoding is strict: an entry is turned into a [`ParsedEntry`] only if
//! every path is a safe [`RelPath`] outside the reserved `.hbuild/`
//! directory, every digest is 64 lowercase hex with a sane size, and the
//! metadata blob describes exactly the output files of the protobuf.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use sha2::Digest as _;

use crate::cache::ENTRY_FORMAT_VERSION;
use crate::core::{Digest, RelPath};

/// Reserved output path of hbuild's metadata blob inside an AC entry.
pub const METADATA_PATH: &str = ".hbuild/result.json";
/// Reserved directory: no real output of an action may live below it.
pub const RESERVED_DIR: &str = ".hbuild/";
/// Value of [`Metadata::format`].
pub const METADATA_FORMAT: &str = "hbuild-remote-result";

use bazel_remote_apis::build::bazel::remote::execution::v2 as re;

/// REAPI `Digest`: SHA-256 hex of a blob and its size.
pub type PbDigest = re::Digest;
/// REAPI `OutputFile`.
pub type PbOutputFile = re::OutputFile;
/// REAPI `ActionResult`.
pub type PbActionResult = re::ActionResult;

/// One output as recorded in the metadata blob.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetaOutput {
    /// Path below the action's output root.
    pub path: RelPath,
    /// blake3 digest of the content (hbuild's local CAS key).
    pub blake3: Digest,
    /// SHA-256 hex of the content (the remote CAS key).
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
    /// Whether the file is executable.
    pub executable: bool,
}

/// The JSON blob stored under [`METADATA_PATH`]: what an REAPI
/// `ActionResult` has no field for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata {
    /// Always [`METADATA_FORMAT`].
    pub format: String,
    /// [`ENTRY_FORMAT_VERSION`] of the writer.
    pub version: u32,
    /// Every output file, sorted by path.
    pub outputs: Vec<MetaOutput>,
    /// What the executor keeps beside the outputs.
    pub meta: crate::cache::ResultMeta,
}

/// A CAS blob reference: SHA-256 hex and size.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlobRef {
    /// Lowercase hex SHA-256 (64 characters).
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
}

impl BlobRef {
    /// The reference of an in-memory blob.
    pub fn of_bytes(bytes: &[u8]) -> Self {
        BlobRef {
            sha256: sha256_hex(bytes),
            size: bytes.len() as u64,
        }
    }

    /// Whether this is the empty blob (never transferred).
    pub fn is_empty_blob(&self) -> bool {
        self.size == 0 && self.sha256 == sha256_hex(b"")
    }

    pub(crate) fn to_pb(&self) -> PbDigest {
        PbDigest {
            hash: self.sha256.clone(),
            size_bytes: self.size as i64,
        }
    }

    pub(crate) fn from_pb(d: &PbDigest) -> Result<Self, String> {
        if !is_hex64(&d.hash) {
            return Err(format!(
                "digest `{}` is not 64 lowercase hex digits",
                clip(&d.hash)
            ));
        }
        if d.size_bytes < 0 {
            return Err(format!("digest {} has a negative size", d.hash));
        }
        Ok(BlobRef {
            sha256: d.hash.clone(),
            size: d.size_bytes as u64,
        })
    }
}

/// A validated AC entry, before any blob is downloaded.
#[derive(Clone, Debug)]
pub struct ParsedEntry {
    /// The metadata blob to fetch.
    pub metadata: BlobRef,
    /// Output files: path, CAS blob, executable bit (sorted by path).
    pub outputs: Vec<(RelPath, BlobRef, bool)>,
    /// Standard output blob, if any.
    pub stdout: Option<BlobRef>,
    /// Standard error blob, if any.
    pub stderr: Option<BlobRef>,
}

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&sha2::Sha256::digest(bytes))
}

/// Lowercase hex of raw bytes.
pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

fn is_hex64(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// At most 80 characters of untrusted text, for messages.
fn clip(s: &str) -> String {
    s.chars().take(80).collect()
}

/// Encodes an AC entry. `outputs` must not contain [`METADATA_PATH`].
pub fn encode_entry(
    outputs: &[(RelPath, BlobRef, bool)],
    metadata: &BlobRef,
    stdout: Option<&BlobRef>,
    stderr: Option<&BlobRef>,
) -> Vec<u8> {
    let mut files: Vec<PbOutputFile> = outputs
        .iter()
        .map(|(path, blob, exec)| PbOutputFile {
            path: path.as_str().to_string(),
            digest: Some(blob.to_pb()),
            is_executable: *exec,
            ..Default::default()
        })
        .collect();
    files.push(PbOutputFile {
        path: METADATA_PATH.to_string(),
        digest: Some(metadata.to_pb()),
        is_executable: false,
        ..Default::default()
    });
    let pb = PbActionResult {
        output_files: files,
        exit_code: 0,
        stdout_digest: stdout.map(BlobRef::to_pb),
        stderr_digest: stderr.map(BlobRef::to_pb),
        ..Default::default()
    };
    prost::Message::encode_to_vec(&pb)
}

/// Decodes and validates an AC entry body. `Err` says why it is rejected.
// The deprecated symlink fields are read only to reject entries with them.
#[allow(deprecated)]
pub fn decode_entry(body: &[u8]) -> Result<ParsedEntry, String> {
    let pb: PbActionResult = prost::Message::decode(body)
        .map_err(|e| format!("AC entry is not an ActionResult protobuf: {e}"))?;
    if pb.exit_code != 0 {
        return Err(format!("AC entry has exit code {}", pb.exit_code));
    }
    if !pb.output_directories.is_empty()
        || !pb.output_symlinks.is_empty()
        || !pb.output_file_symlinks.is_empty()
        || !pb.output_directory_symlinks.is_empty()
    {
        return Err("AC entry has output directories or symlinks".into());
    }
    let mut metadata = None;
    let mut outputs = Vec::new();
    let mut seen = BTreeSet::new();
    for f in &pb.output_files {
        let path = RelPath::new(f.path.clone()).map_err(|e| {
            format!(
                "AC entry has an unsafe output path: {}",
                clip(&e.to_string())
            )
        })?;
        if !seen.insert(path.clone()) {
            return Err(format!("AC entry lists `{}` twice", clip(path.as_str())));
        }
        let blob = BlobRef::from_pb(f.digest.as_ref().ok_or("output without digest")?)?;
        if path.as_str() == METADATA_PATH {
            metadata = Some(blob);
        } else if path.as_str().starts_with(RESERVED_DIR) {
            return Err(format!(
                "AC entry has an output in the reserved `{RESERVED_DIR}`"
            ));
        } else {
            outputs.push((path, blob, f.is_executable));
        }
    }
    let metadata = metadata.ok_or("AC entry has no hbuild metadata (not written by hbuild)")?;
    outputs.sort_by(|a, b| a.0.cmp(&b.0));
    let blob = |d: &Option<PbDigest>| d.as_ref().map(BlobRef::from_pb).transpose();
    Ok(ParsedEntry {
        metadata,
        outputs,
        stdout: blob(&pb.stdout_digest)?,
        stderr: blob(&pb.stderr_digest)?,
    })
}

/// Outcome of checking a metadata blob against its entry.
#[derive(Debug, PartialEq, Eq)]
pub enum MetaCheck {
    /// Consistent: the metadata to use.
    Ok(Metadata),
    /// Written by another format version: treat as a miss.
    OtherVersion(u32),
}

/// Parses the metadata blob and checks that it describes exactly the
/// entry's outputs (same paths, SHA-256 digests, sizes and modes).
pub fn check_metadata(bytes: &[u8], entry: &ParsedEntry) -> Result<MetaCheck, String> {
    /// The part of the metadata that every format version shares.
    #[derive(Deserialize)]
    struct Header {
        format: String,
        version: u32,
    }
    let header: Header =
        serde_json::from_slice(bytes).map_err(|e| format!("metadata blob is invalid: {e}"))?;
    if header.format != METADATA_FORMAT {
        return Err(format!(
            "metadata blob has format `{}`",
            clip(&header.format)
        ));
    }
    if header.version != ENTRY_FORMAT_VERSION {
        return Ok(MetaCheck::OtherVersion(header.version));
    }
    let meta: Metadata =
        serde_json::from_slice(bytes).map_err(|e| format!("metadata blob is invalid: {e}"))?;
    if meta.outputs.len() != entry.outputs.len() {
        return Err("metadata and AC entry list different outputs".into());
    }
    let mut sorted = meta.outputs.clone();
    sorted.sort_by(|a, b| a.path.cmp(&b.path));
    for (m, (path, blob, exec)) in sorted.iter().zip(&entry.outputs) {
        if &m.path != path
            || m.sha256 != blob.sha256
            || m.size != blob.size
            || m.executable != *exec
        {
            return Err(format!(
                "metadata disagrees with the AC entry about `{}`",
                clip(path.as_str())
            ));
        }
    }
    Ok(MetaCheck::Ok(Metadata {
        outputs: sorted,
        ..meta
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> (Vec<(RelPath, BlobRef, bool)>, Metadata) {
        let a = BlobRef::of_bytes(b"aaa");
        let outputs = vec![(RelPath::new("deps/liba.rlib").unwrap(), a.clone(), false)];
        let meta = Metadata {
            format: METADATA_FORMAT.into(),
            version: ENTRY_FORMAT_VERSION,
            outputs: vec![MetaOutput {
                path: RelPath::new("deps/liba.rlib").unwrap(),
                blake3: Digest::of_bytes(b"aaa"),
                sha256: a.sha256.clone(),
                size: 3,
                executable: false,
            }],
            meta: Default::default(),
        };
        (outputs, meta)
    }

    #[test]
    fn empty_blob_sha256() {
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert!(BlobRef::of_bytes(b"").is_empty_blob());
    }

    #[test]
    fn entry_round_trip() {
        let (outputs, meta) = sample();
        let meta_bytes = serde_json::to_vec(&meta).unwrap();
        let mref = BlobRef::of_bytes(&meta_bytes);
        let out = BlobRef::of_bytes(b"hello");
        let body = encode_entry(&outputs, &mref, Some(&out), None);
        let parsed = decode_entry(&body).unwrap();
        assert_eq!(parsed.outputs, outputs);
        assert_eq!(parsed.metadata, mref);
        assert_eq!(parsed.stdout, Some(out));
        assert_eq!(parsed.stderr, None);
        assert_eq!(
            check_metadata(&meta_bytes, &parsed).unwrap(),
            MetaCheck::Ok(meta)
        );
    }

    #[test]
    fn field_numbers_match_reapi() {
        // ActionResult{output_files(2){path(1)="a", digest(2){hash(1)="..",
        // size_bytes(2)=3}, is_executable(4)=true}, exit_code(4)=0}
        let pb = PbActionResult {
            output_files: vec![PbOutputFile {
                path: "a".into(),
                digest: Some(PbDigest {
                    hash: "h".into(),
                    size_bytes: 3,
                }),
                is_executable: true,
                ..Default::default()
            }],
            stdout_digest: Some(PbDigest {
                hash: "s".into(),
                size_bytes: 1,
            }),
            ..Default::default()
        };
        let bytes = prost::Message::encode_to_vec(&pb);
        let expected: Vec<u8> = vec![
            0x12, 12, // field 2, len 12
            0x0a, 1, b'a', // path
            0x12, 5, 0x0a, 1, b'h', 0x10, 3, // digest
            0x20, 1, // is_executable (field 4 varint)
            0x32, 5, 0x0a, 1, b's', 0x10, 1, // stdout_digest (field 6)
        ];
        assert_eq!(bytes, expected);
    }

    fn entry_with_path(path: &str) -> Vec<u8> {
        let d = PbDigest {
            hash: sha256_hex(b"x"),
            size_bytes: 1,
        };
        let pb = PbActionResult {
            output_files: vec![
                PbOutputFile {
                    path: path.into(),
                    digest: Some(d.clone()),
                    ..Default::default()
                },
                PbOutputFile {
                    path: METADATA_PATH.into(),
                    digest: Some(d),
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        prost::Message::encode_to_vec(&pb)
    }

    #[test]
    fn rejects_unsafe_entries() {
        for bad in [
            "../escape",
            "/etc/passwd",
            "a/../../b",
            "",
            ".hbuild/other",
            "a\\b",
        ] {
            assert!(
                decode_entry(&entry_with_path(bad)).is_err(),
                "{bad:?} accepted"
            );
        }
        assert!(decode_entry(&entry_with_path("ok/file")).is_ok());
        assert!(decode_entry(b"\xff\xff\xff garbage").is_err());
        // No metadata at all (e.g. an entry written by Bazel).
        let pb = PbActionResult::default();
        assert!(decode_entry(&prost::Message::encode_to_vec(&pb)).is_err());
        // Bad digest.
        let pb = PbActionResult {
            output_files: vec![PbOutputFile {
                path: METADATA_PATH.into(),
                digest: Some(PbDigest {
                    hash: "ABC".into(),
                    size_bytes: 1,
                }),
                ..Default::default()
            }],
            ..Default::default()
        };
        assert!(decode_entry(&prost::Message::encode_to_vec(&pb)).is_err());
    }

    #[test]
    fn metadata_must_agree_with_entry() {
        let (outputs, mut meta) = sample();
        let mref = BlobRef::of_bytes(b"m");
        let parsed = decode_entry(&encode_entry(&outputs, &mref, None, None)).unwrap();
        meta.outputs[0].size = 4;
        let bytes = serde_json::to_vec(&meta).unwrap();
        assert!(check_metadata(&bytes, &parsed).is_err());
        meta.outputs[0].size = 3;
        meta.version = ENTRY_FORMAT_VERSION + 1;
        let bytes = serde_json::to_vec(&meta).unwrap();
        assert_eq!(
            check_metadata(&bytes, &parsed).unwrap(),
            MetaCheck::OtherVersion(ENTRY_FORMAT_VERSION + 1)
        );
        assert!(check_metadata(b"{}", &parsed).is_err());
    }
}
