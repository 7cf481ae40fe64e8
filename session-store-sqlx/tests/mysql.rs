//! MySQL / MariaDB: conformance suite, migrations, restart, outages.
//!
//! URL from `SESSIONWARD_MYSQL_URL` (default `mysql://root@127.0.0.1:3306/test`).
//! Tables go to a dedicated database; unreachable servers skip (or fail with
//! `SESSIONWARD_REQUIRE_SERVICES=1`).
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use common::{Proxy, RACE_DEADLINE, SETUP, mysql_url, socket_of, unique_name, url_via};
use sessionward_core::risk::RiskStore;
use sessionward_core::testing::{Harness, fresh_user, service_unavailable};
use sessionward_core::{
    Clock, RequestContext, RevokeReason, SessionPolicy, SessionStore, StoreError, SystemClock,
    Timestamp,
};
use sessionward_sqlx::{MySqlStore, StoreOptions};
use sqlx::Connection;
use sqlx::mysql::{MySqlConnectOptions, MySqlConnection, MySqlPoolOptions};

/// The conformance database: `sessionward_conformance`, or
/// `SESSIONWARD_MYSQL_CONFORMANCE_DB` (for checkouts sharing one server).
static CONFORMANCE_DB: LazyLock<String> = LazyLock::new(|| {
    std::env::var("SESSIONWARD_MYSQL_CONFORMANCE_DB")
        .unwrap_or_else(|_| "sessionward_conformance".to_owned())
});

fn options_in(url: &str, db: &str) -> MySqlConnectOptions {
    url.parse::<MySqlConnectOptions>().unwrap().database(db)
}

async fn store_in(db: &str, migrate: bool) -> Option<MySqlStore> {
    let _setup = SETUP.lock().await;
    let mut admin = match MySqlConnection::connect(&mysql_url()).await {
        Ok(c) => c,
        Err(e) => return service_unavailable("MySQL/MariaDB", &mysql_url(), e),
    };
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "CREATE DATABASE IF NOT EXISTS {db}"
    )))
    .execute(&mut admin)
    .await
    .unwrap();
    let pool = MySqlPoolOptions::new()
        .max_connections(10)
        .acquire_timeout(Duration::from_secs(5))
        .connect_with(options_in(&mysql_url(), db))
        .await
        .unwrap();
    let store = MySqlStore::from_pool(pool);
    if migrate {
        store.migrate().await.unwrap();
    }
    Some(store)
}

async fn drop_db(db: &str) {
    let mut admin = MySqlConnection::connect(&mysql_url()).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {db}")))
        .execute(&mut admin)
        .await
        .unwrap();
}

async fn conformance_store() -> Option<Arc<dyn SessionStore>> {
    let store = store_in(&CONFORMANCE_DB, true).await?;
    Some(Arc::new(store.with_operation_timeout(RACE_DEADLINE)))
}

mod conformance {
    sessionward_core::store_conformance_tests!(super::conformance_store);
    sessionward_core::directory_seed_test!(super::conformance_store);
}

async fn risk_store() -> Option<Arc<dyn RiskStore>> {
    let store = store_in(&CONFORMANCE_DB, true).await?;
    Some(Arc::new(store.with_operation_timeout(RACE_DEADLINE)))
}

mod risk_conformance {
    sessionward_core::risk_store_conformance_tests!(super::risk_store);
}

/// The conformance database's outbox, less the streams failed runs left.
async fn ssf_store() -> Option<Arc<dyn sessionward_core::ssf::SsfStore>> {
    let store = store_in(&CONFORMANCE_DB, true).await?;
    let before = SystemClock
        .now()
        .minus(sessionward_core::testing::SSF_LEFTOVER_AGE);
    sqlx::query("DELETE FROM sessionward_ssf_streams WHERE created_at < ?")
        .bind(before.unix_millis())
        .execute(store.pool())
        .await
        .unwrap();
    Some(Arc::new(store.with_operation_timeout(RACE_DEADLINE)))
}

mod ssf_conformance {
    sessionward_core::ssf_store_conformance_tests!(super::ssf_store);
}

async fn tables(store: &MySqlStore, db: &str) -> Vec<String> {
    let mut names: Vec<String> = sqlx::query_scalar(
        "SELECT CAST(table_name AS CHAR) FROM information_schema.tables WHERE table_schema = ? ORDER BY 1",
    )
    .bind(db)
    .fetch_all(store.pool())
    .await
    .unwrap();
    names.sort();
    names
}

