//! Conformance cases for limits that vary (a resolver, per-app limits,
//! two limits at once) and for "sign out a device and continue".
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use futures_util::future::join_all;

use super::cases::{ctx, desktop, login, policy};
use super::harness::{Harness, fresh_user};
use crate::error::SessionError;
use crate::events::EventKind;
use crate::ids::{AppId, SessionId, UserId};
use crate::limits::{LimitQuery, LimitResolver, ResolvedLimits};
use crate::manager::{LoginOptions, LoginSuccess};
use crate::policy::{LimitKind, OnLimit, SessionPolicy};
use crate::record::{Inactive, RevokeReason};
use crate::secret::ContinuationTicket;
use crate::store::{BoxError, SessionStore};
use crate::time::{Clock, ManualClock, SystemClock};
use crate::tokens::TokenRejection;

/// Users whose id ends in `-pro` get `pro` sessions, refused beyond;
/// everyone else `free` sessions, the oldest evicted. `pro` can change
/// while the manager runs (a plan switch).
struct Plans {
    pro: AtomicU32,
    free: u32,
    calls: AtomicUsize,
}

#[async_trait]
impl LimitResolver for Plans {
    async fn resolve(&self, login: &LimitQuery<'_>) -> Result<ResolvedLimits, BoxError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let mut limits = login.policy.clone();
        if login.user.as_str().ends_with("-pro") {
            limits.per_user = Some(self.pro.load(Ordering::SeqCst));
            limits.on_limit = OnLimit::RejectNew;
            Ok(ResolvedLimits::for_plan("Pro", limits))
        } else {
            limits.per_user = Some(self.free);
            limits.on_limit = OnLimit::EvictOldest;
            Ok(ResolvedLimits::for_plan("Free", limits))
        }
    }
}

fn app(name: &str) -> AppId {
    AppId::new(name).unwrap()
}

fn in_app(name: &str) -> LoginOptions {
    LoginOptions::default().in_app(app(name))
}

fn rejecting(max: u32) -> SessionPolicy {
    policy(max, OnLimit::RejectNew)
}

async fn active_ids(h: &Harness, user: &UserId) -> Vec<SessionId> {
    let mut ids: Vec<_> = h
        .manager
        .list(user, None)
        .await
        .unwrap()
        .into_iter()
        .map(|v| v.id)
        .collect();
    ids.sort();
    ids
}

/// The continuation ticket of a login refused at the limit.
fn ticket_of(result: Result<LoginSuccess, SessionError>) -> (LimitKind, ContinuationTicket) {
    match result {
        Err(SessionError::LimitReached(l)) => {
            let c = l
                .continuation
                .expect("a refusal at a limit carries a ticket");
            (l.limit, c.ticket)
        }
        other => panic!("expected LimitReached, got {other:?}"),
    }
}

fn ended_by(h: &Harness, reason: RevokeReason) -> usize {
    h.events
        .events()
        .iter()
        .filter(|e| e.kind == EventKind::SessionRevoked { reason })
        .count()
}

