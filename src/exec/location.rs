//! Outputs that embed the checkout's absolute paths.
//!
//! hbuild remaps the checkout's paths out of what rustc and C compilers
//! write, so that outputs are the same bytes in every checkout. What the
//! code itself bakes in is not remapped: `env!("CARGO_MANIFEST_DIR")` in a
//! test that finds its fixtures, `env!("OUT_DIR")` kept as a string, a
//! build script that writes paths into generated code. Such outputs are
//! correct only where they were built, so a run that wrote one is keyed on
//! the checkout's location too (see [`crate::fingerprint::KeyComponents`]).

use std::io::Read;
use std::path::PathBuf;

use memchr::memmem::Finder;

use crate::fingerprint::PathNormalizer;
use crate::plan::action::ActionKind;
use crate::plan::Action;

/// Bytes read at a time.
const CHUNK: usize = 1 << 20;

/// Of `files`, the outputs of `a` whose paths matter where they are used.
/// Of a build script's `OUT_DIR`, only the generated Rust code: it is
/// compiled into the package, while the bookkeeping of native build tools
/// (pkg-config files, CMake caches) names its own directory without
/// anything reading it in another checkout. A path generated code carries
/// into a binary is found in the compile's outputs too.
pub(super) fn scanned(a: &Action, files: Vec<PathBuf>) -> Vec<PathBuf> {
    if a.kind != ActionKind::BuildScriptRun {
        return files;
    }
    let rust = |f: &PathBuf| f.extension().is_some_and(|e| e == "rs");
    files.into_iter().filter(rust).collect()
}

/// Whether one of `files` holds one of the checkout's roots.
pub(super) fn embeds_location(norm: &PathNormalizer, files: &[PathBuf]) -> bool {
    let finders: Vec<Finder<'_>> = norm.checkout_roots().map(Finder::new).collect();
    let longest = finders.iter().map(|f| f.needle().len()).max().unwrap_or(0);
    if longest == 0 {
        return false;
    }
    files
        .iter()
        .any(|f| holds_any(f, &finders, longest).unwrap_or(false))
}

/// Reads `file` in chunks that overlap by the longest needle, so that a
/// root across a chunk boundary is found too.
fn holds_any(
    file: &std::path::Path,
    finders: &[Finder<'_>],
    longest: usize,
) -> std::io::Result<bool> {
    let mut f = std::fs::File::open(file)?;
    let mut buf = vec![0u8; CHUNK + longest];
    let mut kept = 0;
    loop {
        let n = f.read(&mut buf[kept..])?;
        if n == 0 {
            return Ok(false);
        }
        let filled = kept + n;
        if finders.iter().any(|fi| fi.find(&buf[..filled]).is_some()) {
            return Ok(true);
        }
        kept = filled.min(longest - 1);
        buf.copy_within(filled - kept..filled, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn normalizer(ws: &std::path::Path) -> PathNormalizer {
        PathNormalizer::new(
            ws,
            &ws.join("target"),
            Some(std::path::Path::new("/home/someone/.cargo")),
            std::path::Path::new("/toolchains/stable"),
        )
    }

    #[test]
    fn a_root_in_an_output_is_found_even_across_chunks() {
        let d = tempfile::tempdir().unwrap();
        let ws = d.path().join("checkout");
        let norm = normalizer(&ws);
        let clean = d.path().join("clean.rlib");
        // The sysroot is the toolchain's business, not the checkout's.
        std::fs::write(&clean, b"/toolchains/stable/lib and /rustc/abc/src").unwrap();
        assert!(!embeds_location(&norm, std::slice::from_ref(&clean)));

        let root = ws.display().to_string();
        let mut bytes = vec![b'x'; CHUNK - 3];
        bytes.extend_from_slice(root.as_bytes());
        bytes.extend_from_slice(b"/tests/data");
        let across = d.path().join("test-binary");
        std::fs::write(&across, &bytes).unwrap();
        assert!(embeds_location(&norm, &[clean.clone(), across]));

        let home = d.path().join("registry.rlib");
        std::fs::write(&home, b"..\0/home/someone/.cargo/registry/src/x-1.0\0..").unwrap();
        assert!(embeds_location(&norm, &[home]));
        let missing = d.path().join("gone");
        assert!(!embeds_location(&norm, &[missing, clean]));
    }

    #[test]
    fn of_a_build_script_run_only_generated_rust_is_scanned() {
        let files = vec![
            PathBuf::from("/o/out/gen.rs"),
            PathBuf::from("/o/out/lib/pkgconfig/zlib.pc"),
        ];
        let run = crate::fingerprint::fixture::action(
            2,
            ActionKind::BuildScriptRun,
            "z",
            "build-script-build",
        );
        assert_eq!(
            scanned(&run, files.clone()),
            [PathBuf::from("/o/out/gen.rs")]
        );
        let compile = crate::fingerprint::fixture::action(0, ActionKind::Compile, "z", "z");
        assert_eq!(scanned(&compile, files.clone()), files);
    }
}
