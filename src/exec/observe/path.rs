//! Lexical path normalisation, shared by the log reader and the policy.

use std::path::{Component, Path, PathBuf};

/// `p` without `.` components and with each `..` taking away the component
/// before it (never above the root), without touching the file system:
/// the log holds paths as the program spelled them.
pub(crate) fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => match out.components().next_back() {
                Some(Component::Normal(_)) => {
                    out.pop();
                }
                Some(Component::RootDir | Component::Prefix(_)) => {}
                Some(Component::ParentDir | Component::CurDir) | None => out.push(".."),
            },
            other => out.push(other.as_os_str()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::normalize;
    use std::path::Path;

    #[test]
    fn dots_are_removed_lexically_and_never_climb_above_the_root() {
        let cases = [
            ("/a/./b/../c", "/a/c"),
            ("//a//b/", "/a/b"),
            ("/../../etc/passwd", "/etc/passwd"),
            ("/a/b/..", "/a"),
            ("/.", "/"),
            ("a/../../b", "../b"),
            ("../../a", "../../a"),
        ];
        for (input, want) in cases {
            assert_eq!(normalize(Path::new(input)), Path::new(want), "{input}");
        }
    }
}
