//! `hbuild-digest`: the helper a remote action runs on the worker after its
//! command, in builds without the bytes (`--remote-download=minimal`).
//!
//! hbuild keys dependents on the blake3 digests of their dependencies'
//! outputs, while a remote-execution engine names outputs by SHA-256. So
//! that an output can stay in the engine's CAS, the worker reports its
//! blake3 digest, and whether it holds the worker's input-root path (an
//! output that baked a worker path must be rebuilt locally, and finding
//! that out must not need the bytes either).
//!
//! ```text
//! hbuild-digest ROOT [--local PATH]... -- FILE...
//! ```
//!
//! prints one line per FILE that exists, in the order given:
//!
//! ```text
//! <blake3, 64 hex digits> <size> <holds> <FILE>
//! ```
//!
//! where `<holds>` is `-`, or `w` if the file holds ROOT and `l` if it
//! holds one of the `--local` paths (this machine's checkout roots, which
//! a compile bakes in through `env!("CARGO_BIN_EXE_…")`), in that order.
//!
//! It links nothing of the `hbuild` library: it is sent to workers as an
//! input, so it stays small.

use std::io::{Read, Write};
use std::process::ExitCode;

/// Bytes read at a time.
const CHUNK: usize = 1 << 20;

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let usage = || {
        eprintln!("usage: hbuild-digest ROOT [--local PATH]... -- FILE...");
        ExitCode::from(2)
    };
    let Some(root) = args.next() else {
        return usage();
    };
    let mut local = Vec::new();
    loop {
        match args.next() {
            Some(a) if a == "--" => break,
            Some(a) if a == "--local" => match args.next() {
                Some(p) => local.push(p.into_encoded_bytes()),
                None => return usage(),
            },
            _ => return usage(),
        }
    }
    let root = root.into_encoded_bytes();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for file in args {
        let path = std::path::Path::new(&file);
        if !path.is_file() {
            continue;
        }
        match digest(path, &root, &local) {
            Ok((hash, size, holds)) => {
                let line = format!("{hash} {size} {holds} {}\n", path.display());
                if out.write_all(line.as_bytes()).is_err() {
                    return ExitCode::from(1);
                }
            }
            Err(e) => {
                eprintln!("hbuild-digest: cannot read `{}`: {e}", path.display());
                return ExitCode::from(1);
            }
        }
    }
    match out.flush() {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) => ExitCode::from(1),
    }
}

/// The file's blake3 digest, its size, and which of `root` and `local` it
/// holds (searched across chunk boundaries: chunks overlap by the longest
/// needle).
fn digest(
    path: &std::path::Path,
    root: &[u8],
    local: &[Vec<u8>],
) -> std::io::Result<(String, u64, String)> {
    let root = memchr::memmem::Finder::new(root);
    let local: Vec<_> = local.iter().map(memchr::memmem::Finder::new).collect();
    let longest = local
        .iter()
        .chain(std::iter::once(&root))
        .map(|f| f.needle().len())
        .max()
        .unwrap_or(0);
    let keep = longest.saturating_sub(1);
    let mut f = std::fs::File::open(path)?;
    let mut hasher = blake3::Hasher::new();
    let mut buf = vec![0u8; CHUNK + keep];
    let (mut kept, mut size) = (0usize, 0u64);
    let (mut holds_root, mut holds_local) = (false, false);
    let found = |f: &memchr::memmem::Finder<'_>, hay: &[u8]| {
        !f.needle().is_empty() && f.find(hay).is_some()
    };
    loop {
        let n = f.read(&mut buf[kept..])?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[kept..kept + n]);
        size += n as u64;
        let filled = kept + n;
        holds_root = holds_root || found(&root, &buf[..filled]);
        holds_local = holds_local || local.iter().any(|l| found(l, &buf[..filled]));
        kept = keep.min(filled);
        buf.copy_within(filled - kept..filled, 0);
    }
    let mut holds = String::new();
    if holds_root {
        holds.push('w');
    }
    if holds_local {
        holds.push('l');
    }
    if holds.is_empty() {
        holds.push('-');
    }
    Ok((hasher.finalize().to_hex().to_string(), size, holds))
}