/// 200 concurrent logins each for a Pro and a Free user: every login is
/// counted against the limits the resolver chose for its user, in the
/// store's one atomic step; a plan switch applies from the next login.
pub async fn resolver_limits_hold_under_concurrent_logins(store: Arc<dyn SessionStore>) {
    let plans = Arc::new(Plans {
        pro: AtomicU32::new(4),
        free: 2,
        calls: AtomicUsize::new(0),
    });
    let resolver: Arc<dyn LimitResolver> = plans.clone();
    let h = Arc::new(Harness::customised(
        store,
        SessionPolicy::default(),
        ManualClock::new(SystemClock.now()),
        |b| b.limit_resolver(resolver),
    ));
    let pro = UserId::new(format!("{}-pro", fresh_user())).unwrap();
    let free = fresh_user();
    let results = join_all((0..400).map(|i| {
        let h = h.clone();
        let user = if i % 2 == 0 {
            pro.clone()
        } else {
            free.clone()
        };
        tokio::spawn(async move {
            let ip = format!("10.1.{}.{}", i / 250, i % 250);
            (
                i % 2 == 0,
                h.manager.login(&user, &ctx("test/desktop/GB", &ip)).await,
            )
        })
    }))
    .await;
    let (mut pro_ok, mut pro_refused, mut free_ok) = (0, 0, 0);
    for r in results {
        match r.unwrap() {
            (true, Ok(_)) => pro_ok += 1,
            (true, Err(SessionError::LimitReached(l))) => {
                assert_eq!(l.limit, LimitKind::PerUser);
                pro_refused += 1;
            }
            (false, Ok(_)) => free_ok += 1,
            (_, Err(e)) => panic!("unexpected login error: {e:?}"),
        }
    }
    assert_eq!(
        (pro_ok, pro_refused),
        (4, 196),
        "Pro: 4 sessions, refused beyond"
    );
    assert_eq!(free_ok, 200, "Free: every login evicts the oldest");
    assert_eq!(active_ids(&h, &pro).await.len(), 4);
    assert_eq!(active_ids(&h, &free).await.len(), 2);
    assert_eq!(
        plans.calls.load(Ordering::SeqCst),
        400,
        "one resolution per login"
    );
    let evict_events = h
        .events
        .events()
        .iter()
        .filter(|e| {
            e.kind
                == EventKind::SessionLimitReached {
                    limit: LimitKind::PerUser,
                    action: OnLimit::EvictOldest,
                }
        })
        .count();
    assert_eq!(evict_events, 198, "the event names the resolved action");

    // The plan changes (an upgrade): the next login fits, without a restart.
    plans.pro.store(5, Ordering::SeqCst);
    login(&h, &pro).await;
    assert_eq!(active_ids(&h, &pro).await.len(), 5);
    assert!(matches!(
        h.manager.login(&pro, &desktop()).await,
        Err(SessionError::LimitReached(_))
    ));
    let described = h
        .manager
        .describe_limits(&pro, None, &desktop())
        .await
        .unwrap();
    assert!(described.starts_with("Plan Pro:"), "{described}");
    assert!(
        described.contains("at most 5 active sessions"),
        "{described}"
    );
}

/// A per-app limit counts only the sessions of that app, under
/// concurrency, on every backend; logins naming no app are not counted by
/// it, and the session list shows each session's app.
pub async fn per_app_limits_under_concurrency(store: Arc<dyn SessionStore>) {
    let policy = SessionPolicy::builder()
        .unlimited_sessions_per_user()
        .max_sessions_per_app(2)
        .on_limit(OnLimit::RejectNew)
        .build()
        .unwrap();
    let h = Arc::new(Harness::new(store, policy));
    let user = fresh_user();
    let results = join_all((0..150).map(|i| {
        let h = h.clone();
        let user = user.clone();
        tokio::spawn(async move {
            let options = match i % 3 {
                0 => in_app("mobile"),
                1 => in_app("web"),
                _ => LoginOptions::default(),
            };
            let ip = format!("10.2.0.{}", i % 250);
            let r = h
                .manager
                .login_with(&user, &ctx("test/mobile/GB", &ip), options)
                .await;
            (i % 3, r)
        })
    }))
    .await;
    let mut ok = [0; 3];
    for r in results {
        match r.unwrap() {
            (kind, Ok(_)) => ok[kind] += 1,
            (kind, Err(SessionError::LimitReached(l))) => {
                assert!(kind < 2, "a login without an app was refused");
                assert_eq!(l.limit, LimitKind::PerApp);
            }
            (_, Err(e)) => panic!("unexpected login error: {e:?}"),
        }
    }
    assert_eq!(ok, [2, 2, 50], "two per app, no limit without an app");
    let list = h.manager.list(&user, None).await.unwrap();
    let count = |name: Option<&str>| {
        list.iter()
            .filter(|v| v.app.as_ref().map(AppId::as_str) == name)
            .count()
    };
    assert_eq!(
        (count(Some("mobile")), count(Some("web")), count(None)),
        (2, 2, 50)
    );
}

