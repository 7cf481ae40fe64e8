//! One criterion run with the floors, sessionward on four stores,
//! session-guard 0.3.2 on its Postgres and Valkey stores, and tower-sessions
//! 0.14's Redis and Postgres stores (bare store load/save/create), against the
//! same local Postgres and Redis. Run through `.ci/bench.sh`, or:
//! `cargo bench --bench peers -- --warm-up-time 1 --measurement-time 2`
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use session_guard::{Guard, GuardConfig, ManualClock, Outcome};
use sessionward_core::testing::fresh_user;
use sessionward_core::tokens::AccessClaims;
use sessionward_core::{RevocationMode, RevokeReason, SessionManager, SessionStore};
use sessionward_peer_bench::*;
use tokio::runtime::Runtime;

const KEEP: usize = 1000;

struct Rr<T = String> {
    toks: Vec<T>,
    i: AtomicUsize,
}
impl<T> Rr<T> {
    fn new(toks: Vec<T>) -> Self {
        assert!(!toks.is_empty());
        Self {
            toks,
            i: AtomicUsize::new(0),
        }
    }
    fn next(&self) -> &T {
        &self.toks[self.i.fetch_add(1, Ordering::Relaxed) % self.toks.len()]
    }
}

/// login / authenticate (strict, cached) / refresh / list(5) / revoke_all(5)
/// for one sessionward store.
fn sw_suite(
    c: &mut Criterion,
    rt: &Runtime,
    name: &str,
    store: Arc<dyn SessionStore>,
    cached: bool,
) {
    let _rt_guard = rt.enter();
    let seed = seed_count();
    let strict = Arc::new(sw_manager(store.clone(), RevocationMode::Strict));
    let t0 = Instant::now();
    let toks = rt.block_on(seed_sw(&strict, seed, 8, KEEP));
    eprintln!("seeded {name}: {seed} sessions in {:?}", t0.elapsed());
    let rr = Rr::new(toks);
    let cached_m = cached.then(|| {
        let m = sw_manager(store.clone(), RevocationMode::cached());
        assert!(rt.block_on(wait_cache_live(&m)), "{name}: feed not live");
        m
    });

    let mut g = c.benchmark_group(name);
    g.sampling_mode(SamplingMode::Flat);
    g.bench_function("login", |b| {
        b.to_async(rt)
            .iter(|| async { strict.login(&fresh_user(), &sw_ctx()).await.unwrap() })
    });
    g.bench_function("authenticate_strict", |b| {
        b.to_async(rt)
            .iter(|| async { strict.authenticate(rr.next()).await.unwrap() })
    });
    if let Some(m) = &cached_m {
        g.bench_function("authenticate_cached", |b| {
            b.to_async(rt)
                .iter(|| async { m.authenticate(rr.next()).await.unwrap() })
        });
    }
    g.bench_function("refresh", |b| {
        b.to_async(rt).iter_custom(|iters| {
            let strict = &strict;
            async move {
                let l = strict.login(&fresh_user(), &sw_ctx()).await.unwrap();
                let mut t = l.tokens.refresh_token;
                let started = Instant::now();
                for _ in 0..iters {
                    t = strict.refresh(&t).await.unwrap().tokens.refresh_token;
                }
                started.elapsed()
            }
        })
    });
    let list_user = fresh_user();
    rt.block_on(async {
        for _ in 0..5 {
            strict.login(&list_user, &sw_ctx()).await.unwrap();
        }
    });
    g.bench_function("list_5", |b| {
        b.to_async(rt).iter(|| async {
            let v = strict.list(&list_user, None).await.unwrap();
            assert_eq!(v.len(), 5);
        })
    });
    g.bench_function("revoke_all_5", |b| {
        b.to_async(rt).iter_custom(|iters| {
            let strict = &strict;
            async move {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let u = fresh_user();
                    for _ in 0..5 {
                        strict.login(&u, &sw_ctx()).await.unwrap();
                    }
                    let started = Instant::now();
                    let n = strict.revoke_all(&u, RevokeReason::User).await.unwrap();
                    total += started.elapsed();
                    assert_eq!(n, 5);
                }
                total
            }
        })
    });
    g.finish();
}

