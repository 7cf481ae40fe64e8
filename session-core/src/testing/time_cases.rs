//! Conformance cases over time: late writes held behind a competing
//! decision ([`super::HeldStore`]), managers whose clocks disagree, and
//! logins racing a password change. Each runs with limits 1 and 3 under
//! every [`OnLimit`] mode where a limit matters.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;

use super::harness::{Harness, fresh_user};
use super::interleave::{HeldStore, StoreCall};
use crate::error::SessionError;
use crate::ids::UserId;
use crate::manager::{LoginOptions, LoginSuccess, RevocationMode};
use crate::policy::{OnLimit, SessionPolicy};
use crate::record::{Inactive, RequestContext, RevokeReason};
use crate::store::SessionStore;
use crate::time::{Clock, ManualClock, SystemClock, Timestamp};

const IDLE: Duration = Duration::from_secs(60);
const TOUCH: Duration = Duration::from_secs(10);
const MODES: [OnLimit; 3] = [
    OnLimit::RejectNew,
    OnLimit::EvictOldest,
    OnLimit::EvictLeastRecentlyUsed,
];
const LIMITS: [u32; 2] = [1, 3];

fn policy(max: u32, on_limit: OnLimit) -> SessionPolicy {
    SessionPolicy::builder()
        .max_sessions_per_user(max)
        .on_limit(on_limit)
        .idle_timeout(IDLE)
        .touch_interval(TOUCH)
        .access_token_ttl(Duration::from_secs(3600))
        .build()
        .unwrap()
}

fn ctx() -> RequestContext {
    RequestContext::new()
        .with_user_agent("test/desktop/GB")
        .with_ip("81.2.69.142".parse().unwrap())
}

fn access(l: &LoginSuccess) -> &str {
    l.tokens.access_token.expose_secret()
}

/// Every (limit, mode) pair.
fn combinations() -> impl Iterator<Item = (u32, OnLimit)> {
    LIMITS
        .into_iter()
        .flat_map(|n| MODES.into_iter().map(move |m| (n, m)))
}

/// How many of `user`'s stored sessions are active at `at`, read from the
/// store itself (not through a manager's view).
async fn active_in_store(store: &Arc<dyn SessionStore>, user: &UserId, at: Timestamp) -> usize {
    store
        .list(user)
        .await
        .unwrap()
        .iter()
        .filter(|s| s.is_active(at, at.minus(IDLE)))
        .count()
}

async fn logins(h: &Harness, user: &UserId, n: u32) -> Vec<LoginSuccess> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(h.manager.login(user, &ctx()).await.unwrap());
        // Distinct login and activity times: eviction order is by time.
        h.clock.advance(Duration::from_millis(10));
    }
    out
}

/// `l`'s access token authenticated in a task of its own (so a held store
/// call can stop it midway).
fn spawn_authenticate(
    h: &Harness,
    l: &LoginSuccess,
) -> tokio::task::JoinHandle<Result<(), SessionError>> {
    let manager = h.manager.clone();
    let token = access(l).to_owned();
    tokio::spawn(async move { manager.authenticate(&token).await.map(|_| ()) })
}

/// `l`'s refresh token refreshed in a task of its own.
fn spawn_refresh(
    h: &Harness,
    l: &LoginSuccess,
) -> tokio::task::JoinHandle<Result<(), SessionError>> {
    let manager = h.manager.clone();
    let token = l.tokens.refresh_token.clone();
    tokio::spawn(async move { manager.refresh(&token).await.map(|_| ()) })
}

/// An authenticate reads a session as active, a login then judges it idle
/// (and leaves it uncounted), and only then does the authenticate's touch
/// land: the touch must not revive the session past the limit.
pub async fn late_touch_after_idle_judgement(store: Arc<dyn SessionStore>) {
    for (max, mode) in combinations() {
        let held = HeldStore::new(store.clone());
        let h = Harness::new(held.clone(), policy(max, mode));
        let user = fresh_user();
        let old = logins(&h, &user, max).await;
        h.clock.advance(IDLE - Duration::from_millis(500));
        let mut hold = held.hold_next(StoreCall::Touch);
        let auth = spawn_authenticate(&h, &old[0]);
        hold.arrived().await;
        h.clock.advance(Duration::from_secs(1));
        // Every old session is idle now: each login is admitted without evicting.
        let new = logins(&h, &user, max).await;
        assert!(new.iter().all(|l| l.evicted.is_empty()), "{max} {mode:?}");
        hold.release();
        auth.await
            .unwrap()
            .expect("the request was judged while its session was active");
        let now = h.clock.now();
        let active = active_in_store(&store, &user, now).await;
        assert!(
            active <= max as usize,
            "limit {max} ({mode:?}): {active} active after a late touch"
        );
        assert!(
            matches!(
                h.manager.authenticate(access(&old[0])).await,
                Err(SessionError::SessionEnded(Inactive::IdleTimeout))
            ),
            "limit {max} ({mode:?}): the late touch revived an idle session"
        );
        for l in &new {
            h.manager.authenticate(access(l)).await.unwrap();
        }
    }
}

