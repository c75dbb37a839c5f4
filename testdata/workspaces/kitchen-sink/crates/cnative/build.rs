//! Compiles `csrc/add.c` into a static library with the `cc` crate.

fn main() {
    cc::Build::new()
        .file("csrc/add.c")
        .include("csrc/include")
        .warnings(true)
        .compile("cnative_add");
    println!("cargo::rerun-if-changed=csrc/add.c");
    println!("cargo::rerun-if-changed=csrc/include/add.h");
    println!("cargo::rerun-if-changed=build.rs");
}
