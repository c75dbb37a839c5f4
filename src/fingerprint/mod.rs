//! Layer 3a: what identifies an action.
//!
//! * [`file_state`]: file digests memoised by path and file stamp (device,
//!   inode, size, mtime, ctime).
//! * [`key`]: the typed, canonical key components and the [`ActionKey`](crate::core::ActionKey).
//! * [`normalize`]: absolute paths out of keys, as [`NormalizedText`].
//! * [`policy`]: which environment variables enter keys, and secrets as digests.

pub mod file_state;
pub mod key;
pub mod normalize;
pub mod policy;

pub use file_state::FileStates;
pub use key::{InputDigest, KeyComponents, KEY_SCHEMA_VERSION};
pub use normalize::{NormalizedText, PathNormalizer};