/// Keycloak #38016: the account's limit and an app's are exceeded by the
/// same login. One session ends, the oldest that counts towards both;
/// the account's older session in another app survives.
pub async fn two_limits_hit_at_once_end_one_session(store: Arc<dyn SessionStore>) {
    let policy = SessionPolicy::builder()
        .max_sessions_per_user(3)
        .max_sessions_per_app(2)
        .on_limit(OnLimit::EvictOldest)
        .build()
        .unwrap();
    let h = Harness::new(store, policy);
    let user = fresh_user();
    let mut sessions = Vec::new();
    for name in ["web", "mobile", "mobile"] {
        let s = h
            .manager
            .login_with(&user, &desktop(), in_app(name))
            .await
            .unwrap();
        sessions.push(s);
        h.clock.advance(Duration::from_secs(60));
    }
    let new = h
        .manager
        .login_with(&user, &desktop(), in_app("mobile"))
        .await
        .unwrap();
    assert_eq!(new.evicted, vec![sessions[1].session.id.clone()]);
    let mut want = vec![
        sessions[0].session.id.clone(),
        sessions[2].session.id.clone(),
        new.session.id.clone(),
    ];
    want.sort();
    assert_eq!(active_ids(&h, &user).await, want);
    assert_eq!(ended_by(&h, RevokeReason::Evicted), 1);
}

/// The whole flow: refused at the limit with a ticket; redeemed with the
/// chosen session, which ends (reason `user`, so its device is told it
/// was signed out from another device) while the new one starts.
pub async fn continuation_ends_chosen_sessions_and_signs_in(store: Arc<dyn SessionStore>) {
    let h = Harness::new(store, rejecting(2));
    let user = fresh_user();
    let a = login(&h, &user).await;
    h.clock.advance(Duration::from_secs(60));
    let b = login(&h, &user).await;
    // A federated sign-in: the ticket carries its provider session too.
    let provider = crate::ProviderSession::new("https://idp.example.com", "u-1").with_sid("s-1");
    let options = LoginOptions::signed_in_with("passkey").via_provider(provider.clone());
    let refused = h.manager.login_with(&user, &desktop(), options).await;
    let (limit, ticket) = ticket_of(refused);
    assert_eq!(limit, LimitKind::PerUser);
    assert!(!format!("{ticket:?}").contains(ticket.expose_secret()));
    let c = h
        .manager
        .continue_login(&ticket, std::slice::from_ref(&a.session.id), &desktop())
        .await
        .unwrap();
    assert_eq!(c.evicted, vec![a.session.id.clone()]);
    assert_eq!(c.session.meta.sign_in_method.as_deref(), Some("passkey"));
    assert_eq!(c.session.meta.provider, Some(provider));
    assert!(matches!(
        h.manager
            .authenticate(a.tokens.access_token.expose_secret())
            .await,
        Err(SessionError::SessionEnded(Inactive::Revoked(
            RevokeReason::User
        )))
    ));
    h.manager
        .authenticate(c.tokens.access_token.expose_secret())
        .await
        .unwrap();
    let mut want = vec![b.session.id.clone(), c.session.id.clone()];
    want.sort();
    assert_eq!(active_ids(&h, &user).await, want);
    assert_eq!(ended_by(&h, RevokeReason::User), 1);
    // Single use: a replay, even choosing another session, changes nothing.
    let replay = h
        .manager
        .continue_login(&ticket, std::slice::from_ref(&b.session.id), &desktop())
        .await;
    assert!(
        matches!(
            replay,
            Err(SessionError::InvalidToken(TokenRejection::AlreadyUsed))
        ),
        "{replay:?}"
    );
    assert_eq!(active_ids(&h, &user).await, want);
    let events = serde_json::to_string(&h.events.events()).unwrap();
    assert!(
        !events.contains(ticket.expose_secret()),
        "an event holds the ticket"
    );
}

