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
        bearer().with_back_channel_logout(receiver.clone()),
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
    assert!(fx.events.names().contains(&"provider_logout_rejected"));

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
    let forged = idp.sign_with_other_key(&idp.claims(fx.clock.now(), Some("alice"), None));
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

    // Cookie transport: the provider needs no CSRF token.
    let fx = fixture::<H>(
        cookies().with_back_channel_logout(receiver),
        SessionPolicy::default(),
    )
    .await;
    let mut d = signed_in(&fx, via("sid-d")).await;
    let token = idp.logout_token(fx.clock.now(), Some("alice"), Some("sid-d"));
    assert_eq!(post_logout_token(&fx.app, &token).await.status, 200);
    d.bearer = true;
    assert_eq!(d.hello(&fx.app).await.status, 401);

    // Not served unless configured.
    let fx = fixture::<H>(bearer(), SessionPolicy::default()).await;
    assert_eq!(post_logout_token(&fx.app, &token).await.status, 404);
}
