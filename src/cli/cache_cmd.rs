//! `cargo hbuild cache stats|gc`.

use super::errors::{CliError, ExitCode};
use crate::cache::local::LocalCache;
use crate::report::print_stdout_line;
use crate::settings::{CacheAction, CacheCommandSettings};

/// Runs a `cache` subcommand.
pub fn run(c: &CacheCommandSettings) -> Result<i32, CliError> {
    match c.action {
        CacheAction::Stats => {
            let cache = LocalCache::open(&c.dir)?;
            let s = cache.stats()?;
            if c.format.is_json() {
                print_stdout_line(&serde_json::to_string(&s).map_err(|source| CliError::Json {
                    what: "the cache statistics",
                    source,
                })?);
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
        CacheAction::Gc { max_bytes } => {
            let r = LocalCache::open(&c.dir)?.gc(max_bytes)?;
            print_stdout_line(&format!(
                "removed {} entries and {} blobs; {} -> {} bytes",
                r.entries_removed, r.blobs_removed, r.bytes_before, r.bytes_after
            ));
            Ok(ExitCode::OK)
        }
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