/// The same ticket redeemed at once on two instances: exactly one login
/// gets in; the other is told the ticket was used, and nothing else ends.
pub async fn continuation_redeemed_twice_concurrently(store: Arc<dyn SessionStore>) {
    let clock = ManualClock::new(SystemClock.now());
    let one = Harness::customised(store.clone(), rejecting(2), clock.clone(), |b| b);
    let two = Harness::customised(store, rejecting(2), clock, |b| b);
    let user = fresh_user();
    let a = login(&one, &user).await;
    let b = login(&one, &user).await;
    let (_, ticket) = ticket_of(one.manager.login(&user, &desktop()).await);
    let chosen = [a.session.id.clone()];
    let other = [b.session.id.clone()];
    let here = desktop();
    let (x, y) = tokio::join!(
        one.manager.continue_login(&ticket, &chosen, &here),
        two.manager.continue_login(&ticket, &other, &here),
    );
    let wins = [&x, &y].iter().filter(|r| r.is_ok()).count();
    assert_eq!(wins, 1, "{x:?} {y:?}");
    for r in [&x, &y] {
        if let Err(e) = r {
            assert!(
                matches!(e, SessionError::InvalidToken(TokenRejection::AlreadyUsed)),
                "{e:?}"
            );
        }
    }
    let winner = x.as_ref().or(y.as_ref()).unwrap();
    let survivor = if x.is_ok() { &b } else { &a };
    let mut want = vec![survivor.session.id.clone(), winner.session.id.clone()];
    want.sort();
    assert_eq!(
        active_ids(&one, &user).await,
        want,
        "one chosen session ended"
    );
}

/// Tickets that must not work: tampered, expired, from another client,
/// ending a session it did not offer (another user's included), or after
/// a password change. None of them ends or creates anything.
pub async fn continuation_refuses_bad_tickets(store: Arc<dyn SessionStore>) {
    let h = Harness::new(store, rejecting(1));
    let (alice, bob) = (fresh_user(), fresh_user());
    let a = login(&h, &alice).await;
    let bob_session = login(&h, &bob).await;
    let (_, ticket) = ticket_of(h.manager.login(&alice, &desktop()).await);
    let end = std::slice::from_ref(&a.session.id);
    let before = active_ids(&h, &alice).await;

    let raw = ticket.expose_secret();
    let last = raw.chars().last().unwrap();
    let flipped = format!(
        "{}{}",
        &raw[..raw.len() - 1],
        if last == 'A' { 'B' } else { 'A' }
    );
    let tampered = h
        .manager
        .continue_login(&ContinuationTicket::new(flipped), end, &desktop())
        .await;
    assert!(
        matches!(tampered, Err(SessionError::InvalidToken(_))),
        "{tampered:?}"
    );
    let garbage = h
        .manager
        .continue_login(&ContinuationTicket::new("not a ticket"), end, &desktop())
        .await;
    assert!(
        matches!(garbage, Err(SessionError::InvalidToken(_))),
        "{garbage:?}"
    );
    let access_as_ticket = ContinuationTicket::new(a.tokens.access_token.expose_secret());
    let wrong_type = h
        .manager
        .continue_login(&access_as_ticket, end, &desktop())
        .await;
    assert!(
        matches!(
            wrong_type,
            Err(SessionError::InvalidToken(TokenRejection::WrongType))
        ),
        "{wrong_type:?}"
    );
    for elsewhere in [
        ctx("test/mobile/SE", "89.160.20.128"),
        // The same browser from another address.
        ctx("test/desktop/GB", "89.160.20.128"),
    ] {
        let other_client = h.manager.continue_login(&ticket, end, &elsewhere).await;
        assert!(
            matches!(
                other_client,
                Err(SessionError::InvalidToken(TokenRejection::BadClaims))
            ),
            "{other_client:?}"
        );
    }
    let foreign = h
        .manager
        .continue_login(
            &ticket,
            std::slice::from_ref(&bob_session.session.id),
            &desktop(),
        )
        .await;
    assert!(
        matches!(foreign, Err(SessionError::InvalidInput(_))),
        "{foreign:?}"
    );
    h.manager
        .authenticate(bob_session.tokens.access_token.expose_secret())
        .await
        .expect("another user's session is untouched");
    assert_eq!(active_ids(&h, &alice).await, before);

    // The password changes before the ticket is redeemed: the login it
    // continues checked the old one.
    h.clock.advance(Duration::from_millis(5));
    let (_, fresh) = ticket_of(h.manager.login(&alice, &desktop()).await);
    h.clock.advance(Duration::from_millis(5));
    h.manager
        .revoke_all(&alice, RevokeReason::PasswordChange)
        .await
        .unwrap();
    let stale = h.manager.continue_login(&fresh, &[], &desktop()).await;
    assert!(
        matches!(stale, Err(SessionError::CredentialsRevoked)),
        "{stale:?}"
    );
    assert!(active_ids(&h, &alice).await.is_empty());

    // A redemption refused at the limit again gets a fresh ticket that
    // keeps the first one's deadline: a chain of tickets never outlives it.
    let a1 = login(&h, &alice).await;
    let (first, first_ticket) = match h.manager.login(&alice, &desktop()).await {
        Err(SessionError::LimitReached(l)) => {
            let c = l.continuation.unwrap();
            (c.expires_at, c.ticket)
        }
        other => panic!("{other:?}"),
    };
    h.clock.advance(Duration::from_secs(240));
    let again = match h
        .manager
        .continue_login(&first_ticket, &[], &desktop())
        .await
    {
        Err(SessionError::LimitReached(l)) => l.continuation.unwrap(),
        other => panic!("{other:?}"),
    };
    assert_eq!(again.expires_at, first, "the deadline carries over");
    h.clock.advance(Duration::from_secs(61));
    let chained = h
        .manager
        .continue_login(
            &again.ticket,
            std::slice::from_ref(&a1.session.id),
            &desktop(),
        )
        .await;
    assert!(
        matches!(
            chained,
            Err(SessionError::InvalidToken(TokenRejection::Expired))
        ),
        "{chained:?}"
    );
    h.manager
        .revoke(&alice, &a1.session.id, RevokeReason::User)
        .await
        .unwrap();

    // Expired: past its lifetime the ticket is refused.
    let a2 = login(&h, &alice).await;
    let (_, late) = ticket_of(h.manager.login(&alice, &desktop()).await);
    h.clock
        .advance(crate::manager::CONTINUATION_TTL + Duration::from_secs(1));
    let expired = h
        .manager
        .continue_login(&late, std::slice::from_ref(&a2.session.id), &desktop())
        .await;
    assert!(
        matches!(
            expired,
            Err(SessionError::InvalidToken(TokenRejection::Expired))
        ),
        "{expired:?}"
    );
    assert_eq!(
        active_ids(&h, &alice).await,
        vec![a2.session.id.clone()],
        "nothing ended by an expired ticket"
    );
}

