fn main() {
    println!("{}", new_flags::describe());
}
