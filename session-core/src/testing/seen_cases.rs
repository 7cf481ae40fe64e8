//! Conformance cases for where a session was last used, the "Signed out"
//! list, and erasure.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use super::harness::{Harness, fresh_user};
use crate::ids::UserId;
use crate::policy::SessionPolicy;
use crate::record::{RequestContext, RevokeReason};
use crate::seen::{MAX_RECENT_PLACES, SeenFrom, SeenUpdate};
use crate::store::{RotateOutcome, RotateRequest, SessionStore, TouchRequest};
use crate::time::{Clock, Timestamp};

/// A request from `ip` in `city` (Sweden when the city is Swedish, else GB).
fn from(ip: &str, city: &str) -> RequestContext {
    let country = if matches!(city, "Linköping" | "Stockholm") {
        "SE"
    } else {
        "GB"
    };
    RequestContext::new()
        .with_ip(ip.parse().unwrap())
        .with_user_agent(format!("test/desktop/{country}/{city}"))
}

/// The default policy with access tokens that outlive a test's clock jumps.
fn long_tokens() -> SessionPolicy {
    SessionPolicy::builder()
        .access_token_ttl(Duration::from_secs(3600))
        .build()
        .unwrap()
}

/// A request from `ip` in `city` once the next activity write is due.
async fn used_from(h: &Harness, token: &str, ip: &str, city: &str) {
    h.clock.advance(h.manager.policy().touch_interval());
    h.manager
        .authenticate_with(token, &from(ip, city))
        .await
        .unwrap();
}

fn city(seen: &SeenFrom) -> &str {
    seen.location.city.as_deref().unwrap_or("?")
}

fn cities(seen: &[SeenFrom]) -> Vec<&str> {
    seen.iter().map(city).collect()
}

/// A refresh and the throttled touch of a request record where the session
/// was used, in the store's one write, and keep the recent places newest
/// first; the session list shows the login place and the last-seen place
/// apart.
pub async fn last_seen_is_recorded_by_touch_and_refresh(store: Arc<dyn SessionStore>) {
    let h = Harness::new(store.clone(), SessionPolicy::default());
    let user = fresh_user();
    let login = h
        .manager
        .login(&user, &from("81.2.69.142", "London"))
        .await
        .unwrap();
    let id = login.session.id.clone();
    let stored = || async { store.get(&user, &id).await.unwrap().unwrap() };
    assert_eq!(
        stored().await.seen,
        Default::default(),
        "nothing after login"
    );

    let token = login.tokens.access_token.expose_secret();
    used_from(&h, token, "89.160.20.112", "Linköping").await;
    let after_touch = stored().await;
    let last = after_touch
        .seen
        .last
        .clone()
        .expect("the touch recorded it");
    assert_eq!(last.at, h.clock.now());
    assert_eq!(last.ip, Some("89.160.20.112".parse().unwrap()));
    assert_eq!(city(&last), "Linköping");
    assert_eq!(after_touch.last_seen_at, h.clock.now(), "same write");
    assert_eq!(cities(&after_touch.seen.places), ["Linköping"]);

    h.clock.advance(Duration::from_secs(2));
    let refreshed = h
        .manager
        .refresh_with(
            &login.tokens.refresh_token,
            &from("2.125.160.216", "Boxford"),
        )
        .await
        .unwrap();
    let after_refresh = stored().await;
    assert_eq!(after_refresh, refreshed.session, "the rotation returns it");
    assert_eq!(city(after_refresh.seen.last.as_ref().unwrap()), "Boxford");
    assert_eq!(
        cities(&after_refresh.seen.places),
        ["Linköping"],
        "a refresh leaves the places to the next touch"
    );

    let token = refreshed.tokens.access_token.expose_secret();
    used_from(&h, token, "81.2.69.160", "London").await;
    let after = stored().await;
    assert_eq!(
        cities(&after.seen.places),
        ["London", "Boxford", "Linköping"],
        "newest first, the refresh's place folded in"
    );

    let views = h.manager.list(&user, Some(&id)).await.unwrap();
    let view = &views[0];
    assert_eq!(view.place, "London, GB", "the login place");
    assert_eq!(view.last_seen.as_ref().unwrap().place, "London, GB");
    let view_cities: Vec<_> = view
        .places
        .iter()
        .map(|p| p.location.city.clone().unwrap())
        .collect();
    // The login (London, 81.2.69.0/24) is the same place as the latest use.
    assert_eq!(view_cities, ["London", "Boxford", "Linköping"]);
    assert_eq!(view.places[0].ip.as_deref(), Some("81.2.69.160"));
}