/// login / authenticate / rotation / list(5) / revoke-all(5) for one
/// session-guard store.
fn sg_suite<St>(c: &mut Criterion, rt: &Runtime, name: &str, store: St)
where
    St: session_guard::SessionStore + Clone,
{
    let seed = seed_count();
    let guard = Guard::new(store.clone());
    let t0 = Instant::now();
    let toks = rt.block_on(seed_sg(&guard, seed, 8, KEEP));
    eprintln!("seeded {name}: {seed} sessions in {:?}", t0.elapsed());
    let rr = Rr::new(toks);
    // Rotation happens when the token is older than the rotation interval
    // (10 min): a second guard on the same store with a manual clock that
    // jumps 11 minutes before each authenticate.
    let clock = ManualClock::default();
    let rot_guard = Guard::builder(store, GuardConfig::default())
        .clock(clock.clone())
        .build();

    let mut g = c.benchmark_group(name);
    g.sampling_mode(SamplingMode::Flat);
    g.bench_function("login", |b| {
        b.to_async(rt).iter(|| async {
            guard
                .login(&uuid::Uuid::new_v4(), &sg_ctx(), None)
                .await
                .unwrap()
        })
    });
    g.bench_function("authenticate", |b| {
        b.to_async(rt).iter(|| async {
            let o = guard.authenticate(rr.next(), &sg_ctx()).await.unwrap();
            assert!(matches!(o, Outcome::Authenticated(_)));
        })
    });
    g.bench_function("rotation", |b| {
        b.to_async(rt).iter_custom(|iters| {
            let (rot_guard, clock) = (&rot_guard, &clock);
            async move {
                let mut total = Duration::ZERO;
                let mut tok = String::new();
                for i in 0..iters {
                    if i % 200 == 0 {
                        tok = rot_guard
                            .login(&uuid::Uuid::new_v4(), &sg_ctx(), None)
                            .await
                            .unwrap()
                            .token
                            .expose()
                            .to_owned();
                    }
                    clock.advance(Duration::from_secs(11 * 60));
                    let started = Instant::now();
                    let o = rot_guard.authenticate(&tok, &sg_ctx()).await.unwrap();
                    total += started.elapsed();
                    match o {
                        Outcome::Authenticated(a) => {
                            tok = a.rotated.expect("rotated").expose().to_owned();
                        }
                        Outcome::Rejected(r) => panic!("rotation rejected: {r:?}"),
                    }
                }
                total
            }
        })
    });
    let list_subject = uuid::Uuid::new_v4();
    rt.block_on(async {
        for _ in 0..5 {
            guard.login(&list_subject, &sg_ctx(), None).await.unwrap();
        }
    });
    g.bench_function("list_5", |b| {
        b.to_async(rt).iter(|| async {
            let v = guard.list_sessions(&list_subject).await.unwrap();
            assert_eq!(v.len(), 5);
        })
    });
    g.bench_function("revoke_all_5", |b| {
        b.to_async(rt).iter_custom(|iters| {
            let guard = &guard;
            async move {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let s = uuid::Uuid::new_v4();
                    for _ in 0..5 {
                        guard.login(&s, &sg_ctx(), None).await.unwrap();
                    }
                    let started = Instant::now();
                    let n = guard.revoke_all_for_subject(&s, &sg_ctx()).await.unwrap();
                    total += started.elapsed();
                    assert_eq!(n, 5);
                }
                total
            }
        })
    });
    g.finish();
}

