//! Compiles `csrc/needs.c`, which includes `csrc/include/present.h`.
//! Tests delete the header to get a C compile error.

fn main() {
    cc::Build::new()
        .file("csrc/needs.c")
        .include("csrc/include")
        .compile("needs_header");
    println!("cargo::rerun-if-changed=csrc");
    println!("cargo::rerun-if-changed=build.rs");
}
