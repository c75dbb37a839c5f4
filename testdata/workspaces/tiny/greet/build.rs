fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=GREETING");
    let greeting = std::env::var("GREETING").unwrap_or_else(|_| "hello".into());
    println!("cargo::rustc-env=GREETING={greeting}");
    println!("cargo::warning=greeting is {greeting}");
}