/// A touch held behind a revocation changes nothing.
pub async fn late_touch_after_revoke(store: Arc<dyn SessionStore>) {
    for (max, mode) in combinations() {
        late_touch_after_revoke_with(store.clone(), policy(max, mode)).await;
    }
}

async fn late_touch_after_revoke_with(store: Arc<dyn SessionStore>, policy: SessionPolicy) {
    let held = HeldStore::new(store.clone());
    let h = Harness::new(held.clone(), policy);
    let user = fresh_user();
    let l = h.manager.login(&user, &ctx()).await.unwrap();
    h.clock.advance(TOUCH);
    let mut hold = held.hold_next(StoreCall::Touch);
    let auth = spawn_authenticate(&h, &l);
    hold.arrived().await;
    h.manager
        .revoke(&user, &l.session.id, RevokeReason::User)
        .await
        .unwrap();
    hold.release();
    auth.await.unwrap().unwrap();
    let stored = store.get(&user, &l.session.id).await.unwrap().unwrap();
    assert_eq!(
        stored.last_seen_at, l.session.last_seen_at,
        "a touch after revoke wrote activity"
    );
    assert!(stored.revoked.is_some());
    assert!(h.manager.authenticate(access(&l)).await.is_err());
}

/// A refresh whose rotation is held behind a revocation fails, and the
/// session stays revoked.
pub async fn late_rotate_after_revoke(store: Arc<dyn SessionStore>) {
    for (max, mode) in combinations() {
        late_rotate_after_revoke_with(store.clone(), policy(max, mode)).await;
    }
}

async fn late_rotate_after_revoke_with(store: Arc<dyn SessionStore>, policy: SessionPolicy) {
    let held = HeldStore::new(store.clone());
    let h = Harness::new(held.clone(), policy);
    let user = fresh_user();
    let l = h.manager.login(&user, &ctx()).await.unwrap();
    let mut hold = held.hold_next(StoreCall::RotateRefresh);
    let refresh = spawn_refresh(&h, &l);
    hold.arrived().await;
    h.manager
        .revoke(&user, &l.session.id, RevokeReason::User)
        .await
        .unwrap();
    hold.release();
    assert!(
        refresh.await.unwrap().is_err(),
        "a rotation after revoke succeeded"
    );
    let stored = store.get(&user, &l.session.id).await.unwrap().unwrap();
    assert!(stored.revoked.is_some());
    assert_eq!(stored.refresh.generation, 0, "the revoked session rotated");
}

/// A refresh of the session a login is about to evict: whichever lands
/// first, the evicted session ends and the limit holds.
pub async fn rotate_racing_eviction(store: Arc<dyn SessionStore>) {
    for (max, mode) in combinations() {
        let held = HeldStore::new(store.clone());
        let h = Harness::new(held.clone(), policy(max, mode));
        let user = fresh_user();
        let old = logins(&h, &user, max).await;
        h.clock.advance(Duration::from_secs(2));
        let mut hold = held.hold_next(StoreCall::RotateRefresh);
        let refresh = spawn_refresh(&h, &old[0]);
        hold.arrived().await;
        let login = h.manager.login(&user, &ctx()).await;
        hold.release();
        let refreshed = refresh.await.unwrap();
        let now = h.clock.now();
        match mode {
            OnLimit::RejectNew => {
                assert!(matches!(login, Err(SessionError::LimitReached(_))));
                refreshed.expect("nothing ended the session");
            }
            _ => {
                let login = login.unwrap();
                assert_eq!(login.evicted, vec![old[0].session.id.clone()], "{mode:?}");
                assert!(
                    refreshed.is_err(),
                    "limit {max} ({mode:?}): an evicted session rotated"
                );
                assert!(h.manager.authenticate(access(&old[0])).await.is_err());
            }
        }
        let active = active_in_store(&store, &user, now).await;
        assert!(active <= max as usize, "limit {max} ({mode:?}): {active}");
    }
}

