//! Shared setup for the side-by-side benchmarks: connections, per-library
//! data separation, seeding, and one constructor per library/store.
//!
//! Data separation: Postgres databases `sessionward_bench` and
//! `sessionguard_bench` (dropped and recreated at the start of each run);
//! Redis key prefixes `swbench:` and `sgbench:` (deleted with SCAN + DEL,
//! never FLUSHDB: the Redis server is shared).
//!
//! tower-sessions 0.14: Postgres database `towersessions_bench` (dropped and
//! recreated, the store's default `tower_sessions.session` table inside);
//! its Redis store writes bare session ids with no key prefix, so it gets
//! its own Redis database index [`TS_REDIS_DB`] (3), which nothing else in
//! this repository selects, and only that index is cleared with `FLUSHDB`.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use session_guard::{ClientContext, Guard, PgStore, ValkeyStore};
use sessionward_core::risk::RiskConfig;
use sessionward_core::testing::{fresh_user, test_tokens};
use sessionward_core::{
    AccessToken, Enricher, MemoryStore, RequestContext, RevocationMode, RiskEngine, SessionManager,
    SessionPolicy, SessionStore, UserId,
};
use sessionward_redis::{RedisStore, RedisStoreConfig};
use sessionward_sqlx::{PostgresStore, SqliteStore};
use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use tower_sessions::session::{Id, Record};
use tower_sessions_redis_store::fred::prelude::{
    ClientLike, Config as FredConfig, Pool as FredPool,
};

pub const SW_PREFIX: &str = "swbench:";
pub const SG_PREFIX: &str = "sgbench:";
/// Redis database index of tower-sessions' store (no key prefix support).
pub const TS_REDIS_DB: u8 = 3;
/// Postgres database of tower-sessions' store.
pub const TS_PG_DB: &str = "towersessions_bench";
pub const UA: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
pub const IP: &str = "81.2.69.142";

/// Test-only Ed25519 key pair for the EdDSA verify floor.
pub const ED_PRIVATE_PEM: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIMbGHxkc/k3bdU1z+MND1oOwIDdckRTIlNHyitvyDvFh
-----END PRIVATE KEY-----
";
pub const ED_PUBLIC_PEM: &str = "-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAUlym/okUJ5isgRcyuWAT6b/6JFJw1HvQPcgFj5VpVyw=
-----END PUBLIC KEY-----
";

pub fn redis_url() -> String {
    std::env::var("BENCH_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

pub fn pg_url(db: &str) -> String {
    let base = std::env::var("BENCH_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned());
    format!("{base}/{db}")
}

/// Seeded sessions per library/store (`BENCH_SEED`, default 10 000).
pub fn seed_count() -> usize {
    std::env::var("BENCH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000)
}

pub fn sw_ctx() -> RequestContext {
    RequestContext::new()
        .with_user_agent(UA)
        .with_ip(IP.parse().unwrap())
}

pub fn sg_ctx() -> ClientContext {
    ClientContext::new(IP.parse::<IpAddr>().unwrap()).with_user_agent(UA)
}

/// Drops and recreates `db` (the benchmark's own database only).
pub async fn fresh_database(db: &str) {
    let mut admin = PgConnection::connect(&pg_url("postgres")).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {db} WITH (FORCE)"
    )))
    .execute(&mut admin)
    .await
    .unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {db}")))
        .execute(&mut admin)
        .await
        .unwrap();
}

pub async fn pg_pool(db: &str, max: u32) -> PgPool {
    let opts: PgConnectOptions = pg_url(db).parse().unwrap();
    PgPoolOptions::new()
        .max_connections(max)
        .acquire_timeout(Duration::from_secs(30))
        .connect_with(opts)
        .await
        .unwrap()
}

/// Deletes every key under `prefix` with SCAN + DEL.
pub async fn redis_clear_prefix(conn: &mut redis::aio::ConnectionManager, prefix: &str) -> u64 {
    let mut cursor: u64 = 0;
    let mut deleted = 0u64;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{prefix}*"))
            .arg("COUNT")
            .arg(1000)
            .query_async(conn)
            .await
            .unwrap();
        if !keys.is_empty() {
            let n: u64 = redis::cmd("UNLINK")
                .arg(&keys)
                .query_async(conn)
                .await
                .unwrap();
            deleted += n;
        }
        cursor = next;
        if cursor == 0 {
            return deleted;
        }
    }
}

/// Sum of `MEMORY USAGE` over every key under `prefix` (isolated from other
/// users of the shared server), and the number of keys.
pub async fn redis_prefix_memory(
    conn: &mut redis::aio::ConnectionManager,
    prefix: &str,
) -> (u64, u64) {
    let mut cursor: u64 = 0;
    let (mut bytes, mut keys_n) = (0u64, 0u64);
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{prefix}*"))
            .arg("COUNT")
            .arg(1000)
            .query_async(conn)
            .await
            .unwrap();
        for k in keys {
            let n: Option<u64> = redis::cmd("MEMORY")
                .arg("USAGE")
                .arg(&k)
                .arg("SAMPLES")
                .arg(0)
                .query_async(conn)
                .await
                .unwrap();
            bytes += n.unwrap_or(0);
            keys_n += 1;
        }
        cursor = next;
        if cursor == 0 {
            return (bytes, keys_n);
        }
    }
}

