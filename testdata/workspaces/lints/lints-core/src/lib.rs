//! The library the other members use, with one lint of each kind.

/// `clippy::needless_return`: warned by default.
pub fn answer() -> u32 {
    return helper::base() + 1;
}

/// `clippy::cast_lossless`: only with `-W clippy::pedantic`.
pub fn widen(x: u8) -> u32 {
    x as u32
}

/// `clippy::too_many_arguments`: four arguments, over the threshold of
/// the workspace's `clippy.toml` (3), under Clippy's default (7).
pub fn mix(a: u32, b: u32, c: u32, d: u32) -> u32 {
    a + b * c - d
}

// A rustc warning: `dead_code`.
fn unused_helper() -> u32 {
    7
}
