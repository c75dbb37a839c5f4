//! Reading back what the shim logged.

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::path::normalize;

/// The distinct paths opened according to `log`, lexically normalised
/// (`.` and `..` removed, symbolic links left alone) and sorted, without
/// the log itself. A path the shim could not write in full is kept as its
/// marker line (`(truncated) …`, `(unresolved) …`), a relative path that
/// no policy declares.
///
/// Errors: `NotFound` when the log does not exist, meaning that no
/// observed process started (a statically linked program is not
/// observed); any other error when the shim could not write a line
/// (it leaves `<log>.lost` behind then). Either way the run was not
/// observed and must not be taken for one that read nothing.
pub(crate) fn read_log(log: &Path) -> io::Result<Vec<PathBuf>> {
    let lost = lost_marker(log);
    if lost.exists() {
        return Err(io::Error::other(format!(
            "the file-access log {} is incomplete: a process could not write to it",
            log.display()
        )));
    }
    let bytes = std::fs::read(log)?;
    let own = normalize(&std::path::absolute(log)?);
    let paths: BTreeSet<PathBuf> = bytes
        .split(|b| *b == b'\n')
        .filter(|line| !line.is_empty())
        .map(|line| normalize(Path::new(OsStr::from_bytes(&unescape(line)))))
        .filter(|p| *p != own)
        .collect();
    Ok(paths.into_iter().collect())
}

/// What the shim creates when a line could not be written (`shim.c`).
fn lost_marker(log: &Path) -> PathBuf {
    let mut s = log.as_os_str().to_owned();
    s.push(".lost");
    PathBuf::from(s)
}

/// A line's path: the shim writes `\` as `\\` and a newline as `\n`.
fn unescape(line: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(line.len());
    let mut bytes = line.iter().copied();
    while let Some(b) = bytes.next() {
        if b != b'\\' {
            out.push(b);
            continue;
        }
        match bytes.next() {
            Some(b'n') => out.push(b'\n'),
            Some(other) => out.push(other),
            None => out.push(b'\\'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::read_log;
    use std::path::PathBuf;

    fn paths(v: &[&str]) -> Vec<PathBuf> {
        v.iter().map(PathBuf::from).collect()
    }

    #[test]
    fn the_log_gives_distinct_normalised_paths_sorted_without_itself() {
        let d = tempfile::tempdir().unwrap();
        let log = d.path().join("access.log");
        let own = log.display();
        std::fs::write(
            &log,
            format!("/w/b\n/w/./a\n/w/x/../b\n{own}\n/w/sub/\n\n/w/a\n"),
        )
        .unwrap();
        assert_eq!(read_log(&log).unwrap(), paths(&["/w/a", "/w/b", "/w/sub"]));
    }

    #[test]
    fn escaped_newlines_and_backslashes_come_back_whole() {
        let d = tempfile::tempdir().unwrap();
        let log = d.path().join("access.log");
        std::fs::write(&log, "/w/two\\nlines\n/w/back\\\\slash\n").unwrap();
        assert_eq!(
            read_log(&log).unwrap(),
            paths(&["/w/back\\slash", "/w/two\nlines"])
        );
    }

    #[test]
    fn markers_stay_relative() {
        let d = tempfile::tempdir().unwrap();
        let log = d.path().join("access.log");
        std::fs::write(&log, "(unresolved) data/x\n/w/a\n").unwrap();
        assert_eq!(
            read_log(&log).unwrap(),
            paths(&["/w/a", "(unresolved) data/x"])
        );
    }

    #[test]
    fn a_missing_log_is_not_found_and_a_lost_line_is_an_error() {
        let d = tempfile::tempdir().unwrap();
        let log = d.path().join("access.log");
        let e = read_log(&log).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::NotFound);

        std::fs::write(&log, "/w/a\n").unwrap();
        std::fs::create_dir(d.path().join("access.log.lost")).unwrap();
        let e = read_log(&log).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "the file-access log {} is incomplete: a process could not write to it",
                log.display()
            )
        );
    }
}
