//! `harness = false`: a plain program; exit code 0 is a pass.

fn main() {
    assert_eq!(calc::add(1, 2), 3);
    println!("plain: calc::add(1, 2) = 3");
}
