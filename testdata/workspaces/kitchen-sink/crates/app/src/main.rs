//! `app-cli`: prints the report assembled by `app_core`.

fn main() {
    for line in app_core::report() {
        println!("{line}");
    }
}
