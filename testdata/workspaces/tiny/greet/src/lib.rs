//! A greeting whose word comes from the build script.

/// The greeting, in capitals with the `loud` feature.
pub fn greeting() -> String {
    let g = env!("GREETING");
    if cfg!(feature = "loud") {
        g.to_uppercase()
    } else {
        g.to_string()
    }
}
