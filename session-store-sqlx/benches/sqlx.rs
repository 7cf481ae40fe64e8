//! Manager operations on the SQL stores next to a raw `SELECT 1` on the same
//! pool, measured in the same run.
//!
//! ```text
//! cargo bench -p sessionward-sqlx --all-features --bench sqlx -- --warm-up-time 1 --measurement-time 3
//! ```
//! Postgres from `SESSIONWARD_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`, schema `sessionward_bench`);
//! SQLite is a WAL file in the system temp directory. Unreachable Postgres
//! is skipped with a line on stderr. Pools use the [`StoreOptions`] default
//! (no ping before acquire); `SESSIONWARD_BENCH_PING=1` turns sqlx's
//! `test_before_acquire` ping on for comparison.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use sessionward_core::testing::{fresh_user, test_tokens};
use sessionward_core::{
    RefreshToken, RequestContext, RevokeReason, SessionManager, SessionPolicy, SessionStore,
};
use sessionward_sqlx::{PostgresStore, SqliteStore, StoreOptions};
use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPoolOptions};
use tokio::runtime::Runtime;
use tokio::sync::Mutex;

fn ctx() -> RequestContext {
    RequestContext::new()
        .with_ip("81.2.69.142".parse().unwrap())
        .with_user_agent("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0")
}

/// The pool options under test: the library default, or with the ping on.
fn store_options() -> StoreOptions {
    let ping = std::env::var("SESSIONWARD_BENCH_PING").is_ok_and(|v| v == "1");
    let options = StoreOptions::new();
    if ping {
        options.with_test_before_acquire(true)
    } else {
        options
    }
}

fn manager(store: Arc<dyn SessionStore>) -> SessionManager {
    let policy = SessionPolicy::builder()
        .max_sessions_per_user(50)
        .build()
        .unwrap();
    SessionManager::builder(policy, test_tokens(), store)
        .build()
        .unwrap()
}

async fn postgres() -> Option<(PostgresStore, sqlx::PgPool)> {
    let url = std::env::var("SESSIONWARD_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let mut admin = match PgConnection::connect(&url).await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("SKIPPED: Postgres benchmarks, {url} unreachable: {e}");
            return None;
        }
    };
    sqlx::query("CREATE SCHEMA IF NOT EXISTS sessionward_bench")
        .execute(&mut admin)
        .await
        .unwrap();
    let options = url
        .parse::<PgConnectOptions>()
        .unwrap()
        .options([("search_path", "sessionward_bench")]);
    let pool = PgPoolOptions::new()
        .max_connections(4)
        .test_before_acquire(store_options().test_before_acquire())
        .connect_with(options)
        .await
        .unwrap();
    let store = PostgresStore::from_pool(pool.clone());
    store.migrate().await.unwrap();
    sqlx::query("TRUNCATE sessionward_sessions, sessionward_users")
        .execute(&pool)
        .await
        .unwrap();
    Some((store, pool))
}

async fn sqlite() -> (SqliteStore, sqlx::SqlitePool) {
    let path = std::env::temp_dir().join(format!("sessionward-bench-{}.db", std::process::id()));
    let store = SqliteStore::connect_with(&format!("sqlite://{}", path.display()), store_options())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let pool = store.pool().clone();
    (store, pool)
}

/// The five manager operations plus the `SELECT 1` floor, for one backend.
fn suite<DB>(
    c: &mut Criterion,
    rt: &Runtime,
    name: &str,
    store: Arc<dyn SessionStore>,
    pool: sqlx::Pool<DB>,
) where
    DB: sqlx::Database,
    for<'c> &'c sqlx::Pool<DB>: sqlx::Executor<'c, Database = DB>,
    DB::Arguments: sqlx::IntoArguments<DB>,
    i32: sqlx::Type<DB> + for<'r> sqlx::Decode<'r, DB>,
    usize: sqlx::ColumnIndex<DB::Row>,
{
    let m = Arc::new(manager(store));
    let mut g = c.benchmark_group(name);

    // The floor: one `SELECT 1` through the pool (acquire, the
    // test-before-acquire ping when on, query), as every store call pays it.
    g.bench_function("select_1", |b| {
        b.to_async(rt).iter(|| async {
            let one: i32 = sqlx::query_scalar("SELECT 1")
                .fetch_one(&pool)
                .await
                .unwrap();
            assert_eq!(one, 1);
        })
    });

    g.bench_function("login", |b| {
        b.to_async(rt).iter(|| async {
            m.login(&fresh_user(), &ctx()).await.unwrap();
        })
    });

    let user = fresh_user();
    let live = rt.block_on(m.login(&user, &ctx())).unwrap();
    let token = live.tokens.access_token.expose_secret().to_owned();
    g.bench_function("authenticate_strict", |b| {
        b.to_async(rt).iter(|| async {
            m.authenticate(&token).await.unwrap();
        })
    });

    let current: Arc<Mutex<RefreshToken>> = Arc::new(Mutex::new(live.tokens.refresh_token.clone()));
    g.bench_function("refresh", |b| {
        b.to_async(rt).iter_custom(|iters| {
            let m = m.clone();
            let current = current.clone();
            async move {
                let mut tok = current.lock().await;
                let start = Instant::now();
                for _ in 0..iters {
                    let r = m.refresh(&tok).await.unwrap();
                    *tok = r.tokens.refresh_token;
                }
                start.elapsed()
            }
        })
    });

    let five = fresh_user();
    for _ in 0..5 {
        rt.block_on(m.login(&five, &ctx())).unwrap();
    }
    g.bench_function("list_5", |b| {
        b.to_async(rt).iter(|| async {
            assert_eq!(m.list(&five, None).await.unwrap().len(), 5);
        })
    });

    g.bench_function("revoke_all_5", |b| {
        b.to_async(rt).iter_custom(|iters| {
            let m = m.clone();
            async move {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let u = fresh_user();
                    for _ in 0..5 {
                        m.login(&u, &ctx()).await.unwrap();
                    }
                    let start = Instant::now();
                    let n = m.revoke_all(&u, RevokeReason::User).await.unwrap();
                    total += start.elapsed();
                    assert_eq!(n, 5);
                }
                total
            }
        })
    });
    g.finish();
}

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    if let Some((store, pool)) = rt.block_on(postgres()) {
        suite(c, &rt, "postgres", Arc::new(store), pool);
    }
    let (store, pool) = rt.block_on(sqlite());
    suite(c, &rt, "sqlite", Arc::new(store), pool);
}

criterion_group!(sqlx_benches, benches);
criterion_main!(sqlx_benches);
