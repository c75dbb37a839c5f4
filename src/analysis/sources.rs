//! Source files of a path package: the declared inputs of its actions.
//!
//! Like Cargo's package file listing: everything under the package root
//! except `target/`, hidden directories and nested packages. Listed here,
//! not in the planner, which receives the result as [`PackageFiles`].

use std::path::{Path, PathBuf};

use crate::plan::units::UnitGraph;
use crate::plan::PackageFiles;
use crate::workspace::model::{Source, WorkspaceModel};

/// Lists the files of every path package that has a unit.
pub fn list_unit_packages(model: &WorkspaceModel, ug: &UnitGraph) -> PackageFiles {
    let mut out = PackageFiles::default();
    for u in &ug.units {
        let pkg = &model.packages[u.pkg];
        if pkg.source == Source::Path && !out.contains(u.pkg) {
            out.insert(u.pkg, package_files(pkg.root()));
        }
    }
    out
}

/// Lists the files of a path package, sorted.
pub fn package_files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let walker = walkdir::WalkDir::new(root)
        .follow_links(false)
        .into_iter()
        .filter_entry(|e| {
            if e.depth() == 0 {
                return true;
            }
            let name = e.file_name().to_string_lossy();
            if e.file_type().is_dir() {
                if name.starts_with('.') || name == "target" {
                    return false;
                }
                // A nested package owns its own files.
                if e.path().join("Cargo.toml").is_file() {
                    return false;
                }
            }
            true
        });
    for e in walker.flatten() {
        if e.file_type().is_file() {
            out.push(e.into_path());
        }
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::testkit::Fixture;

    #[test]
    fn lists_the_path_packages_with_units_only() {
        let f = Fixture::kitchen_sink();
        let mut req = f.request();
        req.packages = vec!["plugin".into()];
        let ug = f.plan(&req).unwrap();
        let files = list_unit_packages(&f.loaded.model, &ug);
        let ws = &f.loaded.model.root;
        let listed = |name: &str| -> Vec<String> {
            files
                .of(f.pkg(name))
                .iter()
                .map(|p| p.strip_prefix(ws).unwrap().display().to_string())
                .collect()
        };
        assert_eq!(
            listed("plugin"),
            ["crates/plugin/Cargo.toml", "crates/plugin/src/lib.rs"]
        );
        assert_eq!(
            listed("shared"),
            ["crates/shared/Cargo.toml", "crates/shared/src/lib.rs"]
        );
        // No unit, no listing.
        assert!(!files.contains(f.pkg("util")));
    }

    #[test]
    fn skips_target_hidden_and_nested_packages() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        for f in [
            "Cargo.toml",
            "src/lib.rs",
            "target/debug/x",
            ".git/HEAD",
            "nested/Cargo.toml",
            "nested/src/lib.rs",
            "data/a.txt",
        ] {
            let p = r.join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, "x").unwrap();
        }
        let files: Vec<String> = package_files(r)
            .iter()
            .map(|p| p.strip_prefix(r).unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(files, ["Cargo.toml", "data/a.txt", "src/lib.rs"]);
    }
}
