//! The conformance cases. Each takes a store and panics on a violation.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::future::join_all;

use super::harness::{Harness, fresh_user};
use crate::error::SessionError;
use crate::ids::{SessionId, UserId};
use crate::manager::{LoginSuccess, RevocationMode};
use crate::policy::{LimitKind, OnLimit, SessionPolicy};
use crate::record::{DeviceClass, Inactive, RequestContext, RevokeReason};
use crate::secret::{RefreshToken, TokenHash};
use crate::store::{RotateOutcome, RotateRequest, SessionStore, TouchRequest};
use crate::time::{Clock, ManualClock, SystemClock, Timestamp};
use crate::tokens::TokenRejection;

pub(crate) fn policy(max: u32, on_limit: OnLimit) -> SessionPolicy {
    SessionPolicy::builder()
        .max_sessions_per_user(max)
        .on_limit(on_limit)
        .build()
        .unwrap()
}

pub(crate) fn ctx(ua: &str, ip: &str) -> RequestContext {
    RequestContext::new()
        .with_user_agent(ua)
        .with_ip(ip.parse().unwrap())
}

pub(crate) fn desktop() -> RequestContext {
    ctx("test/desktop/GB", "81.2.69.142")
}

async fn active_count(h: &Harness, user: &UserId) -> usize {
    h.manager.list(user, None).await.unwrap().len()
}

pub(crate) async fn login(h: &Harness, user: &UserId) -> LoginSuccess {
    h.manager.login(user, &desktop()).await.unwrap()
}

fn access(l: &LoginSuccess) -> &str {
    l.tokens.access_token.expose_secret()
}

async fn assert_dead(h: &Harness, l: &LoginSuccess) {
    assert!(
        h.manager.authenticate(access(l)).await.is_err(),
        "access token still accepted"
    );
    assert!(
        h.manager.refresh(&l.tokens.refresh_token).await.is_err(),
        "refresh token still accepted"
    );
}

pub async fn login_then_authenticate(store: Arc<dyn SessionStore>) {
    let h = Harness::new(store, SessionPolicy::default());
    let user = fresh_user();
    let a = login(&h, &user).await;
    let b = login(&h, &user).await;
    assert_ne!(
        a.session.id, b.session.id,
        "each login gets a new session id"
    );
    assert_ne!(access(&a), access(&b));
    let s = h.manager.authenticate(access(&a)).await.unwrap();
    assert_eq!(s.user, user);
    assert_eq!(s.session_id, a.session.id);
    assert_eq!(s.session.ip, Some("81.2.69.142".parse().unwrap()));
    assert_eq!(s.session.device_class, DeviceClass::Desktop);
    assert_eq!(s.session.country.as_deref(), Some("GB"));
    assert!(
        h.events
            .names()
            .iter()
            .filter(|n| **n == "session_created")
            .count()
            == 2
    );
}

pub async fn list_shows_only_own_active_sessions(store: Arc<dyn SessionStore>) {
    let h = Harness::new(store, SessionPolicy::default());
    let (alice, bob) = (fresh_user(), fresh_user());
    let a1 = login(&h, &alice).await;
    h.clock.advance(Duration::from_secs(5));
    let a2 = h
        .manager
        .login(&alice, &ctx("test/mobile/SE", "89.160.20.128"))
        .await
        .unwrap();
    let _b = login(&h, &bob).await;
    let a3 = login(&h, &alice).await;
    h.manager
        .revoke(&alice, &a3.session.id, RevokeReason::User)
        .await
        .unwrap();
    let list = h.manager.list(&alice, Some(&a1.session.id)).await.unwrap();
    let ids: Vec<_> = list.iter().map(|v| v.id.clone()).collect();
    assert_eq!(
        ids,
        vec![a2.session.id.clone(), a1.session.id.clone()],
        "active only, most recent first"
    );
    assert!(list[1].current && !list[0].current);
    assert_eq!(list[0].device_class, DeviceClass::Mobile);
    assert_eq!(list[0].location.country_code.as_deref(), Some("SE"));
    let json = serde_json::to_string(&list).unwrap();
    for secret in [
        access(&a1),
        a1.tokens.refresh_token.expose_secret(),
        access(&a2),
    ] {
        assert!(!json.contains(secret), "listing leaks a token");
    }
    assert!(
        !json.contains(&a1.session.refresh.hash.to_hex()),
        "listing leaks a hash"
    );
}

