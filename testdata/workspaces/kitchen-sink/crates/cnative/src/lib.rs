//! `cnative`: safe wrappers around C functions compiled by `build/main.rs` via `cc`.

mod ffi {
    use std::os::raw::c_int;

    extern "C" {
        pub fn cnative_add(a: c_int, b: c_int) -> c_int;
        pub fn cnative_version() -> c_int;
    }
}

/// Adds two numbers in C.
#[allow(unsafe_code)]
pub fn add(a: i32, b: i32) -> i32 {
    // SAFETY: `cnative_add` is a pure C function taking and returning ints.
    unsafe { ffi::cnative_add(a, b) }
}

/// `CNATIVE_VERSION` from `csrc/include/add.h`.
#[allow(unsafe_code)]
pub fn version() -> i32 {
    // SAFETY: `cnative_version` takes no arguments and returns a constant.
    unsafe { ffi::cnative_version() }
}

/// The crate name the build script was compiled under (`CARGO_CRATE_NAME`).
pub fn script_crate() -> &'static str {
    env!("CNATIVE_SCRIPT_CRATE")
}

#[cfg(test)]
mod tests {
    #[test]
    fn adds() {
        assert_eq!(super::add(-1, 1), 0);
        assert_eq!(super::version(), 3);
    }
}
