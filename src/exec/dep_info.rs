//! rustc's dep-info (Makefile syntax): which files and environment
//! variables a compilation read.

use std::path::{Path, PathBuf};

/// Parsed dep-info.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct DepInfo {
    /// Files read, absolute (relative entries joined to the cwd).
    pub files: Vec<PathBuf>,
    /// `# env-dep:NAME[=value]` variables.
    pub env: Vec<String>,
}

fn unescape(s: &str) -> String {
    s.replace("\\ ", " ").replace("\\#", "#").replace("$$", "$")
}

/// Splits a Makefile dependency list on unescaped spaces.
fn split_deps(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&' ') => {
                cur.push('\\');
                cur.push(' ');
                chars.next();
            }
            ' ' => {
                if !cur.is_empty() {
                    out.push(unescape(&cur));
                    cur.clear();
                }
            }
            _ => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(unescape(&cur));
    }
    out
}

/// Parses the dep-info text; relative paths are resolved against `cwd`.
pub fn parse(text: &str, cwd: &Path) -> DepInfo {
    let mut info = DepInfo::default();
    let mut seen_rule = false;
    for line in text.lines() {
        if let Some(env) = line.strip_prefix("# env-dep:") {
            let name = env.split_once('=').map(|(n, _)| n).unwrap_or(env);
            info.env.push(name.to_string());
            continue;
        }
        if line.starts_with('#') || line.trim().is_empty() || seen_rule {
            continue;
        }
        // The first rule lists every input; later rules repeat them as
        // empty targets.
        if let Some(idx) = find_rule_colon(line) {
            seen_rule = true;
            for d in split_deps(&line[idx + 1..]) {
                let p = PathBuf::from(&d);
                info.files
                    .push(if p.is_absolute() { p } else { cwd.join(p) });
            }
        }
    }
    info.files.sort();
    info.files.dedup();
    info.env.sort();
    info.env.dedup();
    info
}

fn find_rule_colon(line: &str) -> Option<usize> {
    let b = line.as_bytes();
    (0..b.len()).find(|&i| {
        b[i] == b':' && (i + 1 == b.len() || b[i + 1] == b' ') && (i == 0 || b[i - 1] != b'\\')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rules_and_env() {
        let t = "/t/deps/app-1.d: src/lib.rs src/a\\ b.rs /t/out/gen.rs\n\n/t/deps/app-1.d:\nsrc/lib.rs:\n\n# env-dep:OUT_DIR=/t/out\n# env-dep:FOO\n";
        let d = parse(t, Path::new("/ws"));
        assert_eq!(
            d.files,
            [
                PathBuf::from("/t/out/gen.rs"),
                PathBuf::from("/ws/src/a b.rs"),
                PathBuf::from("/ws/src/lib.rs")
            ]
        );
        assert_eq!(d.env, ["FOO", "OUT_DIR"]);
    }
}
