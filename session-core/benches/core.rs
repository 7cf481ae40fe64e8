//! Core engine on the memory store, next to raw `jsonwebtoken` in the same run.
//!
//! `cargo bench -p sessionward-core --bench core`
#![allow(missing_docs)]

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sessionward_core::tokens::{SigningKey, TokenConfig};
use sessionward_core::{
    MemoryStore, RequestContext, RevocationMode, RevokeReason, SessionManager, SessionPolicy,
    UserId,
};

const SECRET: &[u8; 32] = b"an-example-hs256-secret-32-bytes";

#[derive(Serialize, Deserialize)]
struct PlainClaims {
    sub: String,
    exp: u64,
}

fn manager(mode: RevocationMode) -> SessionManager {
    let tokens = TokenConfig::builder("https://bench", "bench")
        .signing_key(SigningKey::hs256("k1", SECRET).expect("key"))
        .refresh_key([1; 32])
        .build()
        .expect("tokens");
    let policy = SessionPolicy::builder()
        .unlimited_sessions_per_user()
        .build()
        .expect("policy");
    SessionManager::builder(policy, tokens, Arc::new(MemoryStore::new()))
        .events(Arc::new(sessionward_core::events::FanoutSink::default()))
        .revocation_mode(mode)
        .build()
        .expect("manager")
}

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let ctx = RequestContext::new().with_ip("81.2.69.142".parse().expect("ip"));

    // Floor: plain jsonwebtoken HS256 encode is not measured; decode+verify is.
    let plain = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &PlainClaims {
            sub: "alice".into(),
            exp: 4_000_000_000,
        },
        &EncodingKey::from_secret(SECRET).expect("key"),
    )
    .expect("encode");
    let key = DecodingKey::from_secret(SECRET).expect("key");
    let validation = Validation::new(Algorithm::HS256);
    c.bench_function("floor/jsonwebtoken_hs256_decode", |b| {
        b.iter(|| {
            jsonwebtoken::decode::<PlainClaims>(black_box(&plain), &key, &validation)
                .expect("valid")
        })
    });

    for (name, mode) in [
        ("strict", RevocationMode::Strict),
        ("cached", RevocationMode::cached()),
    ] {
        let m = rt.block_on(async { manager(mode) });
        let user = UserId::new("alice").expect("user");
        let login = rt.block_on(m.login(&user, &ctx)).expect("login");
        let token = login.tokens.access_token.expose_secret().to_owned();
        c.bench_function(&format!("memory/authenticate_{name}"), |b| {
            b.to_async(&rt)
                .iter(|| async { m.authenticate(black_box(&token)).await.expect("valid") })
        });
    }

    let m = rt.block_on(async { manager(RevocationMode::Strict) });
    let mut n = 0u64;
    c.bench_function("memory/login", |b| {
        b.to_async(&rt).iter(|| {
            n += 1;
            let user = UserId::new(format!("login-{n}")).expect("user");
            let m = m.clone();
            let ctx = ctx.clone();
            async move { m.login(&user, &ctx).await.expect("login") }
        })
    });

    let user = UserId::new("refresher").expect("user");
    let mut refresh = rt
        .block_on(m.login(&user, &ctx))
        .expect("login")
        .tokens
        .refresh_token;
    c.bench_function("memory/refresh", |b| {
        b.iter(|| {
            let r = rt.block_on(m.refresh(&refresh)).expect("refresh");
            refresh = r.tokens.refresh_token;
        })
    });

    let lister = UserId::new("lister").expect("user");
    for _ in 0..5 {
        rt.block_on(m.login(&lister, &ctx)).expect("login");
    }
    c.bench_function("memory/list_5", |b| {
        b.to_async(&rt)
            .iter(|| async { m.list(&lister, None).await.expect("list") })
    });

    let mut k = 0u64;
    c.bench_function("memory/revoke_all_5", |b| {
        b.iter_batched(
            || {
                k += 1;
                let u = UserId::new(format!("revoker-{k}")).expect("user");
                for _ in 0..5 {
                    rt.block_on(m.login(&u, &ctx)).expect("login");
                }
                u
            },
            |u| {
                rt.block_on(m.revoke_all(&u, RevokeReason::User))
                    .expect("revoke")
            },
            criterion::BatchSize::SmallInput,
        )
    });

    seen_benches(c, &rt);
}

/// What recording the last-seen place adds to the two writes that carry
/// it: a refresh, and an activity write that is due on every call (the
/// clock moves one touch interval per call), each without and with a
/// request context, in the same run.
fn seen_benches(c: &mut Criterion, rt: &tokio::runtime::Runtime) {
    let clock = sessionward_core::ManualClock::new(sessionward_core::Timestamp::from_unix_millis(
        1_800_000_000_000,
    ));
    let tokens = TokenConfig::builder("https://bench", "bench")
        .signing_key(SigningKey::hs256("k1", SECRET).expect("key"))
        .refresh_key([1; 32])
        .build()
        .expect("tokens");
    let every = std::time::Duration::from_millis(1);
    let policy = SessionPolicy::builder()
        .unlimited_sessions_per_user()
        .touch_interval(every)
        .access_token_ttl(std::time::Duration::from_secs(86_400))
        .build()
        .expect("policy");
    let m = SessionManager::builder(policy, tokens, Arc::new(MemoryStore::new()))
        .events(Arc::new(sessionward_core::events::FanoutSink::default()))
        .clock(Arc::new(clock.clone()))
        .build()
        .expect("manager");
    let ctx = RequestContext::new()
        .with_ip("81.2.69.142".parse().expect("ip"))
        .with_user_agent("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0");
    let user = UserId::new("toucher").expect("user");
    let login = rt.block_on(m.login(&user, &ctx)).expect("login");
    let token = login.tokens.access_token.expose_secret().to_owned();
    for with_context in [false, true] {
        let name = if with_context { "_with_context" } else { "" };
        c.bench_function(&format!("memory/touch_due{name}"), |b| {
            b.iter(|| {
                clock.advance(every);
                let call = async {
                    if with_context {
                        m.authenticate_with(&token, &ctx).await
                    } else {
                        m.authenticate(&token).await
                    }
                };
                rt.block_on(call).expect("valid")
            })
        });
    }
    let mut refresh = login.tokens.refresh_token;
    for with_context in [false, true] {
        let name = if with_context { "_with_context" } else { "" };
        c.bench_function(&format!("memory/refresh_advancing{name}"), |b| {
            b.iter(|| {
                clock.advance(every);
                let call = async {
                    if with_context {
                        m.refresh_with(&refresh, &ctx).await
                    } else {
                        m.refresh(&refresh).await
                    }
                };
                refresh = rt.block_on(call).expect("refresh").tokens.refresh_token;
            })
        });
    }
}

criterion_group!(core, benches);
criterion_main!(core);
