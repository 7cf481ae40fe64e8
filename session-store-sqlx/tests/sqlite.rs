//! SQLite: conformance suite on a file and in memory, migrations, restart.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;
use std::sync::{Arc, LazyLock};

use common::unique_name;
use sessionward_core::SessionStore;
use sessionward_sqlx::SqliteStore;

/// One database file per test binary run, shared by every file-backed case
/// (each through its own pool, so they contend through SQLite's own locks).
static FILE: LazyLock<PathBuf> = LazyLock::new(|| {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{}.db", unique_name("sessionward")))
});

fn url_of(path: &std::path::Path) -> String {
    format!("sqlite://{}", path.display())
}

async fn file_store() -> Option<Arc<dyn SessionStore>> {
    let _setup = common::SETUP.lock().await;
    let store = SqliteStore::connect(&url_of(&FILE)).await.unwrap();
    store.migrate().await.unwrap();
    Some(Arc::new(store))
}

async fn memory_store() -> Option<Arc<dyn SessionStore>> {
    let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
    store.migrate().await.unwrap();
    Some(Arc::new(store))
}

mod file {
    sessionward_core::store_conformance_tests!(super::file_store);
}

mod memory {
    sessionward_core::store_conformance_tests!(super::memory_store);
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
        ["sessionward_migrations", "sessionward_sessions"]
    );
    store.migrate().await.unwrap();
    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM sessionward_migrations")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(applied, 1);
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
            "sessionward_migrations",
            "sessionward_sessions"
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
    assert_eq!(tables(&a).await.len(), 2);
    assert!(tables(&b).await.is_empty());
}

#[tokio::test]
async fn corrupt_rows_are_reported_not_panicked() {
    let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
    store.migrate().await.unwrap();
    let user = sessionward_core::testing::fresh_user();
    let id = sessionward_core::SessionId::generate();
    sqlx::query(
        "INSERT INTO sessionward_sessions VALUES (?1, ?2, 0, 0, 9, 0, zeroblob(32), 0, 0, NULL, 'bogus', NULL, 'desktop', NULL, '{}')",
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
