//! `needs-header`: wraps a C function whose source needs `present.h`.

extern "C" {
    fn needs_header_value() -> std::os::raw::c_int;
}

/// `PRESENT_VALUE` from `csrc/include/present.h` (5).
pub fn value() -> i32 {
    // SAFETY: plain C function without arguments.
    unsafe { needs_header_value() }
}

#[cfg(test)]
mod tests {
    #[test]
    fn value() {
        assert_eq!(super::value(), 5);
    }
}