#[tokio::test]
async fn migrations_fresh_rerun_and_coexist() {
    let db = unique_name("sw_mig");
    let Some(store) = store_in(&db, false).await else {
        return;
    };
    store.migrate().await.unwrap();
    assert_eq!(
        tables(&store, &db).await,
        [
            "sessionward_ip_logins",
            "sessionward_last_login",
            "sessionward_login_history",
            "sessionward_migrations",
            "sessionward_sessions",
            "sessionward_ssf_outbox",
            "sessionward_ssf_streams",
            "sessionward_tenants",
            "sessionward_used_tokens",
            "sessionward_users"
        ]
    );
    store.migrate().await.unwrap();
    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM sessionward_migrations")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(applied, 8);
    sqlx::migrate!("tests/app_migrations/mysql")
        .run(store.pool())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    sqlx::migrate!("tests/app_migrations/mysql")
        .run(store.pool())
        .await
        .unwrap();
    assert_eq!(
        tables(&store, &db).await,
        [
            "_sqlx_migrations",
            "app_users",
            "sessionward_ip_logins",
            "sessionward_last_login",
            "sessionward_login_history",
            "sessionward_migrations",
            "sessionward_sessions",
            "sessionward_ssf_outbox",
            "sessionward_ssf_streams",
            "sessionward_tenants",
            "sessionward_used_tokens",
            "sessionward_users"
        ]
    );
    sessionward_core::testing::login_then_authenticate(Arc::new(store.clone())).await;
    store.pool().close().await;
    drop_db(&db).await;
}

#[tokio::test]
async fn restart_keeps_revocations() {
    let Some(first) = store_in(&CONFORMANCE_DB, true).await else {
        return;
    };
    let pool = first.pool().clone();
    common::restart_keeps_revocations(
        Arc::new(first),
        async || pool.close().await,
        async || -> Arc<dyn SessionStore> {
            let store: Arc<dyn SessionStore> =
                Arc::new(store_in(&CONFORMANCE_DB, true).await.unwrap());
            store
        },
    )
    .await;
}

#[tokio::test]
async fn user_ids_are_case_sensitive() {
    let Some(store) = store_in(&CONFORMANCE_DB, true).await else {
        return;
    };
    let h = Harness::new(Arc::new(store.clone()), SessionPolicy::default());
    let suffix = unique_name("u");
    let lower = sessionward_core::UserId::new(format!("alice-{suffix}")).unwrap();
    let upper = sessionward_core::UserId::new(format!("ALICE-{suffix}")).unwrap();
    let l = h
        .manager
        .login(&lower, &RequestContext::new())
        .await
        .unwrap();
    assert!(store.get(&upper, &l.session.id).await.unwrap().is_none());
    assert!(store.list(&upper).await.unwrap().is_empty());
}

