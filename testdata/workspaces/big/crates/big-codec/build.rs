//! Compiles `csrc/zinfo.c` against the zlib headers exported by `libz-sys`
//! through its `links = "z"` metadata (`DEP_Z_INCLUDE`).

use std::env;

fn main() {
    let include = env::var("DEP_Z_INCLUDE").expect("libz-sys exports DEP_Z_INCLUDE");
    let mut build = cc::Build::new();
    build.file("csrc/zinfo.c");
    for dir in include.split(',') {
        build.include(dir);
    }
    build.compile("big_zinfo");
    println!("cargo::rerun-if-changed=csrc/zinfo.c");
    println!("cargo::rerun-if-changed=build.rs");
}
