//! What the digest helper (`hbuild-digest`, `src/bin/`) reports from a
//! worker: the blake3 digests of a remote run's outputs, so that they can
//! stay in the engine's CAS while dependents key on them as on a local
//! run's, and whether each holds the worker's input-root path.

use std::collections::HashMap;
use std::path::PathBuf;

use crate::core::Digest;

/// The helper's file name, installed beside `cargo-hbuild`.
const HELPER_NAME: &str = "hbuild-digest";

/// The helper beside the running executable, if it is there: `cargo
/// install` puts both binaries in the same directory, and so does a
/// build of this package.
pub(crate) fn helper_beside_exe() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let helper = exe.with_file_name(HELPER_NAME);
    helper.is_file().then_some(helper)
}

/// One output as the helper reported it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Reported {
    /// Its blake3 digest.
    pub(super) digest: Digest,
    /// Its size in bytes.
    pub(super) size: u64,
    /// Whether it holds the worker's input-root path.
    pub(super) holds_root: bool,
    /// Whether it holds one of this machine's checkout roots.
    pub(super) holds_local: bool,
}

/// The helper's report, by input-root path; an error names the line that
/// is not `<blake3> <size> <-|w|l|wl> <path>`.
pub(super) fn parse(text: &str) -> Result<HashMap<String, Reported>, String> {
    let mut out = HashMap::new();
    for line in text.lines() {
        let bad = || format!("the digest helper wrote `{line}`");
        let mut parts = line.splitn(4, ' ');
        let (Some(hash), Some(size), Some(flag), Some(path)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        let digest: Digest = hash.parse().map_err(|_| bad())?;
        let size = size.parse().map_err(|_| bad())?;
        let (holds_root, holds_local) = match flag {
            "-" => (false, false),
            "w" => (true, false),
            "l" => (false, true),
            "wl" => (true, true),
            _ => return Err(bad()),
        };
        out.insert(
            path.to_string(),
            Reported {
                digest,
                size,
                holds_root,
                holds_local,
            },
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_parse_by_path() {
        let hello = "ea8f163db38682925e4491c5e58d4bb3506ef8c14eb78a86e908c5624a67200f";
        let text = format!("{hello} 5 - target/a b.rlib\n{hello} 5 w target/x\n{hello} 5 wl y\n");
        let r = parse(&text).unwrap();
        assert_eq!(
            r["target/a b.rlib"],
            Reported {
                digest: Digest::of_bytes(b"hello"),
                size: 5,
                holds_root: false,
                holds_local: false,
            }
        );
        assert!(r["target/x"].holds_root && !r["target/x"].holds_local);
        assert!(r["y"].holds_root && r["y"].holds_local);
        assert_eq!(r.len(), 3);
    }

    #[test]
    fn a_malformed_report_is_refused() {
        for bad in [
            "xyz 5 - p",
            "ea8f 5 - p",
            &format!("{} five - p", "0".repeat(64)),
        ] {
            assert!(
                parse(bad).unwrap_err().contains("digest helper wrote"),
                "{bad}"
            );
        }
        assert!(parse(&format!("{} 5 1 p", "0".repeat(64))).is_err());
        assert!(parse(&format!("{} 5 -", "0".repeat(64))).is_err());
    }
}
