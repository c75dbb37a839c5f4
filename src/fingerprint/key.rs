//! Action keys: blake3 over a canonical (JSON, sorted maps, normalised
//! paths) encoding of typed components.
//!
//! | component      | content                                                        |
//! |----------------|----------------------------------------------------------------|
//! | `schema`       | [`KEY_SCHEMA_VERSION`], bumped whenever the encoding changes     |
//! | `toolchain`    | `rustc -vV` and the linker                                      |
//! | `program`      | `rustc`, `rustdoc`, `test-run`, or the build-script binary's digest |
//! | `argv`         | full argument list, paths normalised                            |
//! | `env`          | variables hbuild sets for the action, paths normalised          |
//! | `deps`         | per dependency edge: name and output digest (closure)           |
//! | `package`      | package identity (registry sources are immutable)               |
//! | `inputs`       | workspace-relative path and digest of every file read           |
//! | `tracked_env`  | values of variables the action declared it reads                |
//! | `lint_config`  | linted actions only: the `clippy.toml` that applies, by content |
//!
//! Both environment components follow [`super::policy`]: execution details
//! ([`super::policy::EXECUTION_ONLY_ENV`]: `NUM_JOBS`, `CARGO_MAKEFLAGS`,
//! the jobserver, the rustc wrapper...) are left out, and secret values
//! ([`crate::core::secret`]) are keyed by their digest, never verbatim.
//!
//! What of an action fills these components is decided in
//! [`super::compose`].
//!
//! A key is computed in two steps. The *pre-key* covers everything known
//! before running (all but `inputs` and `tracked_env`); under it the cache
//! keeps the list of files and variables the last run read (rustc's
//! dep-info, or the script's `rerun-if-*`). The full key adds their current
//! digests and values. This is how `rerun-if-changed` narrows a build
//! script's inputs, and why touching an unrelated file re-runs nothing.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::normalize::NormalizedText;
use crate::core::{ActionKey, Digest};

/// Version of the key encoding. 2: roots are replaced on path-component
/// boundaries only (`/w/app-utils` no longer became `${WORKSPACE}-utils`).
/// 3: a dependency's digest leaves out its dep-info and a build script's raw
/// output, which name the checkout's paths.
pub const KEY_SCHEMA_VERSION: u32 = 3;

/// One file input of the full key.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct InputDigest {
    /// Normalised path (`${WORKSPACE}/crates/a/src/lib.rs`).
    pub path: NormalizedText,
    /// Digest, None when the file does not exist.
    pub digest: Option<Digest>,
}

/// Everything that identifies an action. What can carry a path is
/// [`NormalizedText`], made only by the
/// [`PathNormalizer`](super::PathNormalizer); `program` (`rustc` or a
/// digest) and `package` (a name and version, or a registry or git source)
/// carry none, but for the docs of a package with a build script, whose
/// `program` names its OUT_DIR on purpose (see [`super::compose`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyComponents {
    /// Schema salt.
    pub schema: u32,
    /// Toolchain identity (the configured linker may be a path).
    pub toolchain: NormalizedText,
    /// Program identity.
    pub program: String,
    /// Normalised argv.
    pub argv: Vec<NormalizedText>,
    /// Environment set by hbuild, in its keyed form ([`super::policy::keyed_env`]).
    pub env: BTreeMap<String, NormalizedText>,
    /// (edge label, digest) per dependency.
    pub deps: Vec<(String, Digest)>,
    /// Package identity.
    pub package: String,
    /// Files read (second step).
    pub inputs: Vec<InputDigest>,
    /// Tracked variables and their keyed values (second step; see
    /// [`super::policy::keyed_tracked_env`]).
    pub tracked_env: BTreeMap<String, Option<NormalizedText>>,
    /// For an action Clippy lints: the configuration files that apply
    /// (`clippy.toml`), by path and content, known before it runs. Absent
    /// from the encoding of every other action, whose keys it leaves as
    /// they were.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lint_config: Option<Vec<InputDigest>>,
    /// For an action whose last run wrote this checkout's absolute paths
    /// into its outputs (`env!("CARGO_MANIFEST_DIR")` in a test, a build
    /// script generating paths): a digest of the checkout's roots (second
    /// step), so that its outputs serve this location only. Absent from
    /// the encoding of every other action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Digest>,
}

fn hash_json<T: Serialize>(v: &T) -> Digest {
    Digest::of_bytes(&serde_json::to_vec(v).expect("key components serialise"))
}

impl KeyComponents {
    /// The pre-key (without inputs and tracked variables).
    pub fn pre_key(&self) -> ActionKey {
        let mut c = self.clone();
        c.inputs.clear();
        c.tracked_env.clear();
        c.location = None;
        ActionKey(hash_json(&("pre", c)))
    }

    /// The full key.
    pub fn key(&self) -> ActionKey {
        ActionKey(hash_json(&("full", self)))
    }

    /// The key under which the input manifest of a pre-key is stored.
    pub fn manifest_key(pre: &ActionKey) -> ActionKey {
        ActionKey(hash_json(&("manifest", KEY_SCHEMA_VERSION, pre)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> KeyComponents {
        KeyComponents {
            schema: KEY_SCHEMA_VERSION,
            toolchain: "rustc 1.95.0".into(),
            program: "rustc".into(),
            argv: vec!["--crate-name".into(), "a".into()],
            package: "path+crates/a#a@0.1.0".into(),
            ..Default::default()
        }
    }

    #[test]
    fn every_component_changes_the_key() {
        let k = base().key();
        let mut c = base();
        c.argv.push("-C".into());
        assert_ne!(c.key(), k);
        let mut c = base();
        c.env.insert("X".into(), "1".into());
        assert_ne!(c.key(), k);
        let mut c = base();
        c.deps.push(("dep".into(), Digest::of_bytes(b"x")));
        assert_ne!(c.key(), k);
        let mut c = base();
        c.inputs.push(InputDigest {
            path: "a".into(),
            digest: None,
        });
        assert_ne!(c.key(), k);
        assert_eq!(c.pre_key(), base().pre_key());
        let mut c = base();
        c.tracked_env.insert("K".into(), Some("v".into()));
        assert_ne!(c.key(), k);
        let mut c = base();
        c.lint_config = Some(Vec::new());
        assert_ne!(c.key(), k, "a linted action differs from a checked one");
        assert_ne!(c.pre_key(), base().pre_key(), "known before it runs");
        let mut c = base();
        c.toolchain = "rustc 1.95.0x".into();
        assert_ne!(c.key(), k);
        assert_ne!(c.pre_key(), base().pre_key());
    }
}
