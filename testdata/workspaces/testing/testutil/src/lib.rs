//! Helpers for calc's tests (its dev-dependency).

/// Sums a slice.
///
/// ```
/// assert_eq!(testutil::sum(&[2, 2]), 4);
/// ```
pub fn sum(xs: &[i64]) -> i64 {
    xs.iter().sum()
}

/// A program's output as text without the trailing newline.
pub fn trimmed(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).unwrap().trim_end()
}

#[cfg(test)]
mod tests {
    #[test]
    fn sum_empty() {
        assert_eq!(super::sum(&[]), 0);
    }
}
