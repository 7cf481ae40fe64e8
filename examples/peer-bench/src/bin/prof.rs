//! Hot-path driver for `valgrind --tool=callgrind` (deterministic
//! instruction counts, immune to the shared machine's noise):
//! `prof <jwt|cached|strict|login|login-enriched> <iterations>` on the
//! in-process memory store (the login modes log in a fresh user each time;
//! `login-enriched` with the bundled enricher and the risk engine in shadow
//! mode, the User-Agent cached after the warm-up login).
//! Instructions per op = (Ir(n) - Ir(0)) / n.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use sessionward_core::tokens::AccessClaims;
use sessionward_core::{MemoryStore, RevocationMode};
use sessionward_peer_bench::*;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mode = std::env::args().nth(1).expect("mode");
    let n: usize = std::env::args().nth(2).expect("n").parse().unwrap();
    let store = Arc::new(MemoryStore::new());
    let m = if mode == "login-enriched" {
        sw_manager_enriched(store.clone(), store)
    } else {
        sw_manager(
            store,
            if mode == "cached" {
                RevocationMode::cached()
            } else {
                RevocationMode::Strict
            },
        )
    };
    if mode == "cached" {
        assert!(wait_cache_live(&m).await);
    }
    let token = m
        .login(&user(), &sw_ctx())
        .await
        .unwrap()
        .tokens
        .access_token;
    let token = token.expose_secret().to_owned();
    m.authenticate(&token).await.unwrap();
    let key = DecodingKey::from_secret(&[0x5a; 32]).unwrap();
    let mut v = Validation::new(Algorithm::HS256);
    v.set_audience(&["conformance"]);
    v.set_issuer(&["https://conformance.sessionward.test"]);
    jsonwebtoken::decode::<AccessClaims>(&token, &key, &v).unwrap();
    for _ in 0..n {
        match mode.as_str() {
            "jwt" => {
                std::hint::black_box(
                    jsonwebtoken::decode::<AccessClaims>(&token, &key, &v).unwrap(),
                );
            }
            "login" | "login-enriched" => {
                std::hint::black_box(m.login(&user(), &sw_ctx()).await.unwrap());
            }
            _ => {
                std::hint::black_box(m.authenticate(&token).await.unwrap());
            }
        }
    }
}
