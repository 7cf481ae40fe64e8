//! Throughput (32 concurrent tasks, HDR histogram), Redis memory per
//! session, and per-user scaling, for sessionward and session-guard on the
//! same local Redis and Postgres. Writes one JSON object to the path given
//! as the first argument (read by `.ci/bench.sh` to render the doc).
//!
//! Env: `BENCH_THROUGHPUT_SECS` (default 3), `BENCH_MEM_SESSIONS` (10 000),
//! `BENCH_TASKS` (32).
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde_json::{Value, json};
use session_guard::{Guard, Outcome};
use sessionward_core::testing::fresh_user;
use sessionward_core::{RevocationMode, SessionManager, SessionStore};
use sessionward_peer_bench::*;

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Runs `op` from `tasks` tasks for `dur`; returns ops/s, p50, p99 (µs).
async fn drive<F, Fut>(tasks: usize, dur: Duration, op: F) -> Value
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send,
{
    let op = Arc::new(op);
    let counter = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let deadline = start + dur;
    let mut handles = Vec::new();
    for _ in 0..tasks {
        let (op, counter) = (op.clone(), counter.clone());
        handles.push(tokio::spawn(async move {
            let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
            while Instant::now() < deadline {
                let i = counter.fetch_add(1, Ordering::Relaxed);
                let t = Instant::now();
                op(i).await;
                h.record(t.elapsed().as_micros().max(1) as u64).unwrap();
            }
            h
        }));
    }
    let mut all = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
    for h in handles {
        all.add(h.await.unwrap()).unwrap();
    }
    let elapsed = start.elapsed().as_secs_f64();
    json!({
        "ops": all.len(),
        "ops_per_s": all.len() as f64 / elapsed,
        "p50_us": all.value_at_quantile(0.5),
        "p99_us": all.value_at_quantile(0.99),
        "max_us": all.max(),
    })
}

