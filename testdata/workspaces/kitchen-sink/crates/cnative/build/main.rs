//! Compiles `csrc/add.c` into a static library with the `cc` crate, and
//! tells the library which crate name this script was compiled under.

fn main() {
    cc::Build::new()
        .file("csrc/add.c")
        .include("csrc/include")
        .warnings(true)
        .compile("cnative_add");
    println!("cargo::rerun-if-changed=csrc/add.c");
    println!("cargo::rerun-if-changed=csrc/include/add.h");
    println!("cargo::rerun-if-changed=build/main.rs");
    println!(
        "cargo::rustc-env=CNATIVE_SCRIPT_CRATE={}",
        env!("CARGO_CRATE_NAME")
    );
}