/// Two managers on one store whose clocks differ by two seconds, either way:
/// once one of them judged a session idle at login, the other (whose clock
/// still calls it active) neither accepts nor revives it.
pub async fn skewed_clocks_around_idle_boundary(store: Arc<dyn SessionStore>) {
    let skew = Duration::from_secs(2);
    for (max, mode) in combinations() {
        for ahead_logs_in in [true, false] {
            let start = SystemClock.now();
            let early = ManualClock::new(start);
            let late = ManualClock::new(start.plus(skew));
            let (judge_clock, user_clock) = if ahead_logs_in {
                (late, early)
            } else {
                (early, late)
            };
            let mode_strict = RevocationMode::Strict;
            let judge =
                Harness::with_mode(store.clone(), policy(max, mode), mode_strict, judge_clock);
            let other =
                Harness::with_mode(store.clone(), policy(max, mode), mode_strict, user_clock);
            let user = fresh_user();
            // Sessions made on the other instance; a second short of idle on
            // the earlier clock, a second past it on the later one.
            let old = logins(&other, &user, max).await;
            let advance = IDLE - Duration::from_secs(1);
            judge.clock.advance(advance);
            other.clock.advance(advance);
            let mut new = Vec::new();
            for _ in 0..max {
                match judge.manager.login(&user, &ctx()).await {
                    Ok(l) => new.push(l),
                    Err(SessionError::LimitReached(_)) if !ahead_logs_in => {}
                    Err(e) => panic!("limit {max} ({mode:?}): {e}"),
                }
            }
            let verdict = other.manager.authenticate(access(&old[0])).await;
            let at = judge.clock.now().max(other.clock.now());
            let active = active_in_store(&store, &user, at).await;
            assert!(
                active <= max as usize,
                "limit {max} ({mode:?}, judge ahead: {ahead_logs_in}): {active} active"
            );
            if ahead_logs_in {
                assert_eq!(new.len(), max as usize, "the old sessions were idle");
                assert!(
                    matches!(
                        verdict,
                        Err(SessionError::SessionEnded(Inactive::IdleTimeout))
                    ),
                    "limit {max} ({mode:?}): a lagging instance accepted a session judged idle"
                );
            }
            for l in &new {
                other.manager.authenticate(access(l)).await.unwrap();
            }
        }
    }
}

/// A login whose credential was checked before a password change is held
/// until the change has revoked everything: it must be refused.
pub async fn held_login_after_password_change(store: Arc<dyn SessionStore>) {
    for (max, mode) in combinations() {
        held_login_after_password_change_with(store.clone(), policy(max, mode)).await;
    }
}

async fn held_login_after_password_change_with(
    store: Arc<dyn SessionStore>,
    policy: SessionPolicy,
) {
    let held = HeldStore::new(store.clone());
    let h = Harness::new(held.clone(), policy);
    let user = fresh_user();
    let checked = h.clock.now();
    h.clock.advance(Duration::from_millis(5));
    let mut hold = held.hold_next(StoreCall::Create);
    let login = tokio::spawn({
        let (manager, user) = (h.manager.clone(), user.clone());
        async move { login_checked_at(&manager, &user, checked).await }
    });
    hold.arrived().await;
    h.manager
        .revoke_all(&user, RevokeReason::PasswordChange)
        .await
        .unwrap();
    let mark = store.not_before(&user).await.unwrap();
    assert_eq!(mark, Some(h.clock.now()), "the mark is the change's time");
    hold.release();
    assert!(
        matches!(login.await.unwrap(), Err(SessionError::CredentialsRevoked)),
        "a login checked before the password change completed after it"
    );
    assert_eq!(active_in_store(&store, &user, h.clock.now()).await, 0);
    // A credential checked at the very time of the change is stale too.
    assert!(matches!(
        login_checked_at(&h.manager, &user, h.clock.now()).await,
        Err(SessionError::CredentialsRevoked)
    ));
    // A login that starts after the change returned is checked after it,
    // even within the same millisecond (the clock has not moved).
    let fresh = h
        .manager
        .login(&user, &ctx())
        .await
        .expect("a login after the change is accepted");
    h.manager.authenticate(access(&fresh)).await.unwrap();
    h.manager
        .revoke(&user, &fresh.session.id, RevokeReason::Logout)
        .await
        .unwrap();
    // So is a credential checked a millisecond later, on any instance.
    let later = h.clock.now().plus(Duration::from_millis(1));
    login_checked_at(&h.manager, &user, later)
        .await
        .expect("a credential checked after the mark is accepted");
    // Revocations for other reasons set no mark.
    let other = fresh_user();
    h.manager
        .revoke_all(&other, RevokeReason::User)
        .await
        .unwrap();
    assert_eq!(store.not_before(&other).await.unwrap(), None);
}

