//! Permissions with bitflags 1.

use bitflags::bitflags;

bitflags! {
    /// Access bits.
    pub struct Perms: u8 {
        /// May read.
        const READ = 0b01;
        /// May write.
        const WRITE = 0b10;
    }
}

/// The debug form of all permissions.
pub fn describe() -> String {
    format!("{:?}", Perms::READ | Perms::WRITE)
}

#[cfg(test)]
mod tests {
    #[test]
    fn lists_both_bits() {
        assert_eq!(super::describe(), "READ | WRITE");
    }
}
