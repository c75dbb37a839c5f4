//! Bench `mybench` (`harness = false`): a plain `main`.

fn main() {
    let mut total = 0u64;
    for i in 0..1000u64 {
        total += u64::from(app_core::answer()) * i;
    }
    println!("mybench: total={total}");
}
