//! Conformance cases for DPoP-bound sessions: the binding survives every
//! store, a copied token is refused without the key, and a proof is
//! accepted once across two instances sharing the store.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use super::dpop::DpopKey;
use super::harness::{Harness, fresh_user};
use crate::binding::{DpopRequest, KeyBinding, ProofError};
use crate::error::SessionError;
use crate::policy::SessionPolicy;
use crate::record::RequestContext;
use crate::secret::RefreshToken;
use crate::store::SessionStore;
use crate::time::Clock;

const API: &str = "https://api.example.test";

/// `ctx` carrying `key`'s proof for `method` `path`, for `token` if given.
fn proved(
    h: &Harness,
    key: &DpopKey,
    method: &str,
    path: &str,
    token: Option<&str>,
) -> RequestContext {
    let uri = format!("{API}{path}");
    let proof = key.proof(method, &uri, token, None, h.clock.now());
    RequestContext::new().with_dpop(DpopRequest::new(proof, method, uri))
}

/// `token` with one character of its secret changed (well inside it, so
/// the result still parses and only the secret differs).
fn flip_inside_secret(token: &str) -> String {
    let mut chars: Vec<char> = token.chars().collect();
    let i = chars.len() - 10;
    chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
    chars.into_iter().collect()
}

fn proof_error<T: std::fmt::Debug>(result: Result<T, SessionError>) -> ProofError {
    match result {
        Err(SessionError::Proof(e)) => e,
        other => panic!("expected a refused proof, got {other:?}"),
    }
}

/// A login with a proof binds the session in every store: the stored
/// record keeps the thumbprint, the access token carries `cnf.jkt`, and
/// the tokens alone (as a thief copies them) are refused, access and
/// refresh, while the owner with the key carries on; a proof is accepted
/// by exactly one of two instances.
pub async fn dpop_binding_holds_across_instances(store: Arc<dyn SessionStore>) {
    let a = Harness::new(store.clone(), SessionPolicy::default());
    let b = Harness::new(store.clone(), SessionPolicy::default());
    b.clock.set(a.clock.now());
    let key = DpopKey::p256();
    let user = fresh_user();
    let login = a
        .manager
        .login(&user, &proved(&a, &key, "POST", "/login", None))
        .await
        .unwrap();
    let binding = KeyBinding::Dpop {
        jkt: key.thumbprint(),
    };
    let stored = store.get(&user, &login.session.id).await.unwrap().unwrap();
    assert_eq!(
        stored.meta.binding,
        Some(binding.clone()),
        "the store keeps the binding"
    );
    let access = login.tokens.access_token.expose_secret();

    // The owner: a fresh proof for this token works, on either instance.
    let ctx = proved(&a, &key, "GET", "/orders", Some(access));
    let ok = a.manager.authenticate_with(access, &ctx).await.unwrap();
    assert_eq!(
        ok.claims.cnf.as_ref().map(|c| c.jkt.as_str()),
        Some(binding.thumbprint())
    );
    // The same proof again, here and on the second instance: replayed.
    assert_eq!(
        proof_error(a.manager.authenticate_with(access, &ctx).await),
        ProofError::Replayed
    );
    assert_eq!(
        proof_error(b.manager.authenticate_with(access, &ctx).await),
        ProofError::Replayed
    );
    let fresh = proved(&b, &key, "GET", "/orders", Some(access));
    b.manager.authenticate_with(access, &fresh).await.unwrap();

    // The thief: the token alone, or with a proof by another key.
    let thief = DpopKey::p256();
    assert_eq!(
        proof_error(a.manager.authenticate(access).await),
        ProofError::Missing
    );
    let forged = proved(&a, &thief, "GET", "/orders", Some(access));
    assert_eq!(
        proof_error(a.manager.authenticate_with(access, &forged).await),
        ProofError::KeyMismatch
    );
    let refresh = login.tokens.refresh_token.clone();
    assert_eq!(
        proof_error(a.manager.refresh(&refresh).await),
        ProofError::Missing
    );
    let thief_refresh = proved(&a, &thief, "POST", "/auth/refresh", None);
    assert_eq!(
        proof_error(a.manager.refresh_with(&refresh, &thief_refresh).await),
        ProofError::KeyMismatch
    );
    assert!(
        a.events.names().contains(&"authn_key_proof_failed"),
        "refusals are security events"
    );

    // Nothing the thief did rotated or ended anything: the owner refreshes
    // on the other instance, and the new tokens are bound too.
    let owner = proved(&b, &key, "POST", "/auth/refresh", None);
    let renewed = b.manager.refresh_with(&refresh, &owner).await.unwrap();
    assert_eq!(renewed.session.meta.binding, Some(binding));
    let next = renewed.tokens.access_token.expose_secret();
    assert_eq!(
        proof_error(b.manager.authenticate(next).await),
        ProofError::Missing
    );
    let ctx = proved(&b, &key, "GET", "/orders", Some(next));
    b.manager.authenticate_with(next, &ctx).await.unwrap();
    // The rotated refresh token with the key is reuse, as for any session.
    a.clock
        .set(b.clock.now().plus(std::time::Duration::from_secs(30)));
    let late = proved(&a, &key, "POST", "/auth/refresh", None);
    assert!(matches!(
        a.manager.refresh_with(&refresh, &late).await,
        Err(SessionError::RefreshTokenReuse)
    ));
}

