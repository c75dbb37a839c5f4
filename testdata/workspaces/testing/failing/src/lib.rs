//! Fails its tests on purpose (not a default member).

/// Always two.
pub fn two() -> i32 {
    2
}

#[cfg(test)]
mod tests {
    #[test]
    fn passes() {
        assert_eq!(super::two(), 2);
    }

    #[test]
    fn fails() {
        assert_eq!(super::two(), 3, "failing on purpose");
    }
}
