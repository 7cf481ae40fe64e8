//! PostgreSQL: conformance suite, migrations, restart, LISTEN/NOTIFY, outages.
//!
//! URL from `SESSIONWARD_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`). Every run works in its own
//! schemas; unreachable servers skip (or fail with `SESSIONWARD_REQUIRE_SERVICES=1`).
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Proxy, RACE_DEADLINE, SETUP, postgres_url, socket_of, unique_name, url_via};
use sessionward_core::risk::RiskStore;
use sessionward_core::testing::{Harness, fresh_user, service_unavailable};
use sessionward_core::{
    Clock, ManualClock, RequestContext, RevocationMode, RevokeReason, SessionError, SessionPolicy,
    SessionStore, StoreError, SystemClock,
};
use sessionward_sqlx::{PostgresStore, StoreOptions};
use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPoolOptions};

const CONFORMANCE_SCHEMA: &str = "sessionward_conformance";

fn options_in(schema: &str) -> PgConnectOptions {
    postgres_url()
        .parse::<PgConnectOptions>()
        .unwrap()
        .options([("search_path", schema)])
}

/// A store whose tables live in `schema` (created if missing), or `None`
/// when Postgres is unreachable.
async fn store_in(schema: &str, migrate: bool) -> Option<PostgresStore> {
    let _setup = SETUP.lock().await;
    let mut admin = match PgConnection::connect(&postgres_url()).await {
        Ok(c) => c,
        Err(e) => return service_unavailable("PostgreSQL", &postgres_url(), e),
    };
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "CREATE SCHEMA IF NOT EXISTS {schema}"
    )))
    .execute(&mut admin)
    .await
    .unwrap();
    let pool = PgPoolOptions::new()
        .max_connections(10)
        .acquire_timeout(Duration::from_secs(5))
        .connect_with(options_in(schema))
        .await
        .unwrap();
    let store = PostgresStore::from_pool(pool);
    if migrate {
        store.migrate().await.unwrap();
    }
    Some(store)
}

async fn drop_schema(schema: &str) {
    let mut admin = PgConnection::connect(&postgres_url()).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP SCHEMA IF EXISTS {schema} CASCADE"
    )))
    .execute(&mut admin)
    .await
    .unwrap();
}

async fn conformance_store() -> Option<Arc<dyn SessionStore>> {
    let store = store_in(CONFORMANCE_SCHEMA, true).await?;
    Some(Arc::new(store.with_operation_timeout(RACE_DEADLINE)))
}

mod conformance {
    sessionward_core::store_conformance_tests!(super::conformance_store);
    sessionward_core::directory_seed_test!(super::conformance_store);
}

async fn risk_store() -> Option<Arc<dyn RiskStore>> {
    let store = store_in(CONFORMANCE_SCHEMA, true).await?;
    Some(Arc::new(store.with_operation_timeout(RACE_DEADLINE)))
}

mod risk_conformance {
    sessionward_core::risk_store_conformance_tests!(super::risk_store);
}

/// The conformance schema's outbox, less the streams failed runs left.
async fn ssf_store() -> Option<Arc<dyn sessionward_core::ssf::SsfStore>> {
    let store = store_in(CONFORMANCE_SCHEMA, true).await?;
    let before = SystemClock
        .now()
        .minus(sessionward_core::testing::SSF_LEFTOVER_AGE);
    sqlx::query("DELETE FROM sessionward_ssf_streams WHERE created_at < $1")
        .bind(before.unix_millis())
        .execute(store.pool())
        .await
        .unwrap();
    Some(Arc::new(store.with_operation_timeout(RACE_DEADLINE)))
}

mod ssf_conformance {
    sessionward_core::ssf_store_conformance_tests!(super::ssf_store);
}

async fn tables(store: &PostgresStore, schema: &str) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1",
    )
    .bind(schema)
    .fetch_all(store.pool())
    .await
    .unwrap()
}

#[tokio::test]
async fn migrations_fresh_rerun_and_coexist() {
    let schema = unique_name("sw_mig");
    let Some(store) = store_in(&schema, false).await else {
        return;
    };
    // Fresh database.
    store.migrate().await.unwrap();
    assert_eq!(
        tables(&store, &schema).await,
        [
            "sessionward_ip_logins",
            "sessionward_last_login",
            "sessionward_login_history",
            "sessionward_migrations",
            "sessionward_sessions",
            "sessionward_ssf_outbox",
            "sessionward_ssf_streams",
            "sessionward_used_tokens",
            "sessionward_users"
        ]
    );
    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM sessionward_migrations")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(applied, 8);
    // Re-run is a no-op.
    store.migrate().await.unwrap();
    let again: i64 = sqlx::query_scalar("SELECT count(*) FROM sessionward_migrations")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(again, applied);
    // The app's own migrations (same version number) go to _sqlx_migrations.
    sqlx::migrate!("tests/app_migrations/postgres")
        .run(store.pool())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    sqlx::migrate!("tests/app_migrations/postgres")
        .run(store.pool())
        .await
        .unwrap();
    assert_eq!(
        tables(&store, &schema).await,
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
            "sessionward_used_tokens",
            "sessionward_users"
        ]
    );
    // The store works next to the app's tables.
    sessionward_core::testing::login_then_authenticate(Arc::new(store.clone())).await;
    store.pool().close().await;
    drop_schema(&schema).await;
}