async fn login_checked_at(
    manager: &crate::SessionManager,
    user: &UserId,
    checked: Timestamp,
) -> Result<LoginSuccess, SessionError> {
    let options = LoginOptions {
        credential_verified_at: Some(checked),
        ..LoginOptions::default()
    };
    manager.login_with(user, &ctx(), options).await
}

/// Logins racing a password-change `revoke_all`: none survives. Every login
/// checked its credential before the change; each either completes before
/// it and is revoked by it, or is refused by the mark.
pub async fn logins_racing_password_change(store: Arc<dyn SessionStore>) {
    const ROUNDS: usize = 3;
    const LOGINS: usize = 24;
    for (max, mode) in combinations() {
        for round in 0..ROUNDS {
            let h = Harness::new(store.clone(), policy(max, mode));
            let user = fresh_user();
            let checked = h.clock.now();
            h.clock.advance(Duration::from_millis(1));
            let attempts = (0..LOGINS).map(|_| {
                let (manager, user) = (h.manager.clone(), user.clone());
                tokio::spawn(async move { login_checked_at(&manager, &user, checked).await })
            });
            let change = {
                let (manager, user) = (h.manager.clone(), user.clone());
                tokio::spawn(async move {
                    tokio::task::yield_now().await;
                    manager
                        .revoke_all(&user, RevokeReason::PasswordChange)
                        .await
                })
            };
            let results = join_all(attempts).await;
            change.await.unwrap().unwrap();
            let mut survivors = 0;
            for result in results {
                match result.unwrap() {
                    Ok(l) => {
                        let alive = h.manager.authenticate(access(&l)).await.is_ok()
                            || h.manager.refresh(&l.tokens.refresh_token).await.is_ok();
                        survivors += usize::from(alive);
                    }
                    Err(SessionError::CredentialsRevoked | SessionError::LimitReached(_)) => {}
                    Err(e) => panic!("unexpected login error: {e}"),
                }
            }
            assert_eq!(
                survivors, 0,
                "round {round} ({mode:?}): logins survived the password change"
            );
            assert_eq!(active_in_store(&store, &user, h.clock.now()).await, 0);
        }
    }
}

/// Least-recently-used eviction with throttled activity: a browser used two
/// seconds ago is not evicted ahead of a session unused since its login,
/// whether or not its use was written.
pub async fn lru_counts_unrecorded_use(store: Arc<dyn SessionStore>) {
    let minute = Duration::from_secs(60);
    let p = SessionPolicy::builder()
        .max_sessions_per_user(2)
        .on_limit(OnLimit::EvictLeastRecentlyUsed)
        .touch_interval(minute)
        .build()
        .unwrap();
    for used_early in [false, true] {
        let h = Harness::new(store.clone(), p.clone());
        let user = fresh_user();
        let a = h.manager.login(&user, &ctx()).await.unwrap();
        if used_early {
            // A recorded use; the later one falls inside the touch interval.
            h.clock.advance(Duration::from_secs(5));
            h.manager.authenticate(access(&a)).await.unwrap();
            h.clock.advance(Duration::from_secs(25));
        } else {
            h.clock.advance(Duration::from_secs(30));
        }
        let b = h.manager.login(&user, &ctx()).await.unwrap();
        h.clock.advance(Duration::from_secs(28));
        h.manager.authenticate(access(&a)).await.unwrap();
        h.clock.advance(Duration::from_secs(2));
        let c = h.manager.login(&user, &ctx()).await.unwrap();
        assert_eq!(
            c.evicted,
            vec![b.session.id.clone()],
            "used early: {used_early}: the session used 2 s ago was evicted"
        );
        h.manager.authenticate(access(&a)).await.unwrap();
    }
}
