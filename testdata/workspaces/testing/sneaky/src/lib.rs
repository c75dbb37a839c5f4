//! Reads the workspace's shared data WITHOUT declaring it as a test input.

/// Counts whitespace-separated numbers.
pub fn count(text: &str) -> usize {
    text.split_whitespace().count()
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_undeclared_numbers() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared-data/numbers.txt");
        assert_eq!(super::count(&std::fs::read_to_string(path).unwrap()), 3);
    }
}