/// Uses from more distinct places than the bound keep only the newest
/// [`MAX_RECENT_PLACES`]; a place seen again moves to the front, once.
pub async fn recent_places_are_bounded(store: Arc<dyn SessionStore>) {
    let h = Harness::new(store.clone(), long_tokens());
    let user = fresh_user();
    let login = h
        .manager
        .login(&user, &from("81.2.69.142", "London"))
        .await
        .unwrap();
    let token = login.tokens.access_token.expose_secret();
    for i in 0..(MAX_RECENT_PLACES + 4) {
        used_from(
            &h,
            token,
            &format!("81.2.{}.7", 100 + i),
            &format!("Town {i}"),
        )
        .await;
    }
    let stored = store.get(&user, &login.session.id).await.unwrap().unwrap();
    assert_eq!(stored.seen.places.len(), MAX_RECENT_PLACES);
    let newest = format!("Town {}", MAX_RECENT_PLACES + 3);
    assert_eq!(city(&stored.seen.places[0]), newest);
    let again = format!("Town {}", MAX_RECENT_PLACES);
    used_from(
        &h,
        token,
        &format!("81.2.{}.9", 100 + MAX_RECENT_PLACES),
        &again,
    )
    .await;
    let stored = store.get(&user, &login.session.id).await.unwrap().unwrap();
    assert_eq!(stored.seen.places.len(), MAX_RECENT_PLACES);
    assert_eq!(city(&stored.seen.places[0]), again);
    assert_eq!(
        stored
            .seen
            .places
            .iter()
            .filter(|p| city(p) == again)
            .count(),
        1
    );
    let view = &h.manager.list(&user, None).await.unwrap()[0];
    assert!(view.places.len() <= MAX_RECENT_PLACES);
}

/// The store's own conditions: a touch writes the last-seen place with its
/// activity time; it replaces the places only while the stored activity is
/// the one they were merged from (a write merged from an older read keeps
/// the places a later read wrote); a rotation writes the last-seen place
/// only when it moves the activity time forward.
pub async fn seen_writes_are_conditional(store: Arc<dyn SessionStore>) {
    let h = Harness::new(store.clone(), SessionPolicy::default());
    let user = fresh_user();
    let login = h
        .manager
        .login(&user, &RequestContext::new())
        .await
        .unwrap();
    let id = login.session.id.clone();
    let t0 = login.session.last_seen_at;
    let seen = |at: Timestamp, place: &str| SeenFrom {
        at,
        ip: Some("81.2.69.142".parse().unwrap()),
        location: crate::record::Location {
            city: Some(place.to_owned()),
            ..Default::default()
        },
        device: Default::default(),
        anomalies: Vec::new(),
    };
    let touch = |at: Timestamp, read: Timestamp, place: &str, places: Vec<SeenFrom>| TouchRequest {
        user: user.clone(),
        id: id.clone(),
        at,
        idle_cutoff: Timestamp::EPOCH,
        seen: Some(SeenUpdate {
            last: seen(at, place),
            places,
            read_last_seen_at: read,
        }),
    };
    let t1 = t0.plus(Duration::from_secs(60));
    assert!(
        store
            .touch(touch(t1, t0, "A", vec![seen(t1, "A")]))
            .await
            .unwrap()
    );
    let t2 = t1.plus(Duration::from_secs(60));
    // Merged from the read at t0, which t1's write has superseded.
    assert!(
        store
            .touch(touch(t2, t0, "B", vec![seen(t2, "B")]))
            .await
            .unwrap()
    );
    let r = store.get(&user, &id).await.unwrap().unwrap();
    assert_eq!(r.last_seen_at, t2);
    assert_eq!(
        city(r.seen.last.as_ref().unwrap()),
        "B",
        "last always written"
    );
    assert_eq!(cities(&r.seen.places), ["A"], "stale places not written");
    // An older touch writes nothing at all.
    assert!(
        !store
            .touch(touch(t1, t2, "C", vec![seen(t1, "C")]))
            .await
            .unwrap()
    );
    let r = store.get(&user, &id).await.unwrap().unwrap();
    assert_eq!(city(r.seen.last.as_ref().unwrap()), "B");
    // A touch without a context leaves the seen log alone.
    let t3 = t2.plus(Duration::from_secs(60));
    let mut plain = touch(t3, t2, "D", Vec::new());
    plain.seen = None;
    assert!(store.touch(plain).await.unwrap());
    let r = store.get(&user, &id).await.unwrap().unwrap();
    assert_eq!(r.last_seen_at, t3);
    assert_eq!(city(r.seen.last.as_ref().unwrap()), "B");
    assert_eq!(cities(&r.seen.places), ["A"]);

    let rotate = |now: Timestamp, place: &str, hash, generation| RotateRequest {
        user: user.clone(),
        id: id.clone(),
        expected_generation: generation,
        expected_hash: hash,
        new_hash: crate::secret::TokenHash::of(place.as_bytes()),
        now,
        idle_cutoff: Timestamp::EPOCH,
        seen: Some(seen(now, place)),
    };
    let rotated = |request: RotateRequest| async {
        match store.rotate_refresh(request).await.unwrap() {
            RotateOutcome::Rotated(r) => r,
            other => panic!("rotation expected, got {other:?}"),
        }
    };
    // A rotation at an earlier time than the recorded activity rotates but
    // does not move the last-seen place back.
    let r = rotated(rotate(t2, "E", r.refresh.hash, 0)).await;
    assert_eq!(r.last_seen_at, t3);
    assert_eq!(city(r.seen.last.as_ref().unwrap()), "B");
    let t4 = t3.plus(Duration::from_secs(1));
    let r = rotated(rotate(t4, "F", r.refresh.hash, 1)).await;
    assert_eq!(r.last_seen_at, t4);
    assert_eq!(city(r.seen.last.as_ref().unwrap()), "F");
    assert_eq!(cities(&r.seen.places), ["A"], "a rotation keeps the places");
    assert_eq!(store.get(&user, &id).await.unwrap().unwrap(), r);
}

