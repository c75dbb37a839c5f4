#[test]
fn report_names_both_versions() {
    let r = flags_app::report();
    assert!(r.contains("bitflags 1: READ | WRITE"), "{r}");
    assert!(r.contains("bitflags 2: Mode(EXEC | HIDDEN)"), "{r}");
}
