//! Settings of the commands that do not build: `explain` and `cache`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{resolve_target_dir, Invocation, ListingFormat, SettingsError};
use crate::cache::local::{parse_size, LocalCache};
use crate::settings::args::{CacheArgs, CacheCommand, ExplainArgs};

/// The local cache directory: `--cache-dir`, `HBUILD_CACHE_DIR`, then the
/// per-user cache dir.
pub fn cache_dir(flag: Option<&PathBuf>, env: &BTreeMap<String, String>) -> Option<PathBuf> {
    flag.cloned()
        .or_else(|| {
            env.get("HBUILD_CACHE_DIR")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        })
        .or_else(LocalCache::default_root)
}

/// `cargo hbuild explain <unit>`, resolved.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ExplainSettings {
    /// `package`, `package@version`, optionally followed by `:target`.
    pub unit: String,
    /// The target dir whose record is read.
    pub target_dir: PathBuf,
    /// How the reasons are printed.
    pub format: ListingFormat,
}

impl ExplainSettings {
    /// Resolves `explain`: the target dir as a build would find it.
    pub fn resolve(a: &ExplainArgs, inv: &Invocation) -> Result<Self, SettingsError> {
        let target_dir =
            resolve_target_dir(a.target_dir.as_deref(), a.manifest_path.as_deref(), inv)?;
        Ok(ExplainSettings {
            unit: a.unit.clone(),
            target_dir,
            format: ListingFormat::parse(&a.message_format)?,
        })
    }
}

/// What a `cache` subcommand does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CacheAction {
    /// Show entries, size and hit rate.
    Stats,
    /// Evict least recently used entries down to a size in bytes.
    Gc {
        /// `--max-size`.
        max_bytes: u64,
    },
}

/// A `cache` subcommand, resolved.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CacheCommandSettings {
    /// The subcommand.
    pub action: CacheAction,
    /// The local cache directory.
    pub dir: PathBuf,
    /// How `stats` prints.
    pub format: ListingFormat,
}

impl CacheCommandSettings {
    /// Resolves a `cache` subcommand.
    pub fn resolve(c: &CacheCommand, inv: &Invocation) -> Result<Self, SettingsError> {
        let (action, a): (CacheAction, &CacheArgs) = match c {
            CacheCommand::Stats(a) => (CacheAction::Stats, a),
            CacheCommand::Gc { max_size, cache } => (
                CacheAction::Gc {
                    max_bytes: parse_size(max_size).map_err(SettingsError::MaxSize)?,
                },
                cache,
            ),
        };
        let format = match action {
            CacheAction::Stats => ListingFormat::parse(&a.message_format)?,
            // `gc` prints one line whatever the format.
            CacheAction::Gc { .. } => ListingFormat::Human,
        };
        let dir = cache_dir(a.cache_dir.as_ref(), &inv.env).ok_or(SettingsError::NoCacheDir)?;
        Ok(CacheCommandSettings {
            action,
            dir,
            format,
        })
    }
}
