//! Prints what the library computes.

fn main() {
    let values = vec![lints_core::answer(), lints_core::widen(2)];
    // `clippy::len_zero`: warned by default.
    if values.len() == 0 {
        return;
    }
    println!(
        "{} {} {}",
        env!("LINTS_FLAVOUR"),
        values[0],
        lints_core::mix(1, 2, 3, 4)
    );
}
