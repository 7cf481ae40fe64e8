//! What DPoP costs per request: a bound session's `authenticate_with`
//! (proof parse, ES256 verify, claim checks, the replay record on the
//! memory store) next to the same call for a bearer session and to a bare
//! ES256 verify of the same proof, in one run.
//!
//! `cargo bench -p sessionward-core --bench dpop --features testing`
#![allow(missing_docs)]

use std::hint::black_box;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use jsonwebtoken::{Algorithm, DecodingKey};
use sessionward_core::binding::DpopRequest;
use sessionward_core::testing::dpop::DpopKey;
use sessionward_core::tokens::{SigningKey, TokenConfig};
use sessionward_core::{
    Clock, MemoryStore, RequestContext, SessionManager, SessionPolicy, SystemClock, UserId,
};

const URI: &str = "https://api.example.test/orders";

fn manager() -> SessionManager {
    let tokens = TokenConfig::builder("https://bench", "bench")
        .signing_key(SigningKey::hs256("k1", b"an-example-hs256-secret-32-bytes").expect("key"))
        .refresh_key([1; 32])
        .build()
        .expect("tokens");
    let policy = SessionPolicy::builder()
        .unlimited_sessions_per_user()
        .build()
        .expect("policy");
    SessionManager::builder(policy, tokens, Arc::new(MemoryStore::new()))
        .events(Arc::new(sessionward_core::events::FanoutSink::default()))
        .build()
        .expect("manager")
}

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let m = manager();
    let key = DpopKey::p256();
    let user = UserId::new("bench").expect("user");
    let login_proof = key.proof(
        "POST",
        "https://api.example.test/login",
        None,
        None,
        SystemClock.now(),
    );
    let bound = rt
        .block_on(m.login(
            &user,
            &RequestContext::new().with_dpop(DpopRequest::new(
                login_proof,
                "POST",
                "https://api.example.test/login",
            )),
        ))
        .expect("bound login");
    let bound_token = bound.tokens.access_token.expose_secret().to_owned();
    let bearer = rt
        .block_on(m.login(&user, &RequestContext::new()))
        .expect("login");
    let bearer_token = bearer.tokens.access_token.expose_secret().to_owned();

    // The floor: verifying one proof's ES256 signature, nothing else.
    let proof = key.proof("GET", URI, Some(&bound_token), None, SystemClock.now());
    let (message, signature) = proof.rsplit_once('.').expect("jws");
    let jwk = key.jwk();
    let mut point = vec![0x04];
    for c in ["x", "y"] {
        point.extend(
            URL_SAFE_NO_PAD
                .decode(jwk[c].as_str().expect("coordinate"))
                .expect("b64"),
        );
    }
    let decoding = DecodingKey::from_ec_der(&point);
    c.bench_function("floor/es256_verify", |b| {
        b.iter(|| {
            jsonwebtoken::crypto::verify(
                black_box(signature),
                black_box(message.as_bytes()),
                &decoding,
                Algorithm::ES256,
            )
            .expect("verify")
        })
    });
    c.bench_function("memory/authenticate_bearer", |b| {
        b.iter(|| {
            rt.block_on(m.authenticate(black_box(&bearer_token)))
                .expect("valid")
        })
    });
    // A fresh proof per call (made outside the timing): each is used once.
    c.bench_function("memory/authenticate_dpop_bound", |b| {
        b.iter_batched(
            || {
                RequestContext::new().with_dpop(DpopRequest::new(
                    key.proof("GET", URI, Some(&bound_token), None, SystemClock.now()),
                    "GET",
                    URI,
                ))
            },
            |ctx| {
                rt.block_on(m.authenticate_with(&bound_token, &ctx))
                    .expect("valid")
            },
            BatchSize::SmallInput,
        )
    });
}

criterion_group!(dpop, benches);
criterion_main!(dpop);
