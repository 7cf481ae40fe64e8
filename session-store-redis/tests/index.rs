//! The two per-user indexes of the session hash (unrevoked `…:a`, revoked
//! `…:r`, scored by absolute end): every write keeps them covering the hash
//! exactly, and an index that no longer does is rebuilt before a limit is
//! checked, so a lost index key can never let a login past a limit.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{create, record, unlimited};
use sessionward_core::testing::fresh_user;
use sessionward_core::{
    CreateOutcome, CreateRequest, OnLimit, RevokeReason, SessionLimits, SessionStore, Timestamp,
    UserId,
};
use sessionward_redis::RedisStore;

const HOUR: Duration = Duration::from_secs(3600);

async fn raw() -> redis::aio::MultiplexedConnection {
    redis::Client::open(common::redis_url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

async fn index(conn: &mut redis::aio::MultiplexedConnection, key: &str) -> BTreeMap<String, i64> {
    let entries: Vec<(String, f64)> = redis::cmd("ZRANGE")
        .arg(key)
        .arg(0)
        .arg(-1)
        .arg("WITHSCORES")
        .query_async(conn)
        .await
        .unwrap();
    // Scores are unix milliseconds, exact in an f64.
    entries.into_iter().map(|(id, s)| (id, s as i64)).collect()
}

/// Every stored entry is in the index matching its state, scored by its
/// absolute end, and the indexes hold nothing else (a user's only entry may
/// be in no index).
async fn assert_indexes_cover_hash(store: &RedisStore, user: &UserId) {
    let keys = store.keys_for_user(user);
    let mut conn = raw().await;
    let (active, revoked) = (
        index(&mut conn, &keys[2]).await,
        index(&mut conn, &keys[3]).await,
    );
    let mut want_active = BTreeMap::new();
    let mut want_revoked = BTreeMap::new();
    for r in store.list(user).await.unwrap() {
        let want = if r.revoked.is_some() {
            &mut want_revoked
        } else {
            &mut want_active
        };
        want.insert(r.id.as_str().to_owned(), r.expires_at.unix_millis());
    }
    if want_active.len() + want_revoked.len() == 1 && active.is_empty() && revoked.is_empty() {
        // A user's only entry is left out until a second one arrives.
        return;
    }
    assert_eq!(active, want_active, "unrevoked index");
    assert_eq!(revoked, want_revoked, "revoked index");
}

fn limit_of(per_user: u32, on_limit: OnLimit) -> SessionLimits {
    SessionLimits {
        per_user: Some(per_user),
        on_limit,
        ..unlimited()
    }
}

async fn login(
    store: &RedisStore,
    user: &UserId,
    now: Timestamp,
    limits: SessionLimits,
) -> CreateOutcome {
    store
        .create(CreateRequest {
            session: record(user, now, false),
            limits,
            now,
            idle_cutoff: now.minus(Duration::from_secs(1800)),
            replaces: None,
            ends: Vec::new(),
            credential_verified_at: now,
            touch_interval: Duration::from_secs(60),
            keep_ended_for: std::time::Duration::ZERO,
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn every_write_keeps_the_indexes_covering_the_hash() {
    let Some(store) = common::store().await else {
        return;
    };
    let user = fresh_user();
    let t0 = Timestamp::from_unix_millis(1_767_225_600_000);

    let mut ids = Vec::new();
    for i in 0..4 {
        let at = t0.plus(Duration::from_secs(i));
        let r = record(&user, at, false);
        ids.push(r.id.clone());
        create(&store, r, at).await;
    }
    assert_indexes_cover_hash(&store, &user).await;

    // Eviction moves the victim to the revoked index.
    let at = t0.plus(Duration::from_secs(10));
    let out = login(&store, &user, at, limit_of(3, OnLimit::EvictOldest)).await;
    let CreateOutcome::Created { evicted, .. } = out else {
        panic!("{out:?}")
    };
    assert_eq!(evicted.len(), 2);
    assert_indexes_cover_hash(&store, &user).await;

    // Re-authentication revokes the replaced session in the same step.
    let replaced = ids[3].clone();
    store
        .create(CreateRequest {
            session: record(&user, at, false),
            limits: unlimited(),
            now: at,
            idle_cutoff: at.minus(Duration::from_secs(1800)),
            replaces: Some(replaced),
            ends: Vec::new(),
            credential_verified_at: at,
            touch_interval: Duration::from_secs(60),
            keep_ended_for: std::time::Duration::ZERO,
        })
        .await
        .unwrap();
    assert_indexes_cover_hash(&store, &user).await;

    // A login that finds sessions idle ends them, moving them to the revoked index.
    let idle_at = at.plus(Duration::from_secs(1801));
    let out = login(&store, &user, idle_at, limit_of(3, OnLimit::RejectNew)).await;
    assert!(matches!(out, CreateOutcome::Created { .. }), "{out:?}");
    assert_indexes_cover_hash(&store, &user).await;
    let ended = store.list(&user).await.unwrap();
    assert!(
        ended.iter().any(|r| r
            .revoked
            .is_some_and(|v| v.reason == RevokeReason::IdleTimeout)),
        "idle sessions were ended"
    );

    store
        .revoke(&user, &ids[2], RevokeReason::User, at)
        .await
        .unwrap();
    assert_indexes_cover_hash(&store, &user).await;

    let keep = store.list(&user).await.unwrap();
    let keep = keep
        .iter()
        .find(|r| r.revoked.is_none())
        .unwrap()
        .id
        .clone();
    store
        .revoke_all(&user, Some(&keep), RevokeReason::User, at)
        .await
        .unwrap();
    assert_indexes_cover_hash(&store, &user).await;

    // Past every entry's end: a purge leaves nothing in either index.
    let later = t0.plus(13 * HOUR);
    create(&store, record(&user, later, false), later).await;
    assert_eq!(
        store.list(&user).await.unwrap().len(),
        1,
        "ended entries dropped"
    );
    assert_indexes_cover_hash(&store, &user).await;
    store.purge_expired(later.plus(13 * HOUR)).await.unwrap();
    assert!(store.list(&user).await.unwrap().is_empty());
    assert_indexes_cover_hash(&store, &user).await;
}

#[tokio::test]
async fn a_lost_index_is_rebuilt_before_a_limit_is_checked() {
    let Some(store) = common::store().await else {
        return;
    };
    let user = fresh_user();
    let now = sessionward_core::Clock::now(&sessionward_core::SystemClock);
    for _ in 0..3 {
        create(&store, record(&user, now, false), now).await;
    }
    store
        .revoke_all(&user, None, RevokeReason::User, now)
        .await
        .unwrap();
    for _ in 0..3 {
        create(&store, record(&user, now, false), now).await;
    }
    let keys = store.keys_for_user(&user);
    let mut conn = raw().await;

    // Only the unrevoked index lost (as an eviction policy could do): the
    // three live sessions still count.
    let _: i64 = redis::cmd("DEL")
        .arg(&keys[2])
        .query_async(&mut conn)
        .await
        .unwrap();
    let out = login(&store, &user, now, limit_of(3, OnLimit::RejectNew)).await;
    let CreateOutcome::LimitReached { active, .. } = out else {
        panic!("a limit of 3 let a 4th session in: {out:?}")
    };
    assert_eq!(active.len(), 3);
    assert_indexes_cover_hash(&store, &user).await;

    // Both lost: revoke-all still ends every live session.
    let _: i64 = redis::cmd("DEL")
        .arg(&keys[2])
        .arg(&keys[3])
        .query_async(&mut conn)
        .await
        .unwrap();
    let ended = store
        .revoke_all(&user, None, RevokeReason::User, now)
        .await
        .unwrap();
    assert_eq!(ended.len(), 3);
    assert!(
        store
            .list(&user)
            .await
            .unwrap()
            .iter()
            .all(|r| r.revoked.is_some())
    );
    assert_indexes_cover_hash(&store, &user).await;
}

#[tokio::test]
async fn the_indexes_expire_with_the_hash() {
    let Some(store) = common::store().await else {
        return;
    };
    let user = fresh_user();
    let now = sessionward_core::Clock::now(&sessionward_core::SystemClock);
    let first = record(&user, now, false);
    let first_id = first.id.clone();
    create(&store, first, now).await;
    create(&store, record(&user, now, false), now).await;
    // The revoked index is created after the hash's TTL was set.
    store
        .revoke(&user, &first_id, RevokeReason::User, now)
        .await
        .unwrap();
    let keys = store.keys_for_user(&user);
    let mut conn = raw().await;
    let mut ttls = Vec::new();
    for key in [&keys[0], &keys[2], &keys[3]] {
        let ttl: i64 = redis::cmd("PTTL")
            .arg(key)
            .query_async(&mut conn)
            .await
            .unwrap();
        ttls.push(ttl);
    }
    let hash_ttl = ttls[0];
    assert!(hash_ttl > 11 * 3600 * 1000, "{ttls:?}");
    for ttl in &ttls[1..] {
        assert!((hash_ttl - ttl).abs() < 5_000, "{ttls:?}");
    }
}

#[tokio::test]
async fn a_single_session_costs_one_key_until_a_second_arrives() {
    let Some(store) = common::store().await else {
        return;
    };
    let user = fresh_user();
    let now = sessionward_core::Clock::now(&sessionward_core::SystemClock);
    let keys = store.keys_for_user(&user);
    let mut conn = raw().await;
    let exists = async |conn: &mut redis::aio::MultiplexedConnection, key: &str| -> bool {
        redis::cmd("EXISTS")
            .arg(key)
            .query_async::<i64>(conn)
            .await
            .unwrap()
            == 1
    };
    create(&store, record(&user, now, false), now).await;
    assert!(exists(&mut conn, &keys[0]).await);
    assert!(
        !exists(&mut conn, &keys[2]).await,
        "no index for one session"
    );
    // A limit of 1 still sees that session.
    let out = login(&store, &user, now, limit_of(1, OnLimit::RejectNew)).await;
    assert!(matches!(out, CreateOutcome::LimitReached { ref active, .. } if active.len() == 1));
    create(&store, record(&user, now, false), now).await;
    assert_eq!(index(&mut conn, &keys[2]).await.len(), 2);
    assert_indexes_cover_hash(&store, &user).await;
}

#[tokio::test]
async fn an_index_left_behind_by_a_lost_hash_is_dropped() {
    let Some(store) = common::store().await else {
        return;
    };
    let user = fresh_user();
    let now = sessionward_core::Clock::now(&sessionward_core::SystemClock);
    let first = record(&user, now, false);
    let first_id = first.id.clone();
    create(&store, first, now).await;
    create(&store, record(&user, now, false), now).await;
    // The hash is lost (as an eviction policy could do) while one index
    // entry survives: the counts of a later one-entry hash would match it.
    let keys = store.keys_for_user(&user);
    let mut conn = raw().await;
    let _: i64 = redis::cmd("DEL")
        .arg(&keys[0])
        .query_async(&mut conn)
        .await
        .unwrap();
    let _: i64 = redis::cmd("ZREM")
        .arg(&keys[2])
        .arg(first_id.as_str())
        .query_async(&mut conn)
        .await
        .unwrap();
    let out = login(&store, &user, now, limit_of(1, OnLimit::RejectNew)).await;
    assert!(matches!(out, CreateOutcome::Created { .. }), "{out:?}");
    let out = login(&store, &user, now, limit_of(1, OnLimit::RejectNew)).await;
    assert!(
        matches!(out, CreateOutcome::LimitReached { ref active, .. } if active.len() == 1),
        "a limit of 1 let a 2nd session in: {out:?}"
    );
    assert_indexes_cover_hash(&store, &user).await;
}
