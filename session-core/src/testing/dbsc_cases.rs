//! Conformance cases for device-bound (DBSC) sessions: registration binds
//! the key in the same compare-and-swap as the rotation on every store, two
//! registrations racing bind exactly one key, and a signed refresh answer
//! is accepted once across two instances sharing the store.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use serde_json::json;

use super::dpop::DpopKey;
use super::harness::{Harness, fresh_user};
use crate::binding::{KeyBinding, ProofError};
use crate::error::SessionError;
use crate::manager::DeviceRefresh;
use crate::policy::SessionPolicy;
use crate::record::{RequestContext, RevokeReason};
use crate::secret::RefreshToken;
use crate::store::SessionStore;
use crate::time::Clock;

/// A `dbsc+jwt` over `challenge` by `key`, with its public key in the
/// header when `registration`.
fn dbsc_jwt(key: &DpopKey, challenge: &str, registration: bool) -> String {
    let mut header = json!({"typ": "dbsc+jwt", "alg": "ES256"});
    if registration {
        header["jwk"] = key.jwk().clone();
    }
    key.sign(&header, &json!({ "jti": challenge }))
}

fn challenge(refresh: DeviceRefresh) -> String {
    match refresh {
        DeviceRefresh::Challenge { challenge, .. } => challenge,
        other => panic!("expected a challenge, got {other:?}"),
    }
}

/// Registration on one instance with the other's sign-in challenge binds
/// the key in the store; the refresh token alone then rotates nothing; a
/// refresh signed over a live challenge rotates, once across both
/// instances; a refresh signed by another key ends the session.
pub async fn dbsc_binding_holds_across_instances(store: Arc<dyn SessionStore>) {
    let a = Harness::new(store.clone(), SessionPolicy::default());
    let b = Harness::new(store.clone(), SessionPolicy::default());
    b.clock.set(a.clock.now());
    let user = fresh_user();
    let login = a
        .manager
        .login(&user, &RequestContext::new())
        .await
        .unwrap();
    let offered = a
        .manager
        .dbsc_registration_challenge(&login.session)
        .unwrap();
    let key = DpopKey::p256();
    let token = login.tokens.refresh_token.clone();
    let bound = b
        .manager
        .register_device_key(
            &token,
            &dbsc_jwt(&key, &offered, true),
            &RequestContext::new(),
        )
        .await
        .unwrap();
    let stored = store.get(&user, &login.session.id).await.unwrap().unwrap();
    assert!(
        matches!(&stored.meta.binding, Some(KeyBinding::Dbsc { jkt, .. }) if *jkt == key.thumbprint()),
        "the store keeps the binding: {:?}",
        stored.meta.binding
    );
    assert_eq!(stored.refresh.generation, 1, "rotated with it");
    assert!(bound.tokens.access_token.expose_secret().starts_with("ey"));
    assert!(
        a.manager.dbsc_registration_challenge(&stored).is_none(),
        "a bound session is offered nothing"
    );
    let token = bound.tokens.refresh_token.clone();
    // A DBSC access token is the bound credential itself: no per-request proof.
    let access = bound.tokens.access_token.expose_secret();
    a.manager.authenticate(access).await.unwrap();

    // The refresh token alone rotates nothing, on either instance.
    for h in [&a, &b] {
        match h.manager.refresh(&token).await {
            Err(SessionError::Proof(ProofError::DeviceBound)) => {}
            other => panic!("expected device_bound, got {other:?}"),
        }
    }

    // The challenge flow: issued by one instance, answered on the other.
    let ctx = RequestContext::new();
    let c = challenge(
        a.manager
            .refresh_device_bound(&token, None, None, &ctx)
            .await
            .unwrap(),
    );
    let answer = dbsc_jwt(&key, &c, false);
    let refreshed = match b
        .manager
        .refresh_device_bound(&token, None, Some(&answer), &ctx)
        .await
        .unwrap()
    {
        DeviceRefresh::Refreshed(r) => r,
        other => panic!("expected a refresh, got {other:?}"),
    };
    assert_eq!(refreshed.session.refresh.generation, 2);
    // The same answer again, on either instance: a fresh challenge instead.
    let token = refreshed.tokens.refresh_token.clone();
    for h in [&a, &b] {
        challenge(
            h.manager
                .refresh_device_bound(&token, None, Some(&answer), &ctx)
                .await
                .unwrap(),
        );
    }

    // Another key's answer ends the session (the default policy).
    let c = challenge(
        a.manager
            .refresh_device_bound(&token, None, None, &ctx)
            .await
            .unwrap(),
    );
    let forged = dbsc_jwt(&DpopKey::p256(), &c, false);
    match b
        .manager
        .refresh_device_bound(&token, None, Some(&forged), &ctx)
        .await
    {
        Err(SessionError::Proof(ProofError::BadSignature)) => {}
        other => panic!("expected a refused signature, got {other:?}"),
    }
    let ended = store.get(&user, &login.session.id).await.unwrap().unwrap();
    assert_eq!(
        ended.revoked.map(|r| r.reason),
        Some(RevokeReason::KeyProofFailed)
    );
}

/// Two registrations of one sign-in with two keys, at once: exactly one
/// binds its key (the rotation's compare-and-swap decides), and the
/// stored binding is the winner's.
pub async fn dbsc_racing_registrations_bind_one_key(store: Arc<dyn SessionStore>) {
    for _ in 0..8 {
        let h = Harness::new(store.clone(), SessionPolicy::default());
        let user = fresh_user();
        let login = h
            .manager
            .login(&user, &RequestContext::new())
            .await
            .unwrap();
        let token: RefreshToken = login.tokens.refresh_token.clone();
        let keys = [DpopKey::p256(), DpopKey::p256()];
        let tasks: Vec<_> = keys
            .iter()
            .map(|key| {
                let offered = h
                    .manager
                    .dbsc_registration_challenge(&login.session)
                    .unwrap();
                let jwt = dbsc_jwt(key, &offered, true);
                let (manager, token) = (h.manager.clone(), token.clone());
                tokio::spawn(async move {
                    manager
                        .register_device_key(&token, &jwt, &RequestContext::new())
                        .await
                })
            })
            .collect();
        let mut winners = Vec::new();
        for (i, task) in tasks.into_iter().enumerate() {
            match task.await.unwrap() {
                Ok(_) => winners.push(i),
                Err(SessionError::Proof(ProofError::Registration(_)))
                | Err(SessionError::InvalidToken(_)) => {}
                Err(other) => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(winners.len(), 1, "exactly one registration binds");
        let stored = store.get(&user, &login.session.id).await.unwrap().unwrap();
        assert_eq!(
            stored.bound_thumbprint(),
            Some(keys[winners[0]].thumbprint().as_str())
        );
        assert_eq!(stored.refresh.generation, 1);
    }
}
