//! The smallest sessionward app on actix-web: a login form, a protected route
//! and the session routes. [`server`] (`src/app.rs`) is the whole integration,
//! shown as is in `sessionward-actix`'s quick start; `cargo run -p
//! sessionward-example-minimal-actix` serves it on <http://127.0.0.1:3000>.
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

mod app;

pub use app::server;
use sessionward_core::tokens::{TokenConfig, TokenConfigError};
use sessionward_core::{MemoryStore, SessionManager, SessionPolicy};
use subtle::ConstantTimeEq;

/// The one account of this example.
pub const USER: &str = "alice";

/// Its password.
pub const PASSWORD: &str = "correct horse battery staple";

/// The app's own password check: here one fixed account, compared in
/// constant time. A real app checks its user table (argon2, passkeys, …).
pub fn verify(user: &str, password: &str) -> bool {
    let user_ok = user.as_bytes().ct_eq(USER.as_bytes());
    let password_ok = password.as_bytes().ct_eq(PASSWORD.as_bytes());
    (user_ok & password_ok).into()
}

/// A manager with the default policy on the in-memory store, with keys
/// that live as long as the process.
///
/// # Errors
/// Only if the token configuration is refused.
pub fn manager() -> Result<SessionManager, Box<dyn std::error::Error>> {
    let tokens = TokenConfig::builder("http://127.0.0.1:3000", "minimal-actix")
        .ephemeral_keys()
        .build()
        .map_err(|e: TokenConfigError| Box::new(e) as Box<dyn std::error::Error>)?;
    let store = std::sync::Arc::new(MemoryStore::new());
    Ok(SessionManager::builder(SessionPolicy::default(), tokens, store).build()?)
}
