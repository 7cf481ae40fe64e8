//! The session directory's cross-user index on a standalone server: built
//! once for hashes written without it, walked past entries whose session
//! is gone (and dropping them), emptied of a user by an erasure and of
//! ended sessions by a purge. Each test has its own key prefix, so its own
//! index.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{create, record, redis_url, run_prefix, test_config};
use sessionward_core::directory::{SessionFilter, SessionPage, SessionQuery};
use sessionward_core::testing::service_unavailable;
use sessionward_core::{SessionId, SessionStore, Timestamp, UserId};
use sessionward_redis::RedisStore;

async fn store(test: &str) -> Option<RedisStore> {
    let url = redis_url();
    let prefix = format!("{}{test}:", run_prefix());
    match RedisStore::connect(&url, test_config().with_key_prefix(prefix)).await {
        Ok(store) => {
            // Built while empty, as on a new deployment: from here on only
            // creates fill the index.
            assert_eq!(store.build_directory_index().await.unwrap(), 0);
            Some(store)
        }
        Err(e) => service_unavailable("Redis", &url, e),
    }
}

async fn raw() -> redis::aio::MultiplexedConnection {
    redis::Client::open(redis_url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

async fn index_entries(store: &RedisStore) -> Vec<String> {
    redis::cmd("ZRANGE")
        .arg(format!("{}directory", store.key_prefix()))
        .arg(0)
        .arg(-1)
        .query_async(&mut raw().await)
        .await
        .unwrap()
}

/// `n` users with one session each, created a millisecond apart (the
/// first oldest); returns the users and the session ids in that order.
async fn seed(store: &RedisStore, n: usize, base: Timestamp) -> (Vec<UserId>, Vec<SessionId>) {
    let mut users = Vec::new();
    let mut ids = Vec::new();
    for i in 0..n {
        let user = UserId::new(format!("user-{i:03}")).unwrap();
        let at = base.plus(Duration::from_millis(i as u64));
        let r = record(&user, at, false);
        ids.push(r.id.clone());
        create(store, r, at).await;
        users.push(user);
    }
    assert_eq!(
        index_entries(store).await.len(),
        n,
        "each create indexes its session"
    );
    (users, ids)
}

/// Deletes the session hashes of `users`, as their TTL would.
async fn expire_hashes(store: &RedisStore, users: &[UserId]) {
    let mut del = redis::cmd("DEL");
    for user in users {
        del.arg(&store.keys_for_user(user)[0]);
    }
    let _: () = del.query_async(&mut raw().await).await.unwrap();
}

fn first_page(limit: usize, now: Timestamp) -> SessionQuery {
    SessionQuery::new(
        SessionFilter::default(),
        now,
        now.minus(Duration::from_secs(1800)),
    )
    .limit(limit)
}

async fn find(store: &RedisStore, query: &SessionQuery) -> SessionPage {
    store.directory().unwrap().find(query).await.unwrap()
}

/// Every session matching `query`, page by page.
async fn walk(store: &RedisStore, mut query: SessionQuery) -> Vec<SessionId> {
    let mut seen = Vec::new();
    loop {
        let page = find(store, &query).await;
        seen.extend(page.sessions.iter().map(|r| r.id.clone()));
        match page.next {
            Some(next) => query = query.after(Some(next)),
            None => return seen,
        }
    }
}

#[tokio::test]
async fn the_first_query_builds_the_index_for_sessions_written_without_it() {
    let Some(store) = store("build").await else {
        return;
    };
    let base = Timestamp::from_unix_millis(1_767_225_600_000);
    let (_, ids) = seed(&store, 30, base).await;
    // As an earlier release left them: hashes, no index, no mark.
    let prefix = store.key_prefix().to_owned();
    let _: () = redis::cmd("DEL")
        .arg(format!("{prefix}directory"))
        .arg(format!("{prefix}directory:built"))
        .query_async(&mut raw().await)
        .await
        .unwrap();
    let upgraded = store_again(&prefix).await;
    let newest_first: Vec<SessionId> = ids.iter().rev().cloned().collect();
    let now = base.plus(Duration::from_secs(1));
    assert_eq!(walk(&upgraded, first_page(7, now)).await, newest_first);
    assert_eq!(index_entries(&upgraded).await.len(), 30);
    // Built once: a second build adds nothing, and says so.
    assert_eq!(upgraded.build_directory_index().await.unwrap(), 0);
}

async fn store_again(prefix: &str) -> RedisStore {
    RedisStore::connect(
        &redis_url(),
        test_config().with_key_prefix(prefix.to_owned()),
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn pages_go_past_entries_whose_session_is_gone_and_drop_them() {
    let Some(store) = store("gone").await else {
        return;
    };
    let base = Timestamp::from_unix_millis(1_767_225_600_000);
    let (users, ids) = seed(&store, 60, base).await;
    // The 50 newest hashes expire (whole keys gone, entries left behind):
    // more than a first read of a 5-session page takes.
    expire_hashes(&store, &users[10..]).await;
    let now = base.plus(Duration::from_secs(1));
    let page = find(&store, &first_page(5, now)).await;
    let want: Vec<SessionId> = ids[5..10].iter().rev().cloned().collect();
    assert_eq!(
        page.sessions
            .iter()
            .map(|r| r.id.clone())
            .collect::<Vec<_>>(),
        want
    );
    assert!(page.next.is_some());
    let all: Vec<SessionId> = ids[..10].iter().rev().cloned().collect();
    assert_eq!(walk(&store, first_page(4, now)).await, all);
    // The entries met without a session are gone; the live ones stay.
    assert_eq!(index_entries(&store).await.len(), 10);
}

#[tokio::test]
async fn an_entry_is_never_dropped_while_its_session_is_stored() {
    let Some(store) = store("kept").await else {
        return;
    };
    let base = Timestamp::from_unix_millis(1_767_225_600_000);
    let (_, ids) = seed(&store, 3, base).await;
    // A purge walks every entry; all three sessions are live.
    store.purge_expired(base).await.unwrap();
    assert_eq!(index_entries(&store).await.len(), 3);
    let now = base.plus(Duration::from_secs(1));
    assert_eq!(walk(&store, first_page(2, now)).await.len(), ids.len());
}

#[tokio::test]
async fn erasing_a_user_drops_every_entry_naming_them() {
    let Some(store) = store("erase").await else {
        return;
    };
    let base = Timestamp::from_unix_millis(1_767_225_600_000);
    let (users, _) = seed(&store, 4, base).await;
    let erased = &users[2];
    for i in 0..3u64 {
        let at = base.plus(Duration::from_millis(100 + i));
        create(&store, record(erased, at, false), at).await;
    }
    assert_eq!(store.erase_user(erased).await.unwrap(), 4);
    let entries = index_entries(&store).await;
    assert_eq!(entries.len(), 3);
    assert!(
        !entries.iter().any(|e| e.contains(erased.as_str())),
        "{entries:?}"
    );
}

/// Sessions dropped from the hash past their end (by a later login of the
/// user) take their entries with them, so an erasure afterwards leaves
/// none naming the user; a purge does the same for other users.
#[tokio::test]
async fn dropping_ended_sessions_drops_their_entries() {
    let Some(store) = store("dropped").await else {
        return;
    };
    let base = Timestamp::from_unix_millis(1_767_225_600_000);
    let (users, _) = seed(&store, 2, base).await;
    let user = &users[1];
    let second = base.plus(Duration::from_millis(5));
    create(&store, record(user, second, false), second).await;
    // Sessions end 12 h after their start; a login a day later drops the
    // user's two (nothing is kept after the end) and adds its own entry.
    let later = base.plus(Duration::from_secs(24 * 3600));
    let fresh = record(user, later, false);
    let fresh_id = fresh.id.clone();
    create(&store, fresh, later).await;
    let entries = index_entries(&store).await;
    assert_eq!(entries.len(), 2, "{entries:?}");
    assert!(entries.iter().any(|e| e.ends_with(fresh_id.as_str())));
    assert_eq!(store.erase_user(user).await.unwrap(), 1);
    let entries = index_entries(&store).await;
    assert!(
        !entries.iter().any(|e| e.contains(user.as_str())),
        "{entries:?}"
    );
    // A purge past the first user's end drops its session and its entry.
    store.purge_expired(later).await.unwrap();
    assert!(index_entries(&store).await.is_empty());
}

/// Sessions of a hash written by a release without owner keys (0.1.0):
/// no build can name their user; the user's next login lists them all.
#[tokio::test]
async fn a_login_lists_the_sessions_an_earlier_release_left_unattributed() {
    let Some(store) = store("owner").await else {
        return;
    };
    let base = Timestamp::from_unix_millis(1_767_225_600_000);
    let (users, ids) = seed(&store, 2, base).await;
    let old = &users[1];
    for i in 1..=2u64 {
        let at = base.plus(Duration::from_millis(10 * i));
        create(&store, record(old, at, false), at).await;
    }
    let old_ids: Vec<SessionId> = store
        .list(old)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    // As 0.1.0 left them: no owner key, so no entries (and none built).
    let prefix = store.key_prefix().to_owned();
    let owner = store.keys_for_user(old).pop().unwrap();
    assert!(owner.ends_with(":u"));
    let _: () = redis::cmd("DEL")
        .arg(&owner)
        .arg(format!("{prefix}directory"))
        .arg(format!("{prefix}directory:built"))
        .query_async(&mut raw().await)
        .await
        .unwrap();
    let upgraded = store_again(&prefix).await;
    let now = base.plus(Duration::from_secs(1));
    let shown = walk(&upgraded, first_page(10, now)).await;
    assert_eq!(shown, [ids[0].clone()], "only the attributable session");
    // The user's next login lists the three earlier sessions with its own.
    let at = base.plus(Duration::from_millis(500));
    let login = record(old, at, false);
    let new_id = login.id.clone();
    create(&upgraded, login, at).await;
    let shown: std::collections::HashSet<SessionId> = walk(&upgraded, first_page(2, now))
        .await
        .into_iter()
        .collect();
    let mut want: std::collections::HashSet<SessionId> = old_ids.into_iter().collect();
    want.extend([ids[0].clone(), new_id]);
    assert_eq!(shown, want);
    assert_eq!(index_entries(&upgraded).await.len(), 5);
}

#[tokio::test]
async fn queries_scan_while_another_instance_builds_the_index() {
    let Some(store) = store("lease").await else {
        return;
    };
    let base = Timestamp::from_unix_millis(1_767_225_600_000);
    let (_, ids) = seed(&store, 5, base).await;
    let prefix = store.key_prefix().to_owned();
    let _: () = redis::cmd("DEL")
        .arg(format!("{prefix}directory"))
        .arg(format!("{prefix}directory:built"))
        .query_async(&mut raw().await)
        .await
        .unwrap();
    let _: () = redis::cmd("SET")
        .arg(format!("{prefix}directory:building"))
        .arg(1)
        .arg("PX")
        .arg(60_000)
        .query_async(&mut raw().await)
        .await
        .unwrap();
    let other = store_again(&prefix).await;
    let now = base.plus(Duration::from_secs(1));
    let newest_first: Vec<SessionId> = ids.iter().rev().cloned().collect();
    assert_eq!(walk(&other, first_page(2, now)).await, newest_first);
    assert!(
        index_entries(&other).await.is_empty(),
        "left to the builder"
    );
}

#[tokio::test]
async fn a_purge_drops_the_entries_of_sessions_gone() {
    let Some(store) = store("purge").await else {
        return;
    };
    let base = Timestamp::from_unix_millis(1_767_225_600_000);
    let (users, _) = seed(&store, 12, base).await;
    expire_hashes(&store, &users[..8]).await;
    store.purge_expired(base).await.unwrap();
    assert_eq!(index_entries(&store).await.len(), 4);
}

#[tokio::test]
async fn a_cluster_keeps_no_index_and_says_so() {
    let Some(cluster) = common::start_cluster() else {
        return;
    };
    let store = RedisStore::connect_cluster([cluster.url()], test_config())
        .await
        .unwrap();
    assert!(store.build_directory_index().await.is_err());
    // Its queries still answer, by scanning.
    let base = Timestamp::from_unix_millis(1_767_225_600_000);
    let store: Arc<dyn SessionStore> = Arc::new(store);
    let user = UserId::new("clustered").unwrap();
    let r = record(&user, base, false);
    let id = r.id.clone();
    create(store.as_ref(), r, base).await;
    let query = first_page(10, base.plus(Duration::from_secs(1)));
    let page = store.directory().unwrap().find(&query).await.unwrap();
    assert_eq!(
        page.sessions
            .iter()
            .map(|r| r.id.clone())
            .collect::<Vec<_>>(),
        [id]
    );
}
