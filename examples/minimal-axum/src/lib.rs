//! The smallest sessionward app on axum: a login form, a protected route
//! and the session routes. [`app`] (`src/app.rs`) is the whole integration,
//! shown as is in `sessionward-axum`'s quick start; `cargo run -p
//! sessionward-example-minimal-axum` serves it on <http://127.0.0.1:3000>.
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

mod app;

pub use app::app;
pub use sessionward_example_minimal_common::{PASSWORD, USER, verify};

/// A manager on the in-memory store with keys that live as long as the
/// process.
///
/// # Errors
/// Only if the token configuration is refused.
pub fn manager() -> Result<sessionward_core::SessionManager, Box<dyn std::error::Error>> {
    sessionward_example_minimal_common::manager("minimal-axum")
}
