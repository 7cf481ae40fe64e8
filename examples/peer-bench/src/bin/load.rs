//! Throughput (32 concurrent tasks, HDR histogram), Redis memory per
//! session, per-user scaling and total-sessions scaling, for sessionward and
//! session-guard on the same local Redis and Postgres. Writes one JSON
//! object to the path given as the first argument (read by `.ci/bench.sh` to
//! render the doc).
//!
//! Env: `BENCH_THROUGHPUT_SECS` (default 3), `BENCH_MEM_SESSIONS` (10 000),
//! `BENCH_TASKS` (32), `BENCH_TOTAL_MAX` (top step of the total-sessions
//! phase, default 1 000 000; 0 skips the phase), `BENCH_ONLY=total` (run
//! only the total-sessions phase) or `BENCH_ONLY=per_user` (only the
//! sessions-per-user phase).
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde_json::{Value, json};
use session_guard::{Guard, Outcome};
use sessionward_core::testing::fresh_user;
use sessionward_core::testing::test_tokens;
use sessionward_core::{RevocationMode, SessionManager, SessionPolicy, SessionStore};
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

/// Runs `op(i)` for `i in 0..n`, each preceded by one call of `floor`, so
/// load from other processes hits both alike. Returns the timings of the
/// operation and of the floor.
async fn interleaved_with(
    n: usize,
    mut floor: impl AsyncFnMut(),
    mut op: impl AsyncFnMut(usize),
) -> (Vec<Duration>, Vec<Duration>) {
    let (mut ops, mut floors) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for i in 0..n {
        let t = Instant::now();
        floor().await;
        floors.push(t.elapsed());
        let t = Instant::now();
        op(i).await;
        ops.push(t.elapsed());
    }
    (ops, floors)
}

/// [`interleaved_with`] a raw Redis `GET` of `floor_key` as the floor.
async fn interleaved(
    raw: &mut redis::aio::ConnectionManager,
    floor_key: &str,
    n: usize,
    op: impl AsyncFnMut(usize),
) -> (Vec<Duration>, Vec<Duration>) {
    let get = async || {
        let _: Option<String> = redis::cmd("GET")
            .arg(floor_key)
            .query_async(&mut *raw)
            .await
            .unwrap();
    };
    interleaved_with(n, get, op).await
}

/// One scaling row: authenticate and login medians with the floor median
/// over the GETs interleaved with both.
fn scaling_row(
    auth: (Vec<Duration>, Vec<Duration>),
    login: (Vec<Duration>, Vec<Duration>),
) -> Value {
    let (auth, mut floor) = auth;
    floor.extend(login.1);
    json!({"authenticate_us": median(auth), "login_us": median(login.0),
        "floor_get_us": median(floor)})
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let out = std::env::args().nth(1).expect("output path");
    let secs = env_num("BENCH_THROUGHPUT_SECS", 3);
    let dur = Duration::from_secs(secs);
    let tasks = env_num("BENCH_TASKS", 32) as usize;
    let mem_n = env_num("BENCH_MEM_SESSIONS", 10_000) as usize;
    let mut report = json!({"tasks": tasks, "secs": secs, "mem_sessions": mem_n});
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    assert!(
        matches!(only.as_str(), "" | "total" | "per_user"),
        "BENCH_ONLY must be unset, `total` or `per_user`"
    );
    let mut raw = redis_conn().await;
    if only.is_empty() {
        other_phases(&mut report, &mut raw, tasks, dur, mem_n).await;
    }
    if only == "per_user" {
        set_floor(&mut raw).await;
        let (sw_pg, sw_rd) = (sw_postgres(16).await, sw_redis(SW_PREFIX).await);
        report["scaling"] = scaling_per_user(&mut raw, &sw_rd, &sw_pg).await;
    }
    let total_max = env_num("BENCH_TOTAL_MAX", 1_000_000) as usize;
    if total_max > 0 && only != "per_user" {
        report["scaling_total"] = scaling_total(&mut raw, total_max).await;
    }

    redis_clear_prefix(&mut raw, SW_PREFIX).await;
    redis_clear_prefix(&mut raw, SG_PREFIX).await;
    std::fs::write(&out, serde_json::to_string_pretty(&report).unwrap()).unwrap();
    println!("{}", serde_json::to_string_pretty(&report).unwrap());
}

