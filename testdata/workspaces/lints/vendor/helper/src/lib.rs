//! Not a workspace member: rustc warns about it, Clippy never looks at it.

/// `clippy::needless_return` would fire here if Clippy linted this crate.
pub fn base() -> u32 {
    return 41;
}

/// A rustc warning: `unused_variables`.
pub fn ignored(x: u32) -> u32 {
    let unused = x;
    0
}
