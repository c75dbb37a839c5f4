//! `harness = false` bench: a plain program that sums a loop of additions.

fn main() {
    let n = std::hint::black_box(1_000_000i64);
    let total = (0..n).fold(0, calc::add);
    assert_eq!(total, 499_999_500_000);
    println!("speed: summed {n} numbers");
}
