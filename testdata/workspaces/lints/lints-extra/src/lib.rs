//! A member nothing else depends on.

/// `clippy::bool_comparison`: warned by default.
pub fn is_on(flag: bool) -> bool {
    flag == true
}
