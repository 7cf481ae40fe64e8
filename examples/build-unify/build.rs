//! Empty: present only so that the build-dependencies above are resolved
//! (and their features unified with the test build's proc-macros).
fn main() {}
