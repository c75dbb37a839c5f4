//! `shared`: used as a normal dependency (feature `a`), dev-dependency
//! (feature `b`) and build-dependency (feature `c`) of `app`.

/// Enabled features of this copy of the crate, comma separated ("none" if none).
pub fn features() -> &'static str {
    match (cfg!(feature = "a"), cfg!(feature = "b"), cfg!(feature = "c")) {
        (false, false, false) => "none",
        (true, false, false) => "a",
        (false, true, false) => "b",
        (false, false, true) => "c",
        (true, true, false) => "a,b",
        (true, false, true) => "a,c",
        (false, true, true) => "b,c",
        (true, true, true) => "a,b,c",
    }
}

/// A number that depends on the enabled features.
pub const WEIGHT: u32 = (cfg!(feature = "a") as u32) + 10 * (cfg!(feature = "b") as u32) + 100 * (cfg!(feature = "c") as u32);
