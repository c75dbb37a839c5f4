//! Build script of `app`: generates `OUT_DIR/gen.rs`, reads the `links`
//! metadata exported by `foo-sys` and emits cfg / env directives.

use std::env;
use std::fs;
use std::path::PathBuf;

fn main() {
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR is set by cargo"));

    // `cargo:KEY=hello_from_foo` printed by foo-sys (links = "foo").
    let foo_key = env::var("DEP_FOO_KEY").unwrap_or_else(|_| "missing".to_string());
    // `cargo::metadata=include=<OUT_DIR>/include`: absolute, so only bake a boolean.
    let foo_include_ok = env::var("DEP_FOO_INCLUDE")
        .map(|p| PathBuf::from(p).join("foo.h").is_file())
        .unwrap_or(false);
    let knob = env::var("APP_BUILD_KNOB").unwrap_or_else(|_| "unset".to_string());
    let saw_fast = env::var_os("CARGO_FEATURE_FAST").is_some();
    let saw_extra = env::var_os("CARGO_FEATURE_EXTRA").is_some();

    let code = format!(
        "/// A value computed by the build script.\n\
         pub const GENERATED_VALUE: u32 = {generated};\n\
         /// `DEP_FOO_KEY` as seen by the build script.\n\
         pub const FOO_KEY: &str = {foo_key:?};\n\
         /// Whether `DEP_FOO_INCLUDE/foo.h` existed.\n\
         pub const FOO_INCLUDE_OK: bool = {foo_include_ok};\n\
         /// `APP_BUILD_KNOB` (tracked with rerun-if-env-changed).\n\
         pub const BUILD_KNOB: &str = {knob:?};\n\
         /// Features of the build-dependency copy of `shared`.\n\
         pub const BUILD_DEP_SHARED: &str = {shared:?};\n\
         /// Features of `app` as seen by the build script.\n\
         pub const BUILD_SAW_FEATURES: &str = {features:?};\n",
        generated = 6 * 7,
        shared = shared::features(),
        features = format!("fast={saw_fast} extra={saw_extra}"),
    );
    fs::write(out_dir.join("gen.rs"), code).expect("write gen.rs");

    println!("cargo::rustc-cfg=app_has_foo");
    println!("cargo::rustc-check-cfg=cfg(app_has_foo)");
    println!("cargo::rustc-env=APP_GREETING=hello from app/build.rs");
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=APP_BUILD_KNOB");
}
