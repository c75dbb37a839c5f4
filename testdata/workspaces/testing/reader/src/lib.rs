//! Sums numbers from the workspace's shared data (declared test input).

/// Sums whitespace-separated numbers.
pub fn total(text: &str) -> i64 {
    text.split_whitespace().map(|w| w.parse::<i64>().unwrap()).sum()
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_shared_numbers() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared-data/numbers.txt");
        assert_eq!(super::total(&std::fs::read_to_string(path).unwrap()), 60);
    }
}
