fn main() {
    print!("{}", flags_app::report());
}
