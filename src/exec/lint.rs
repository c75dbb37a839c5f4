//! Actions that `cargo hbuild clippy` lints: the Clippy configuration file
//! that applies to one, found as `clippy-driver` finds it, so that its path
//! and content enter the action's key before it runs.

use std::path::{Path, PathBuf};

/// The names Clippy looks for in each directory, in its order.
const CONFIG_FILE_NAMES: [&str; 2] = [".clippy.toml", "clippy.toml"];

/// The configuration files of the directory where Clippy's search stops:
/// it starts in `CLIPPY_CONF_DIR` (`conf_dir`), else in the package's
/// directory (`CARGO_MANIFEST_DIR`), and goes up to the first directory
/// with one. Clippy reads the first of them and warns about a second, so
/// both count. Empty when there is none (or the start does not exist,
/// which Clippy reports as an error).
pub(crate) fn config_files(conf_dir: Option<&Path>, manifest_dir: &Path) -> Vec<PathBuf> {
    let start = conf_dir.unwrap_or(manifest_dir);
    let Ok(mut dir) = start.canonicalize() else {
        return Vec::new();
    };
    loop {
        let found: Vec<PathBuf> = CONFIG_FILE_NAMES
            .iter()
            .filter_map(|n| dir.join(n).canonicalize().ok())
            .filter(|p| p.is_file())
            .collect();
        if !found.is_empty() || !dir.pop() {
            return found;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::config_files;

    #[test]
    fn the_nearest_directory_with_a_config_wins() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().canonicalize().unwrap();
        let pkg = root.join("ws/crates/a");
        std::fs::create_dir_all(&pkg).unwrap();
        assert_eq!(config_files(None, &pkg), Vec::<std::path::PathBuf>::new());

        std::fs::write(root.join("ws/clippy.toml"), "").unwrap();
        assert_eq!(config_files(None, &pkg), [root.join("ws/clippy.toml")]);

        // A closer one hides the parent's; both names of one directory count.
        std::fs::write(pkg.join("clippy.toml"), "").unwrap();
        std::fs::write(pkg.join(".clippy.toml"), "").unwrap();
        assert_eq!(
            config_files(None, &pkg),
            [pkg.join(".clippy.toml"), pkg.join("clippy.toml")]
        );

        // A directory of that name is no config file.
        std::fs::remove_file(pkg.join("clippy.toml")).unwrap();
        std::fs::remove_file(pkg.join(".clippy.toml")).unwrap();
        std::fs::create_dir(pkg.join("clippy.toml")).unwrap();
        assert_eq!(config_files(None, &pkg), [root.join("ws/clippy.toml")]);
    }

    #[test]
    fn clippy_conf_dir_is_where_the_search_starts() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().canonicalize().unwrap();
        let (pkg, conf) = (root.join("ws/a"), root.join("conf/lints"));
        std::fs::create_dir_all(&pkg).unwrap();
        std::fs::create_dir_all(&conf).unwrap();
        std::fs::write(pkg.join("clippy.toml"), "").unwrap();
        std::fs::write(root.join("conf/clippy.toml"), "").unwrap();
        assert_eq!(
            config_files(Some(&conf), &pkg),
            [root.join("conf/clippy.toml")],
            "the package's own file is not looked at"
        );
        assert!(config_files(Some(&root.join("missing")), &pkg).is_empty());
    }
}
