//! Compiles `csrc/add.c` into a static library with the `cc` crate, with
//! `CNATIVE_WIDE` defined when the `wide` feature is on, and tells the
//! library which crate name this script was compiled under.

fn main() {
    let mut build = cc::Build::new();
    build
        .file("csrc/add.c")
        .include("csrc/include")
        .warnings(true);
    if std::env::var_os("CARGO_FEATURE_WIDE").is_some() {
        build.define("CNATIVE_WIDE", None);
    }
    build.compile("cnative_add");
    println!("cargo::rerun-if-changed=csrc/add.c");
    println!("cargo::rerun-if-changed=csrc/include/add.h");
    println!("cargo::rerun-if-changed=build/main.rs");
    println!(
        "cargo::rustc-env=CNATIVE_SCRIPT_CRATE={}",
        env!("CARGO_CRATE_NAME")
    );
}
