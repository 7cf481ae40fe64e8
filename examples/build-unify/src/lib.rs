//! Build-only crate of the example apps: it has no code. Its manifest asks
//! for the dependency features that `cargo test --workspace` turns on, so
//! that `cargo run -p sessionward-example-axum` afterwards compiles only the
//! example itself (see the comment in its `Cargo.toml`).