async fn concurrent_logins(store: Arc<dyn SessionStore>, on_limit: OnLimit) {
    let h = Arc::new(Harness::new(store, policy(3, on_limit)));
    let user = fresh_user();
    let results = join_all((0..200).map(|i| {
        let h = h.clone();
        let user = user.clone();
        tokio::spawn(async move {
            let ip = format!("10.0.{}.{}", i / 250, i % 250);
            h.manager.login(&user, &ctx("test/desktop/GB", &ip)).await
        })
    }))
    .await;
    let mut ok = Vec::new();
    let mut limited = 0;
    for r in results {
        match r.unwrap() {
            Ok(l) => ok.push(l),
            Err(SessionError::LimitReached(l)) => {
                assert_eq!(l.limit, LimitKind::PerUser);
                assert!(l.active.len() <= 3);
                limited += 1;
            }
            Err(e) => panic!("unexpected login error: {e:?}"),
        }
    }
    assert_eq!(
        active_count(&h, &user).await,
        3,
        "exactly the limit stays active"
    );
    let mut alive = 0;
    for l in &ok {
        if h.manager.authenticate(access(l)).await.is_ok() {
            alive += 1;
        }
    }
    assert_eq!(alive, 3, "exactly 3 tokens still work");
    match on_limit {
        OnLimit::RejectNew => {
            assert_eq!(ok.len(), 3);
            assert_eq!(limited, 197);
        }
        _ => {
            assert_eq!(ok.len(), 200, "eviction never refuses");
            let evicted = h
                .events
                .names()
                .iter()
                .filter(|n| **n == "authn_token_revoked")
                .count();
            assert_eq!(evicted, 197, "every eviction is logged");
        }
    }
}

pub async fn concurrent_logins_reject_new(store: Arc<dyn SessionStore>) {
    concurrent_logins(store, OnLimit::RejectNew).await;
}

pub async fn concurrent_logins_evict_oldest(store: Arc<dyn SessionStore>) {
    concurrent_logins(store, OnLimit::EvictOldest).await;
}

pub async fn concurrent_logins_evict_lru(store: Arc<dyn SessionStore>) {
    concurrent_logins(store, OnLimit::EvictLeastRecentlyUsed).await;
}

/// Logs in A, B, C a minute apart, then uses A; returns them.
async fn three_sessions_a_used(h: &Harness, user: &UserId) -> [LoginSuccess; 3] {
    let a = login(h, user).await;
    h.clock.advance(Duration::from_secs(60));
    let b = login(h, user).await;
    h.clock.advance(Duration::from_secs(60));
    let c = login(h, user).await;
    h.clock.advance(Duration::from_secs(120));
    h.manager.authenticate(access(&a)).await.unwrap();
    [a, b, c]
}

pub async fn evict_oldest_picks_oldest_login(store: Arc<dyn SessionStore>) {
    let h = Harness::new(store, policy(3, OnLimit::EvictOldest));
    let user = fresh_user();
    let [a, b, c] = three_sessions_a_used(&h, &user).await;
    let d = login(&h, &user).await;
    assert_eq!(d.evicted, vec![a.session.id.clone()]);
    assert_dead(&h, &a).await;
    for alive in [&b, &c, &d] {
        h.manager.authenticate(access(alive)).await.unwrap();
    }
}

pub async fn evict_lru_picks_least_recent_activity(store: Arc<dyn SessionStore>) {
    let h = Harness::new(store, policy(3, OnLimit::EvictLeastRecentlyUsed));
    let user = fresh_user();
    let [a, b, c] = three_sessions_a_used(&h, &user).await;
    let d = login(&h, &user).await;
    assert_eq!(d.evicted, vec![b.session.id.clone()]);
    assert!(matches!(
        h.manager.authenticate(access(&b)).await,
        Err(SessionError::SessionEnded(Inactive::Revoked(
            RevokeReason::Evicted
        )))
    ));
    for alive in [&a, &c, &d] {
        h.manager.authenticate(access(alive)).await.unwrap();
    }
}

pub async fn reject_new_reports_active_sessions(store: Arc<dyn SessionStore>) {
    let h = Harness::new(store, policy(2, OnLimit::RejectNew));
    let user = fresh_user();
    let a = login(&h, &user).await;
    let b = login(&h, &user).await;
    match h.manager.login(&user, &desktop()).await {
        Err(SessionError::LimitReached(l)) => {
            let mut ids: Vec<_> = l.active.iter().map(|v| v.id.clone()).collect();
            ids.sort();
            let mut want = vec![a.session.id.clone(), b.session.id.clone()];
            want.sort();
            assert_eq!(ids, want);
        }
        other => panic!("expected LimitReached, got {other:?}"),
    }
    assert!(h.events.names().contains(&"session_limit_reached"));
    assert!(
        !h.events.names().iter().any(|n| n.contains("fail")),
        "a limit refusal is not a failed login"
    );
    h.manager
        .revoke(&user, &a.session.id, RevokeReason::User)
        .await
        .unwrap();
    login(&h, &user).await;
}

