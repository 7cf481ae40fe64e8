//! SQLite: conformance suite on a file and in memory, migrations, restart.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use common::unique_name;
use sessionward_core::risk::RiskStore;
use sessionward_core::{SessionStore, StoreError, Timestamp};
use sessionward_sqlx::{SqliteStore, StoreOptions};
use sqlx::Connection;
use sqlx::sqlite::SqliteConnection;

/// One database file per test binary run, shared by every file-backed case
/// (each through its own pool, so they contend through SQLite's own locks).
static FILE: LazyLock<PathBuf> = LazyLock::new(|| {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{}.db", unique_name("sessionward")))
});

fn url_of(path: &std::path::Path) -> String {
    format!("sqlite://{}", path.display())
}

/// A migrated store for the conformance suites. Their 200-way races of one
/// user serialize on the in-process write lock, and the file cases also on
/// SQLite's lock across their pools: see [`common::RACE_DEADLINE`]; the
/// lock timeout leaves room for the other cases' writers too.
async fn conformance_store(url: &str) -> SqliteStore {
    let options = StoreOptions::new()
        .with_operation_timeout(common::RACE_DEADLINE)
        .with_lock_timeout(Duration::from_secs(10));
    let store = SqliteStore::connect_with(url, options).await.unwrap();
    store.migrate().await.unwrap();
    store
}

async fn file_store() -> Option<Arc<dyn SessionStore>> {
    let _setup = common::SETUP.lock().await;
    Some(Arc::new(conformance_store(&url_of(&FILE)).await))
}

async fn memory_store() -> Option<Arc<dyn SessionStore>> {
    Some(Arc::new(conformance_store("sqlite::memory:").await))
}

mod file {
    sessionward_core::store_conformance_tests!(super::file_store);
    sessionward_core::directory_seed_test!(super::file_store);
}

mod memory {
    sessionward_core::store_conformance_tests!(super::memory_store);
}

async fn file_risk_store() -> Option<Arc<dyn RiskStore>> {
    let _setup = common::SETUP.lock().await;
    Some(Arc::new(conformance_store(&url_of(&FILE)).await))
}

async fn memory_risk_store() -> Option<Arc<dyn RiskStore>> {
    Some(Arc::new(conformance_store("sqlite::memory:").await))
}

mod file_risk {
    sessionward_core::risk_store_conformance_tests!(super::file_risk_store);
}

mod memory_risk {
    sessionward_core::risk_store_conformance_tests!(super::memory_risk_store);
}

async fn ssf_store() -> Option<Arc<dyn sessionward_core::ssf::SsfStore>> {
    Some(Arc::new(conformance_store("sqlite::memory:").await))
}

mod ssf_conformance {
    sessionward_core::ssf_store_conformance_tests!(super::ssf_store);
}

async fn tables(store: &SqliteStore) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY 1",
    )
    .fetch_all(store.pool())
    .await
    .unwrap()
}

