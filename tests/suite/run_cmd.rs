//! `cargo hbuild run`: the program's arguments, stdin, stdout, stderr, exit
//! code and signal pass through as with `cargo run`, `default-run` is
//! honoured, and Cargo's errors name the binaries to choose from.

use std::io::Write;
use std::process::Stdio;

use crate::common::{workspace, Ws};

const MANIFEST: &str = r#"[package]
name = "runme"
version = "0.1.0"
edition = "2021"
default-run = "echo"

[[bin]]
name = "echo"
path = "src/echo.rs"

[[bin]]
name = "other"
path = "src/other.rs"
"#;

/// Upper-cases stdin to stdout, prints its arguments, its cwd and
/// CARGO_MANIFEST_DIR to stderr, and exits with its first argument, or
/// kills itself with a signal.
const ECHO: &str = r#"use std::io::Read;
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut input = String::new();
    std::io::stdin().read_to_string(&mut input).unwrap();
    print!("{}", input.to_uppercase());
    eprintln!("args={args:?}");
    eprintln!("cwd={}", std::env::current_dir().unwrap().display());
    eprintln!("manifest_dir={}", std::env::var("CARGO_MANIFEST_DIR").unwrap());
    match args.first().map(String::as_str) {
        Some("abort") => std::process::abort(),
        Some(code) => std::process::exit(code.parse().unwrap()),
        None => {}
    }
}
"#;

fn ws() -> Ws {
    workspace(&[
        ("Cargo.toml", MANIFEST),
        ("src/echo.rs", ECHO),
        ("src/other.rs", "fn main() { println!(\"other\"); }\n"),
        ("sub/.keep", ""),
    ])
}

/// `cargo hbuild run ARGS` (or `cargo run`) from `dir`, fed `stdin`.
fn run_in(ws: &Ws, hbuild: bool, dir: &str, args: &[&str], stdin: &str) -> std::process::Output {
    let mut c = if hbuild {
        let mut c = ws.hbuild_command(&["run"], &[]);
        c.args(args);
        c
    } else {
        let mut c = std::process::Command::new("cargo");
        c.arg("run")
            .args(args)
            .env("CARGO_TARGET_DIR", ws.path("target-cargo"));
        c
    };
    let mut child = c
        .current_dir(ws.path(dir))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// The program's own stderr lines (not the tool's status lines).
fn program_lines(out: &std::process::Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| l.contains('='))
        .map(str::to_string)
        .collect()
}

#[test]
fn run_passes_arguments_stdin_output_and_the_exit_code_through() {
    let ws = ws();
    let hb = run_in(&ws, true, "sub", &["--", "3", "two words"], "hello\n");
    let cargo = run_in(&ws, false, "sub", &["--", "3", "two words"], "hello\n");
    assert_eq!(
        hb.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&hb.stderr)
    );
    assert_eq!(hb.status.code(), cargo.status.code());
    assert_eq!(hb.stdout, b"HELLO\n");
    assert_eq!(hb.stdout, cargo.stdout);
    // Same arguments, cwd (unchanged: the subdirectory) and environment.
    assert_eq!(program_lines(&hb), program_lines(&cargo));
    assert!(program_lines(&hb).contains(&format!("cwd={}", ws.path("sub").display())));
    let stderr = String::from_utf8_lossy(&hb.stderr);
    // Cargo's line: the program outside the cwd is shown absolute.
    assert!(
        stderr.contains(&format!(
            "     Running `{}/target/debug/echo 3 'two words'`",
            ws.root.display()
        )),
        "{stderr}"
    );
}

#[test]
fn run_reports_a_signal_as_cargo_does() {
    let ws = ws();
    let hb = run_in(&ws, true, ".", &["--bin", "echo", "--", "abort"], "");
    let cargo = run_in(&ws, false, ".", &["--bin", "echo", "--", "abort"], "");
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(hb.status.signal(), Some(6), "{:?}", hb.status);
    assert_eq!(hb.status.signal(), cargo.status.signal());
}

#[test]
fn run_picks_default_run_and_names_the_binaries_otherwise() {
    let ws = ws();
    let other = run_in(&ws, true, ".", &["--bin", "other"], "");
    assert_eq!(other.stdout, b"other\n");
    // Without default-run, two binaries: Cargo's error, exit 101.
    ws.replace("Cargo.toml", "default-run = \"echo\"\n", "");
    let hb = run_in(&ws, true, ".", &[], "");
    let cargo = run_in(&ws, false, ".", &[], "");
    assert_eq!(hb.status.code(), Some(101));
    assert_eq!(hb.status.code(), cargo.status.code());
    let err = |o: &std::process::Output| {
        String::from_utf8_lossy(&o.stderr)
            .lines()
            .filter(|l| l.starts_with("error") || l.starts_with("available"))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(err(&hb), err(&cargo));
    let refused = ws.hbuild(&["run", "--lib"]);
    assert_eq!(refused.code, 1);
    assert!(refused.stderr.contains("'--lib'"), "{}", refused.stderr);
}