async fn concurrent_limited(
    store: Arc<dyn SessionStore>,
    policy: SessionPolicy,
    make_ctx: fn(usize) -> RequestContext,
    expect: LimitKind,
    check: impl Fn(&[crate::view::SessionView]),
) {
    let h = Arc::new(Harness::new(store, policy));
    let user = fresh_user();
    let results = join_all((0..200).map(|i| {
        let h = h.clone();
        let user = user.clone();
        tokio::spawn(async move { h.manager.login(&user, &make_ctx(i)).await })
    }))
    .await;
    for r in results {
        match r.unwrap() {
            Ok(_) => {}
            Err(SessionError::LimitReached(l)) => assert!(
                l.limit == expect || l.limit == LimitKind::PerUser,
                "unexpected limit {:?}",
                l.limit
            ),
            Err(e) => panic!("unexpected error {e:?}"),
        }
    }
    check(&h.manager.list(&user, None).await.unwrap());
}

pub async fn concurrent_logins_per_ip_limit(store: Arc<dyn SessionStore>) {
    for on_limit in [OnLimit::RejectNew, OnLimit::EvictOldest] {
        let p = SessionPolicy::builder()
            .unlimited_sessions_per_user()
            .max_sessions_per_ip(2)
            .on_limit(on_limit)
            .build()
            .unwrap();
        concurrent_limited(
            store.clone(),
            p,
            |i| {
                ctx(
                    "test/desktop/GB",
                    if i % 2 == 0 {
                        "81.2.69.142"
                    } else {
                        "81.2.69.143"
                    },
                )
            },
            LimitKind::PerIp,
            |list| {
                assert_eq!(list.len(), 4, "two per IP");
                for ip in ["81.2.69.142", "81.2.69.143"] {
                    assert_eq!(
                        list.iter()
                            .filter(|v| v.ip == Some(ip.parse().unwrap()))
                            .count(),
                        2
                    );
                }
            },
        )
        .await;
    }
}

pub async fn concurrent_logins_per_device_class_limit(store: Arc<dyn SessionStore>) {
    for on_limit in [OnLimit::RejectNew, OnLimit::EvictLeastRecentlyUsed] {
        let p = SessionPolicy::builder()
            .unlimited_sessions_per_user()
            .max_sessions_per_device_class(DeviceClass::Mobile, 1)
            .on_limit(on_limit)
            .build()
            .unwrap();
        concurrent_limited(
            store.clone(),
            p,
            |i| {
                ctx(
                    if i % 4 == 0 {
                        "test/mobile/GB"
                    } else {
                        "test/desktop/GB"
                    },
                    "81.2.69.142",
                )
            },
            LimitKind::PerDeviceClass {
                class: DeviceClass::Mobile,
            },
            |list| {
                assert_eq!(
                    list.iter()
                        .filter(|v| v.device_class == DeviceClass::Mobile)
                        .count(),
                    1,
                    "one mobile session"
                );
                assert_eq!(
                    list.iter()
                        .filter(|v| v.device_class == DeviceClass::Desktop)
                        .count(),
                    150,
                    "desktops are not limited"
                );
            },
        )
        .await;
    }
}

pub async fn concurrent_logins_country_limit(store: Arc<dyn SessionStore>) {
    for on_limit in [OnLimit::RejectNew, OnLimit::EvictOldest] {
        let p = SessionPolicy::builder()
            .unlimited_sessions_per_user()
            .max_countries(2)
            .on_limit(on_limit)
            .build()
            .unwrap();
        concurrent_limited(
            store.clone(),
            p,
            |i| {
                ctx(
                    [
                        "test/desktop/GB",
                        "test/desktop/SE",
                        "test/desktop/US",
                        "test/desktop/-",
                    ][i % 4],
                    "81.2.69.142",
                )
            },
            LimitKind::Countries,
            |list| {
                let mut countries: Vec<_> = list
                    .iter()
                    .filter_map(|v| v.location.country_code.clone())
                    .collect();
                countries.sort();
                countries.dedup();
                assert_eq!(
                    countries.len(),
                    2,
                    "exactly two countries at once: {countries:?}"
                );
                assert!(
                    list.iter()
                        .filter(|v| v.location.country_code.is_none())
                        .count()
                        == 50,
                    "unknown country is not limited"
                );
            },
        )
        .await;
    }
}