/// A redemption and an ordinary login race for the seat the redemption
/// frees: the end-and-create is one atomic step, so the ordinary login
/// never takes the seat, whatever the order, and the account never holds
/// more than its limit.
pub async fn continuation_races_an_ordinary_login(store: Arc<dyn SessionStore>) {
    for _ in 0..10 {
        let h = Harness::new(store.clone(), rejecting(2));
        let user = fresh_user();
        let a = login(&h, &user).await;
        let b = login(&h, &user).await;
        let (_, ticket) = ticket_of(h.manager.login(&user, &desktop()).await);
        let chosen = [a.session.id.clone()];
        let here = desktop();
        let (redeemed, ordinary) = tokio::join!(
            h.manager.continue_login(&ticket, &chosen, &here),
            h.manager.login(&user, &here),
        );
        let c = redeemed.expect("the redemption gets the seat it frees");
        assert!(
            matches!(ordinary, Err(SessionError::LimitReached(_))),
            "{ordinary:?}"
        );
        let mut want = vec![b.session.id.clone(), c.session.id.clone()];
        want.sort();
        assert_eq!(active_ids(&h, &user).await, want);
    }
}

fn tenant(name: &str) -> crate::ids::TenantId {
    crate::ids::TenantId::new(name).unwrap()
}

/// A tenant no other test run uses.
fn fresh_tenant() -> crate::ids::TenantId {
    tenant(&format!(
        "t-{}",
        SessionId::generate().as_str().replace('_', "-")
    ))
}

fn in_tenant(t: &crate::ids::TenantId) -> LoginOptions {
    LoginOptions::default().in_tenant(t.clone())
}

