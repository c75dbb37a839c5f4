//! Both bitflags versions side by side.

/// One line per version.
pub fn report() -> String {
    format!(
        "bitflags 1: {}\nbitflags 2: {}\n",
        old_flags::describe(),
        new_flags::describe()
    )
}
