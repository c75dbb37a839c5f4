//! What a test run may open without declaring it.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;
use std::path::{Path, PathBuf};

use super::path::normalize;

/// The system directories every run may read: the toolchain and the OS,
/// which the key covers otherwise (toolchain identity) or not at all, as
/// for any build, and scratch space.
const STANDARD_EXEMPT: &[&str] = &[
    "/usr", "/lib", "/lib64", "/bin", "/sbin", "/etc", "/proc", "/sys", "/dev", "/run", "/tmp",
    "/var/tmp",
];

/// What a run may read without declaring it: exempt directories, and its
/// declared files and directories. Paths are compared lexically, as the
/// shim logs them; each directory and each declared file's directory is
/// also allowed under its canonical name, since a cwd that the program
/// reads back (`getcwd`) has its symbolic links resolved.
#[derive(Clone, Debug)]
pub(crate) struct AccessPolicy {
    exempt_dirs: Vec<PathBuf>,
    /// Directories whose files are never exempt, unless a more specific
    /// exempt directory holds them: the workspace (a checkout under `/tmp`
    /// is still the checkout; its target dir is exempt again).
    watched: BTreeSet<PathBuf>,
    declared_files: BTreeSet<PathBuf>,
    declared_dirs: BTreeSet<PathBuf>,
}

impl AccessPolicy {
    /// The standard exemptions (`/usr`, `/lib`, `/lib64`, `/bin`, `/sbin`,
    /// `/etc`, `/proc`, `/sys`, `/dev`, `/run`, `/tmp`, `/var/tmp`) and
    /// `extra_exempt` (the caller's: toolchain sysroot, cargo home, target
    /// dir, `TMPDIR`...), with the run's declared files and directories.
    /// Reads the file system only to find canonical names.
    pub(crate) fn new(
        extra_exempt: Vec<PathBuf>,
        declared_files: BTreeSet<PathBuf>,
        declared_dirs: Vec<PathBuf>,
    ) -> Self {
        let exempt = STANDARD_EXEMPT
            .iter()
            .map(PathBuf::from)
            .chain(extra_exempt);
        AccessPolicy {
            exempt_dirs: with_canonical(exempt).into_iter().collect(),
            watched: BTreeSet::new(),
            declared_files: files_with_canonical(declared_files),
            declared_dirs: with_canonical(declared_dirs),
        }
    }

    /// Makes the files under `dirs` subject to the check even inside an
    /// exempt directory, unless a deeper exempt directory holds them.
    pub(crate) fn watching(mut self, dirs: Vec<PathBuf>) -> Self {
        self.watched = with_canonical(dirs);
        self
    }

    /// The `opened` paths that are neither exempt nor declared, normalised,
    /// distinct and sorted. A path is declared when it is a declared file,
    /// lies under a declared directory, or is a directory above (or equal
    /// to) a declared path: listing it is how a run finds its inputs.
    pub(crate) fn undeclared(&self, opened: &[PathBuf]) -> Vec<PathBuf> {
        let wrong: BTreeSet<PathBuf> = opened
            .iter()
            .map(|p| normalize(p))
            .filter(|p| !self.allows(p))
            .collect();
        wrong.into_iter().collect()
    }

    fn allows(&self, p: &Path) -> bool {
        // Relative: a marker for a path the shim could not write.
        if !p.is_absolute() {
            return false;
        }
        self.is_exempt(p)
            || self.declared_files.contains(p)
            || p.ancestors().any(|a| self.declared_dirs.contains(a))
            || has_descendant(&self.declared_files, p)
            || has_descendant(&self.declared_dirs, p)
    }
}

impl AccessPolicy {
    /// Under an exempt directory deeper than any watched one holding it.
    fn is_exempt(&self, p: &Path) -> bool {
        let depth = |dirs: &mut dyn Iterator<Item = &PathBuf>| {
            dirs.filter(|d| p.starts_with(d))
                .map(|d| d.components().count())
                .max()
        };
        match (
            depth(&mut self.exempt_dirs.iter()),
            depth(&mut self.watched.iter()),
        ) {
            (Some(e), Some(w)) => e > w,
            (e, _) => e.is_some(),
        }
    }
}

