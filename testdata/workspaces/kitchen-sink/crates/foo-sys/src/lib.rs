//! `foo-sys`: a `links = "foo"` package without a real native library.

/// Value of `FOO_ENV` set by the build script.
pub fn foo_env() -> &'static str {
    env!("FOO_ENV")
}

/// Value of `FOO_KNOB` when the build script ran (`unset` by default).
pub fn foo_knob() -> &'static str {
    env!("FOO_KNOB_SEEN")
}

/// The flavor selected by the build script through `--cfg foo_flavor=...`.
pub fn flavor() -> &'static str {
    if cfg!(foo_flavor = "plain") {
        "plain"
    } else if cfg!(foo_flavor = "fancy") {
        "fancy"
    } else {
        "none"
    }
}
