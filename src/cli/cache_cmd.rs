//! `cargo hbuild cache stats|gc`, and remote-cache configuration from flags.

use std::collections::BTreeMap;

use super::args::{BuildArgs, CacheCommand};
use super::build::cache_dir;
use super::errors::{CliError, ExitCode};
use crate::cache::local::{parse_size, LocalCache};
use crate::cache::remote::{RemoteCache, RemoteConfig};
use crate::report::print_stdout_line;

fn open(dir: Option<&std::path::PathBuf>) -> Result<LocalCache, CliError> {
    let d = cache_dir(dir).ok_or_else(|| CliError::Other("no cache directory: set HBUILD_CACHE_DIR or pass --cache-dir".into()))?;
    Ok(LocalCache::open(&d)?)
}

/// Runs a `cache` subcommand.
pub fn run(c: CacheCommand) -> Result<i32, CliError> {
    match c {
        CacheCommand::Stats(a) => {
            let cache = open(a.cache_dir.as_ref())?;
            let s = cache.stats()?;
            if a.message_format.starts_with("json") {
                print_stdout_line(&serde_json::to_string(&s).map_err(|e| CliError::Other(e.to_string()))?);
            } else {
                print_stdout_line(&format!("{s}"));
            }
            Ok(ExitCode::OK)
        }
        CacheCommand::Gc { max_size, cache } => {
            let limit = parse_size(&max_size).map_err(|e| CliError::Usage(format!("invalid value for `--max-size`: {e}")))?;
            let c = open(cache.cache_dir.as_ref())?;
            let r = c.gc(limit)?;
            print_stdout_line(&format!(
                "removed {} entries and {} blobs; {} -> {} bytes",
                r.entries_removed, r.blobs_removed, r.bytes_before, r.bytes_after
            ));
            Ok(ExitCode::OK)
        }
    }
}

/// The remote cache for a build, from `--remote-cache*` and `HBUILD_REMOTE_CACHE*`.
pub fn remote_from_args(args: &BuildArgs, env: &BTreeMap<String, String>) -> Result<Option<RemoteCache>, CliError> {
    if args.no_cache {
        return Ok(None);
    }
    let cfg = RemoteConfig::from_env_and_flags(env, args.remote_cache.as_deref(), args.remote_cache_read_only).map_err(|e| CliError::Usage(e.to_string()))?;
    match cfg {
        None => Ok(None),
        Some(cfg) => Ok(Some(RemoteCache::new(cfg)?)),
    }
}
