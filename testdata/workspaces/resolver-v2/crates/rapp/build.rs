//! Bakes the build-dependency copy of `feat` into `OUT_DIR/build_view.rs`.

use std::env;
use std::fs;
use std::path::PathBuf;

fn main() {
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR is set by cargo"));
    let code = format!("pub const BUILD_VIEW: &str = {:?};\n", feat::report());
    fs::write(out_dir.join("build_view.rs"), code).expect("write build_view.rs");
    println!("cargo::rerun-if-changed=build.rs");
}
