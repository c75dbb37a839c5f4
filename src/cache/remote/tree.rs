//! REAPI input roots: a flat list of files at relative paths becomes the
//! Merkle tree of `Directory` messages the protocol wants (children sorted
//! by name, each directory named by the digest of its encoding).

use std::collections::BTreeMap;

use bazel_remote_apis::build::bazel::remote::execution::v2 as re;
use prost::Message as _;

use super::proto::BlobRef;

/// One file of an input root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TreeFile {
    /// Relative path, `/`-separated, without `.` or `..` components.
    pub(crate) path: String,
    /// Its content's digest.
    pub(crate) blob: BlobRef,
    /// Whether it is executable.
    pub(crate) executable: bool,
}

/// A built input root: the root's digest and every `Directory` blob.
#[derive(Debug)]
pub(crate) struct InputTree {
    pub(crate) root: BlobRef,
    pub(crate) directories: Vec<(BlobRef, Vec<u8>)>,
}

#[derive(Default)]
struct Dir {
    files: BTreeMap<String, (BlobRef, bool)>,
    dirs: BTreeMap<String, Dir>,
}

/// Builds the tree of `files`. The same path twice is fine with the same
/// content; a path that is both a file and a directory, or twice with
/// different contents, is an error naming it.
pub(crate) fn build(files: &[TreeFile]) -> Result<InputTree, String> {
    let mut root = Dir::default();
    for f in files {
        insert(&mut root, f)?;
    }
    let mut directories = Vec::new();
    let root = encode(&root, &mut directories);
    Ok(InputTree { root, directories })
}

fn insert(root: &mut Dir, f: &TreeFile) -> Result<(), String> {
    let parts: Vec<&str> = f.path.split('/').collect();
    if parts
        .iter()
        .any(|p| p.is_empty() || *p == "." || *p == "..")
    {
        return Err(format!("`{}` is not a plain relative path", f.path));
    }
    let (name, dirs) = parts.split_last().expect("split gives one part");
    let mut d = root;
    for p in dirs {
        if d.files.contains_key(*p) {
            return Err(format!("`{}` is both a file and a directory", f.path));
        }
        d = d.dirs.entry((*p).to_string()).or_default();
    }
    if d.dirs.contains_key(*name) {
        return Err(format!("`{}` is both a file and a directory", f.path));
    }
    match d.files.get(*name) {
        Some((b, x)) if (b, *x) != (&f.blob, f.executable) => Err(format!(
            "`{}` is given twice with different contents",
            f.path
        )),
        Some(_) => Ok(()),
        None => {
            d.files
                .insert((*name).to_string(), (f.blob.clone(), f.executable));
            Ok(())
        }
    }
}

/// Encodes `d` and its children (children first), giving its digest.
fn encode(d: &Dir, out: &mut Vec<(BlobRef, Vec<u8>)>) -> BlobRef {
    let directories = d
        .dirs
        .iter()
        .map(|(name, child)| re::DirectoryNode {
            name: name.clone(),
            digest: Some(encode(child, out).to_pb()),
        })
        .collect();
    let files = d
        .files
        .iter()
        .map(|(name, (blob, executable))| re::FileNode {
            name: name.clone(),
            digest: Some(blob.to_pb()),
            is_executable: *executable,
            node_properties: None,
        })
        .collect();
    let bytes = re::Directory {
        files,
        directories,
        symlinks: Vec::new(),
        node_properties: None,
    }
    .encode_to_vec();
    let blob = BlobRef::of_bytes(&bytes);
    out.push((blob.clone(), bytes));
    blob
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, content: &[u8], executable: bool) -> TreeFile {
        TreeFile {
            path: path.into(),
            blob: BlobRef::of_bytes(content),
            executable,
        }
    }

    fn decode(tree: &InputTree, blob: &BlobRef) -> re::Directory {
        let (_, bytes) = tree
            .directories
            .iter()
            .find(|(b, _)| b == blob)
            .expect("directory blob present");
        re::Directory::decode(bytes.as_slice()).unwrap()
    }

    #[test]
    fn files_become_sorted_directories_named_by_digest() {
        let tree = build(&[
            file("ws/src/main.rs", b"fn main() {}", false),
            file("toolchain/bin/rustc", b"ELF", true),
            file("ws/Cargo.toml", b"[package]", false),
            file("ws/src/main.rs", b"fn main() {}", false),
        ])
        .unwrap();
        let root = decode(&tree, &tree.root);
        let names: Vec<_> = root.directories.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["toolchain", "ws"]);
        assert!(root.files.is_empty());
        let ws = decode(
            &tree,
            &BlobRef::from_pb(root.directories[1].digest.as_ref().unwrap()).unwrap(),
        );
        let files: Vec<_> = ws.files.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(files, ["Cargo.toml"]);
        assert_eq!(ws.directories[0].name, "src");
        // 1 root + toolchain + bin + ws + src.
        assert_eq!(tree.directories.len(), 5);
        // The same files in another order give the same root.
        let again = build(&[
            file("ws/Cargo.toml", b"[package]", false),
            file("ws/src/main.rs", b"fn main() {}", false),
            file("toolchain/bin/rustc", b"ELF", true),
        ])
        .unwrap();
        assert_eq!(again.root, tree.root);
        // The executable bit is part of the tree.
        let flipped = build(&[
            file("ws/Cargo.toml", b"[package]", false),
            file("ws/src/main.rs", b"fn main() {}", false),
            file("toolchain/bin/rustc", b"ELF", false),
        ])
        .unwrap();
        assert_ne!(flipped.root, tree.root);
    }

    #[test]
    fn conflicts_and_bad_paths_are_named() {
        let err = build(&[file("a/b", b"1", false), file("a/b/c", b"2", false)]).unwrap_err();
        assert_eq!(err, "`a/b/c` is both a file and a directory");
        let err = build(&[file("a/b", b"1", false), file("a/b", b"2", false)]).unwrap_err();
        assert_eq!(err, "`a/b` is given twice with different contents");
        let err = build(&[file("a/../b", b"1", false)]).unwrap_err();
        assert_eq!(err, "`a/../b` is not a plain relative path");
        let err = build(&[file("/etc/passwd", b"1", false)]).unwrap_err();
        assert_eq!(err, "`/etc/passwd` is not a plain relative path");
    }

    #[test]
    fn an_empty_root_is_the_empty_directory() {
        let tree = build(&[]).unwrap();
        assert_eq!(tree.root, BlobRef::of_bytes(&[]));
    }
}
