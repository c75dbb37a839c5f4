//! `ok-bin`: depends on no other member, so it still builds when they break.

fn main() {
    println!("ok");
}
