fn main() {
    let unused = 1;
    println!("{}, world", greet::greeting());
}