/// The overview lists ended sessions (revoked, idle) with how they ended,
/// most recent first, for the history retention and no longer; the active
/// list puts the caller's own session first.
pub async fn overview_lists_signed_out_sessions(store: Arc<dyn SessionStore>) {
    let policy = SessionPolicy::builder()
        .unlimited_sessions_per_user()
        .idle_timeout(Duration::from_secs(1800))
        .access_token_ttl(Duration::from_secs(3600))
        .history_retention(Duration::from_secs(7 * 86_400))
        .build()
        .unwrap();
    let h = Harness::new(store.clone(), policy);
    let user = fresh_user();
    let ctx = RequestContext::new();
    let idle = h.manager.login(&user, &ctx).await.unwrap();
    h.clock.advance(Duration::from_secs(10));
    let ended = h.manager.login(&user, &ctx).await.unwrap();
    let mine = h.manager.login(&user, &ctx).await.unwrap();
    let other = h.manager.login(&user, &ctx).await.unwrap();
    h.clock.advance(Duration::from_secs(1000));
    for l in [&mine, &other] {
        h.manager
            .authenticate(l.tokens.access_token.expose_secret())
            .await
            .unwrap();
    }
    h.clock.advance(Duration::from_secs(5));
    h.manager
        .authenticate(other.tokens.access_token.expose_secret())
        .await
        .unwrap();
    h.manager
        .revoke(&user, &ended.session.id, RevokeReason::User)
        .await
        .unwrap();
    let revoked_at = h.clock.now();
    h.clock.advance(Duration::from_secs(900)); // `idle` is now past 1800 s
    let o = h
        .manager
        .overview(&user, Some(&mine.session.id))
        .await
        .unwrap();
    let active: Vec<_> = o.sessions.iter().map(|s| s.id.clone()).collect();
    assert_eq!(active, [mine.session.id.clone(), other.session.id.clone()]);
    assert!(o.sessions[0].current);
    let gone: Vec<_> = o
        .ended
        .iter()
        .map(|e| (e.session.id.clone(), e.ended_reason))
        .collect();
    assert_eq!(
        gone,
        [
            (idle.session.id.clone(), "idle_timeout"),
            (ended.session.id.clone(), "user"),
        ],
        "most recently ended first"
    );
    assert_eq!(
        o.ended[0].ended_at,
        idle.session.created_at.plus(Duration::from_secs(1800))
    );
    assert_eq!(o.ended[1].ended_at, revoked_at);
    assert_eq!(
        o.ended[1].ended_text,
        "Signed out by you from another device"
    );
    h.clock.advance(Duration::from_secs(7 * 86_400));
    let o = h.manager.overview(&user, None).await.unwrap();
    assert!(
        o.ended.iter().all(|e| e.session.id != ended.session.id),
        "past the retention, an ended session is no longer listed"
    );
}

