//! Shared HTTP cases for OpenID Connect Back-Channel Logout, as an
//! identity provider calls it.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::{AdapterHarness, Device, Fixture, TestRequest, TestResponse, bearer, cookies, fixture};
use crate::ids::UserId;
use crate::manager::LoginOptions;
use crate::memory::MemoryStore;
use crate::policy::SessionPolicy;
use crate::record::{ProviderSession, RequestContext};
use crate::testing::provider::{IDP_ISSUER, TestProvider};
use crate::time::Clock;

async fn post_logout_token<H: AdapterHarness>(app: &H, token: &str) -> TestResponse {
    let mut r = TestRequest::new("POST", "/auth/backchannel-logout")
        .header("content-type", "application/x-www-form-urlencoded");
    r.body = format!("logout_token={token}").into_bytes();
    app.send(r).await
}

fn assert_refused(r: &TestResponse, error: &str, description: &str) {
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.one("cache-control"), Some("no-store"));
    assert_eq!(
        r.json(),
        json!({ "error": error, "error_description": description })
    );
}

/// A device holding the access token of a session alice signs in to
/// through `provider` (none: a local sign-in).
async fn signed_in<H: AdapterHarness>(
    fx: &Fixture<H>,
    provider: Option<ProviderSession>,
) -> Device {
    let options = LoginOptions {
        provider,
        ..LoginOptions::default()
    };
    let alice = UserId::new("alice").unwrap();
    let login = fx
        .api
        .manager()
        .login_with(&alice, &RequestContext::new(), options)
        .await
        .unwrap();
    let mut d = Device::new(
        true,
        "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0",
        [198, 51, 100, 7],
    );
    d.access = Some(login.tokens.access_token.expose_secret().to_owned());
    d
}

fn via(sid: &str) -> Option<ProviderSession> {
    Some(ProviderSession::new(IDP_ISSUER, "alice").with_sid(sid))
}

