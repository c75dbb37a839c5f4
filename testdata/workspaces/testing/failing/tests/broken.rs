//! An integration test that fails on purpose.

#[test]
fn broken_fails() {
    assert_eq!(failing::two(), 4, "failing on purpose");
}