/// Seats: a per-tenant limit counts every user of the tenant, in the
/// store's atomic step under the tenant's lock, with 4 users logging in 50
/// times each at once; another tenant is not affected. It never evicts
/// another user's session: a full tenant refuses, even in eviction mode,
/// and when the user's own limit and the tenant's are hit at once, the
/// user's own oldest session in the tenant goes. A store that cannot
/// count tenants fails such logins closed.
pub async fn tenant_limits_hold_across_users(store: Arc<dyn SessionStore>) {
    let seats = SessionPolicy::builder()
        .unlimited_sessions_per_user()
        .max_sessions_per_tenant(5)
        .on_limit(OnLimit::RejectNew)
        .build()
        .unwrap();
    let h = Arc::new(Harness::new(store.clone(), seats));
    let acme = fresh_tenant();
    if !store.counts_tenants() {
        let refused = h
            .manager
            .login_with(&fresh_user(), &desktop(), in_tenant(&acme))
            .await;
        assert!(
            matches!(refused, Err(SessionError::LimitsUnavailable(_))),
            "{refused:?}"
        );
        login(&h, &fresh_user()).await;
        return;
    }
    let users: Vec<UserId> = (0..4).map(|_| fresh_user()).collect();
    let results = join_all((0..200).map(|i| {
        let h = h.clone();
        let user = users[i % 4].clone();
        let options = in_tenant(&acme);
        tokio::spawn(async move {
            let ip = format!("10.3.{}.{}", i / 250, i % 250);
            h.manager
                .login_with(&user, &ctx("test/desktop/GB", &ip), options)
                .await
        })
    }))
    .await;
    let mut admitted = 0;
    for r in results {
        match r.unwrap() {
            Ok(_) => admitted += 1,
            Err(SessionError::LimitReached(l)) => assert_eq!(l.limit, LimitKind::PerTenant),
            Err(e) => panic!("unexpected login error: {e:?}"),
        }
    }
    assert_eq!(admitted, 5, "five seats");
    let mut seated = 0;
    for user in &users {
        seated += active_ids(&h, user).await.len();
    }
    assert_eq!(seated, 5);
    let other = fresh_tenant();
    h.manager
        .login_with(&users[0], &desktop(), in_tenant(&other))
        .await
        .expect("another tenant has its own seats");

    // Eviction mode: two sessions per user, three seats.
    let evicting = SessionPolicy::builder()
        .max_sessions_per_user(2)
        .max_sessions_per_tenant(3)
        .on_limit(OnLimit::EvictOldest)
        .build()
        .unwrap();
    let h = Harness::new(store, evicting);
    let acme = fresh_tenant();
    let (a, b, c) = (fresh_user(), fresh_user(), fresh_user());
    let mut a_sessions = Vec::new();
    for _ in 0..2 {
        let s = h
            .manager
            .login_with(&a, &desktop(), in_tenant(&acme))
            .await
            .unwrap();
        a_sessions.push(s.session.id);
        h.clock.advance(Duration::from_secs(60));
    }
    let b1 = h
        .manager
        .login_with(&b, &desktop(), in_tenant(&acme))
        .await
        .unwrap();
    h.clock.advance(Duration::from_secs(60));
    // Full of other users' sessions: refused, nobody signed out.
    let refused = h.manager.login_with(&c, &desktop(), in_tenant(&acme)).await;
    match refused {
        Err(SessionError::LimitReached(l)) => assert_eq!(l.limit, LimitKind::PerTenant),
        other => panic!("expected a full tenant, got {other:?}"),
    }
    // a's own limit and the tenant's at once: a's oldest session goes.
    let a3 = h
        .manager
        .login_with(&a, &desktop(), in_tenant(&acme))
        .await
        .unwrap();
    assert_eq!(a3.evicted, vec![a_sessions[0].clone()]);
    assert_eq!(active_ids(&h, &b).await, vec![b1.session.id.clone()]);
    let mut want = vec![a_sessions[1].clone(), a3.session.id.clone()];
    want.sort();
    assert_eq!(active_ids(&h, &a).await, want);
    let list = h.manager.list(&b, None).await.unwrap();
    assert_eq!(list[0].tenant.as_ref(), Some(&acme));
    // A re-authentication moves b's seat; it does not free one.
    let current = h
        .manager
        .authenticate(b1.tokens.access_token.expose_secret())
        .await
        .unwrap();
    let moved = h
        .manager
        .reauthenticate(&current, &desktop())
        .await
        .unwrap();
    assert_eq!(moved.session.meta.tenant.as_ref(), Some(&acme));
    let still_full = h.manager.login_with(&c, &desktop(), in_tenant(&acme)).await;
    assert!(
        matches!(still_full, Err(SessionError::LimitReached(_))),
        "{still_full:?}"
    );
}