/// Whether `set` holds `p` or a path under it. Paths order component by
/// component, so those under `p` come right after it.
fn has_descendant(set: &BTreeSet<PathBuf>, p: &Path) -> bool {
    set.range::<Path, _>((Bound::Included(p), Bound::Unbounded))
        .next()
        .is_some_and(|q| q.starts_with(p))
}

/// The directories, normalised, with their canonical names besides.
fn with_canonical(dirs: impl IntoIterator<Item = PathBuf>) -> BTreeSet<PathBuf> {
    let mut out = BTreeSet::new();
    for d in dirs {
        let d = normalize(&d);
        if let Ok(c) = std::fs::canonicalize(&d) {
            out.insert(c);
        }
        out.insert(d);
    }
    out
}

/// The files, normalised, and each also in its directory's canonical name
/// (one look-up per directory; the file itself may be a link, which its
/// declared name covers).
fn files_with_canonical(files: BTreeSet<PathBuf>) -> BTreeSet<PathBuf> {
    let mut canonical_dirs: BTreeMap<PathBuf, Option<PathBuf>> = BTreeMap::new();
    let mut out = BTreeSet::new();
    for f in files {
        let f = normalize(&f);
        if let (Some(dir), Some(name)) = (f.parent(), f.file_name()) {
            let c = canonical_dirs
                .entry(dir.to_path_buf())
                .or_insert_with(|| std::fs::canonicalize(dir).ok());
            if let Some(c) = c {
                out.insert(c.join(name));
            }
        }
        out.insert(f);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_watched_workspace_under_tmp_is_checked_but_its_target_dir_is_not() {
        let p =
            super::AccessPolicy::new(vec!["/tmp/w/target".into()], Default::default(), Vec::new())
                .watching(vec!["/tmp/w".into()]);
        let opened: Vec<std::path::PathBuf> = [
            "/tmp/w/shared/x.txt",
            "/tmp/w/target/debug/deps/t-1",
            "/tmp/other/scratch",
            "/usr/lib/libc.so",
        ]
        .iter()
        .map(Into::into)
        .collect();
        assert_eq!(
            p.undeclared(&opened),
            [std::path::PathBuf::from("/tmp/w/shared/x.txt")]
        );
    }

    use super::AccessPolicy;
    use std::collections::BTreeSet;
    use std::path::PathBuf;

    fn paths(v: &[&str]) -> Vec<PathBuf> {
        v.iter().map(PathBuf::from).collect()
    }

    /// Paths under /hbuild-policy-test exist nowhere, so no canonical name
    /// is added.
    fn policy() -> AccessPolicy {
        AccessPolicy::new(
            paths(&["/hbuild-policy-test/home/.cargo"]),
            paths(&["/hbuild-policy-test/ws/README.md"])
                .into_iter()
                .collect(),
            paths(&["/hbuild-policy-test/ws/pkg"]),
        )
    }

    #[test]
    fn exempt_directories_are_allowed_whole_and_only_on_component_boundaries() {
        let opened = paths(&[
            "/usr/lib/libc.so.6",
            "/etc/hosts",
            "/tmp/x",
            "/proc/self/maps",
            "/hbuild-policy-test/home/.cargo/registry/src/a.rs",
            "/hbuild-policy-test/home/.cargo-other/x",
            "/usrx/lib",
            "/var/log/syslog",
        ]);
        assert_eq!(
            policy().undeclared(&opened),
            paths(&[
                "/hbuild-policy-test/home/.cargo-other/x",
                "/usrx/lib",
                "/var/log/syslog",
            ])
        );
    }

    #[test]
    fn declared_files_and_everything_under_declared_dirs_are_allowed() {
        let opened = paths(&[
            "/hbuild-policy-test/ws/pkg/src/lib.rs",
            "/hbuild-policy-test/ws/pkg/tests/data/deep/x.bin",
            "/hbuild-policy-test/ws/pkg",
            "/hbuild-policy-test/ws/README.md",
            "/hbuild-policy-test/ws/README.md.orig",
            "/hbuild-policy-test/ws/pkg2/src/lib.rs",
            "/hbuild-policy-test/ws/other/data.txt",
        ]);
        assert_eq!(
            policy().undeclared(&opened),
            paths(&[
                "/hbuild-policy-test/ws/README.md.orig",
                "/hbuild-policy-test/ws/other/data.txt",
                "/hbuild-policy-test/ws/pkg2/src/lib.rs",
            ])
        );
    }

    #[test]
    fn directories_above_declared_paths_are_allowed_and_their_siblings_are_not() {
        let opened = paths(&[
            "/",
            "/hbuild-policy-test",
            "/hbuild-policy-test/ws",
            "/hbuild-policy-test/ws/other",
            "/hbuild-policy-test/home",
        ]);
        // Above an exempt directory is not above a declared path.
        assert_eq!(
            policy().undeclared(&opened),
            paths(&["/hbuild-policy-test/home", "/hbuild-policy-test/ws/other"])
        );
        let only_a_file = AccessPolicy::new(
            Vec::new(),
            paths(&["/hbuild-policy-test/a/b/c.txt"])
                .into_iter()
                .collect(),
            Vec::new(),
        );
        assert_eq!(
            only_a_file.undeclared(&paths(&[
                "/hbuild-policy-test/a",
                "/hbuild-policy-test/a/b",
                "/hbuild-policy-test/a/b/d.txt",
                "/hbuild-policy-test/a/bb",
            ])),
            paths(&["/hbuild-policy-test/a/b/d.txt", "/hbuild-policy-test/a/bb"])
        );
    }

    #[test]
    fn dot_dot_is_resolved_before_checking_in_both_the_log_and_the_policy() {
        let p = AccessPolicy::new(
            Vec::new(),
            BTreeSet::new(),
            paths(&["/hbuild-policy-test/ws/./x/../pkg"]),
        );
        let opened = paths(&[
            "/hbuild-policy-test/ws/pkg/../pkg/src/lib.rs",
            "/hbuild-policy-test/ws/pkg/../secret.txt",
            "/hbuild-policy-test/ws/pkg/src/../../../etc-not/x",
            "/hbuild-policy-test/ws/pkg/../../../../etc/passwd",
        ]);
        assert_eq!(
            p.undeclared(&opened),
            paths(&[
                "/hbuild-policy-test/etc-not/x",
                "/hbuild-policy-test/ws/secret.txt",
            ])
        );
    }

    #[test]
    fn markers_and_repeated_paths_are_reported_once_each() {
        let opened = paths(&[
            "(unresolved) data/x",
            "/hbuild-policy-test/x",
            "/hbuild-policy-test/./x",
        ]);
        assert_eq!(
            policy().undeclared(&opened),
            paths(&["/hbuild-policy-test/x", "(unresolved) data/x"])
        );
    }

    #[test]
    fn a_directory_is_also_allowed_under_its_canonical_name() {
        // Not under /tmp, which is exempt.
        let target = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target");
        std::fs::create_dir_all(&target).unwrap();
        let d = tempfile::tempdir_in(&target).unwrap();
        let real = d.path().join("real");
        std::fs::create_dir_all(real.join("pkg")).unwrap();
        std::os::unix::fs::symlink(&real, d.path().join("link")).unwrap();
        // Watched, in case the checkout itself is under /tmp.
        let p = AccessPolicy::new(
            Vec::new(),
            [d.path().join("link/top.txt")].into_iter().collect(),
            vec![d.path().join("link/pkg")],
        )
        .watching(vec![target.clone()]);
        let canonical = std::fs::canonicalize(&real).unwrap();
        let opened = [
            canonical.join("pkg/src/lib.rs"),
            canonical.join("top.txt"),
            canonical.join("other.txt"),
            d.path().join("link/pkg/src/lib.rs"),
            d.path().join("link/other.txt"),
        ];
        let mut want = vec![canonical.join("other.txt"), d.path().join("link/other.txt")];
        want.sort();
        assert_eq!(p.undeclared(&opened), want);
    }
}
