//! `util` package, library crate `util_lib`, edition 2018.

/// The edition this crate is compiled with.
pub const EDITION: &str = "2018";

/// A constant value.
pub fn util_value() -> u32 {
    7
}

/// Decorates a string when feature `fancy` is enabled.
pub fn decorate(s: &str) -> String {
    if cfg!(feature = "fancy") {
        format!("*{}*", s)
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn value() {
        assert_eq!(super::util_value(), 7);
    }
}
