//! The guides in `docs/` and the top-level README, compiled and run as
//! doctests by `cargo test --workspace` (the pattern axum uses), so no
//! snippet a reader copies can stop compiling. Each guide is one module;
//! the helpers below are the hidden set-up lines of their examples.
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use sessionward_core::testing::http::send;
use sessionward_core::testing::web::TestRequest;
use sessionward_core::tokens::TokenConfig;
use sessionward_core::{MemoryStore, SessionManager, SessionPolicy, SessionStore};

#[doc = include_str!("../README.md")]
pub mod readme {}

#[doc = include_str!("quickstart.md")]
pub mod quickstart {}

#[doc = include_str!("axum.md")]
pub mod axum_guide {}

#[doc = include_str!("actix.md")]
pub mod actix_guide {}

#[doc = include_str!("policy.md")]
pub mod policy {}

#[doc = include_str!("stores.md")]
pub mod stores {}

#[doc = include_str!("geoip.md")]
pub mod geoip {}

#[doc = include_str!("notifications.md")]
pub mod notifications {}

#[doc = include_str!("session-page-data.md")]
pub mod session_page_data {}

#[doc = include_str!("events.md")]
pub mod events {}

#[doc = include_str!("stolen-tokens.md")]
pub mod stolen_tokens {}

#[doc = include_str!("operations.md")]
pub mod operations {}

#[doc = include_str!("shared-signals.md")]
pub mod shared_signals {}

/// The boxed error of the examples.
pub type Error = Box<dyn std::error::Error>;

/// A default policy, ephemeral keys and an in-memory store.
///
/// # Errors
/// Only if the token configuration is refused.
pub fn parts() -> Result<(SessionPolicy, TokenConfig, Arc<dyn SessionStore>), Error> {
    let tokens = TokenConfig::builder("https://auth.example.com", "guides")
        .ephemeral_keys()
        .build()?;
    Ok((
        SessionPolicy::default(),
        tokens,
        Arc::new(MemoryStore::new()),
    ))
}

/// A manager from [`parts`].
///
/// # Errors
/// As [`parts`].
pub fn manager() -> Result<SessionManager, Error> {
    let (policy, tokens, store) = parts()?;
    Ok(SessionManager::builder(policy, tokens, store).build()?)
}

/// A fresh directory under the system's temporary directory.
///
/// # Errors
/// When it cannot be created.
pub fn temp_dir() -> Result<PathBuf, Error> {
    let dir = std::env::temp_dir().join(format!(
        "sessionward-guides-{}",
        sessionward_core::SessionId::generate().as_str()
    ));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// Checks a guide's app at `addr` over real TCP: `/me` is `401
/// missing_token` anonymously, and `POST /login` with the password
/// `right` signs `alice` in.
///
/// # Panics
/// When either answer differs.
pub async fn expect_login_works(addr: SocketAddr) {
    let r = send(addr, &TestRequest::new("GET", "/me")).await;
    assert_eq!(r.status, 401, "{}", r.body);
    let mut login = TestRequest::new("POST", "/login").header("content-type", "application/json");
    login.body = br#"{"username":"alice","password":"right"}"#.to_vec();
    let r = send(addr, &login).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(!r.all("set-cookie").is_empty(), "cookies set");
}