pub async fn refresh_rotates_and_reuse_revokes_family(store: Arc<dyn SessionStore>) {
    let h = Harness::new(
        store,
        SessionPolicy::builder()
            .refresh_grace(Duration::from_secs(5))
            .build()
            .unwrap(),
    );
    let user = fresh_user();
    let l = login(&h, &user).await;
    let r1 = h.manager.refresh(&l.tokens.refresh_token).await.unwrap();
    assert!(!r1.grace_replay);
    assert_eq!(r1.session.refresh.generation, 1);
    assert_ne!(r1.tokens.refresh_token, l.tokens.refresh_token);
    let r2 = h.manager.refresh(&r1.tokens.refresh_token).await.unwrap();
    h.manager
        .authenticate(r2.tokens.access_token.expose_secret())
        .await
        .unwrap();
    h.clock.advance(Duration::from_secs(6));
    // RT0 is two generations old: reuse.
    assert!(matches!(
        h.manager.refresh(&l.tokens.refresh_token).await,
        Err(SessionError::RefreshTokenReuse)
    ));
    assert!(matches!(
        h.manager.refresh(&r2.tokens.refresh_token).await,
        Err(SessionError::SessionEnded(Inactive::Revoked(
            RevokeReason::RefreshTokenReuse
        )))
    ));
    assert!(
        h.manager
            .authenticate(r2.tokens.access_token.expose_secret())
            .await
            .is_err()
    );
    let reuse = h
        .events
        .events()
        .into_iter()
        .find(|e| e.kind.name() == "authn_token_reuse")
        .expect("reuse event");
    assert_eq!(reuse.level, crate::events::Level::Critical);
}

pub async fn refresh_grace_returns_same_successor(store: Arc<dyn SessionStore>) {
    let h = Harness::new(
        store,
        SessionPolicy::builder()
            .refresh_grace(Duration::from_secs(5))
            .build()
            .unwrap(),
    );
    let l = login(&h, &fresh_user()).await;
    let first = h.manager.refresh(&l.tokens.refresh_token).await.unwrap();
    h.clock.advance(Duration::from_secs(4));
    let again = h.manager.refresh(&l.tokens.refresh_token).await.unwrap();
    assert!(again.grace_replay);
    assert_eq!(
        again.tokens.refresh_token, first.tokens.refresh_token,
        "same successor inside grace"
    );
    assert_eq!(again.session.refresh.generation, 1);
    h.clock.advance(Duration::from_secs(2));
    assert!(
        matches!(
            h.manager.refresh(&l.tokens.refresh_token).await,
            Err(SessionError::RefreshTokenReuse)
        ),
        "after grace it is reuse"
    );
}

pub async fn refresh_grace_only_for_immediate_predecessor(store: Arc<dyn SessionStore>) {
    let h = Harness::new(
        store,
        SessionPolicy::builder()
            .refresh_grace(Duration::from_secs(30))
            .build()
            .unwrap(),
    );
    let l = login(&h, &fresh_user()).await;
    let r1 = h.manager.refresh(&l.tokens.refresh_token).await.unwrap();
    let _r2 = h.manager.refresh(&r1.tokens.refresh_token).await.unwrap();
    assert!(
        matches!(
            h.manager.refresh(&l.tokens.refresh_token).await,
            Err(SessionError::RefreshTokenReuse)
        ),
        "two generations back is reuse even inside the window"
    );
}

pub async fn concurrent_refresh_rotates_once_without_grace(store: Arc<dyn SessionStore>) {
    let h = Arc::new(Harness::new(
        store.clone(),
        SessionPolicy::builder()
            .refresh_grace(Duration::ZERO)
            .build()
            .unwrap(),
    ));
    let user = fresh_user();
    let l = login(&h, &user).await;
    let results = join_all((0..50).map(|_| {
        let h = h.clone();
        let t = l.tokens.refresh_token.clone();
        tokio::spawn(async move { h.manager.refresh(&t).await })
    }))
    .await;
    let ok = results
        .into_iter()
        .filter(|r| matches!(r, Ok(Ok(_))))
        .count();
    assert_eq!(ok, 1, "exactly one refresh succeeds");
    let record = store.get(&user, &l.session.id).await.unwrap().unwrap();
    assert_eq!(record.refresh.generation, 1, "exactly one rotation");
    assert_eq!(
        record.revoked.map(|r| r.reason),
        Some(RevokeReason::RefreshTokenReuse),
        "without grace, the losers are reuse"
    );
}

pub async fn concurrent_refresh_with_grace_shares_successor(store: Arc<dyn SessionStore>) {
    let h = Arc::new(Harness::new(
        store.clone(),
        SessionPolicy::builder()
            .refresh_grace(Duration::from_secs(10))
            .build()
            .unwrap(),
    ));
    let user = fresh_user();
    let l = login(&h, &user).await;
    let results = join_all((0..50).map(|_| {
        let h = h.clone();
        let t = l.tokens.refresh_token.clone();
        tokio::spawn(async move { h.manager.refresh(&t).await })
    }))
    .await;
    let tokens: Vec<RefreshToken> = results
        .into_iter()
        .map(|r| r.unwrap().unwrap().tokens.refresh_token)
        .collect();
    assert!(
        tokens.iter().all(|t| *t == tokens[0]),
        "every tab gets the same successor"
    );
    let record = store.get(&user, &l.session.id).await.unwrap().unwrap();
    assert_eq!(record.refresh.generation, 1);
    assert!(record.revoked.is_none());
    h.manager.refresh(&tokens[0]).await.unwrap();
}

