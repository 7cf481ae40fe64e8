//! Criterion benchmarks of the Redis store through the real `SessionManager`,
//! next to the floors measured in the same run: one raw Redis `GET` round
//! trip and one raw HS256 JWT verification of the same access token.
//!
//! Run: `cargo bench -p sessionward-redis --bench redis -- --warm-up-time 1 --measurement-time 3`
//! (`SESSIONWARD_REDIS_URL`, default `redis://127.0.0.1:6379`). Keys use a
//! random prefix and are deleted at the end.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use sessionward_core::testing::{Harness, fresh_user};
use sessionward_core::tokens::AccessClaims;
use sessionward_core::{
    Clock, ManualClock, RequestContext, RevocationMode, RevokeReason, SessionId, SessionPolicy,
    SessionStore, SystemClock,
};
use sessionward_redis::{RedisStore, RedisStoreConfig};

fn ctx() -> RequestContext {
    RequestContext::new()
        .with_user_agent("test/desktop/GB")
        .with_ip("81.2.69.142".parse().unwrap())
}

fn harness(store: &RedisStore, mode: RevocationMode) -> Harness {
    let store: Arc<dyn SessionStore> = Arc::new(store.clone());
    Harness::with_mode(
        store,
        SessionPolicy::builder()
            .unlimited_sessions_per_user()
            .build()
            .unwrap(),
        mode,
        ManualClock::new(SystemClock.now()),
    )
}

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let url = std::env::var("SESSIONWARD_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let prefix = format!(
        "swbench:{}:",
        SessionId::generate().as_str().replace('-', "x")
    );
    let store = match rt.block_on(RedisStore::connect(
        &url,
        RedisStoreConfig::default().with_key_prefix(prefix.clone()),
    )) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("SKIPPED: Redis not reachable at {url}: {e}");
            return;
        }
    };
    let strict = harness(&store, RevocationMode::Strict);
    let cached = rt.block_on(async {
        let h = harness(&store, RevocationMode::cached());
        while !h.manager.is_cache_live() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        h
    });

    // Floors.
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut raw = rt
        .block_on(client.get_connection_manager())
        .expect("raw connection");
    let floor_key = format!("{prefix}floor");
    rt.block_on(
        redis::cmd("SET")
            .arg(&floor_key)
            .arg("x".repeat(200))
            .exec_async(&mut raw),
    )
    .unwrap();
    let user = fresh_user();
    let login = rt.block_on(strict.manager.login(&user, &ctx())).unwrap();
    let token = login.tokens.access_token.expose_secret().to_owned();
    let key = DecodingKey::from_secret(&[0x5a; 32]).unwrap();
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_audience(&["conformance"]);
    validation.set_issuer(&["https://conformance.sessionward.test"]);

    let mut g = c.benchmark_group("redis");
    g.bench_function("floor_redis_get", |b| {
        b.to_async(&rt).iter(|| {
            let mut raw = raw.clone();
            let k = floor_key.clone();
            async move {
                let v: Option<String> = redis::cmd("GET")
                    .arg(k)
                    .query_async(&mut raw)
                    .await
                    .unwrap();
                v
            }
        })
    });
    g.bench_function("floor_jwt_verify_hs256", |b| {
        b.iter(|| jsonwebtoken::decode::<AccessClaims>(&token, &key, &validation).unwrap())
    });
    let hash_key = store.keys_for_user(&user)[0].clone();
    let sid = login.session.id.clone();
    g.bench_function("floor_redis_hget_same_record", |b| {
        b.to_async(&rt).iter(|| {
            let mut raw = raw.clone();
            let (k, f) = (hash_key.clone(), sid.as_str().to_owned());
            async move {
                let v: Option<String> = redis::cmd("HGET")
                    .arg(k)
                    .arg(f)
                    .query_async(&mut raw)
                    .await
                    .unwrap();
                v
            }
        })
    });
    g.bench_function("store_get", |b| {
        b.to_async(&rt)
            .iter(|| async { store.get(&user, &sid).await.unwrap().unwrap() })
    });
    g.bench_function("login", |b| {
        b.to_async(&rt)
            .iter(|| async { strict.manager.login(&fresh_user(), &ctx()).await.unwrap() })
    });
    g.bench_function("authenticate_strict", |b| {
        b.to_async(&rt)
            .iter(|| async { strict.manager.authenticate(&token).await.unwrap() })
    });
    let cached_login = rt
        .block_on(cached.manager.login(&fresh_user(), &ctx()))
        .unwrap();
    let cached_token = cached_login.tokens.access_token.expose_secret().to_owned();
    rt.block_on(cached.manager.authenticate(&cached_token))
        .unwrap();
    g.bench_function("authenticate_cached", |b| {
        b.to_async(&rt)
            .iter(|| async { cached.manager.authenticate(&cached_token).await.unwrap() })
    });
    g.bench_function("refresh", |b| {
        b.to_async(&rt).iter_custom(|iters| {
            let strict = &strict;
            async move {
                let l = strict.manager.login(&fresh_user(), &ctx()).await.unwrap();
                let mut rt_token = l.tokens.refresh_token;
                let started = Instant::now();
                for _ in 0..iters {
                    rt_token = strict
                        .manager
                        .refresh(&rt_token)
                        .await
                        .unwrap()
                        .tokens
                        .refresh_token;
                }
                started.elapsed()
            }
        })
    });
    let list_user = fresh_user();
    rt.block_on(async {
        for _ in 0..5 {
            strict.manager.login(&list_user, &ctx()).await.unwrap();
        }
    });
    g.bench_function("list_5", |b| {
        b.to_async(&rt).iter(|| async {
            let v = strict.manager.list(&list_user, None).await.unwrap();
            assert_eq!(v.len(), 5);
            v
        })
    });
    g.bench_function("revoke_all_5", |b| {
        b.to_async(&rt).iter_custom(|iters| {
            let strict = &strict;
            async move {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let user = fresh_user();
                    for _ in 0..5 {
                        strict.manager.login(&user, &ctx()).await.unwrap();
                    }
                    let started = Instant::now();
                    let n = strict
                        .manager
                        .revoke_all(&user, RevokeReason::User)
                        .await
                        .unwrap();
                    total += started.elapsed();
                    assert_eq!(n, 5);
                }
                total
            }
        })
    });
    g.finish();

    // Interleaved medians: every round runs each operation once, so load
    // from other processes hits all of them alike and the ratios stay
    // meaningful on a busy machine.
    rt.block_on(async {
        let rounds = 2000usize;
        let names = [
            "redis GET",
            "JWT verify (HS256)",
            "store.get",
            "authenticate strict",
            "authenticate cached",
            "login",
            "refresh",
            "list(5)",
            "revoke_all(5)",
        ];
        let mut samples: Vec<Vec<Duration>> = vec![Vec::with_capacity(rounds); names.len()];
        let mut rt_token = strict
            .manager
            .login(&fresh_user(), &ctx())
            .await
            .unwrap()
            .tokens
            .refresh_token;
        for round in 0..rounds {
            let t = Instant::now();
            let _: Option<String> = redis::cmd("GET")
                .arg(&floor_key)
                .query_async(&mut raw)
                .await
                .unwrap();
            samples[0].push(t.elapsed());
            let t = Instant::now();
            jsonwebtoken::decode::<AccessClaims>(&token, &key, &validation).unwrap();
            samples[1].push(t.elapsed());
            let t = Instant::now();
            store.get(&user, &sid).await.unwrap().unwrap();
            samples[2].push(t.elapsed());
            let t = Instant::now();
            strict.manager.authenticate(&token).await.unwrap();
            samples[3].push(t.elapsed());
            let t = Instant::now();
            cached.manager.authenticate(&cached_token).await.unwrap();
            samples[4].push(t.elapsed());
            let t = Instant::now();
            strict.manager.login(&fresh_user(), &ctx()).await.unwrap();
            samples[5].push(t.elapsed());
            let t = Instant::now();
            rt_token = strict
                .manager
                .refresh(&rt_token)
                .await
                .unwrap()
                .tokens
                .refresh_token;
            samples[6].push(t.elapsed());
            let t = Instant::now();
            strict.manager.list(&list_user, None).await.unwrap();
            samples[7].push(t.elapsed());
            if round % 4 == 0 {
                let u = fresh_user();
                for _ in 0..5 {
                    strict.manager.login(&u, &ctx()).await.unwrap();
                }
                let t = Instant::now();
                strict
                    .manager
                    .revoke_all(&u, RevokeReason::User)
                    .await
                    .unwrap();
                samples[8].push(t.elapsed());
            }
        }
        let median = |v: &mut Vec<Duration>| {
            v.sort();
            v[v.len() / 2]
        };
        let medians: Vec<Duration> = samples.iter_mut().map(median).collect();
        let floor = medians[0] + medians[1];
        println!(
            "\ninterleaved medians over {rounds} rounds (revoke_all over {}):",
            rounds / 4
        );
        println!("| operation | median | × GET | × (GET + JWT verify) |");
        println!("|---|---|---|---|");
        for (name, m) in names.iter().zip(&medians) {
            println!(
                "| {name} | {:.1} µs | {:.2} | {:.2} |",
                m.as_secs_f64() * 1e6,
                m.as_secs_f64() / medians[0].as_secs_f64(),
                m.as_secs_f64() / floor.as_secs_f64()
            );
        }
    });

    // Clean up every key of this run.
    rt.block_on(async {
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{prefix}*"))
            .query_async(&mut raw)
            .await
            .unwrap_or_default();
        for chunk in keys.chunks(500) {
            let _: Result<(), _> = redis::cmd("DEL").arg(chunk).query_async(&mut raw).await;
        }
    });
}

criterion_group!(redis_benches, benches);
criterion_main!(redis_benches);
