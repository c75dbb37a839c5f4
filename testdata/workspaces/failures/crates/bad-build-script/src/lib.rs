//! `bad-build-script`: its build script panics when `HB_FAIL_BUILD_SCRIPT=1`.

/// A trivial function.
pub fn ok() -> bool {
    true
}