#[tokio::test]
async fn migrations_fresh_rerun_and_coexist() {
    let path =
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{}.db", unique_name("sw_mig")));
    let store = SqliteStore::connect(&url_of(&path)).await.unwrap();
    store.migrate().await.unwrap();
    assert_eq!(
        tables(&store).await,
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
    store.migrate().await.unwrap();
    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM sessionward_migrations")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(applied, 8);
    sqlx::migrate!("tests/app_migrations/sqlite")
        .run(store.pool())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    sqlx::migrate!("tests/app_migrations/sqlite")
        .run(store.pool())
        .await
        .unwrap();
    assert_eq!(
        tables(&store).await,
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
    sessionward_core::testing::login_then_authenticate(Arc::new(store.clone())).await;
    store.pool().close().await;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

#[tokio::test]
async fn restart_keeps_revocations() {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("{}.db", unique_name("sw_restart")));
    let url = url_of(&path);
    let first = SqliteStore::connect(&url).await.unwrap();
    first.migrate().await.unwrap();
    let pool = first.pool().clone();
    common::restart_keeps_revocations(
        Arc::new(first),
        async || pool.close().await,
        async || -> Arc<dyn SessionStore> {
            let store: Arc<dyn SessionStore> = Arc::new(SqliteStore::connect(&url).await.unwrap());
            store
        },
    )
    .await;
}

#[tokio::test]
async fn memory_databases_are_private() {
    let a = SqliteStore::connect("sqlite::memory:").await.unwrap();
    let b = SqliteStore::connect("sqlite::memory:").await.unwrap();
    a.migrate().await.unwrap();
    assert_eq!(tables(&a).await.len(), 9);
    assert!(tables(&b).await.is_empty());
}

#[tokio::test]
async fn corrupt_rows_are_reported_not_panicked() {
    let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
    store.migrate().await.unwrap();
    let user = sessionward_core::testing::fresh_user();
    let id = sessionward_core::SessionId::generate();
    sqlx::query(
        "INSERT INTO sessionward_sessions VALUES (?1, ?2, 0, 0, 9, 0, zeroblob(32), 0, 0, NULL, 'bogus', NULL, 'desktop', NULL, '{}', NULL, NULL, NULL)",
    )
    .bind(user.as_str())
    .bind(id.as_str())
    .execute(store.pool())
    .await
    .unwrap();
    let err = store.get(&user, &id).await.unwrap_err();
    assert!(
        matches!(err, sessionward_core::StoreError::Corrupt(_)),
        "{err:?}"
    );
}

/// Maps two test user agents to distinct devices.
struct TwoDevices;

impl sessionward_core::LoginEnricher for TwoDevices {
    fn enrich(&self, ctx: &sessionward_core::RequestContext) -> sessionward_core::Enrichment {
        use sessionward_core::{DeviceClass, DeviceInfo, Enrichment};
        let (browser, os, class) = match ctx.user_agent().unwrap_or("") {
            "chrome-windows" => ("Chrome", "Windows", DeviceClass::Desktop),
            _ => ("Mobile Safari", "iOS", DeviceClass::Mobile),
        };
        Enrichment {
            class,
            device: DeviceInfo {
                browser: Some(browser.into()),
                os: Some(os.into()),
                ..DeviceInfo::default()
            },
            ..Enrichment::default()
        }
    }
}

fn risk_manager(store: SqliteStore) -> sessionward_core::SessionManager {
    use sessionward_core::risk::RiskConfig;
    use sessionward_core::{RiskEngine, SessionManager, SessionPolicy};
    let store = Arc::new(store);
    let engine = RiskEngine::new(RiskConfig::default(), store.clone());
    SessionManager::builder(
        SessionPolicy::default(),
        sessionward_core::testing::test_tokens(),
        store,
    )
    .enricher(Arc::new(TwoDevices))
    .risk(engine)
    .build()
    .unwrap()
}

#[tokio::test]
async fn risk_engine_flags_new_device_and_remembers_across_restart() {
    use sessionward_core::RequestContext;
    let path =
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{}.db", unique_name("sw_risk")));
    let url = url_of(&path);
    let store = SqliteStore::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    let pool = store.pool().clone();
    let manager = risk_manager(store);
    let user = sessionward_core::testing::fresh_user();
    let ctx = |ua: &str| {
        RequestContext::new()
            .with_user_agent(ua)
            .with_ip("192.0.2.77".parse().unwrap())
    };
    let signals = |l: &sessionward_core::LoginSuccess| -> Vec<String> {
        l.session
            .meta
            .risk
            .signals
            .iter()
            .map(|s| s.name.clone())
            .collect()
    };

    let first = manager.login(&user, &ctx("chrome-windows")).await.unwrap();
    assert!(
        signals(&first).is_empty(),
        "first login: nothing to compare"
    );
    let phone = manager.login(&user, &ctx("safari-ios")).await.unwrap();
    assert_eq!(signals(&phone), ["new_device"]);
    assert_eq!(phone.session.meta.risk.score, 20);
    let laptop = manager.login(&user, &ctx("chrome-windows")).await.unwrap();
    assert!(signals(&laptop).is_empty(), "known device");

    // The history is in the file: a restarted app still knows the phone.
    drop(manager);
    pool.close().await;
    let reopened = SqliteStore::connect(&url).await.unwrap();
    let manager = risk_manager(reopened.clone());
    let again = manager.login(&user, &ctx("safari-ios")).await.unwrap();
    assert!(signals(&again).is_empty(), "{:?}", signals(&again));
    let count: i64 =
        sqlx::query_scalar("SELECT count(*) FROM sessionward_ip_logins WHERE ip = '192.0.2.77'")
            .fetch_one(reopened.pool())
            .await
            .unwrap();
    assert_eq!(count, 4);
    reopened.pool().close().await;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

#[tokio::test]
async fn risk_history_respects_retention_and_long_values() {
    use sessionward_core::Timestamp;
    use sessionward_core::risk::LoginFacts;
    use std::time::Duration;
    let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
    store.migrate().await.unwrap();
    let user = sessionward_core::testing::fresh_user();
    let t0 = Timestamp::from_unix_millis(1_700_000_000_000);
    let long_fp = format!("id:{}", "f".repeat(400));
    let facts = |fp: &str, at: Timestamp| LoginFacts {
        fingerprints: vec![fp.to_owned()],
        country: Some("GB".into()),
        asn: Some(64_500),
        ip: Some("192.0.2.1".parse().unwrap()),
        latitude: None,
        longitude: None,
        at,
    };
    store
        .record_login(&user, &facts(&long_fp, t0), t0)
        .await
        .unwrap();
    let prior = store
        .login_history(&user, &facts(&long_fp, t0), t0)
        .await
        .unwrap();
    assert!(prior.known_device, "long fingerprints are matched by hash");
    // A year later with a 30-day retention: the old device is forgotten.
    let later = t0.plus(Duration::from_secs(365 * 86_400));
    let keep = later.minus(Duration::from_secs(30 * 86_400));
    store
        .record_login(&user, &facts("ua:new", later), keep)
        .await
        .unwrap();
    let prior = store
        .login_history(&user, &facts(&long_fp, later), keep)
        .await
        .unwrap();
    assert!(!prior.first_login && !prior.known_device);
    assert_eq!(prior.recent_logins_from_ip, 1, "old IP rows were dropped");
    // consume_once drops expired ids: one successful insert in 16 (by the
    // id's hash) sweeps, so among 200 new ids some do.
    assert!(store.consume_once("a", t0, t0).await.unwrap());
    let tomorrow = later.plus(Duration::from_secs(86_400));
    for i in 0..200 {
        let id = format!("b{i}");
        assert!(store.consume_once(&id, tomorrow, later).await.unwrap());
        assert!(!store.consume_once(&id, tomorrow, later).await.unwrap());
    }
    let left: Vec<String> = sqlx::query_scalar("SELECT token_id FROM sessionward_used_tokens")
        .fetch_all(store.pool())
        .await
        .unwrap();
    assert_eq!(left.len(), 200, "only the expired id is gone");
    assert!(!left.contains(&"a".to_owned()));
}

/// The code of the SQLite error behind a store error.
fn sqlite_code(e: &StoreError) -> Option<String> {
    std::error::Error::source(e)?
        .downcast_ref::<sqlx::Error>()?
        .as_database_error()?
        .code()
        .map(|c| c.into_owned())
}

/// Another connection (a raw sqlx transaction on the same file) holds the
/// write lock. Every store write waits for it at most the lock timeout
/// (`busy_timeout`), then fails closed with `Unavailable` (`SQLITE_BUSY`);
/// reads still work (WAL). With a lock timeout longer than the operation
/// timeout, the operation timeout ends the wait. Once the lock is released
/// the same store writes again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_write_lock_is_unavailable_within_the_timeouts() {
    let path =
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{}.db", unique_name("busy")));
    let lock = Duration::from_millis(300);
    let store = SqliteStore::connect_with(
        &url_of(&path),
        StoreOptions::new()
            .with_lock_timeout(lock)
            .with_operation_timeout(Duration::from_secs(5)),
    )
    .await
    .unwrap();
    store.migrate().await.unwrap();
    let (h, l, rec) = common::logged_in(Arc::new(store.clone())).await;

    let mut holder = SqliteConnection::connect(&url_of(&path)).await.unwrap();
    sqlx::raw_sql("BEGIN IMMEDIATE")
        .execute(&mut holder)
        .await
        .unwrap();
    let slack = Duration::from_millis(2500);
    for (name, elapsed, result) in common::every_operation(&store, &rec).await {
        println!("write lock held: {name} answered after {elapsed:?}");
        if matches!(name, "get" | "list" | "not_before") {
            result.unwrap_or_else(|e| panic!("{name} reads past the writer: {e:?}"));
            continue;
        }
        let err = result.expect_err(name);
        assert!(err.is_unavailable(), "{name}: {err:?}");
        assert_eq!(sqlite_code(&err).as_deref(), Some("5"), "{name}: {err:?}");
        assert!(
            elapsed >= lock.mul_f64(0.9) && elapsed < lock + slack,
            "{name} took {elapsed:?}"
        );
    }

    // A lock timeout longer than the operation timeout: the deadline ends it.
    let bound = Duration::from_millis(400);
    let patient = SqliteStore::connect_with(
        &url_of(&path),
        StoreOptions::new()
            .with_lock_timeout(Duration::from_secs(30))
            .with_operation_timeout(bound),
    )
    .await
    .unwrap();
    let started = Instant::now();
    // (A write that changes nothing if it still runs once the lock is free.)
    let err = patient
        .purge_expired(Timestamp::from_unix_millis(1))
        .await
        .unwrap_err();
    let elapsed = started.elapsed();
    assert!(err.is_unavailable(), "{err:?}");
    assert_eq!(sqlite_code(&err), None, "the deadline, not SQLite: {err:?}");
    assert!(
        elapsed >= bound.mul_f64(0.9) && elapsed < bound + slack,
        "{elapsed:?}"
    );

    sqlx::raw_sql("ROLLBACK")
        .execute(&mut holder)
        .await
        .unwrap();
    for (name, _, result) in common::every_operation(&store, &rec).await {
        result.unwrap_or_else(|e| panic!("{name} after the lock is released: {e:?}"));
    }
    h.manager
        .authenticate(l.tokens.access_token.expose_secret())
        .await
        .unwrap();
}

/// The purge task deletes a session past its absolute end at once, or only
/// a full retention later when asked to keep ended sessions listed.
#[tokio::test]
async fn purge_task_keeps_ended_sessions_for_the_retention() {
    use sessionward_core::testing::{Harness, fresh_user};
    use sessionward_core::{Clock, ManualClock, RequestContext, SessionPolicy, SystemClock};
    use sessionward_sqlx::{spawn_purge_task, spawn_purge_task_keeping};

    let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
    store.migrate().await.unwrap();
    let store: Arc<dyn SessionStore> = Arc::new(store);
    let policy = SessionPolicy::builder()
        .absolute_lifetime(Duration::from_secs(3600))
        .build()
        .unwrap();
    let h = Harness::new(store.clone(), policy);
    let user = fresh_user();
    let login = h
        .manager
        .login(&user, &RequestContext::new())
        .await
        .unwrap();
    let id = login.session.id;
    // An hour and a minute later, by a clock the tasks read.
    let later = ManualClock::new(SystemClock.now().plus(Duration::from_secs(3660)));
    let day = Duration::from_secs(86_400);
    let kept = spawn_purge_task_keeping(
        store.clone(),
        Arc::new(later.clone()),
        Duration::from_millis(10),
        day,
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(store.get(&user, &id).await.unwrap().is_some(), "kept");
    drop(kept);
    let plain = spawn_purge_task(store.clone(), Arc::new(later), Duration::from_millis(10));
    let deadline = Instant::now() + Duration::from_secs(5);
    while store.get(&user, &id).await.unwrap().is_some() {
        assert!(Instant::now() < deadline, "the plain task never purged it");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    drop(plain);
}

/// Rows without the address key (written before migration 7, or by an
/// instance of an earlier release during a rolling upgrade) are still
/// found by network queries, and get their key when `migrate` runs again.
#[tokio::test]
async fn migrate_backfills_the_address_key_of_older_rows() {
    use sessionward_core::directory::SessionFilter;
    use sessionward_core::testing::{Harness, fresh_user};
    let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
    store.migrate().await.unwrap();
    let h = Harness::new(
        Arc::new(store.clone()),
        sessionward_core::SessionPolicy::default(),
    );
    let ctx = sessionward_core::RequestContext::new().with_ip("203.0.113.5".parse().unwrap());
    h.manager.login(&fresh_user(), &ctx).await.unwrap();
    let network = SessionFilter::default().from_network("203.0.113.0/24".parse().unwrap());
    let found = async || {
        h.manager
            .find_sessions(&network, None, 10)
            .await
            .unwrap()
            .sessions
            .len()
    };
    assert_eq!(found().await, 1);

    sqlx::query("UPDATE sessionward_sessions SET ip_key = NULL")
        .execute(store.pool())
        .await
        .unwrap();
    assert_eq!(found().await, 1, "found without the key too (slower)");
    store.migrate().await.unwrap();
    assert_eq!(found().await, 1);
    let nulls: i64 =
        sqlx::query_scalar("SELECT count(*) FROM sessionward_sessions WHERE ip_key IS NULL")
            .fetch_one(store.pool())
            .await
            .unwrap();
    assert_eq!(nulls, 0);
}
