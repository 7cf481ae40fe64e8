//! The session directory's queries over large stores: 100,000 and
//! 1,000,000 active sessions (10 per user) on SQLite, Postgres and Redis,
//! next to a plain per-user list on the same store, measured in the same
//! run. Seeding is not measured.
//!
//! ```text
//! cargo bench -p sessionward-admin --bench directory
//! ```
//! `SESSIONWARD_DIRECTORY_SIZES` (default `100000,1000000`) picks the sizes,
//! `SESSIONWARD_DIRECTORY_BACKENDS` (default `sqlite,postgres,redis`) the
//! stores. Redis starts empty with its directory index built, as a new
//! deployment does, so the seed's creates fill it; the log gives the
//! index's `MEMORY USAGE` after each seed.
//! Postgres from `SESSIONWARD_POSTGRES_URL` (schema `sessionward_dirbench`,
//! dropped and recreated), Redis from `SESSIONWARD_REDIS_URL` (prefix
//! `swdir:`, deleted afterwards), SQLite a WAL file in the temp directory.
//! An unreachable server is skipped with a line on stderr. Postgres is
//! `ANALYZE`d after the load, as autovacuum would.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion};
use futures_util::StreamExt as _;
use sessionward_core::directory::{SessionFilter, SessionQuery};
use sessionward_core::testing::test_tokens;
use sessionward_core::{
    AppId, Clock, CreateRequest, LoginOptions, RequestContext, SessionId, SessionManager,
    SessionPolicy, SessionStore, SystemClock, UserId,
};
use sessionward_redis::{RedisStore, RedisStoreConfig};
use sessionward_sqlx::{PostgresStore, SqliteStore};
use sqlx::Connection as _;
use tokio::runtime::Runtime;

fn policy() -> SessionPolicy {
    SessionPolicy::builder()
        .unlimited_sessions_per_user()
        .build()
        .unwrap()
}

/// Seeds `n` sessions (10 per user) by copying one real login's record:
/// users `dir-<i>`, addresses spread over 10.0.0.0/8 (one /24 per 250
/// users), two apps, three countries.
async fn seed(backend: &str, store: &Arc<dyn SessionStore>, n: usize) {
    let manager = SessionManager::builder(policy(), test_tokens(), store.clone())
        .build()
        .unwrap();
    let template_user = UserId::new("dir-template").unwrap();
    let login = manager
        .login_with(
            &template_user,
            &RequestContext::new().with_ip("10.0.0.1".parse().unwrap()),
            LoginOptions::default().in_app(AppId::new("web").unwrap()),
        )
        .await
        .unwrap();
    let template = store
        .get(&template_user, &login.session.id)
        .await
        .unwrap()
        .unwrap();
    let limits = policy().limits().clone();
    let now = SystemClock.now();
    let started = Instant::now();
    let requests = futures_util::stream::iter(0..n).map(|i| {
        let mut record = template.clone();
        let u = i / 10;
        record.user = UserId::new(format!("dir-{u}")).unwrap();
        record.id = SessionId::generate();
        record.created_at = now.minus(Duration::from_millis((n - i) as u64));
        record.last_seen_at = record.created_at;
        record.ip = Some(
            format!("10.{}.{}.{}", (u / 250) % 250, u % 250, i % 10 + 1)
                .parse()
                .unwrap(),
        );
        record.country = Some(["DE", "SE", "FR"][u % 3].to_owned());
        record.meta.app = Some(AppId::new(if u % 2 == 0 { "web" } else { "mobile" }).unwrap());
        let request = CreateRequest {
            session: record,
            limits: limits.clone(),
            now,
            idle_cutoff: now.minus(Duration::from_secs(1800)),
            replaces: None,
            ends: Vec::new(),
            credential_verified_at: now,
            touch_interval: Duration::from_secs(60),
            keep_ended_for: Duration::from_secs(86_400),
        };
        let store = store.clone();
        async move { store.create(request).await.map(|_| ()) }
    });
    let failures = requests
        .buffer_unordered(64)
        .filter(|r| std::future::ready(r.is_err()))
        .count()
        .await;
    assert_eq!(failures, 0, "every seed insert succeeds");
    eprintln!(
        "{backend}: seeded {n} sessions in {:.1?}",
        started.elapsed()
    );
}

/// The queries, each one page of 100 (the list route's default).
fn queries() -> Vec<(&'static str, SessionFilter)> {
    vec![
        ("first_page", SessionFilter::default()),
        (
            "network_24",
            SessionFilter::default().from_network("10.1.7.0/24".parse().unwrap()),
        ),
        (
            "one_address",
            SessionFilter::default().from_network("10.1.7.3".parse().unwrap()),
        ),
        (
            "app",
            SessionFilter::default().in_app(AppId::new("mobile").unwrap()),
        ),
        ("country", SessionFilter::default().in_country("SE")),
        (
            "one_user",
            SessionFilter::default().of_user(UserId::new("dir-4242").unwrap()),
        ),
    ]
}

