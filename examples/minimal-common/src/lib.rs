//! What `examples/minimal-axum` and `examples/minimal-actix` share, so
//! each of them holds only its framework's integration (`src/app.rs`): the
//! demo account, its password check, and a manager on the in-memory store.
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

use std::sync::Arc;

use sessionward_core::tokens::TokenConfig;
use sessionward_core::{MemoryStore, SessionManager, SessionPolicy};
use subtle::ConstantTimeEq;

/// The one account of the minimal examples.
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
/// that live as long as the process; `audience` names the app.
///
/// # Errors
/// Only if the token configuration is refused.
pub fn manager(audience: &str) -> Result<SessionManager, Box<dyn std::error::Error>> {
    let tokens = TokenConfig::builder("http://127.0.0.1:3000", audience)
        .ephemeral_keys()
        .build()?;
    let store = Arc::new(MemoryStore::new());
    Ok(SessionManager::builder(SessionPolicy::default(), tokens, store).build()?)
}

#[cfg(test)]
mod tests {
    use super::{PASSWORD, USER, verify};

    #[test]
    fn only_the_demo_account_passes() {
        assert!(verify(USER, PASSWORD));
        assert!(!verify(USER, "correct horse battery stapl"));
        assert!(!verify("bob", PASSWORD));
        assert!(!verify("", ""));
    }
}
