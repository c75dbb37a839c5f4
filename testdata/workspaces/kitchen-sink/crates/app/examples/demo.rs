//! Example `demo`: may use dev-dependencies.

use either::Either;

fn main() {
    let values: Vec<Either<u32, &str>> = vec![Either::Left(app_core::answer()), Either::Right("demo")];
    for v in values {
        match v {
            Either::Left(n) => println!("demo: left {n}"),
            Either::Right(s) => println!("demo: right {s}"),
        }
    }
}
