//! Build script of `foo-sys` (`links = "foo"`): exports metadata to direct
//! dependents (`DEP_FOO_*`), a link-search path, a cfg and an env var.

use std::env;
use std::fs;
use std::path::PathBuf;

fn main() {
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR is set by cargo"));
    let include = out_dir.join("include");
    fs::create_dir_all(&include).expect("create include dir");
    fs::write(include.join("foo.h"), "#define FOO_VALUE 1\n").expect("write foo.h");

    let knob = env::var("FOO_KNOB").unwrap_or_else(|_| "unset".to_string());

    // Old (single colon) syntax: unknown keys are `links` metadata -> DEP_FOO_KEY.
    println!("cargo:KEY=hello_from_foo");
    // New syntax metadata -> DEP_FOO_INCLUDE.
    println!("cargo::metadata=include={}", include.display());
    println!("cargo::rustc-link-search=native={}", out_dir.display());
    println!("cargo::rustc-env=FOO_ENV=foo_env_value");
    println!("cargo::rustc-env=FOO_KNOB_SEEN={knob}");
    println!("cargo::rustc-cfg=foo_flavor=\"plain\"");
    println!("cargo::rustc-check-cfg=cfg(foo_flavor, values(\"plain\", \"fancy\"))");
    println!("cargo::rerun-if-env-changed=FOO_KNOB");
}