/// Erasing a user deletes every session and tombstone, ends the tokens,
/// keeps the "not before" mark (a login checked before the erasure stays
/// refused after it), and leaves other users alone.
pub async fn erase_user_removes_everything(store: Arc<dyn SessionStore>) {
    let h = Harness::new(store.clone(), SessionPolicy::default());
    let user = fresh_user();
    let bystander: UserId = fresh_user();
    let ctx = RequestContext::new();
    let a = h.manager.login(&user, &ctx).await.unwrap();
    let b = h.manager.login(&user, &ctx).await.unwrap();
    let kept = h.manager.login(&bystander, &ctx).await.unwrap();
    h.manager
        .revoke(&user, &b.session.id, RevokeReason::User)
        .await
        .unwrap();
    h.clock.advance(Duration::from_millis(5));
    h.manager
        .revoke_all(&bystander, RevokeReason::PasswordChange)
        .await
        .unwrap();
    let kept2 = h.manager.login(&bystander, &ctx).await.unwrap();
    h.manager
        .revoke_all(&user, RevokeReason::PasswordChange)
        .await
        .unwrap();
    assert!(store.not_before(&user).await.unwrap().is_some());
    h.clock.advance(Duration::from_millis(5));
    let c = h.manager.login(&user, &ctx).await.unwrap();
    let export = h.manager.export_user(&user).await.unwrap();
    assert_eq!(export.sessions.len(), 3);
    assert!(export.not_before.is_some());
    let json = serde_json::to_string(&export).unwrap();
    for l in [&a, &b, &c] {
        let secret = l.tokens.refresh_token.expose_secret();
        let tail = secret.rsplit('.').next().unwrap();
        assert!(!json.contains(tail), "no refresh secret in the export");
        assert!(!json.contains(&l.session.refresh.hash.to_hex()));
    }

    let erased = h.manager.erase_user(&user).await.unwrap();
    assert_eq!(erased, 3);
    assert!(store.list(&user).await.unwrap().is_empty());
    let mark = store.not_before(&user).await.unwrap();
    assert!(
        mark.is_some_and(|m| m >= c.session.created_at),
        "the erasure's mark stays"
    );
    let late = crate::LoginOptions {
        credential_verified_at: Some(c.session.created_at),
        ..Default::default()
    };
    assert!(
        matches!(
            h.manager.login_with(&user, &ctx, late).await,
            Err(crate::SessionError::CredentialsRevoked)
        ),
        "a login checked before the erasure is refused after it"
    );
    assert!(
        h.manager
            .authenticate(c.tokens.access_token.expose_secret())
            .await
            .is_err()
    );
    assert!(h.manager.refresh(&c.tokens.refresh_token).await.is_err());
    assert_eq!(store.erase_user(&user).await.unwrap(), 0, "idempotent");
    let left = store.list(&bystander).await.unwrap();
    assert_eq!(left.len(), 2, "the other user's sessions stay");
    assert!(left.iter().any(|r| r.id == kept.session.id));
    assert!(
        h.manager
            .authenticate(kept2.tokens.access_token.expose_secret())
            .await
            .is_ok()
    );
    assert!(store.not_before(&bystander).await.unwrap().is_some());
}

/// A session past its absolute end stays listed as signed out for the
/// history retention, also when later logins run the store's own clean-up
/// (Redis drops ended entries while admitting), and no longer.
pub async fn ended_sessions_are_kept_for_the_retention(store: Arc<dyn SessionStore>) {
    let policy = SessionPolicy::builder()
        .max_sessions_per_user(3)
        .absolute_lifetime(Duration::from_secs(3600))
        .idle_timeout(Duration::from_secs(1800))
        .history_retention(Duration::from_secs(86_400))
        .build()
        .unwrap();
    let h = Harness::new(store.clone(), policy);
    let user = fresh_user();
    let ctx = RequestContext::new();
    let old = h.manager.login(&user, &ctx).await.unwrap();
    h.clock.advance(Duration::from_secs(3601));
    h.manager.login(&user, &ctx).await.unwrap();
    let o = h.manager.overview(&user, None).await.unwrap();
    let listed: Vec<_> = o
        .ended
        .iter()
        .map(|e| (e.session.id.clone(), e.ended_reason))
        .collect();
    assert!(
        listed.contains(&(old.session.id.clone(), "absolute_timeout")),
        "{listed:?}"
    );
    h.clock.advance(Duration::from_secs(86_400));
    h.manager.login(&user, &ctx).await.unwrap();
    h.manager.purge_expired().await.unwrap();
    let o = h.manager.overview(&user, None).await.unwrap();
    assert!(o.ended.iter().all(|e| e.session.id != old.session.id));
    assert!(store.get(&user, &old.session.id).await.unwrap().is_none());
}