#[tokio::test]
async fn closed_port_is_unavailable_quickly() {
    if store_in(&CONFORMANCE_DB, false).await.is_none() {
        return;
    }
    let started = Instant::now();
    let err = MySqlStore::connect_with(
        "mysql://root@127.0.0.1:9/test",
        StoreOptions::new().with_acquire_timeout(Duration::from_millis(500)),
    )
    .await
    .unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
    let pool = MySqlPoolOptions::new()
        .acquire_timeout(Duration::from_millis(500))
        .connect_lazy("mysql://root@127.0.0.1:9/test")
        .unwrap();
    let err = MySqlStore::from_pool(pool)
        .list(&fresh_user())
        .await
        .unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outage_then_recovery() {
    if store_in(&CONFORMANCE_DB, true).await.is_none() {
        return;
    }
    let url = mysql_url();
    let mut proxy = Proxy::start(socket_of(&url, 3306)).await;
    let via = url_via(&url, proxy.addr);
    let pool = MySqlPoolOptions::new()
        .max_connections(4)
        .acquire_timeout(Duration::from_millis(800))
        .connect_with(options_in(&via, &CONFORMANCE_DB))
        .await
        .unwrap();
    let store: Arc<dyn SessionStore> = Arc::new(MySqlStore::from_pool(pool));
    let h = Harness::new(store.clone(), SessionPolicy::default());
    let user = fresh_user();
    let l = h
        .manager
        .login(&user, &RequestContext::new())
        .await
        .unwrap();
    let token = l.tokens.access_token.expose_secret().to_owned();
    h.manager.authenticate(&token).await.unwrap();
    proxy.down();
    let err = store.get(&user, &l.session.id).await.unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
    assert!(h.manager.authenticate(&token).await.is_err());
    proxy.up().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while let Err(e) = h.manager.authenticate(&token).await {
        assert!(Instant::now() < deadline, "never recovered: {e:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `url` with the conformance database as its database.
fn conformance_url(url: &str) -> String {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let (server, _db) = base.rsplit_once('/').unwrap();
    let sep = if query.is_empty() { "" } else { "?" };
    format!("{server}/{}{sep}{query}", *CONFORMANCE_DB)
}

/// A store built by `connect_with` through a proxy.
async fn proxied_store(options: StoreOptions) -> Option<(MySqlStore, Proxy)> {
    store_in(&CONFORMANCE_DB, true).await?;
    let url = mysql_url();
    let proxy = Proxy::start(socket_of(&url, 3306)).await;
    let via = url_via(&url, proxy.addr);
    let store = MySqlStore::connect_with(&conformance_url(&via), options)
        .await
        .unwrap();
    Some((store, proxy))
}

/// [`proxied_store`] with [`common::pinging_options`].
async fn pinging_store(ping: bool) -> Option<(Arc<dyn SessionStore>, Proxy)> {
    let (store, proxy) = proxied_store(common::pinging_options(ping)).await?;
    Some((Arc::new(store), proxy))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_with_default_options_fails_closed_then_recovers() {
    let Some((store, mut proxy)) = pinging_store(false).await else {
        return;
    };
    common::stale_connections_fail_closed_then_recover(store, &mut proxy, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_with_ping_is_invisible() {
    let Some((store, mut proxy)) = pinging_store(true).await else {
        return;
    };
    common::stale_connections_fail_closed_then_recover(store, &mut proxy, true).await;
}

/// The server keeps the connections open but stops answering: every store
/// call is `Unavailable` after the 500 ms operation timeout, abandoned
/// connections are closed, and the store recovers when the server answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_server_fails_closed_within_the_operation_timeout() {
    let Some((store, proxy)) = proxied_store(common::silent_options()).await else {
        return;
    };
    let pool = store.pool().clone();
    common::silent_database_fails_closed_then_recovers(Arc::new(store), &proxy, || {
        (pool.size(), pool.num_idle())
    })
    .await;
}

/// Holds the lock row of a fresh user in an open transaction of another
/// connection.
async fn hold_user_lock(user: &sessionward_core::UserId) -> MySqlConnection {
    let mut holder = MySqlConnection::connect_with(&options_in(&mysql_url(), &CONFORMANCE_DB))
        .await
        .unwrap();
    sqlx::raw_sql("BEGIN").execute(&mut holder).await.unwrap();
    sqlx::query("INSERT INTO sessionward_users (user_id) VALUES (?)")
        .bind(user.as_str())
        .execute(&mut holder)
        .await
        .unwrap();
    holder
}

/// A real lock wait timeout (error 1205, SQLSTATE HY000): another
/// connection holds the user's lock row, and `connect_with` gave the
/// store's connections the default 1 s lock timeout as
/// `innodb_lock_wait_timeout` (and 1.5 s as the statement timeout). With an operation timeout that leaves room
/// for the retries, each attempt of `revoke_all` times out on the lock and
/// is retried, and the last one is reported as `Conflict` with the server's
/// error as the source. With the default 2 s operation timeout the deadline
/// comes first: `Unavailable`, after 2 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lock_wait_timeout_is_a_conflict_unless_the_deadline_comes_first() {
    let roomy = StoreOptions::new().with_operation_timeout(Duration::from_secs(20));
    let Some((store, _proxy)) = proxied_store(roomy).await else {
        return;
    };
    let wait: u64 = sqlx::query_scalar("SELECT @@innodb_lock_wait_timeout")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(wait, 1);
    let statement: f64 = sqlx::query_scalar("SELECT @@max_statement_time")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(statement, 1.5);
    let user = fresh_user();
    let mut holder = hold_user_lock(&user).await;
    let at = Timestamp::from_unix_millis(0);

    let started = Instant::now();
    let err = store
        .revoke_all(&user, None, RevokeReason::User, at)
        .await
        .unwrap_err();
    let elapsed = started.elapsed();
    let StoreError::Conflict(Some(source)) = &err else {
        panic!("expected a conflict, got {err:?}");
    };
    let db = source
        .downcast_ref::<sqlx::Error>()
        .and_then(sqlx::Error::as_database_error)
        .expect("the server's error is the source");
    assert_eq!(
        db.downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
            .number(),
        1205
    );
    // Five attempts of about 1 s each.
    assert!(
        (Duration::from_secs(4)..Duration::from_secs(10)).contains(&elapsed),
        "{elapsed:?}"
    );
    println!("lock wait timeout: Conflict after {elapsed:?}");

    let store = store.with_operation_timeout(StoreOptions::default().operation_timeout());
    let started = Instant::now();
    let err = store
        .revoke_all(&user, None, RevokeReason::User, at)
        .await
        .unwrap_err();
    let elapsed = started.elapsed();
    assert!(err.is_unavailable(), "{err:?}");
    assert!(
        (Duration::from_millis(1900)..Duration::from_secs(4)).contains(&elapsed),
        "{elapsed:?}"
    );
    println!("lock wait under the default deadline: Unavailable after {elapsed:?}");

    sqlx::raw_sql("ROLLBACK")
        .execute(&mut holder)
        .await
        .unwrap();
    // The lock is gone: the same store works again.
    assert!(
        store
            .revoke_all(&user, None, RevokeReason::User, at)
            .await
            .unwrap()
            .is_empty()
    );
}
