//! Fails on purpose when `HB_FAIL_BUILD_SCRIPT=1`.

fn main() {
    println!("cargo::rerun-if-env-changed=HB_FAIL_BUILD_SCRIPT");
    println!("cargo::rerun-if-changed=build.rs");
    if std::env::var("HB_FAIL_BUILD_SCRIPT").as_deref() == Ok("1") {
        panic!("bad-build-script: failing on purpose because HB_FAIL_BUILD_SCRIPT=1");
    }
}
