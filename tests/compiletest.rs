#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    // One mistake per file, with its pinned message.
    t.compile_fail("tests/ui/*.rs");
    // What must keep compiling (and running).
    t.pass("tests/ui-pass/*.rs");
}