pub async fn redis_used_memory(conn: &mut redis::aio::ConnectionManager) -> u64 {
    let info: String = redis::cmd("INFO")
        .arg("memory")
        .query_async(conn)
        .await
        .unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

pub async fn redis_conn() -> redis::aio::ConnectionManager {
    redis::Client::open(redis_url().as_str())
        .unwrap()
        .get_connection_manager()
        .await
        .unwrap()
}

pub fn unlimited() -> SessionPolicy {
    SessionPolicy::builder()
        .unlimited_sessions_per_user()
        .build()
        .unwrap()
}

pub fn sw_manager(store: Arc<dyn SessionStore>, mode: RevocationMode) -> SessionManager {
    SessionManager::builder(unlimited(), test_tokens(), store)
        .revocation_mode(mode)
        .build()
        .unwrap()
}

/// A manager with the bundled enricher (UA parser + test GeoIP) and the
/// risk engine with the default config in shadow mode on `risk`.
pub fn sw_manager_enriched(
    store: Arc<dyn SessionStore>,
    risk: Arc<dyn sessionward_core::risk::RiskStore>,
) -> SessionManager {
    SessionManager::builder(unlimited(), test_tokens(), store)
        .enricher(Arc::new(Enricher::bundled().unwrap()))
        .risk(RiskEngine::new(
            RiskConfig {
                // Score every signal but never block: the benchmark logs in
                // thousands of fresh users from one IP (a "login burst").
                shadow: true,
                ..RiskConfig::default()
            },
            risk,
        ))
        .build()
        .unwrap()
}

/// Waits until a cached-mode manager's feed is live (bounded).
pub async fn wait_cache_live(m: &SessionManager) -> bool {
    for _ in 0..400 {
        if m.is_cache_live() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    false
}

pub async fn sw_memory() -> MemoryStore {
    MemoryStore::new()
}

pub async fn sw_sqlite(dir: &std::path::Path) -> SqliteStore {
    let path = dir.join("sessionward-bench.db");
    let store = SqliteStore::connect(&format!("sqlite://{}?mode=rwc", path.display()))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    store
}

/// sessionward on its own fresh database.
pub async fn sw_postgres(max_conn: u32) -> PostgresStore {
    fresh_database("sessionward_bench").await;
    let store = PostgresStore::from_pool(pg_pool("sessionward_bench", max_conn).await);
    store.migrate().await.unwrap();
    store
}

pub async fn sw_redis(prefix: &str) -> RedisStore {
    let mut c = redis_conn().await;
    redis_clear_prefix(&mut c, prefix).await;
    RedisStore::connect(
        &redis_url(),
        RedisStoreConfig::default().with_key_prefix(prefix.to_owned()),
    )
    .await
    .unwrap()
}

pub type SgPg = Guard<PgStore>;
pub type SgValkey = Guard<ValkeyStore>;

/// session-guard on its own fresh database.
pub async fn sg_postgres(max_conn: u32) -> PgStore {
    fresh_database("sessionguard_bench").await;
    PgStore::migrated(pg_pool("sessionguard_bench", max_conn).await)
        .await
        .unwrap()
}

pub async fn sg_valkey(prefix: &str) -> ValkeyStore {
    let mut c = redis_conn().await;
    redis_clear_prefix(&mut c, prefix).await;
    ValkeyStore::connect(&redis_url())
        .await
        .unwrap()
        .key_prefix(prefix.to_owned())
}

/// Runs `make()` `n` times on `conc` concurrent tasks (task `t` takes calls
/// `t`, `t + conc`, …) and returns the results of the calls whose index
/// passes `keep` (e.g. `|i| i < 1000`, or `|i| i % 5 == 0` to sample the
/// whole population).
pub async fn seed_with<T, F, Fut>(
    n: usize,
    conc: usize,
    keep: impl Fn(usize) -> bool + Copy + Send + 'static,
    make: F,
) -> Vec<T>
where
    T: Send + 'static,
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: Future<Output = T> + Send,
{
    let mut handles = Vec::new();
    for t in 0..conc {
        let make = make.clone();
        handles.push(tokio::spawn(async move {
            let mut kept = Vec::new();
            let mut i = t;
            while i < n {
                let v = make().await;
                if keep(i) {
                    kept.push(v);
                }
                i += conc;
            }
            kept
        }));
    }
    let mut all = Vec::new();
    for h in handles {
        all.extend(h.await.unwrap());
    }
    all
}

/// Logs in `n` fresh users (one session each) with `conc` concurrent tasks;
/// returns up to `keep` access tokens for round-robin picks.
pub async fn seed_sw(m: &Arc<SessionManager>, n: usize, conc: usize, keep: usize) -> Vec<String> {
    seed_sw_where(m, n, conc, move |i| i < keep).await
}

/// Logs in `n` fresh users (one session each) with `conc` concurrent tasks;
/// returns the access tokens of the logins whose index (0..n) passes `keep`.
pub async fn seed_sw_where(
    m: &Arc<SessionManager>,
    n: usize,
    conc: usize,
    keep: impl Fn(usize) -> bool + Copy + Send + 'static,
) -> Vec<String> {
    let m = m.clone();
    seed_with(n, conc, keep, move || {
        let m = m.clone();
        async move {
            let l = m.login(&fresh_user(), &sw_ctx()).await.unwrap();
            l.tokens.access_token.expose_secret().to_owned()
        }
    })
    .await
}

pub async fn seed_sg<St>(g: &Guard<St>, n: usize, conc: usize, keep: usize) -> Vec<String>
where
    St: session_guard::SessionStore + Send + Sync + 'static,
{
    let g = g.clone();
    seed_with(
        n,
        conc,
        move |i| i < keep,
        move || {
            let g = g.clone();
            async move {
                let s = g
                    .login(&uuid::Uuid::new_v4(), &sg_ctx(), None)
                    .await
                    .unwrap();
                s.token.expose().to_owned()
            }
        },
    )
    .await
}

pub type TsRedis = tower_sessions_redis_store::RedisStore<FredPool>;
pub type TsPostgres = tower_sessions_sqlx_store::PostgresStore;

/// `redis_url()` with tower-sessions' own database index as the path.
pub fn ts_redis_url() -> String {
    format!("{}/{TS_REDIS_DB}", redis_url().trim_end_matches('/'))
}

/// tower-sessions' Redis store (a `fred` pool of `size` clients) on database
/// [`TS_REDIS_DB`], emptied first with `FLUSHDB` on that index only.
pub async fn ts_redis(size: usize) -> TsRedis {
    ts_redis_flush().await;
    let config = FredConfig::from_url(&ts_redis_url()).unwrap();
    assert_eq!(config.database, Some(TS_REDIS_DB));
    let pool = FredPool::new(config, None, None, None, size).unwrap();
    pool.init().await.unwrap();
    tower_sessions_redis_store::RedisStore::new(pool)
}

/// `FLUSHDB` on [`TS_REDIS_DB`] only (tower-sessions' keys have no prefix).
pub async fn ts_redis_flush() {
    let mut c = redis::Client::open(ts_redis_url().as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    redis::cmd("FLUSHDB").exec_async(&mut c).await.unwrap();
}

/// tower-sessions' Postgres store (sqlx 0.8 pool) on its own fresh database,
/// default schema/table `tower_sessions.session`.
pub async fn ts_postgres(max_conn: u32) -> TsPostgres {
    use tower_sessions_sqlx_store::sqlx::postgres::PgPoolOptions as PgPoolOptions08;
    fresh_database(TS_PG_DB).await;
    let pool = PgPoolOptions08::new()
        .max_connections(max_conn)
        .acquire_timeout(Duration::from_secs(30))
        .connect(&pg_url(TS_PG_DB))
        .await
        .unwrap();
    let store = tower_sessions_sqlx_store::PostgresStore::new(pool);
    store.migrate().await.unwrap();
    store
}

/// A small realistic tower-sessions record (user id + login timestamp in the
/// data map), expiring a day ahead; the id is random (the store re-rolls it
/// on a collision in `create`).
pub fn ts_record() -> Record {
    let now = time::OffsetDateTime::now_utc();
    let data = HashMap::from([
        (
            "user_id".to_owned(),
            uuid::Uuid::new_v4().to_string().into(),
        ),
        ("login_at".to_owned(), now.unix_timestamp().into()),
    ]);
    Record {
        id: Id::default(),
        data,
        expiry_date: now + time::Duration::days(1),
    }
}

/// Creates `n` records with `conc` concurrent tasks; returns up to `keep` of
/// them (with their final ids) for round-robin picks.
pub async fn seed_ts<S>(store: &S, n: usize, conc: usize, keep: usize) -> Vec<Record>
where
    S: tower_sessions::SessionStore + Clone,
{
    let store = store.clone();
    seed_with(
        n,
        conc,
        move |i| i < keep,
        move || {
            let store = store.clone();
            async move {
                let mut rec = ts_record();
                store.create(&mut rec).await.unwrap();
                rec
            }
        },
    )
    .await
}

pub fn expose(t: &AccessToken) -> String {
    t.expose_secret().to_owned()
}

pub fn user() -> UserId {
    fresh_user()
}