fn measure(
    c: &mut Criterion,
    rt: &Runtime,
    backend: &str,
    store: &Arc<dyn SessionStore>,
    n: usize,
) {
    let directory = store.directory().expect("a directory");
    let mut group = c.benchmark_group(format!("directory/{backend}/{n}"));
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(5))
        .warm_up_time(Duration::from_secs(1));
    let now = SystemClock.now();
    let cutoff = now.minus(Duration::from_secs(1800));
    for (name, filter) in queries() {
        let query = SessionQuery::new(filter, now, cutoff).limit(100);
        group.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.to_async(rt).iter(|| async {
                let page = directory.find(&query).await.unwrap();
                assert!(!page.sessions.is_empty() || page.next.is_some());
            });
        });
    }
    // The floor: one user's list, the per-user read every page view does.
    let user = UserId::new("dir-4242").unwrap();
    group.bench_function(BenchmarkId::from_parameter("floor_list_one_user"), |b| {
        b.to_async(rt)
            .iter(|| async { store.list(&user).await.unwrap() });
    });
    group.finish();
}

fn sizes() -> Vec<usize> {
    std::env::var("SESSIONWARD_DIRECTORY_SIZES")
        .unwrap_or_else(|_| "100000,1000000".to_owned())
        .split(',')
        .map(|s| s.trim().parse().expect("sizes are numbers"))
        .collect()
}

async fn sqlite(n: usize) -> Arc<dyn SessionStore> {
    let path = std::env::temp_dir().join(format!("sessionward-dirbench-{n}.db"));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let store = SqliteStore::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    Arc::new(store)
}

async fn postgres() -> Option<(Arc<dyn SessionStore>, sqlx::PgPool)> {
    let url = std::env::var("SESSIONWARD_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let mut admin = match sqlx::PgConnection::connect(&url).await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("SKIPPED postgres: {e}");
            return None;
        }
    };
    for statement in [
        "DROP SCHEMA IF EXISTS sessionward_dirbench CASCADE",
        "CREATE SCHEMA sessionward_dirbench",
    ] {
        sqlx::query(statement).execute(&mut admin).await.unwrap();
    }
    let options = url
        .parse::<sqlx::postgres::PgConnectOptions>()
        .unwrap()
        .options([("search_path", "sessionward_dirbench")]);
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(16)
        .connect_with(options)
        .await
        .unwrap();
    let store = PostgresStore::from_pool(pool.clone());
    store.migrate().await.unwrap();
    Some((Arc::new(store), pool))
}

async fn redis() -> Option<(RedisStore, redis::Client)> {
    let url = std::env::var("SESSIONWARD_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let config = RedisStoreConfig::default()
        .with_key_prefix("swdir:")
        .with_operation_timeout(Duration::from_secs(30))
        .with_response_timeout(Duration::from_secs(30));
    match RedisStore::connect(&url, config).await {
        Ok(store) => Some((store, redis::Client::open(url).unwrap())),
        Err(e) => {
            eprintln!("SKIPPED redis: {e}");
            None
        }
    }
}

/// The stores `SESSIONWARD_DIRECTORY_BACKENDS` names.
fn backends() -> Vec<&'static str> {
    let wanted = std::env::var("SESSIONWARD_DIRECTORY_BACKENDS")
        .unwrap_or_else(|_| "sqlite,postgres,redis".to_owned());
    ["sqlite", "postgres", "redis"]
        .into_iter()
        .filter(|b| wanted.split(',').any(|w| w.trim() == *b))
        .collect()
}

async fn report_index_memory(client: &redis::Client, n: usize) {
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let bytes: u64 = redis::cmd("MEMORY")
        .arg("USAGE")
        .arg("swdir:directory")
        .arg("SAMPLES")
        .arg(0)
        .query_async(&mut conn)
        .await
        .unwrap();
    eprintln!("redis directory index for {n} sessions: {bytes} bytes");
}

async fn clear_redis(client: &redis::Client) {
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("swdir:*")
        .query_async(&mut conn)
        .await
        .unwrap();
    for chunk in keys.chunks(1000) {
        let _: () = redis::cmd("DEL")
            .arg(chunk)
            .query_async(&mut conn)
            .await
            .unwrap();
    }
}

fn main() {
    let rt = Runtime::new().unwrap();
    let mut c = Criterion::default().configure_from_args();
    let backends = backends();
    for n in sizes() {
        if backends.contains(&"sqlite") {
            let store = rt.block_on(sqlite(n));
            rt.block_on(seed("sqlite", &store, n));
            measure(&mut c, &rt, "sqlite", &store, n);
        }
        let pg = backends
            .contains(&"postgres")
            .then(|| rt.block_on(postgres()));
        if let Some((store, pool)) = pg.flatten() {
            rt.block_on(seed("postgres", &store, n));
            // As autovacuum would after a load: the planner needs statistics.
            rt.block_on(sqlx::query("ANALYZE sessionward_sessions").execute(&pool))
                .unwrap();
            measure(&mut c, &rt, "postgres", &store, n);
        }
        let redis = backends.contains(&"redis").then(|| rt.block_on(redis()));
        if let Some((redis_store, client)) = redis.flatten() {
            rt.block_on(clear_redis(&client));
            rt.block_on(redis_store.build_directory_index()).unwrap();
            let store: Arc<dyn SessionStore> = Arc::new(redis_store);
            rt.block_on(seed("redis", &store, n));
            rt.block_on(report_index_memory(&client, n));
            measure(&mut c, &rt, "redis", &store, n);
            rt.block_on(clear_redis(&client));
        }
    }
    c.final_summary();
}
