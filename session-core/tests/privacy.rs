//! The IP privacy options end to end: whatever the store keeps and the
//! user sees, no session list, export, event or new-login notice shows an
//! address more fully than the policy allows.
#![allow(missing_docs, clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use sessionward_core::events::MemorySink;
use sessionward_core::privacy::{IpDisplay, IpHashKey, IpStorage};
use sessionward_core::testing::{TestEnricher, test_tokens};
use sessionward_core::{Clock, RevokeReason};
use sessionward_core::{
    ManualClock, MemoryStore, RequestContext, SessionManager, SessionPolicy, SystemClock, UserId,
};

const LOGIN_IP: &str = "81.2.69.142";
const LATER_IP: &str = "2a02:ff0:3:4::9";

struct Run {
    listed: String,
    exported: String,
    events: String,
}

/// Logs in from one address, is used from another, ends one session, and
/// returns everything a person or a log could read.
async fn run(storage: IpStorage, display: IpDisplay) -> Run {
    let policy = SessionPolicy::builder()
        .store_ips(storage)
        .show_ips(display)
        .build()
        .unwrap();
    let clock = ManualClock::new(SystemClock.now());
    let events = Arc::new(MemorySink::new(1000));
    let manager = SessionManager::builder(policy, test_tokens(), Arc::new(MemoryStore::new()))
        .clock(Arc::new(clock.clone()))
        .events(events.clone())
        .enricher(Arc::new(TestEnricher))
        .ip_hash_key(IpHashKey::new([42; 32]))
        .build()
        .unwrap();
    let alice = UserId::new("alice").unwrap();
    let ctx = |ip: &str| {
        RequestContext::new()
            .with_ip(ip.parse().unwrap())
            .with_user_agent("test/desktop/GB/London")
    };
    let login = manager.login(&alice, &ctx(LOGIN_IP)).await.unwrap();
    let other = manager.login(&alice, &ctx(LOGIN_IP)).await.unwrap();
    clock.advance(Duration::from_secs(120));
    manager
        .authenticate_with(login.tokens.access_token.expose_secret(), &ctx(LATER_IP))
        .await
        .unwrap();
    manager
        .revoke(&alice, &other.session.id, RevokeReason::User)
        .await
        .unwrap();
    manager
        .logout(
            &manager
                .authenticate(login.tokens.access_token.expose_secret())
                .await
                .unwrap(),
        )
        .await
        .unwrap();
    let overview = manager.overview(&alice, None).await.unwrap();
    Run {
        listed: serde_json::to_string(&overview).unwrap(),
        exported: serde_json::to_string(&manager.export_user(&alice).await.unwrap()).unwrap(),
        events: serde_json::to_string(&events.events()).unwrap(),
    }
}

fn shows_full(text: &str) -> bool {
    text.contains(LOGIN_IP) || text.contains("2a02:ff0:3:4::9")
}

#[tokio::test]
async fn full_storage_and_display_show_the_address() {
    let r = run(IpStorage::Full, IpDisplay::Full).await;
    assert!(r.listed.contains(LOGIN_IP) && r.listed.contains(LATER_IP));
    assert!(r.events.contains(LOGIN_IP));
    // The revocation event of the session used from the later address
    // carries both.
    assert!(
        r.events
            .contains(&format!("\"last_seen_ip\":\"{LATER_IP}\"")),
        "{}",
        r.events
    );
}

#[tokio::test]
async fn truncated_display_never_shows_an_address_in_full() {
    let r = run(IpStorage::Full, IpDisplay::Truncated).await;
    assert!(!shows_full(&r.listed), "{}", r.listed);
    assert!(!shows_full(&r.events), "{}", r.events);
    assert!(r.listed.contains("81.2.69.0/24") && r.listed.contains("2a02:ff0:3::/48"));
    // The store keeps it (and the export, the user's own data, says so).
    assert!(r.exported.contains(LOGIN_IP));
}

#[tokio::test]
async fn hidden_display_shows_no_address_at_all() {
    let r = run(IpStorage::Full, IpDisplay::Hidden).await;
    for part in [&r.listed, &r.events] {
        assert!(!shows_full(part), "{part}");
        assert!(!part.contains("81.2.69."), "{part}");
        assert!(!part.contains("2a02:ff0"), "{part}");
    }
    assert!(r.listed.contains("London"), "the place is still shown");
}

#[tokio::test]
async fn truncated_storage_keeps_only_the_network_anywhere() {
    let r = run(IpStorage::Truncated, IpDisplay::Full).await;
    for part in [&r.listed, &r.exported, &r.events] {
        assert!(!shows_full(part), "{part}");
    }
    assert!(r.exported.contains("81.2.69.0") && r.exported.contains("2a02:ff0:3::"));
}

#[tokio::test]
async fn keyed_storage_keeps_no_address_and_shows_none() {
    let r = run(IpStorage::KeyedHash, IpDisplay::Full).await;
    for part in [&r.listed, &r.exported, &r.events] {
        assert!(!shows_full(part), "{part}");
        assert!(!part.contains("81.2.69."), "{part}");
        assert!(!part.contains("2a02:ff0"), "{part}");
    }
    let view: serde_json::Value = serde_json::from_str(&r.listed).unwrap();
    assert!(view["sessions"][0]["ip"].is_null());
}

#[test]
fn keyed_storage_needs_a_key() {
    let policy = SessionPolicy::builder()
        .store_ips(IpStorage::KeyedHash)
        .build()
        .unwrap();
    let err = SessionManager::builder(policy, test_tokens(), Arc::new(MemoryStore::new()))
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("IpHashKey"), "{err}");
}

#[test]
fn describe_names_the_privacy_rules() {
    let text = SessionPolicy::builder()
        .store_ips(IpStorage::Truncated)
        .show_ips(IpDisplay::Hidden)
        .history_retention(Duration::from_secs(14 * 86_400))
        .build()
        .unwrap()
        .describe();
    assert!(text.contains("## Privacy"), "{text}");
    assert!(text.contains("truncated to their network"), "{text}");
    assert!(text.contains("are not shown to users"), "{text}");
    assert!(text.contains("14 days"), "{text}");
}