/// load (the per-request store read) / save (update of an existing record) /
/// create for one tower-sessions store: the bare `SessionStore` calls, no
/// middleware, no cookie handling.
fn ts_suite<S>(c: &mut Criterion, rt: &Runtime, name: &str, store: S)
where
    S: tower_sessions::SessionStore + Clone,
{
    let seed = seed_count();
    let t0 = Instant::now();
    let recs = rt.block_on(seed_ts(&store, seed, 8, KEEP));
    eprintln!("seeded {name}: {seed} records in {:?}", t0.elapsed());
    let rr = Rr::new(recs);

    let mut g = c.benchmark_group(name);
    g.sampling_mode(SamplingMode::Flat);
    g.bench_function("load", |b| {
        b.to_async(rt).iter(|| async {
            let r = store.load(&rr.next().id).await.unwrap();
            assert!(r.is_some());
        })
    });
    g.bench_function("save", |b| {
        b.to_async(rt).iter(|| async {
            let mut r = rr.next().clone();
            let now = time::OffsetDateTime::now_utc();
            r.data
                .insert("seen_at".to_owned(), now.unix_timestamp().into());
            r.expiry_date = now + time::Duration::days(1);
            store.save(&r).await.unwrap();
        })
    });
    g.bench_function("create", |b| {
        b.to_async(rt).iter(|| async {
            let mut r = ts_record();
            store.create(&mut r).await.unwrap();
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
    let dir = std::env::temp_dir().join(format!("peer-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();

    let sw_pg = rt.block_on(sw_postgres(16));
    let sw_rd = rt.block_on(sw_redis(SW_PREFIX));
    let sg_pg = rt.block_on(sg_postgres(16));
    let sg_vk = rt.block_on(sg_valkey(SG_PREFIX));

    // ---- floors ----
    {
        let mut raw = rt.block_on(redis_conn());
        let floor_key = format!("{SW_PREFIX}floor");
        rt.block_on(
            redis::cmd("SET")
                .arg(&floor_key)
                .arg("x".repeat(200))
                .exec_async(&mut raw),
        )
        .unwrap();
        let pool = sw_pg.pool().clone();
        let m = sw_manager(
            Arc::new(sessionward_core::MemoryStore::new()),
            RevocationMode::Strict,
        );
        let token = rt
            .block_on(m.login(&fresh_user(), &sw_ctx()))
            .unwrap()
            .tokens
            .access_token
            .expose_secret()
            .to_owned();
        let hs_key = DecodingKey::from_secret(&[0x5a; 32]).unwrap();
        let mut hs_val = Validation::new(Algorithm::HS256);
        hs_val.set_audience(&["conformance"]);
        hs_val.set_issuer(&["https://conformance.sessionward.test"]);
        let claims = jsonwebtoken::decode::<AccessClaims>(&token, &hs_key, &hs_val)
            .unwrap()
            .claims;
        let ed_enc = EncodingKey::from_ed_pem(ED_PRIVATE_PEM.as_bytes()).unwrap();
        let ed_dec = DecodingKey::from_ed_pem(ED_PUBLIC_PEM.as_bytes()).unwrap();
        let ed_token =
            jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), &claims, &ed_enc).unwrap();
        let mut ed_val = Validation::new(Algorithm::EdDSA);
        ed_val.set_audience(&["conformance"]);
        ed_val.set_issuer(&["https://conformance.sessionward.test"]);

        let mut g = c.benchmark_group("floor");
        g.bench_function("redis_get", |b| {
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
        g.bench_function("pg_select_1", |b| {
            b.to_async(&rt).iter(|| async {
                let one: i32 = sqlx::query_scalar("SELECT 1")
                    .fetch_one(&pool)
                    .await
                    .unwrap();
                assert_eq!(one, 1);
            })
        });
        g.bench_function("jwt_hs256_verify", |b| {
            b.iter(|| jsonwebtoken::decode::<AccessClaims>(&token, &hs_key, &hs_val).unwrap())
        });
        g.bench_function("jwt_eddsa_verify", |b| {
            b.iter(|| jsonwebtoken::decode::<AccessClaims>(&ed_token, &ed_dec, &ed_val).unwrap())
        });
        g.finish();
    }

    // ---- sessionward ----
    sw_suite(
        c,
        &rt,
        "sw_memory",
        Arc::new(sessionward_core::MemoryStore::new()),
        true,
    );
    sw_suite(
        c,
        &rt,
        "sw_sqlite",
        Arc::new(rt.block_on(sw_sqlite(&dir))),
        false,
    );
    sw_suite(c, &rt, "sw_postgres", Arc::new(sw_pg.clone()), true);
    sw_suite(c, &rt, "sw_redis", Arc::new(sw_rd.clone()), true);

    // ---- enrichment (UA parse + GeoIP + risk) vs none, same store ----
    {
        let mem = Arc::new(sessionward_core::MemoryStore::new());
        let plain_mem = sw_manager(mem.clone(), RevocationMode::Strict);
        let rich_mem = sw_manager_enriched(mem.clone(), mem);
        let rd: Arc<sessionward_redis::RedisStore> = Arc::new(sw_rd.clone());
        let plain_rd = sw_manager(rd.clone(), RevocationMode::Strict);
        let rich_rd = sw_manager_enriched(rd.clone(), rd);
        let mut g = c.benchmark_group("sw_enrich");
        g.sampling_mode(SamplingMode::Flat);
        for (n, m) in [
            ("memory_login_plain", &plain_mem),
            ("memory_login_enriched", &rich_mem),
            ("redis_login_plain", &plain_rd),
            ("redis_login_enriched", &rich_rd),
        ] {
            let m: &SessionManager = m;
            g.bench_function(n, |b| {
                b.to_async(&rt)
                    .iter(|| async { m.login(&fresh_user(), &sw_ctx()).await.unwrap() })
            });
        }
        g.finish();
    }

    // ---- session-guard ----
    sg_suite(c, &rt, "sg_postgres", sg_pg);
    sg_suite(c, &rt, "sg_valkey", sg_vk);

    // ---- tower-sessions 0.14 (own Redis db index / Postgres database) ----
    ts_suite(c, &rt, "towersessions_redis", rt.block_on(ts_redis(4)));
    ts_suite(
        c,
        &rt,
        "towersessions_postgres",
        rt.block_on(ts_postgres(16)),
    );

    // Clean up our Redis prefixes (the databases stay for inspection and are
    // dropped at the start of the next run).
    rt.block_on(async {
        let mut c = redis_conn().await;
        redis_clear_prefix(&mut c, SW_PREFIX).await;
        redis_clear_prefix(&mut c, SG_PREFIX).await;
        ts_redis_flush().await;
    });
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group! {
    name = peer_benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        .without_plots();
    targets = benches
}
criterion_main!(peer_benches);
