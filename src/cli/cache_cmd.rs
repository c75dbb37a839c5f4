//! `cargo hbuild cache stats|gc`, and remote-cache configuration from flags.

use std::collections::BTreeMap;

use super::args::{BuildArgs, CacheCommand};
use super::build::cache_dir;
use super::errors::{CliError, ExitCode};
use crate::cache::local::{parse_size, LocalCache};
use crate::cache::remote::{RemoteCache, RemoteConfig, RemoteFlags};
use crate::report::print_stdout_line;

fn open(dir: Option<&std::path::PathBuf>) -> Result<LocalCache, CliError> {
    let d = cache_dir(dir).ok_or_else(|| {
        CliError::Other("no cache directory: set HBUILD_CACHE_DIR or pass --cache-dir".into())
    })?;
    Ok(LocalCache::open(&d)?)
}

/// Runs a `cache` subcommand.
pub fn run(c: CacheCommand) -> Result<i32, CliError> {
    match c {
        CacheCommand::Stats(a) => {
            let cache = open(a.cache_dir.as_ref())?;
            let s = cache.stats()?;
            if a.message_format.starts_with("json") {
                print_stdout_line(
                    &serde_json::to_string(&s).map_err(|e| CliError::Other(e.to_string()))?,
                );
            } else {
                print_stdout_line(&format!("cache: {}", cache.root().display()));
                print_stdout_line(&format!("entries: {}", s.entries));
                print_stdout_line(&format!("blobs: {}", s.blobs));
                print_stdout_line(&format!("size: {}", human_size(s.total_bytes)));
                let remote: (u64, u64, u64, u64, u64) =
                    s.recent_builds.iter().fold((0, 0, 0, 0, 0), |a, b| {
                        (
                            a.0 + b.remote_hits,
                            a.1 + b.remote_misses,
                            a.2 + b.remote_bytes_down,
                            a.3 + b.remote_bytes_up,
                            a.4 + b.remote_transfer_ms,
                        )
                    });
                if remote != (0, 0, 0, 0, 0) {
                    print_stdout_line(&format!(
                        "remote, last {} builds: {} hits, {} misses, {} down, {} up, {:.1}s in transfers",
                        s.recent_builds.len(),
                        remote.0,
                        remote.1,
                        human_size(remote.2),
                        human_size(remote.3),
                        remote.4 as f64 / 1000.0
                    ));
                }
                match s.hit_rate {
                    Some(r) => print_stdout_line(&format!(
                        "hit rate of the last {} builds: {:.1}%",
                        s.recent_builds.len(),
                        r * 100.0
                    )),
                    None => print_stdout_line("hit rate: no builds recorded"),
                }
            }
            Ok(ExitCode::OK)
        }
        CacheCommand::Gc { max_size, cache } => {
            let limit = parse_size(&max_size)
                .map_err(|e| CliError::Usage(format!("invalid value for `--max-size`: {e}")))?;
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
pub fn remote_from_args(
    args: &BuildArgs,
    env: &BTreeMap<String, String>,
) -> Result<Option<RemoteCache>, CliError> {
    if args.no_cache {
        return Ok(None);
    }
    let _ = env;
    let flags = RemoteFlags {
        url: args.remote_cache.clone(),
        read_only: args.remote_cache_read_only,
        headers: args.remote_cache_header.clone(),
        timeout: args.remote_cache_timeout.clone(),
        connect_timeout: args.remote_cache_connect_timeout.clone(),
    };
    let cfg =
        RemoteConfig::from_env_and_flags(&flags).map_err(|e| CliError::Usage(e.to_string()))?;
    match cfg {
        None => Ok(None),
        Some(cfg) => Ok(Some(RemoteCache::new(cfg)?)),
    }
}

fn human_size(b: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < units.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{b} B")
    } else {
        format!("{v:.1} {}", units[u])
    }
}