/// A session logged in without a key stays a bearer session: a refresh
/// that carries a proof rotates it unbound.
pub async fn dpop_proof_on_an_unbound_session(store: Arc<dyn SessionStore>) {
    let h = Harness::new(store, SessionPolicy::default());
    let user = fresh_user();
    let login = h
        .manager
        .login(&user, &RequestContext::new())
        .await
        .unwrap();
    assert_eq!(login.session.meta.binding, None);
    let key = DpopKey::ed25519();
    let ctx = proved(&h, &key, "POST", "/auth/refresh", None);
    let token = RefreshToken::new(login.tokens.refresh_token.expose_secret());
    let renewed = h.manager.refresh_with(&token, &ctx).await.unwrap();
    assert_eq!(renewed.session.meta.binding, None);
    let access = renewed.tokens.access_token.expose_secret();
    assert!(
        h.manager.authenticate(access).await.is_ok(),
        "still a bearer token"
    );

    // Once DPoP is required (another instance's policy), the unbound
    // session cannot be refreshed into use: sign in again.
    let required = SessionPolicy::builder()
        .dpop(crate::binding::DpopPolicy {
            mode: crate::binding::DpopMode::Required,
            ..crate::binding::DpopPolicy::default()
        })
        .build()
        .unwrap();
    let strict = Harness::new(h.store.clone(), required);
    strict.clock.set(h.clock.now());
    let ctx = proved(&strict, &key, "POST", "/auth/refresh", None);
    let r = strict
        .manager
        .refresh_with(&renewed.tokens.refresh_token, &ctx)
        .await;
    assert!(
        matches!(r, Err(SessionError::ReauthenticationRequired)),
        "{r:?}"
    );
    assert_eq!(
        proof_error(strict.manager.authenticate(access).await),
        ProofError::Missing
    );
}

/// With `revoke_on_failure`, a genuine token of a bound session used
/// without its key ends the session; a forged secret for the same session
/// ends nothing and raises no theft alarm. A re-authentication of a bound
/// session keeps its key.
pub async fn dpop_failures_end_only_genuine_sessions(store: Arc<dyn SessionStore>) {
    let policy = SessionPolicy::builder()
        .dpop(crate::binding::DpopPolicy {
            revoke_on_failure: true,
            ..crate::binding::DpopPolicy::default()
        })
        .build()
        .unwrap();
    let h = Harness::new(store.clone(), policy);
    let key = DpopKey::p256();
    let user = fresh_user();
    let login = h
        .manager
        .login(&user, &proved(&h, &key, "POST", "/login", None))
        .await
        .unwrap();
    // A forged secret: same user and session, another secret.
    let real = login.tokens.refresh_token.expose_secret();
    let forged = flip_inside_secret(real);
    let r = h.manager.refresh(&RefreshToken::new(forged)).await;
    assert!(matches!(r, Err(SessionError::InvalidToken(_))), "{r:?}");
    assert!(!h.events.names().contains(&"authn_key_proof_failed"));
    assert!(
        store
            .get(&user, &login.session.id)
            .await
            .unwrap()
            .unwrap()
            .revoked
            .is_none()
    );

    // Re-authentication on a request proved by the key keeps the key.
    let access = login.tokens.access_token.expose_secret();
    let current = h
        .manager
        .authenticate_with(access, &proved(&h, &key, "POST", "/reauth", Some(access)))
        .await
        .unwrap();
    let again = h
        .manager
        .reauthenticate(&current, &RequestContext::new())
        .await
        .unwrap();
    assert_eq!(
        again.session.bound_thumbprint(),
        Some(key.thumbprint().as_str())
    );

    // The genuine refresh token without the key: a theft, the session ends.
    let r = h.manager.refresh(&again.tokens.refresh_token).await;
    assert_eq!(proof_error(r), ProofError::Missing);
    let ended = store.get(&user, &again.session.id).await.unwrap().unwrap();
    assert_eq!(
        ended.revoked.map(|r| r.reason),
        Some(crate::record::RevokeReason::KeyProofFailed)
    );
}
