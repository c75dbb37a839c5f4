//! The `cargo-hbuild` binary: a thin shell around [`hbuild::cli::main`].

fn main() {
    std::process::exit(hbuild::cli::main());
}
