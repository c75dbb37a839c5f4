//! `feat`: reports which of its features are enabled in this copy.

/// `host=.. target=.. dev=.. windows=.. pm=..` for this copy of the crate.
pub fn report() -> String {
    format!(
        "host={} target={} dev={} windows={} pm={}",
        cfg!(feature = "host"),
        cfg!(feature = "target"),
        cfg!(feature = "dev"),
        cfg!(feature = "windows"),
        cfg!(feature = "pm")
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn report_format() {
        assert!(super::report().starts_with("host="));
    }
}
