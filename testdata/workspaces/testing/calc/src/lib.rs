//! Tiny arithmetic, with one doctest of each kind rustdoc knows.

/// Adds two numbers.
///
/// ```
/// assert_eq!(calc::add(2, 3), 5);
/// ```
pub fn add(a: i64, b: i64) -> i64 {
    a + b
}

/// Subtracts `b` from `a`.
///
/// ```no_run
/// // Compiled, never run.
/// loop {
///     let _ = calc::sub(1, 1);
/// }
/// ```
pub fn sub(a: i64, b: i64) -> i64 {
    a - b
}

/// Divides `a` by `b`; panics when `b` is zero.
///
/// ```should_panic
/// calc::div(1, 0);
/// ```
pub fn div(a: i64, b: i64) -> i64 {
    if b == 0 {
        panic!("division by zero");
    }
    a / b
}

/// Multiplies two numbers.
///
/// ```compile_fail
/// let _: String = calc::mul(2, 3);
/// ```
pub fn mul(a: i64, b: i64) -> i64 {
    a * b
}

/// Parses an operation name.
///
/// ```ignore
/// this is not Rust and is never compiled
/// ```
pub fn op(name: &str) -> Option<fn(i64, i64) -> i64> {
    match name {
        "add" => Some(add),
        "sub" => Some(sub),
        "mul" => Some(mul),
        "div" => Some(div),
        #[cfg(feature = "fancy")]
        "pow" => Some(pow),
        _ => None,
    }
}

/// `a` to the power `b` (feature `fancy`).
#[cfg(feature = "fancy")]
pub fn pow(a: i64, b: i64) -> i64 {
    a.pow(b as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_small() {
        assert_eq!(add(2, 3), 5);
    }

    #[test]
    fn add_negative() {
        assert_eq!(add(-2, -3), -5);
    }

    #[test]
    fn sub_and_mul() {
        assert_eq!(sub(7, 2), 5);
        assert_eq!(mul(4, 5), 20);
    }

    #[test]
    fn op_names() {
        assert_eq!(op("add").map(|f| f(1, 1)), Some(2));
        assert!(op("nope").is_none());
    }

    #[test]
    #[should_panic(expected = "division by zero")]
    fn div_by_zero_panics() {
        div(1, 0);
    }

    #[test]
    #[ignore = "slow on purpose"]
    fn add_slow() {
        assert_eq!((0..1000).fold(0, add), 499500);
    }

    #[cfg(feature = "fancy")]
    #[test]
    fn fancy_pow() {
        assert_eq!(op("pow").map(|f| f(2, 10)), Some(1024));
    }

    #[test]
    fn sums_with_testutil() {
        assert_eq!(testutil::sum(&[1, 2, 3]), add(add(1, 2), 3));
    }
}