/// `POST <prefix>/backchannel-logout`: a valid logout token ends the
/// sessions of that provider session (or, with `sub` only, of that
/// provider user) and no other, answering `200`; a replay, each invalid
/// token and a store that does not answer are `400` with the reason; a
/// token issued before a session began does not end it; off by default.
pub async fn back_channel_logout_over_http<H: AdapterHarness>() {
    let idp = TestProvider::new();
    let receiver = Arc::new(idp.receiver(Arc::new(MemoryStore::new())));
    let fx = fixture::<H>(
        bearer().with_identity_provider(receiver.clone()),
        SessionPolicy::default(),
    )
    .await;
    let mut a = signed_in(&fx, via("sid-a")).await;
    let mut b = signed_in(&fx, via("sid-b")).await;
    let mut local = signed_in(&fx, None).await;
    let elsewhere =
        Some(ProviderSession::new("https://other-idp.example", "alice").with_sid("sid-a"));
    let mut other_idp = signed_in(&fx, elsewhere).await;

    let token = idp.logout_token(fx.clock.now(), Some("alice"), Some("sid-a"));
    let r = post_logout_token(&fx.app, &token).await;
    assert_eq!((r.status, r.body.as_str()), (200, ""));
    assert_eq!(r.one("cache-control"), Some("no-store"));
    assert_eq!(a.hello(&fx.app).await.status, 401);
    for d in [&mut b, &mut local, &mut other_idp] {
        assert_eq!(d.hello(&fx.app).await.status, 200, "only sid-a ended");
    }
    let ended: Vec<_> = fx
        .events
        .events()
        .into_iter()
        .filter(|e| e.kind.name() == "authn_token_revoked")
        .collect();
    assert_eq!(ended.len(), 1);
    assert_eq!(
        ended[0].kind,
        crate::events::EventKind::SessionRevoked {
            reason: crate::RevokeReason::ProviderLogout
        }
    );

    // Played again: refused, and said so in the events.
    assert_refused(
        &post_logout_token(&fx.app, &token).await,
        "invalid_request",
        "replayed",
    );
    assert!(fx.events.names().contains(&"provider_token_rejected"));

    // Invalid tokens and requests end nothing.
    let mut claims = idp.claims(fx.clock.now(), Some("alice"), None);
    claims["nonce"] = json!("abc");
    assert_refused(
        &post_logout_token(&fx.app, &idp.sign(&json!({}), &claims)).await,
        "invalid_request",
        "nonce_present",
    );
    let mut claims = idp.claims(fx.clock.now(), Some("alice"), None);
    claims["aud"] = json!("another-client");
    assert_refused(
        &post_logout_token(&fx.app, &idp.sign(&json!({}), &claims)).await,
        "invalid_request",
        "wrong_audience",
    );
    let forged =
        idp.sign_with_other_key(&json!({}), &idp.claims(fx.clock.now(), Some("alice"), None));
    assert_refused(
        &post_logout_token(&fx.app, &forged).await,
        "invalid_request",
        "unknown_key",
    );
    let mut json_body = TestRequest::new("POST", "/auth/backchannel-logout")
        .json(&json!({ "logout_token": token }));
    json_body.peer = None;
    assert_refused(
        &fx.app.send(json_body).await,
        "invalid_request",
        "a form with one logout_token",
    );
    assert_eq!(
        fx.app
            .send(TestRequest::new("GET", "/auth/backchannel-logout"))
            .await
            .status,
        405
    );
    assert_eq!(b.hello(&fx.app).await.status, 200);

    // A store that does not answer fails the logout (400); the provider's
    // retry of the same token then works.
    let sub_only = idp.logout_token(fx.clock.now(), Some("alice"), None);
    fx.store.set_down(true);
    assert_refused(
        &post_logout_token(&fx.app, &sub_only).await,
        "temporarily_unavailable",
        "the session store did not answer",
    );
    fx.store.set_down(false);
    assert_eq!(b.hello(&fx.app).await.status, 200);
    let r = post_logout_token(&fx.app, &sub_only).await;
    assert_eq!(r.status, 200, "{}", r.body);
    // `sub` alone: every session from that provider user, nothing else.
    assert_eq!(b.hello(&fx.app).await.status, 401);
    assert_eq!(local.hello(&fx.app).await.status, 200);
    assert_eq!(other_idp.hello(&fx.app).await.status, 200);

    // A token issued before a session began does not end it.
    let early = idp.logout_token(fx.clock.now(), Some("alice"), None);
    fx.clock.advance(Duration::from_secs(90));
    let mut later = signed_in(&fx, via("sid-c")).await;
    assert_eq!(post_logout_token(&fx.app, &early).await.status, 200);
    assert_eq!(later.hello(&fx.app).await.status, 200);
    // Past its `exp` but inside the skew allowance it would still pass the
    // checks, so its `jti` is still remembered.
    fx.clock.advance(Duration::from_secs(45));
    assert_refused(
        &post_logout_token(&fx.app, &early).await,
        "invalid_request",
        "replayed",
    );

    // Cookie transport: the provider needs no CSRF token.
    let fx = fixture::<H>(
        cookies().with_identity_provider(receiver),
        SessionPolicy::default(),
    )
    .await;
    signed_in(&fx, via("sid-d")).await;
    // The device holds a bearer token (this layer reads cookies only), so
    // its state is read from the store.
    let alice = UserId::new("alice").unwrap();
    let live = |fx: &Fixture<H>| {
        let store = fx.store.clone();
        let alice = alice.clone();
        async move {
            let all = crate::store::SessionStore::list(&store, &alice)
                .await
                .unwrap();
            all.iter().filter(|r| r.revoked.is_none()).count()
        }
    };
    assert_eq!(live(&fx).await, 1);
    let token = idp.logout_token(fx.clock.now(), Some("alice"), Some("sid-d"));
    assert_eq!(post_logout_token(&fx.app, &token).await.status, 200);
    assert_eq!(live(&fx).await, 0);

    // Not served unless configured.
    let fx = fixture::<H>(bearer(), SessionPolicy::default()).await;
    assert_eq!(post_logout_token(&fx.app, &token).await.status, 404);
}

async fn push<H: AdapterHarness>(app: &H, set: &str, content_type: &str) -> TestResponse {
    let mut r =
        TestRequest::new("POST", "/auth/security-events").header("content-type", content_type);
    r.body = set.as_bytes().to_vec();
    app.send(r).await
}

fn assert_push_refused(r: &TestResponse, err: &str, description: &str) {
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.json(), json!({ "err": err, "description": description }));
}

