//! Bad input: clear errors that name the file, package or flag, a non-zero
//! exit, never a panic.

use crate::common::fixture;
use crate::common::snap::{pin, redact};

fn no_panic(stderr: &str) {
    assert!(!stderr.contains("panicked"), "hbuild panicked:\n{stderr}");
}

#[test]
fn malformed_manifest_names_the_file() {
    let ws = fixture("kitchen-sink");
    ws.append("crates/util/Cargo.toml", "\n[dependencies\n");
    let r = ws.hbuild(&[]);
    assert_eq!(r.code, 101);
    pin("bad_input_malformed_manifest", &redact(&ws, &r.stderr));
    no_panic(&r.stderr);
}

#[test]
fn unknown_package_is_named() {
    let ws = fixture("kitchen-sink");
    let r = ws.hbuild(&["-p", "no-such-package"]);
    assert_eq!(r.code, 101);
    pin("bad_input_unknown_package", &redact(&ws, &r.stderr));
    no_panic(&r.stderr);
}

#[test]
fn unknown_feature_is_named() {
    let ws = fixture("kitchen-sink");
    let r = ws.hbuild(&["-p", "app", "--features", "warp-drive"]);
    assert_eq!(r.code, 101);
    pin("bad_input_unknown_feature", &redact(&ws, &r.stderr));
    no_panic(&r.stderr);
}

#[test]
fn unknown_flag_is_named() {
    let ws = fixture("kitchen-sink");
    let r = ws.hbuild(&["--frobnicate"]);
    assert_eq!(r.code, 1);
    pin("bad_input_unknown_flag", &redact(&ws, &r.stderr));
}

#[test]
fn unknown_bin_lists_the_available_ones() {
    let ws = fixture("kitchen-sink");
    let r = ws.hbuild(&["--bin", "nope"]);
    assert_eq!(r.code, 101);
    pin("bad_input_unknown_bin", &redact(&ws, &r.stderr));
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
    pin("bad_input_stale_lockfile", &redact(&ws, &r.stderr));
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
    pin("bad_input_conflicting_profiles", &redact(&ws, &r.stderr));
    let r = ws.hbuild(&["--profile", "nonexistent"]);
    assert_eq!(r.code, 101);
    pin("bad_input_unknown_profile", &redact(&ws, &r.stderr));
}

#[test]
fn rust_version_newer_than_rustc_fails_like_cargo_unless_ignored() {
    let manifest = |name: &str, rv: &str, deps: &str| {
        format!(
            "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\nrust-version = \"{rv}\"\n\n[dependencies]\n{deps}"
        )
    };
    let ws = crate::common::workspace(&[
        (
            "Cargo.toml",
            "[workspace]\nmembers = [\"pkg\", \"dep\"]\nresolver = \"2\"\n",
        ),
        (
            "pkg/Cargo.toml",
            &manifest("pkg", "1.999", "dep = { path = \"../dep\" }\n"),
        ),
        ("pkg/src/lib.rs", "pub fn f() -> u32 {\n    dep::g()\n}\n"),
        (
            "pkg/src/main.rs",
            "fn main() {\n    println!(\"{} {}\", pkg::f(), env!(\"CARGO_PKG_RUST_VERSION\"));\n}\n",
        ),
        ("dep/Cargo.toml", &manifest("dep", "1.60", "")),
        ("dep/src/lib.rs", "pub fn g() -> u32 {\n    7\n}\n"),
    ]);
    let error = |r: &crate::common::Run| {
        let at = r.stderr.find("error: ").unwrap_or(0);
        r.stderr[at..].to_string()
    };
    // One line per unit of the package (its lib and its bin), as Cargo;
    // `dep` is supported and not named.
    let expected = format!(
        "error: rustc {} is not supported by the following packages:\n  pkg@0.1.0 requires rustc 1.999\n  pkg@0.1.0 requires rustc 1.999\n\n",
        crate::common::rustc_release()
    );
    let cargo = ws.cargo(&["build"], &[]);
    assert_eq!((cargo.code, error(&cargo)), (101, expected.clone()));
    for args in [&[][..], &["--plan"], &["--message-format", "json"]] {
        let r = ws.hbuild(args);
        assert_eq!((r.code, error(&r)), (101, expected.clone()), "{args:?}");
        no_panic(&r.stderr);
    }
    assert!(!ws.path("target/debug/pkg").exists(), "nothing was built");
    ws.hbuild(&["--ignore-rust-version"]).ok();
    // `CARGO_PKG_RUST_VERSION` is the version as written, as with Cargo.
    assert_eq!(ws.run_program("target/debug/pkg"), "7 1.999\n");
    // The flag is not remembered with the saved analysis.
    let again = ws.hbuild(&[]);
    assert_eq!((again.code, error(&again)), (101, expected));
}

/// `--features` errors read as Cargo's, word for word and with its exit
/// code: unknown features and names (a non-selected member, a member's
/// dependency by its package name rather than its manifest name), with
/// Cargo's `help:` lines, a dependency that lacks the feature (Cargo's
/// resolver error), an optional dependency hidden by `dep:`, bad syntax,
/// and features for a non-member `-p`.
#[test]
fn feature_errors_match_cargo() {
    let ws = fixture("kitchen-sink");
    let error = |stderr: &str| {
        let at = stderr.find("error: ").unwrap_or(0);
        stderr[at..].to_string()
    };
    for args in [
        &["-p", "app", "--features", "warp-drive"][..],
        &["-p", "app", "--features", "util/fancy"],
        &["--features", "util/fancy"],
        &["--features", "warp-drive"],
        &["-p", "app", "--features", "app/fancy,x,y"],
        &["-p", "app", "-p", "plugin", "--features", "fancy"],
        &["-p", "app", "--features", "myutil/nope"],
        &["-p", "app", "--features", "serde/nope"],
        &["-p", "app", "--features", "shared/zz"],
        &["-p", "app", "--features", "itoa"],
        &["-p", "app", "--features", "dep:itoa"],
        &["-p", "app", "--features", "a/b/c"],
        &["-p", "serde", "--features", "std"],
    ] {
        let mut cargo_args = vec!["build"];
        cargo_args.extend_from_slice(args);
        let cargo = ws.cargo(&cargo_args, &[]);
        assert_eq!(cargo.code, 101, "{args:?}: {}", cargo.stderr);
        let hbuild = ws.hbuild(args);
        assert_eq!(
            (hbuild.code, error(&hbuild.stderr)),
            (cargo.code, error(&cargo.stderr)),
            "{args:?}"
        );
        no_panic(&hbuild.stderr);
    }
}

#[test]
fn a_bad_remote_download_mode_names_the_flag_or_the_variable() {
    let ws = fixture("tiny");
    let r = ws.hbuild(&["--remote-download", "some"]);
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (
            1,
            "error: invalid value `some` for --remote-download: expected `all` or `minimal`\n"
        )
    );
    let r = ws.hbuild_env(&[], &[("HBUILD_REMOTE_DOWNLOAD", "toplevel")]);
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (
            1,
            "error: invalid value `toplevel` for HBUILD_REMOTE_DOWNLOAD: expected `all` or `minimal`\n"
        )
    );
    assert!(!ws.path("target").exists(), "nothing was built");
}
