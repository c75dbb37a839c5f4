//! `helper`: a second binary of package `app`.

fn main() {
    println!("helper: answer={} util={}", app_core::answer(), myutil::util_value());
}
