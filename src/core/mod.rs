//! Shared vocabulary of every layer: digests, file stamps, identifiers,
//! path types, durations and the secret policy.
//!
//! Nothing in here performs I/O beyond hashing and stat-ing the files handed
//! to it; every other module may depend on `core`, and `core` depends on no
//! other module.

pub mod digest;
pub mod duration;
pub mod file_stat;
pub mod ids;
pub(crate) mod panic;
pub mod paths;
pub mod secret;

pub use digest::{ActionKey, Digest};
pub use duration::parse_duration;
pub use file_stat::FileStamp;
pub use ids::{ActionId, PackageId, UnitId};
pub use paths::RelPath;
