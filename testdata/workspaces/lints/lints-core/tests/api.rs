#[test]
fn answer_is_base_plus_one() {
    assert_eq!(lints_core::answer(), helper::base() + 1);
}
