//! `broken-rs`: compiles as committed. Tests inject a type error, e.g. by
//! replacing the line marked `HB_INJECT_TYPE_ERROR` with
//! `let answer: u32 = "not a number";`.

/// Returns 42.
pub fn answer() -> u32 {
    let answer: u32 = 42; // HB_INJECT_TYPE_ERROR
    answer
}

#[cfg(test)]
mod tests {
    #[test]
    fn answer() {
        assert_eq!(super::answer(), 42);
    }
}
