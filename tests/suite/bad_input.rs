//! Bad input: clear errors that name the file, package or flag, a non-zero
//! exit, never a panic.

use crate::common::fixture;

fn no_panic(stderr: &str) {
    assert!(!stderr.contains("panicked"), "hbuild panicked:\n{stderr}");
}

#[test]
fn malformed_manifest_names_the_file() {
    let ws = fixture("kitchen-sink");
    ws.append("crates/util/Cargo.toml", "\n[dependencies\n");
    let r = ws.hbuild(&[]);
    assert_eq!(r.code, 101);
    assert!(r.stderr.contains("crates/util/Cargo.toml"), "{}", r.stderr);
    no_panic(&r.stderr);
}

#[test]
fn unknown_package_is_named() {
    let ws = fixture("kitchen-sink");
    let r = ws.hbuild(&["-p", "no-such-package"]);
    assert_eq!(r.code, 101);
    assert!(
        r.stderr
            .contains("`no-such-package` did not match any packages"),
        "{}",
        r.stderr
    );
    no_panic(&r.stderr);
}

#[test]
fn unknown_feature_is_named() {
    let ws = fixture("kitchen-sink");
    let r = ws.hbuild(&["-p", "app", "--features", "warp-drive"]);
    assert_eq!(r.code, 101);
    assert!(
        r.stderr
            .contains("does not contain this feature: warp-drive"),
        "{}",
        r.stderr
    );
    no_panic(&r.stderr);
}

#[test]
fn unknown_flag_is_named() {
    let ws = fixture("kitchen-sink");
    let r = ws.hbuild(&["--frobnicate"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("--frobnicate"), "{}", r.stderr);
}

#[test]
fn unknown_bin_lists_the_available_ones() {
    let ws = fixture("kitchen-sink");
    let r = ws.hbuild(&["--bin", "nope"]);
    assert_eq!(r.code, 101);
    assert!(
        r.stderr.contains("no bin target named `nope`") && r.stderr.contains("app-cli"),
        "{}",
        r.stderr
    );
}

#[test]
fn locked_with_stale_lockfile_fails() {
    let ws = fixture("kitchen-sink");
    // A new dependency edge that Cargo.lock does not record.
    ws.append(
        "crates/util/Cargo.toml",
        "\n[target.'cfg(unix)'.dependencies]\nitoa = \"1\"\n",
    );
    let r = ws.hbuild(&["--locked"]);
    assert_eq!(r.code, 101, "{}", r.stderr);
    assert!(
        r.stderr.contains("Cargo.lock") && r.stderr.contains("--locked"),
        "{}",
        r.stderr
    );
    no_panic(&r.stderr);
}

#[test]
fn not_a_workspace() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = std::process::Command::new(crate::common::hbuild_bin());
    let out = c.arg("hbuild").current_dir(dir.path()).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(101), "{err}");
    assert!(err.contains("could not find `Cargo.toml`"), "{err}");
    let out = std::process::Command::new(crate::common::hbuild_bin())
        .args(["hbuild", "--manifest-path", "/nonexistent/Cargo.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/Cargo.toml"));
}

#[test]
fn conflicting_profile_flags() {
    let ws = fixture("kitchen-sink");
    let r = ws.hbuild(&["--release", "--profile", "dev"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("--profile=dev") && r.stderr.contains("--release"),
        "{}",
        r.stderr
    );
    let r = ws.hbuild(&["--profile", "nonexistent"]);
    assert_eq!(r.code, 101);
    assert!(
        r.stderr.contains("profile `nonexistent` is not defined"),
        "{}",
        r.stderr
    );
}