pub async fn forged_refresh_revokes_nothing(store: Arc<dyn SessionStore>) {
    let h = Harness::new(store, SessionPolicy::default());
    let user = fresh_user();
    let l = login(&h, &user).await;
    let r1 = h.manager.refresh(&l.tokens.refresh_token).await.unwrap();
    let real = r1.tokens.refresh_token.expose_secret().to_owned();
    let (head, _) = real.rsplit_once('.').unwrap();
    let forged_current = format!("{head}.{}", "A".repeat(43));
    let forged_old = format!("{}.0.{}", head.rsplit_once('.').unwrap().0, "A".repeat(43));
    for forged in [forged_current, forged_old] {
        assert!(matches!(
            h.manager.refresh(&RefreshToken::new(forged)).await,
            Err(SessionError::InvalidToken(
                TokenRejection::UnknownRefreshToken
            ))
        ));
    }
    h.manager
        .refresh(&r1.tokens.refresh_token)
        .await
        .expect("the real holder is unaffected");
}

pub async fn revoke_one_kills_access_and_refresh(store: Arc<dyn SessionStore>) {
    let h = Harness::new(store, SessionPolicy::default());
    let user = fresh_user();
    let a = login(&h, &user).await;
    let b = login(&h, &user).await;
    let s = h.manager.authenticate(access(&a)).await.unwrap();
    h.manager.logout(&s).await.unwrap();
    assert!(matches!(
        h.manager.authenticate(access(&a)).await,
        Err(SessionError::SessionEnded(Inactive::Revoked(
            RevokeReason::Logout
        )))
    ));
    assert!(matches!(
        h.manager.refresh(&a.tokens.refresh_token).await,
        Err(SessionError::SessionEnded(_))
    ));
    h.manager
        .authenticate(access(&b))
        .await
        .expect("other device unaffected");
    assert!(matches!(
        h.manager.logout(&s).await,
        Err(SessionError::NotFound)
    ));
}

pub async fn revoke_other_users_session_is_not_found(store: Arc<dyn SessionStore>) {
    let h = Harness::new(store, SessionPolicy::default());
    let (alice, mallory) = (fresh_user(), fresh_user());
    let a = login(&h, &alice).await;
    assert!(matches!(
        h.manager
            .revoke(&mallory, &a.session.id, RevokeReason::User)
            .await,
        Err(SessionError::NotFound)
    ));
    assert!(matches!(
        h.manager
            .revoke(&alice, &SessionId::generate(), RevokeReason::User)
            .await,
        Err(SessionError::NotFound)
    ));
    assert_eq!(
        h.manager
            .revoke_all(&mallory, RevokeReason::User)
            .await
            .unwrap(),
        0
    );
    h.manager.authenticate(access(&a)).await.unwrap();
}

pub async fn revoke_all_and_revoke_others(store: Arc<dyn SessionStore>) {
    let h = Harness::new(store, SessionPolicy::default());
    let user = fresh_user();
    let mut logins = Vec::new();
    for _ in 0..4 {
        logins.push(login(&h, &user).await);
    }
    let kept = h
        .manager
        .revoke_others(&user, &logins[0].session.id, RevokeReason::PasswordChange)
        .await
        .unwrap();
    assert_eq!(kept, 3);
    assert_eq!(active_count(&h, &user).await, 1);
    h.manager.authenticate(access(&logins[0])).await.unwrap();
    for l in &logins[1..] {
        assert_dead(&h, l).await;
    }
    assert_eq!(
        h.manager
            .revoke_all(&user, RevokeReason::AccountDisabled)
            .await
            .unwrap(),
        1
    );
    assert_dead(&h, &logins[0]).await;
    assert_eq!(active_count(&h, &user).await, 0);
}

pub async fn idle_timeout_and_activity_reset(store: Arc<dyn SessionStore>) {
    let p = SessionPolicy::builder()
        .idle_timeout(Duration::from_secs(600))
        .touch_interval(Duration::from_secs(60))
        .access_token_ttl(Duration::from_secs(3600))
        .build()
        .unwrap();
    let h = Harness::new(store, p);
    let l = login(&h, &fresh_user()).await;
    h.clock.advance(Duration::from_secs(540));
    h.manager
        .authenticate(access(&l))
        .await
        .expect("9 minutes idle is fine");
    h.clock.advance(Duration::from_secs(540));
    h.manager
        .authenticate(access(&l))
        .await
        .expect("activity reset the idle timer");
    h.clock.advance(Duration::from_secs(600));
    assert!(matches!(
        h.manager.authenticate(access(&l)).await,
        Err(SessionError::SessionEnded(Inactive::IdleTimeout))
    ));
    assert!(
        matches!(
            h.manager.refresh(&l.tokens.refresh_token).await,
            Err(SessionError::SessionEnded(Inactive::IdleTimeout))
        ),
        "an idle refresh token is refused"
    );
    assert!(h.events.names().contains(&"session_expired"));
}