/// Throughput, Redis memory per session, per-user scaling.
async fn other_phases(
    report: &mut Value,
    raw: &mut redis::aio::ConnectionManager,
    tasks: usize,
    dur: Duration,
    mem_n: usize,
) {
    // ---------------- throughput ----------------
    let sw_pg = sw_postgres(16).await;
    let sw_rd = sw_redis(SW_PREFIX).await;
    let sg_pg = sg_postgres(16).await;
    let sg_vk = sg_valkey(SG_PREFIX).await;
    let mut tp = serde_json::Map::new();
    set_floor(raw).await;
    {
        let raw = raw.clone();
        tp.insert(
            "floor_redis_get".into(),
            drive(tasks, dur, move |_| {
                let mut raw = raw.clone();
                async move {
                    let _: Option<String> = redis::cmd("GET")
                        .arg(FLOOR_KEY)
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
                    let _: i32 = sqlx::query_scalar("SELECT 1")
                        .fetch_one(&pool)
                        .await
                        .unwrap();
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
                g.login(&uuid::Uuid::new_v4(), &sg_ctx(), None)
                    .await
                    .unwrap();
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
        let before = redis_used_memory(raw).await;
        seed_sw(&m, mem_n, 8, 0).await;
        let after = redis_used_memory(raw).await;
        let (bytes, keys) = redis_prefix_memory(raw, prefix).await;
        mem.insert(
            "sessionward".into(),
            json!({"info_delta": after as i64 - before as i64, "memory_usage_sum": bytes, "keys": keys}),
        );
        redis_clear_prefix(raw, prefix).await;
    }
    {
        let prefix = "sgmem:";
        let g = Guard::new(sg_valkey(prefix).await);
        let before = redis_used_memory(raw).await;
        seed_sg(&g, mem_n, 8, 0).await;
        let after = redis_used_memory(raw).await;
        let (bytes, keys) = redis_prefix_memory(raw, prefix).await;
        mem.insert(
            "session_guard".into(),
            json!({"info_delta": after as i64 - before as i64, "memory_usage_sum": bytes, "keys": keys}),
        );
        redis_clear_prefix(raw, prefix).await;
    }
    report["redis_memory"] = Value::Object(mem);

    report["scaling"] = scaling_per_user(raw, &sw_rd, &sw_pg).await;
}

/// Scaling in the sessions of one user, on Redis and Postgres.
async fn scaling_per_user(
    raw: &mut redis::aio::ConnectionManager,
    sw_rd: &sessionward_redis::RedisStore,
    sw_pg: &sessionward_sqlx::PostgresStore,
) -> Value {
    // Each store against its own floor (Redis GET, Postgres SELECT 1), under
    // two policies: unlimited (every login stays active) and the default
    // (5 per user, evict least recently used: n logins leave 5 active
    // sessions and n - 5 revoked tombstones, which a login must not read).
    let mut scaling = Vec::new();
    let pg_floor_pool = sw_pg.pool().clone();
    let stores: Vec<(&str, Arc<dyn SessionStore>)> = vec![
        ("redis", Arc::new(sw_rd.clone())),
        ("postgres", Arc::new(sw_pg.clone())),
    ];
    let policies = [
        ("unlimited", unlimited()),
        ("default", SessionPolicy::default()),
    ];
    for (name, store) in stores {
        for (policy_name, policy) in &policies {
            let m = SessionManager::builder(policy.clone(), test_tokens(), store.clone())
                .build()
                .unwrap();
            for n in [1usize, 10, 100, 1000] {
                let u = fresh_user();
                let mut toks = Vec::new();
                for _ in 0..n {
                    let l = m.login(&u, &sw_ctx()).await.unwrap();
                    toks.push(l.tokens.access_token.expose_secret().to_owned());
                }
                // Only sessions still active can authenticate (which ones a
                // limit evicted depends on tie-breaks between equal times).
                let mut live = Vec::new();
                for t in toks {
                    if m.authenticate(&t).await.is_ok() {
                        live.push(t);
                    }
                }
                let expected = policy.limits().per_user.map_or(n, |k| (k as usize).min(n));
                assert_eq!(live.len(), expected, "{name} {policy_name} n={n}");
                let toks = live;
                let (auth, login) = if name == "redis" {
                    let auth = interleaved(raw, FLOOR_KEY, 400, async |i| {
                        m.authenticate(&toks[i % toks.len()]).await.unwrap();
                    })
                    .await;
                    // Login for this user (n grows to n + 100 meanwhile).
                    let login = interleaved(raw, FLOOR_KEY, 100, async |_| {
                        m.login(&u, &sw_ctx()).await.unwrap();
                    })
                    .await;
                    (auth, login)
                } else {
                    let select_1 = async || {
                        let _: i32 = sqlx::query_scalar("SELECT 1")
                            .fetch_one(&pg_floor_pool)
                            .await
                            .unwrap();
                    };
                    let auth = interleaved_with(400, select_1, async |i| {
                        m.authenticate(&toks[i % toks.len()]).await.unwrap();
                    })
                    .await;
                    let login = interleaved_with(100, select_1, async |_| {
                        m.login(&u, &sw_ctx()).await.unwrap();
                    })
                    .await;
                    (auth, login)
                };
                let mut row = scaling_row(auth, login);
                row["store"] = json!(name);
                row["floor"] = json!(if name == "redis" { "GET" } else { "SELECT 1" });
                row["policy"] = json!(policy_name);
                row["sessions"] = json!(n);
                eprintln!("scaling {row}");
                scaling.push(row);
            }
        }
    }
    Value::Array(scaling)
}

/// `(calls, usec)` of `EVALSHA` from `INFO commandstats` (server-wide: the
/// other phases are idle while it is read).
async fn script_stats(raw: &mut redis::aio::ConnectionManager) -> (u64, u64) {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(raw)
        .await
        .unwrap();
    let Some(line) = info.lines().find(|l| l.starts_with("cmdstat_evalsha:")) else {
        return (0, 0);
    };
    let field = |name: &str| -> u64 {
        line.split([':', ','])
            .find_map(|kv| kv.strip_prefix(name))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("calls="), field("usec="))
}

/// The floor key (under `SW_PREFIX`): a 200-byte string read by every
/// floor `GET`.
const FLOOR_KEY: &str = "swbench:floor";

async fn set_floor(raw: &mut redis::aio::ConnectionManager) {
    redis::cmd("SET")
        .arg(FLOOR_KEY)
        .arg("x".repeat(200))
        .exec_async(raw)
        .await
        .unwrap();
}

const TOTAL_PREFIX: &str = "swtotal:";
/// Concurrent login tasks seeding the total-sessions phase.
const TOTAL_SEED_TASKS: usize = 64;
/// Tokens authenticate round-robins over at each step, sampled evenly from
/// every session seeded so far.
const TOTAL_SAMPLE: usize = 2000;
/// Keep one token in this many while seeding (≥ TOTAL_SAMPLE at 10k).
const TOTAL_KEEP_EVERY: usize = 5;

/// Steps of the total-sessions phase: 10k, 100k, 1M, … below `max`, then `max`.
fn total_steps(max: usize) -> Vec<usize> {
    let mut steps: Vec<usize> = std::iter::successors(Some(10_000usize), |s| s.checked_mul(10))
        .take_while(|&s| s < max)
        .collect();
    steps.push(max);
    steps
}

/// Authenticate and login cost as the total number of sessions in Redis
/// grows (fresh users, one session each), under its own prefix.
///
/// Policy: unlimited, access-token TTL and touch interval 1 h (idle timeout
/// 2 h) so no token expires and no step pays last-seen writes the others do
/// not: a strict authenticate is one `HGET` plus the JWT verify at every step.
async fn scaling_total(raw: &mut redis::aio::ConnectionManager, max: usize) -> Value {
    set_floor(raw).await;
    let store = sw_redis(TOTAL_PREFIX).await;
    let policy = SessionPolicy::builder()
        .unlimited_sessions_per_user()
        .access_token_ttl(Duration::from_secs(3600))
        .idle_timeout(Duration::from_secs(7200))
        .touch_interval(Duration::from_secs(3600))
        .build()
        .unwrap();
    let m = Arc::new(
        SessionManager::builder(policy, test_tokens(), Arc::new(store))
            .revocation_mode(RevocationMode::Strict)
            .build()
            .unwrap(),
    );
    let base_mem = redis_used_memory(raw).await;
    let (mut seeded, mut pool, mut seed_secs) = (0usize, Vec::new(), 0.0f64);
    let mut rows = Vec::new();
    for step in total_steps(max) {
        let t = Instant::now();
        pool.extend(
            seed_sw_where(&m, step - seeded, TOTAL_SEED_TASKS, |i| {
                i % TOTAL_KEEP_EVERY == 0
            })
            .await,
        );
        let secs = t.elapsed().as_secs_f64();
        seed_secs += secs;
        let seeded_now = step - seeded;
        seeded = step;
        let stride = (pool.len() / TOTAL_SAMPLE).max(1);
        let toks: Vec<&str> = pool
            .iter()
            .step_by(stride)
            .take(TOTAL_SAMPLE)
            .map(String::as_str)
            .collect();
        let auth = interleaved(raw, FLOOR_KEY, 2 * toks.len(), async |i| {
            m.authenticate(toks[i % toks.len()]).await.unwrap();
        })
        .await;
        // Server-side profile of the login: Redis' own accounting of the
        // scripts it ran (EVALSHA calls and microseconds) during the 400
        // logins, separating time inside Redis from the round trip.
        let before = script_stats(raw).await;
        let login = interleaved(raw, FLOOR_KEY, 400, async |_| {
            m.login(&fresh_user(), &sw_ctx()).await.unwrap();
        })
        .await;
        let after = script_stats(raw).await;
        let script_us_per_login = (after.1 - before.1) as f64 / 400.0;
        let scripts_per_login = (after.0 - before.0) as f64 / 400.0;
        seeded += 400;
        let mut row = scaling_row(auth, login);
        let used = redis_used_memory(raw).await;
        let t = Instant::now();
        let (bytes, keys) = redis_prefix_memory(raw, TOTAL_PREFIX).await;
        let dbsize: u64 = redis::cmd("DBSIZE").query_async(raw).await.unwrap();
        row["sessions"] = json!(step);
        row["redis_script_us_per_login"] = json!(script_us_per_login);
        row["redis_scripts_per_login"] = json!(scripts_per_login);
        row["seed_secs"] = json!(secs);
        row["seed_per_s"] = json!(seeded_now as f64 / secs);
        row["used_memory"] = json!(used);
        row["used_memory_delta"] = json!(used as i64 - base_mem as i64);
        row["prefix_memory_usage_sum"] = json!(bytes);
        row["prefix_keys"] = json!(keys);
        row["dbsize"] = json!(dbsize);
        row["memory_scan_secs"] = json!(t.elapsed().as_secs_f64());
        eprintln!("scaling_total {row}");
        rows.push(row);
    }
    let t = Instant::now();
    let cleared = redis_clear_prefix(raw, TOTAL_PREFIX).await;
    eprintln!(
        "scaling_total: cleared {cleared} keys in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    json!({"prefix": TOTAL_PREFIX, "seed_tasks": TOTAL_SEED_TASKS, "sample_tokens": TOTAL_SAMPLE,
        "seed_secs": seed_secs, "steps": rows})
}