#[tokio::test]
async fn restart_keeps_revocations() {
    let Some(first) = store_in(CONFORMANCE_SCHEMA, true).await else {
        return;
    };
    let pool = first.pool().clone();
    common::restart_keeps_revocations(
        Arc::new(first),
        async || pool.close().await,
        async || -> Arc<dyn SessionStore> {
            let store: Arc<dyn SessionStore> =
                Arc::new(store_in(CONFORMANCE_SCHEMA, true).await.unwrap());
            store
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listen_notify_across_two_pools() {
    let Some(a_store) = store_in(CONFORMANCE_SCHEMA, true).await else {
        return;
    };
    let b_store = store_in(CONFORMANCE_SCHEMA, false).await.unwrap();
    let clock = ManualClock::new(SystemClock.now());
    let a = Harness::with_mode(
        Arc::new(a_store),
        SessionPolicy::default(),
        RevocationMode::cached(),
        clock.clone(),
    );
    let b = Harness::with_mode(
        Arc::new(b_store),
        SessionPolicy::default(),
        RevocationMode::cached(),
        clock,
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while !b.manager.is_cache_live() {
        assert!(Instant::now() < deadline, "feed never connected");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let user = fresh_user();
    let ctx = RequestContext::new().with_user_agent("test/desktop/GB");
    let mut samples = Vec::new();
    for _ in 0..5 {
        let l = a.manager.login(&user, &ctx).await.unwrap();
        let token = l.tokens.access_token.expose_secret().to_owned();
        // Warm B's cache so it would answer without the store.
        b.manager.authenticate(&token).await.unwrap();
        b.manager.authenticate(&token).await.unwrap();
        let started = Instant::now();
        a.manager
            .revoke(&user, &l.session.id, RevokeReason::User)
            .await
            .unwrap();
        let revoked_at = Instant::now();
        loop {
            if b.manager.authenticate(&token).await.is_err() {
                break;
            }
            assert!(
                revoked_at.elapsed() < Duration::from_secs(2),
                "instance B never saw the revocation"
            );
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
        samples.push((revoked_at.elapsed(), started.elapsed()));
    }
    let after_commit: Vec<f64> = samples
        .iter()
        .map(|(p, _)| p.as_secs_f64() * 1000.0)
        .collect();
    println!(
        "LISTEN/NOTIFY propagation (revoke committed on A -> B refuses), ms: {:.2?}",
        after_commit
    );
}

#[tokio::test]
async fn closed_port_is_unavailable_quickly() {
    if store_in(CONFORMANCE_SCHEMA, false).await.is_none() {
        return;
    }
    let started = Instant::now();
    let err = PostgresStore::connect_with(
        "postgres://postgres@127.0.0.1:9/postgres",
        StoreOptions::new().with_acquire_timeout(Duration::from_millis(500)),
    )
    .await
    .unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
    // A lazily connected pool fails per call, also as Unavailable.
    let pool = PgPoolOptions::new()
        .acquire_timeout(Duration::from_millis(500))
        .connect_lazy("postgres://postgres@127.0.0.1:9/postgres")
        .unwrap();
    let store = PostgresStore::from_pool(pool);
    let err = store.list(&fresh_user()).await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outage_then_recovery() {
    if store_in(CONFORMANCE_SCHEMA, true).await.is_none() {
        return;
    }
    let url = postgres_url();
    let mut proxy = Proxy::start(socket_of(&url, 5432)).await;
    let via = url_via(&url, proxy.addr);
    let pool = PgPoolOptions::new()
        .max_connections(4)
        .acquire_timeout(Duration::from_millis(800))
        .connect_with(
            via.parse::<PgConnectOptions>()
                .unwrap()
                .options([("search_path", CONFORMANCE_SCHEMA)]),
        )
        .await
        .unwrap();
    let store: Arc<dyn SessionStore> = Arc::new(PostgresStore::from_pool(pool));
    let h = Harness::new(store.clone(), SessionPolicy::default());
    let user = fresh_user();
    let ctx = RequestContext::new().with_user_agent("test/desktop/GB");
    let l = h.manager.login(&user, &ctx).await.unwrap();
    let token = l.tokens.access_token.expose_secret().to_owned();
    h.manager.authenticate(&token).await.unwrap();

    proxy.down();
    let started = Instant::now();
    let err = store.get(&user, &l.session.id).await.unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
    assert!(
        h.manager.authenticate(&token).await.is_err(),
        "fails closed while the database is down"
    );
    assert!(started.elapsed() < Duration::from_secs(5));

    proxy.up().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match h.manager.authenticate(&token).await {
            Ok(_) => break,
            Err(e) => {
                assert!(Instant::now() < deadline, "never recovered: {e:?}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// A store built by `connect_with` through a proxy.
async fn proxied_store(options: StoreOptions) -> Option<(PostgresStore, Proxy)> {
    store_in(CONFORMANCE_SCHEMA, true).await?;
    let url = postgres_url();
    let proxy = Proxy::start(socket_of(&url, 5432)).await;
    let via = url_via(&url, proxy.addr);
    let sep = if via.contains('?') { '&' } else { '?' };
    let store = PostgresStore::connect_with(
        &format!("{via}{sep}options[search_path]={CONFORMANCE_SCHEMA}"),
        options,
    )
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
    assert!(!StoreOptions::default().test_before_acquire());
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

/// The defaults bound a call even with a silent server: 2 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_server_with_default_options_fails_within_two_seconds() {
    let defaults = StoreOptions::default();
    assert_eq!(defaults.operation_timeout(), Duration::from_secs(2));
    assert_eq!(defaults.statement_timeout(), Duration::from_millis(1500));
    assert_eq!(defaults.lock_timeout(), Duration::from_secs(1));
    let Some((store, proxy)) = proxied_store(defaults).await else {
        return;
    };
    let user = fresh_user();
    store.list(&user).await.unwrap();
    proxy.stall();
    let started = Instant::now();
    let err = store.list(&user).await.unwrap_err();
    let elapsed = started.elapsed();
    assert!(err.is_unavailable(), "{err:?}");
    assert!(
        (Duration::from_millis(1800)..Duration::from_secs(4)).contains(&elapsed),
        "{elapsed:?}"
    );
    proxy.resume();
    store.list(&user).await.unwrap();
}

/// The server-side timeouts `connect_with` sets: a lock held by another
/// connection ends the wait after the lock timeout (`lock_timeout`,
/// retried, then `Conflict` when the operation timeout leaves room), and a
/// slow statement is cancelled by the server (`statement_timeout`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_side_timeouts_end_lock_waits_and_slow_statements() {
    let options = StoreOptions::new()
        .with_operation_timeout(Duration::from_secs(20))
        .with_statement_timeout(Duration::from_secs(1))
        .with_lock_timeout(Duration::from_millis(300));
    let Some((store, _proxy)) = proxied_store(options).await else {
        return;
    };
    let settings: (String, String, String) = sqlx::query_as(
        "SELECT current_setting('statement_timeout'), current_setting('lock_timeout'), \
         current_setting('idle_in_transaction_session_timeout')",
    )
    .fetch_one(store.pool())
    .await
    .unwrap();
    assert_eq!(settings, ("1s".into(), "300ms".into(), "20s".into()));

    let err = sqlx::query("SELECT pg_sleep(5)")
        .execute(store.pool())
        .await
        .unwrap_err();
    assert_eq!(
        err.as_database_error().and_then(|e| e.code()).as_deref(),
        Some("57014"),
        "{err:?}"
    );

    let user = fresh_user();
    let mut holder = PgConnection::connect_with(&options_in(CONFORMANCE_SCHEMA))
        .await
        .unwrap();
    let mut tx = holder.begin().await.unwrap();
    sqlx::query("INSERT INTO sessionward_users (user_id) VALUES ($1)")
        .bind(user.as_str())
        .execute(&mut *tx)
        .await
        .unwrap();
    let h = Harness::new(Arc::new(store.clone()), SessionPolicy::default());
    let started = Instant::now();
    let err = h
        .manager
        .login(&user, &RequestContext::new())
        .await
        .unwrap_err();
    let elapsed = started.elapsed();
    assert!(
        matches!(err, SessionError::Store(StoreError::Conflict(_))),
        "{err:?}"
    );
    // Five attempts of about 300 ms each, not the 20 s operation timeout.
    assert!(
        (Duration::from_millis(1200)..Duration::from_secs(5)).contains(&elapsed),
        "{elapsed:?}"
    );
    tx.rollback().await.unwrap();
    h.manager
        .login(&user, &RequestContext::new())
        .await
        .expect("the lock is gone");
}

#[tokio::test]
async fn corrupt_rows_are_reported_not_panicked() {
    let Some(store) = store_in(CONFORMANCE_SCHEMA, true).await else {
        return;
    };
    let h = Harness::new(Arc::new(store.clone()), SessionPolicy::default());
    let user = fresh_user();
    let l = h
        .manager
        .login(&user, &RequestContext::new())
        .await
        .unwrap();
    sqlx::query("UPDATE sessionward_sessions SET meta = 'not json' WHERE user_id = $1")
        .bind(user.as_str())
        .execute(store.pool())
        .await
        .unwrap();
    let err = store.get(&user, &l.session.id).await.unwrap_err();
    assert!(matches!(err, StoreError::Corrupt(_)), "{err:?}");
    let err = store.list(&user).await.unwrap_err();
    assert!(matches!(err, StoreError::Corrupt(_)), "{err:?}");
}