/// `POST <prefix>/security-events` (RFC 8935 push): a CAEP
/// session-revoked event ends that provider session (a `complex` subject)
/// and a password credential-change every session from that provider
/// user, answering `202`; a duplicate is acknowledged and ends nothing
/// new; refused SETs are `400` with the RFC 8935 `err`; a store that does
/// not answer is `503` and the retry works; off by default.
pub async fn security_events_over_http<H: AdapterHarness>() {
    use crate::provider::{CAEP_CREDENTIAL_CHANGE, CAEP_SESSION_REVOKED};
    const SET: &str = "application/secevent+jwt";
    let idp = TestProvider::new();
    let receiver = Arc::new(idp.receiver(Arc::new(MemoryStore::new())));
    let fx = fixture::<H>(
        bearer().with_identity_provider(receiver),
        SessionPolicy::default(),
    )
    .await;
    let mut a = signed_in(&fx, via("sid-a")).await;
    let mut b = signed_in(&fx, via("sid-b")).await;
    let mut local = signed_in(&fx, None).await;

    let mut claims = idp.set_claims(fx.clock.now(), CAEP_SESSION_REVOKED, "alice", json!({}));
    claims["sub_id"] = json!({ "format": "complex",
        "user": { "format": "iss_sub", "iss": IDP_ISSUER, "sub": "alice" },
        "session": { "format": "opaque", "id": "sid-a" } });
    let revoked = idp.sign_set(&claims);
    let r = push(&fx.app, &revoked, SET).await;
    assert_eq!((r.status, r.body.as_str()), (202, ""), "{}", r.body);
    assert_eq!(a.hello(&fx.app).await.status, 401);
    assert_eq!(b.hello(&fx.app).await.status, 200);
    assert_eq!(
        push(&fx.app, &revoked, SET).await.status,
        202,
        "a duplicate is acknowledged"
    );

    // Refusals say why, in RFC 8935 terms, and end nothing.
    assert_push_refused(
        &push(&fx.app, &revoked, "application/jwt").await,
        "invalid_request",
        "the body must be one application/secevent+jwt",
    );
    let mut wrong_aud = claims.clone();
    wrong_aud["aud"] = json!("someone-else");
    assert_push_refused(
        &push(&fx.app, &idp.sign_set(&wrong_aud), SET).await,
        "invalid_audience",
        "wrong_audience",
    );
    let mut wrong_iss = claims.clone();
    wrong_iss["iss"] = json!("https://evil.example");
    assert_push_refused(
        &push(&fx.app, &idp.sign_set(&wrong_iss), SET).await,
        "invalid_issuer",
        "wrong_issuer",
    );
    let forged = idp.sign_with_other_key(&json!({ "typ": "secevent+jwt" }), &claims);
    assert_push_refused(
        &push(&fx.app, &forged, SET).await,
        "invalid_key",
        "unknown_key",
    );
    let logout_token = idp.logout_token(fx.clock.now(), Some("alice"), None);
    assert_push_refused(
        &push(&fx.app, &logout_token, SET).await,
        "invalid_request",
        "unsupported_header",
    );
    assert_eq!(b.hello(&fx.app).await.status, 200);

    // A credential created ends nothing; a password changed ends the
    // provider user's sessions (not the local one), also after a store
    // outage made the first push fail.
    let created = json!({ "credential_type": "fido2-platform", "change_type": "create" });
    let set =
        idp.sign_set(&idp.set_claims(fx.clock.now(), CAEP_CREDENTIAL_CHANGE, "alice", created));
    assert_eq!(push(&fx.app, &set, SET).await.status, 202);
    assert_eq!(b.hello(&fx.app).await.status, 200);
    let changed = json!({ "credential_type": "password", "change_type": "update" });
    let set =
        idp.sign_set(&idp.set_claims(fx.clock.now(), CAEP_CREDENTIAL_CHANGE, "alice", changed));
    fx.store.set_down(true);
    assert_eq!(push(&fx.app, &set, SET).await.status, 503);
    fx.store.set_down(false);
    assert_eq!(b.hello(&fx.app).await.status, 200);
    assert_eq!(push(&fx.app, &set, SET).await.status, 202);
    let r = b.hello(&fx.app).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["reason"], "password_change");
    assert_eq!(local.hello(&fx.app).await.status, 200);

    let fx = fixture::<H>(bearer(), SessionPolicy::default()).await;
    assert_eq!(push(&fx.app, &set, SET).await.status, 404);
}