fn median(mut v: Vec<Duration>) -> f64 {
    v.sort();
    v[v.len() / 2].as_secs_f64() * 1e6
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let out = std::env::args().nth(1).expect("output path");
    let secs = env_num("BENCH_THROUGHPUT_SECS", 3);
    let dur = Duration::from_secs(secs);
    let tasks = env_num("BENCH_TASKS", 32) as usize;
    let mem_n = env_num("BENCH_MEM_SESSIONS", 10_000) as usize;
    let mut report = json!({"tasks": tasks, "secs": secs, "mem_sessions": mem_n});

    // ---------------- throughput ----------------
    let sw_pg = sw_postgres(16).await;
    let sw_rd = sw_redis(SW_PREFIX).await;
    let sg_pg = sg_postgres(16).await;
    let sg_vk = sg_valkey(SG_PREFIX).await;
    let mut tp = serde_json::Map::new();
    let mut raw = redis_conn().await;
    redis::cmd("SET")
        .arg(format!("{SW_PREFIX}floor"))
        .arg("x".repeat(200))
        .exec_async(&mut raw)
        .await
        .unwrap();
    {
        let raw = raw.clone();
        tp.insert(
            "floor_redis_get".into(),
            drive(tasks, dur, move |_| {
                let mut raw = raw.clone();
                async move {
                    let _: Option<String> = redis::cmd("GET")
                        .arg(format!("{SW_PREFIX}floor"))
                        .query_async(&mut raw)
                        .await
                        .unwrap();
                }
            })
            .await,
        );
        let pool = sw_pg.pool().clone();
        tp.insert(
            "floor_pg_select_1".into(),
            drive(tasks, dur, move |_| {
                let pool = pool.clone();
                async move {
                    let _: i32 = sqlx::query_scalar("SELECT 1").fetch_one(&pool).await.unwrap();
                }
            })
            .await,
        );
    }
    let stores: Vec<(&str, Arc<dyn SessionStore>)> = vec![
        ("sw_redis", Arc::new(sw_rd.clone())),
        ("sw_postgres", Arc::new(sw_pg.clone())),
    ];
    for (name, store) in stores {
        let m = Arc::new(sw_manager(store, RevocationMode::Strict));
        let toks = Arc::new(seed_sw(&m, 2000, 8, 2000).await);
        let (m2, t2) = (m.clone(), toks.clone());
        let auth = drive(tasks, dur, move |i| {
            let (m, t) = (m2.clone(), t2.clone());
            async move {
                m.authenticate(&t[i % t.len()]).await.unwrap();
            }
        })
        .await;
        let m2 = m.clone();
        let login = drive(tasks, dur, move |_| {
            let m = m2.clone();
            async move {
                m.login(&fresh_user(), &sw_ctx()).await.unwrap();
            }
        })
        .await;
        eprintln!("{name}: auth {auth} login {login}");
        tp.insert(format!("{name}_authenticate"), auth);
        tp.insert(format!("{name}_login"), login);
    }
    async fn sg_tp<St: session_guard::SessionStore + Clone>(
        name: &str,
        store: St,
        tasks: usize,
        dur: Duration,
        tp: &mut serde_json::Map<String, Value>,
    ) {
        let g = Guard::new(store);
        let toks = Arc::new(seed_sg(&g, 2000, 8, 2000).await);
        let (g2, t2) = (g.clone(), toks.clone());
        let auth = drive(tasks, dur, move |i| {
            let (g, t) = (g2.clone(), t2.clone());
            async move {
                let o = g.authenticate(&t[i % t.len()], &sg_ctx()).await.unwrap();
                assert!(matches!(o, Outcome::Authenticated(_)));
            }
        })
        .await;
        let g2 = g.clone();
        let login = drive(tasks, dur, move |_| {
            let g = g2.clone();
            async move {
                g.login(&uuid::Uuid::new_v4(), &sg_ctx(), None).await.unwrap();
            }
        })
        .await;
        eprintln!("{name}: auth {auth} login {login}");
        tp.insert(format!("{name}_authenticate"), auth);
        tp.insert(format!("{name}_login"), login);
    }
    sg_tp("sg_valkey", sg_vk, tasks, dur, &mut tp).await;
    sg_tp("sg_postgres", sg_pg, tasks, dur, &mut tp).await;
    report["throughput"] = Value::Object(tp);

    // ---------------- Redis memory per session ----------------
    let mut mem = serde_json::Map::new();
    {
        let prefix = "swmem:";
        let store = sw_redis(prefix).await;
        let m = Arc::new(sw_manager(Arc::new(store), RevocationMode::Strict));
        let before = redis_used_memory(&mut raw).await;
        seed_sw(&m, mem_n, 8, 0).await;
        let after = redis_used_memory(&mut raw).await;
        let (bytes, keys) = redis_prefix_memory(&mut raw, prefix).await;
        mem.insert(
            "sessionward".into(),
            json!({"info_delta": after as i64 - before as i64, "memory_usage_sum": bytes, "keys": keys}),
        );
        redis_clear_prefix(&mut raw, prefix).await;
    }
    {
        let prefix = "sgmem:";
        let g = Guard::new(sg_valkey(prefix).await);
        let before = redis_used_memory(&mut raw).await;
        seed_sg(&g, mem_n, 8, 0).await;
        let after = redis_used_memory(&mut raw).await;
        let (bytes, keys) = redis_prefix_memory(&mut raw, prefix).await;
        mem.insert(
            "session_guard".into(),
            json!({"info_delta": after as i64 - before as i64, "memory_usage_sum": bytes, "keys": keys}),
        );
        redis_clear_prefix(&mut raw, prefix).await;
    }
    report["redis_memory"] = Value::Object(mem);

    // ---------------- scaling: sessions per user ----------------
    let mut scaling = Vec::new();
    let stores: Vec<(&str, Arc<dyn SessionStore>)> = vec![
        ("redis", Arc::new(sw_rd.clone())),
        ("postgres", Arc::new(sw_pg.clone())),
    ];
    let floor_key = format!("{SW_PREFIX}floor");
    for (name, store) in stores {
        let m: SessionManager = sw_manager(store, RevocationMode::Strict);
        for n in [1usize, 10, 100, 1000] {
            let u = fresh_user();
            let mut toks = Vec::new();
            for _ in 0..n {
                let l = m.login(&u, &sw_ctx()).await.unwrap();
                toks.push(l.tokens.access_token.expose_secret().to_owned());
            }
            // Interleave a floor sample with each measured op so load from
            // other processes hits both alike.
            let (mut auth, mut floor) = (Vec::new(), Vec::new());
            for i in 0..400 {
                let t = Instant::now();
                let _: Option<String> = redis::cmd("GET")
                    .arg(&floor_key)
                    .query_async(&mut raw)
                    .await
                    .unwrap();
                floor.push(t.elapsed());
                let t = Instant::now();
                m.authenticate(&toks[i % toks.len()]).await.unwrap();
                auth.push(t.elapsed());
            }
            // Login for this user (adds 20 sessions to the n while measured).
            let mut login = Vec::new();
            for _ in 0..20 {
                let t = Instant::now();
                m.login(&u, &sw_ctx()).await.unwrap();
                login.push(t.elapsed());
            }
            let row = json!({"store": name, "sessions": n, "authenticate_us": median(auth),
                "login_us": median(login), "floor_get_us": median(floor)});
            eprintln!("scaling {row}");
            scaling.push(row);
        }
    }
    report["scaling"] = Value::Array(scaling);

    redis_clear_prefix(&mut raw, SW_PREFIX).await;
    redis_clear_prefix(&mut raw, SG_PREFIX).await;
    std::fs::write(&out, serde_json::to_string_pretty(&report).unwrap()).unwrap();
    println!("{}", serde_json::to_string_pretty(&report).unwrap());
}
