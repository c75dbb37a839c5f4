//! Identifiers for packages, units and actions.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A Cargo package id as printed by `cargo metadata` (the PackageIdSpec URL
/// form, e.g. `registry+https://github.com/rust-lang/crates.io-index#serde@1.0.0`).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PackageId(pub String);

impl fmt::Display for PackageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for PackageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PackageId({})", self.0)
    }
}

/// Index of a unit in the unit graph of one build.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UnitId(pub u32);

impl UnitId {
    /// The index as a `usize`, for vector access.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// Index of an action in the action graph of one build.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ActionId(pub u32);

impl ActionId {
    /// The index as a `usize`, for vector access.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for ActionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}
