// Clippy lints the build scripts of members too: `clippy::needless_return`.
fn flavour() -> &'static str {
    return "plain";
}

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rustc-env=LINTS_FLAVOUR={}", flavour());
}