pub async fn absolute_lifetime_caps_refresh(store: Arc<dyn SessionStore>) {
    let p = SessionPolicy::builder()
        .absolute_lifetime(Duration::from_secs(3600))
        .idle_timeout(Duration::from_secs(1800))
        .build()
        .unwrap();
    let h = Harness::new(store, p);
    let l = login(&h, &fresh_user()).await;
    let mut token = l.tokens.refresh_token.clone();
    for _ in 0..59 {
        h.clock.advance(Duration::from_secs(60));
        let r = h
            .manager
            .refresh(&token)
            .await
            .expect("refresh inside the lifetime");
        assert!(
            r.tokens.access_expires_at <= l.session.expires_at,
            "access token never outlives the session"
        );
        token = r.tokens.refresh_token;
    }
    h.clock.advance(Duration::from_secs(60));
    assert!(matches!(
        h.manager.refresh(&token).await,
        Err(SessionError::SessionEnded(Inactive::AbsoluteTimeout))
    ));
}

pub async fn access_token_expiry(store: Arc<dyn SessionStore>) {
    let p = SessionPolicy::builder()
        .access_token_ttl(Duration::from_secs(300))
        .build()
        .unwrap();
    let h = Harness::new(store, p);
    let l = login(&h, &fresh_user()).await;
    h.clock.advance(Duration::from_secs(299));
    h.manager.authenticate(access(&l)).await.unwrap();
    h.clock.advance(Duration::from_secs(1));
    assert!(matches!(
        h.manager.authenticate(access(&l)).await,
        Err(SessionError::InvalidToken(TokenRejection::Expired))
    ));
    let r = h.manager.refresh(&l.tokens.refresh_token).await.unwrap();
    h.manager
        .authenticate(r.tokens.access_token.expose_secret())
        .await
        .unwrap();
}

