//! The vocabulary of feature resolution shared by its parts: the side of
//! the build, and a feature of a package before guppy sees it.

use serde::Serialize;

/// Side of the build a unit is on. Host = build scripts, proc-macros and
/// their dependencies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Side {
    /// Built for the target platform.
    Target = 0,
    /// Built for the host (build-time code).
    Host = 1,
}

/// A feature of a package (model index), before guppy sees it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Seed {
    /// The package.
    pub(crate) pkg: usize,
    /// Which of its features.
    pub(crate) label: Label,
}

/// guppy's kinds of feature, owned.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Label {
    /// The package itself, no feature.
    Base,
    /// A named feature (`[features]` or implicit).
    Named(String),
    /// `dep:name`: the optional dependency `name` is on.
    OptionalDependency(String),
}
