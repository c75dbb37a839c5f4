//! Reads test data at run time and checks the environment `cargo test`
//! gives an integration test.

use std::path::Path;

#[test]
fn fixtures_reads_input_file() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("set at run time by cargo test");
    assert_eq!(dir, env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(Path::new(&dir).join("tests/data/input.txt")).unwrap();
    let sum: i64 = text.split_whitespace().map(|w| w.parse::<i64>().unwrap()).sum();
    assert_eq!(sum, 15);
}

#[test]
fn fixtures_target_tmpdir_is_writable() {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    assert!(tmp.is_dir(), "{} is not a directory", tmp.display());
    let probe = tmp.join("calc-fixtures-probe");
    std::fs::write(&probe, "ok").unwrap();
    assert_eq!(std::fs::read_to_string(&probe).unwrap(), "ok");
    std::fs::remove_file(probe).unwrap();
}

#[test]
fn fixtures_cwd_is_package_root() {
    let cwd = std::env::current_dir().unwrap().canonicalize().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).canonicalize().unwrap();
    assert_eq!(cwd, root);
}
