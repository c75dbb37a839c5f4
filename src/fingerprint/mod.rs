//! Layer 3a: what identifies an action.
//!
//! * [`compose`]: the keying policy of an action: its key components from
//!   its final invocation, and the digests its dependents key on.
//! * [`file_state`]: file digests memoised by path and file stamp (device,
//!   inode, size, mtime, ctime).
//! * [`key`]: the typed, canonical key components and the [`ActionKey`](crate::core::ActionKey).
//! * [`normalize`]: absolute paths out of keys, as [`NormalizedText`].
//! * [`policy`]: which environment variables enter keys, and secrets as digests.

pub mod compose;
pub mod file_state;
#[cfg(test)]
pub(crate) mod fixture;
pub mod key;
pub mod normalize;
pub mod policy;

pub use compose::{DepDigests, KeyContext};
pub use file_state::FileStates;
pub use key::{KeyComponents, KEY_SCHEMA_VERSION};
pub use normalize::{NormalizedText, PathNormalizer};
