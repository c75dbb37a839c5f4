fn main() {
    println!("demo: 6 * 7 = {}", calc::mul(6, 7));
}
