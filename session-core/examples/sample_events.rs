//! Prints one JSON line per security event of a short session lifecycle.
//!
//! `cargo run -p sessionward-core --example sample_events`

use std::sync::Arc;

use sessionward_core::events::MemorySink;
use sessionward_core::tokens::{SigningKey, TokenConfig};
use sessionward_core::{
    MemoryStore, OnLimit, RequestContext, RevokeReason, SessionManager, SessionPolicy, UserId,
};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let tokens = TokenConfig::builder("https://auth.example.com", "example-api")
        .signing_key(SigningKey::hs256("k1", &[7u8; 32])?)
        .refresh_key([3u8; 32])
        .build()?;
    let policy = SessionPolicy::builder()
        .max_sessions_per_user(1)
        .on_limit(OnLimit::EvictOldest)
        .refresh_grace(std::time::Duration::ZERO)
        .build()?;
    let events = Arc::new(MemorySink::new(100));
    let manager = SessionManager::builder(policy, tokens, Arc::new(MemoryStore::new()))
        .events(events.clone())
        .build()?;
    let alice = UserId::new("alice")?;
    let ctx = RequestContext::new()
        .with_ip("81.2.69.142".parse()?)
        .with_user_agent("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0");
    let first = manager.login(&alice, &ctx).await?;
    let rotated = manager.refresh(&first.tokens.refresh_token).await?;
    let _ = manager.refresh(&first.tokens.refresh_token).await; // reuse
    let second = manager.login(&alice, &ctx).await?;
    let _ = manager
        .authenticate(rotated.tokens.access_token.expose_secret())
        .await;
    let _ = manager.authenticate("not-a-token").await;
    manager.revoke_all(&alice, RevokeReason::User).await?;
    let _ = second;
    for e in events.events() {
        println!("{}", e.to_json());
    }
    Ok(())
}