pub async fn revoke_races_authenticate_and_refresh(store: Arc<dyn SessionStore>) {
    for round in 0..5 {
        let h = Arc::new(Harness::new(store.clone(), SessionPolicy::default()));
        let user = fresh_user();
        let l = Arc::new(login(&h, &user).await);
        let revoked = Arc::new(AtomicBool::new(false));
        let violations = Arc::new(AtomicUsize::new(0));
        let workers: Vec<_> = (0..8)
            .map(|_| {
                let (h, l, revoked, violations) =
                    (h.clone(), l.clone(), revoked.clone(), violations.clone());
                tokio::spawn(async move {
                    for _ in 0..40 {
                        let after = revoked.load(Ordering::SeqCst);
                        if h.manager.authenticate(access(&l)).await.is_ok() && after {
                            violations.fetch_add(1, Ordering::SeqCst);
                        }
                        tokio::task::yield_now().await;
                    }
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(round * 2)).await;
        h.manager
            .revoke(&user, &l.session.id, RevokeReason::Admin)
            .await
            .unwrap();
        revoked.store(true, Ordering::SeqCst);
        let refresh_after = h.manager.refresh(&l.tokens.refresh_token).await;
        for w in workers {
            w.await.unwrap();
        }
        assert_eq!(
            violations.load(Ordering::SeqCst),
            0,
            "a token was accepted after revoke returned"
        );
        assert!(
            refresh_after.is_err(),
            "refresh accepted after revoke returned"
        );
    }
}

pub async fn reauthentication_replaces_session(store: Arc<dyn SessionStore>) {
    let h = Harness::new(store, policy(1, OnLimit::RejectNew));
    let user = fresh_user();
    let l = login(&h, &user).await;
    let s = h.manager.authenticate(access(&l)).await.unwrap();
    h.clock.advance(Duration::from_secs(30));
    let again = h
        .manager
        .reauthenticate(&s, &desktop())
        .await
        .expect("replacing does not count against the limit");
    assert_ne!(again.session.id, l.session.id);
    assert!(again.session.auth_time > l.session.auth_time);
    assert!(matches!(
        h.manager.authenticate(access(&l)).await,
        Err(SessionError::SessionEnded(Inactive::Revoked(
            RevokeReason::Reauthenticated
        )))
    ));
    assert!(h.manager.refresh(&l.tokens.refresh_token).await.is_err());
    h.manager.authenticate(access(&again)).await.unwrap();
}

/// Purging deletes a session once its absolute end is a full history
/// retention ago (until then it is listed as signed out), and nothing younger.
pub async fn purge_removes_only_ended_sessions(store: Arc<dyn SessionStore>) {
    let p = SessionPolicy::builder()
        .absolute_lifetime(Duration::from_secs(3600))
        .idle_timeout(Duration::from_secs(1800))
        .history_retention(Duration::from_secs(600))
        .build()
        .unwrap();
    let h = Harness::new(store.clone(), p);
    let user = fresh_user();
    let old = login(&h, &user).await;
    h.clock.advance(Duration::from_secs(1800));
    let young = login(&h, &user).await;
    h.clock.advance(Duration::from_secs(1801));
    h.manager.purge_expired().await.unwrap();
    assert!(
        store.get(&user, &old.session.id).await.unwrap().is_some(),
        "kept for the retention after its end"
    );
    h.clock.advance(Duration::from_secs(600));
    let purged = h.manager.purge_expired().await.unwrap();
    assert!(purged >= 1);
    assert!(store.get(&user, &old.session.id).await.unwrap().is_none());
    assert!(store.get(&user, &young.session.id).await.unwrap().is_some());
}

pub async fn revocation_is_durable_tombstone(store: Arc<dyn SessionStore>) {
    let h = Harness::new(store.clone(), SessionPolicy::default());
    let user = fresh_user();
    let l = login(&h, &user).await;
    h.manager
        .revoke(&user, &l.session.id, RevokeReason::Admin)
        .await
        .unwrap();
    let r = store
        .get(&user, &l.session.id)
        .await
        .unwrap()
        .expect("tombstone kept");
    assert_eq!(r.revoked.map(|r| r.reason), Some(RevokeReason::Admin));
    assert!(
        store
            .revoke(&user, &l.session.id, RevokeReason::User, h.clock.now())
            .await
            .unwrap()
            .is_none(),
        "revoking twice changes nothing"
    );
    assert_eq!(
        store
            .get(&user, &l.session.id)
            .await
            .unwrap()
            .unwrap()
            .revoked
            .map(|r| r.reason),
        Some(RevokeReason::Admin)
    );
}

pub async fn store_contract_rotate_and_touch(store: Arc<dyn SessionStore>) {
    let h = Harness::new(store.clone(), SessionPolicy::default());
    let user = fresh_user();
    let l = login(&h, &user).await;
    let now = h.clock.now();
    let rec = store.get(&user, &l.session.id).await.unwrap().unwrap();
    assert_eq!(rec, l.session, "the store returns what it was given");
    let req = |user: &UserId, hash: TokenHash, generation| RotateRequest {
        user: user.clone(),
        id: l.session.id.clone(),
        expected_generation: generation,
        expected_hash: hash,
        new_hash: TokenHash::of(b"next"),
        now,
        idle_cutoff: now.minus(Duration::from_secs(60)),
        seen: None,
    };
    assert!(matches!(
        store
            .rotate_refresh(req(&user, TokenHash::of(b"wrong"), 0))
            .await
            .unwrap(),
        RotateOutcome::Unchanged(Some(_))
    ));
    assert!(matches!(
        store
            .rotate_refresh(req(&user, rec.refresh.hash, 1))
            .await
            .unwrap(),
        RotateOutcome::Unchanged(Some(_))
    ));
    assert!(matches!(
        store
            .rotate_refresh(req(&fresh_user(), rec.refresh.hash, 0))
            .await
            .unwrap(),
        RotateOutcome::Unchanged(None)
    ));
    match store
        .rotate_refresh(req(&user, rec.refresh.hash, 0))
        .await
        .unwrap()
    {
        RotateOutcome::Rotated(r) => {
            assert_eq!(r.refresh.generation, 1);
            assert_eq!(r.refresh.hash, TokenHash::of(b"next"));
        }
        other => panic!("expected rotation, got {other:?}"),
    }
    let touch = |user: &UserId, at: Timestamp, idle_cutoff: Timestamp| TouchRequest {
        user: user.clone(),
        id: l.session.id.clone(),
        at,
        idle_cutoff,
        seen: None,
    };
    let later = now.plus(Duration::from_secs(90));
    let last_seen = |store: Arc<dyn SessionStore>| {
        let (user, id) = (user.clone(), l.session.id.clone());
        async move { store.get(&user, &id).await.unwrap().unwrap().last_seen_at }
    };
    assert!(
        store
            .touch(touch(&user, later, Timestamp::EPOCH))
            .await
            .unwrap(),
        "a touch of an active session writes"
    );
    assert!(
        !store
            .touch(touch(&user, now, Timestamp::EPOCH))
            .await
            .unwrap(),
        "an older touch is a no-op"
    );
    assert_eq!(
        last_seen(store.clone()).await,
        later,
        "touch never moves backwards"
    );
    assert!(
        !store
            .touch(touch(
                &fresh_user(),
                later.plus(Duration::from_secs(1)),
                Timestamp::EPOCH
            ))
            .await
            .unwrap(),
        "touch is scoped to the owner"
    );
    assert_eq!(
        last_seen(store.clone()).await,
        later,
        "touch is scoped to the owner"
    );
    let much_later = later.plus(Duration::from_secs(10));
    assert!(
        !store.touch(touch(&user, much_later, later)).await.unwrap(),
        "a session idle by the request's own cutoff is not touched"
    );
    assert!(
        !store
            .touch(touch(&user, rec.expires_at, Timestamp::EPOCH))
            .await
            .unwrap(),
        "a session past its absolute end is not touched"
    );
    assert_eq!(
        last_seen(store.clone()).await,
        later,
        "refused touches write nothing"
    );
    store
        .revoke(&user, &l.session.id, RevokeReason::Admin, much_later)
        .await
        .unwrap()
        .unwrap();
    assert!(
        !store
            .touch(touch(&user, much_later, Timestamp::EPOCH))
            .await
            .unwrap(),
        "a revoked session is not touched"
    );
    assert_eq!(
        last_seen(store.clone()).await,
        later,
        "touch after revoke writes nothing"
    );
}

pub async fn events_never_contain_raw_tokens(store: Arc<dyn SessionStore>) {
    let h = Harness::new(store, policy(1, OnLimit::EvictOldest));
    let user = fresh_user();
    let a = h
        .manager
        .login(
            &user,
            &ctx("test/desktop/GB\r\nFAKE LOG LINE", "81.2.69.142"),
        )
        .await
        .unwrap();
    let r = h.manager.refresh(&a.tokens.refresh_token).await.unwrap();
    h.clock.advance(Duration::from_secs(10));
    let _ = h.manager.refresh(&a.tokens.refresh_token).await;
    let b = login(&h, &user).await;
    let _ = h.manager.authenticate(access(&a)).await;
    let _ = h.manager.authenticate("garbage").await;
    let json: Vec<String> = h.events.events().iter().map(|e| e.to_json()).collect();
    assert!(json.len() >= 6);
    let all = json.join("\n");
    for secret in [
        access(&a),
        access(&b),
        a.tokens.refresh_token.expose_secret(),
        r.tokens.refresh_token.expose_secret(),
        a.session.id.as_str(),
        b.session.id.as_str(),
    ] {
        assert!(
            !all.contains(secret),
            "an event contains a raw token or session id"
        );
    }
    let secret_part = a
        .tokens
        .refresh_token
        .expose_secret()
        .rsplit('.')
        .next()
        .unwrap();
    assert!(!all.contains(secret_part));
    assert!(
        json.iter()
            .all(|line| !line.contains('\n') && !line.contains('\r')),
        "log injection"
    );
    assert!(
        all.contains(h.manager.session_hash(&a.session.id).as_str()),
        "events carry the hashed session id"
    );
}

pub async fn cached_mode_sees_revocation(store: Arc<dyn SessionStore>) {
    let clock = ManualClock::new(SystemClock.now());
    let a = Harness::with_mode(
        store.clone(),
        SessionPolicy::default(),
        RevocationMode::cached(),
        clock.clone(),
    );
    let b = Harness::with_mode(
        store.clone(),
        SessionPolicy::default(),
        RevocationMode::cached(),
        clock.clone(),
    );
    let user = fresh_user();
    let l = login(&a, &user).await;
    for _ in 0..200 {
        if b.manager.is_cache_live() || store.revocation_feed().is_none() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    b.manager.authenticate(access(&l)).await.unwrap();
    b.manager.authenticate(access(&l)).await.unwrap();
    a.manager
        .revoke(&user, &l.session.id, RevokeReason::User)
        .await
        .unwrap();
    assert!(
        a.manager.authenticate(access(&l)).await.is_err(),
        "the revoking instance refuses at once"
    );
    let mut refused = false;
    for _ in 0..200 {
        if b.manager.authenticate(access(&l)).await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(refused, "the other instance never saw the revocation");
}

/// A store with a revocation feed announces each revocation with the
/// revoking call's time (`FeedEvent::Revoked::at`), which the feed-lag metric
/// reads. Stores without a feed have nothing to announce.
pub async fn feed_announces_revocations_with_their_time(store: Arc<dyn SessionStore>) {
    let Some(feed) = store.revocation_feed() else {
        return;
    };
    let mut rx = feed.subscribe().await.unwrap();
    let connected = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await;
    assert!(
        matches!(connected, Ok(Some(crate::store::FeedEvent::Connected))),
        "the feed first says it is connected: {connected:?}"
    );
    let h = Harness::new(store, SessionPolicy::default());
    let user = fresh_user();
    let a = login(&h, &user).await;
    h.clock.advance(Duration::from_secs(3));
    let revoked_at = h.clock.now();
    h.manager
        .revoke(&user, &a.session.id, RevokeReason::User)
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let event = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .expect("the revocation is announced within 5 s")
            .expect("the feed stays open");
        if let crate::store::FeedEvent::Revoked { user: u, id, at } = event
            && u == user
        {
            assert_eq!(id, a.session.id);
            assert_eq!(
                at,
                Some(revoked_at),
                "the announcement carries the revocation time"
            );
            return;
        }
    }
}
