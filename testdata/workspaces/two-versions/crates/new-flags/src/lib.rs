//! Modes with bitflags 2.

use bitflags::bitflags;

bitflags! {
    /// Mode bits.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Mode: u8 {
        /// Executable.
        const EXEC = 0b001;
        /// Hidden.
        const HIDDEN = 0b100;
    }
}

/// The debug form of all modes.
pub fn describe() -> String {
    format!("{:?}", Mode::all())
}
