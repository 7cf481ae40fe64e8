//! Shared HTTP cases for token introspection (RFC 7662) and revocation
//! (RFC 7009), as a sibling service calls them.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;

use super::{
    AdapterHarness, TestRequest, TestResponse, as_cookies, assert_error, bearer, chrome, cookies,
    fixture, logged_in, phone,
};
use crate::policy::SessionPolicy;
use crate::web::{AdapterConfig, ClientSecret, REFRESH_COOKIE, ServiceClients};

const CLIENT: &str = "billing";
const SECRET: &str = "billing-service-secret-0123456789abcdef";

fn with_service(config: AdapterConfig) -> AdapterConfig {
    let clients = ServiceClients::new().with_client(CLIENT, ClientSecret::new(SECRET).unwrap());
    config.with_token_service(Arc::new(clients))
}

fn basic(id: &str, secret: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
}

/// A service's form `POST` to `path` with `body`, authenticated as
/// `authorization` when given.
fn service_post(path: &str, authorization: Option<String>, body: &str) -> TestRequest {
    let mut r =
        TestRequest::new("POST", path).header("content-type", "application/x-www-form-urlencoded");
    if let Some(a) = authorization {
        r = r.header("authorization", a);
    }
    r.body = body.as_bytes().to_vec();
    r
}

async fn introspect<H: AdapterHarness>(app: &H, token: &str) -> TestResponse {
    let body = format!("token={token}");
    app.send(service_post(
        "/auth/introspect",
        Some(basic(CLIENT, SECRET)),
        &body,
    ))
    .await
}

async fn revoke<H: AdapterHarness>(app: &H, token: &str) -> TestResponse {
    let body = format!("token={token}&token_type_hint=access_token");
    app.send(service_post(
        "/auth/revoke",
        Some(basic(CLIENT, SECRET)),
        &body,
    ))
    .await
}

fn assert_inactive(r: &TestResponse) {
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json(), json!({ "active": false }));
}

/// Caller authentication first, then a form with one `token`; `405`
/// otherwise; both routes absent unless configured.
async fn refusals<H: AdapterHarness>(app: &H, path: &str) {
    for auth in [
        None,
        Some(basic(CLIENT, "wrong-secret-wrong-secret-wrong-secret")),
        Some(basic("other", SECRET)),
        Some(format!("Bearer {SECRET}")),
    ] {
        let r = app.send(service_post(path, auth.clone(), "token=x")).await;
        assert_error(&r, 401, "invalid_client");
        assert_eq!(
            r.one("www-authenticate"),
            Some("Basic realm=\"sessionward\""),
            "{auth:?}"
        );
    }
    let mut json_body = TestRequest::new("POST", path)
        .header("authorization", basic(CLIENT, SECRET))
        .json(&json!({ "token": "x" }));
    json_body.peer = None;
    assert_error(&app.send(json_body).await, 400, "invalid_request");
    for body in ["", "token=", "tok=x", "token=a&token=b"] {
        let r = app
            .send(service_post(path, Some(basic(CLIENT, SECRET)), body))
            .await;
        assert_error(&r, 400, "invalid_request");
    }
    let r = app.send(TestRequest::new("GET", path)).await;
    assert_eq!(r.status, 405, "{}", r.body);
    assert_eq!(r.one("allow"), Some("POST"));
}

/// `POST <prefix>/introspect`: live access and refresh tokens are active
/// with their claims; a rotated refresh token, a logged-out session's
/// tokens, an expired access token and garbage are `{"active":false}`;
/// nothing is written; a down store is `503`, never `active`.
pub async fn token_introspection_over_http<H: AdapterHarness>() {
    let fx = fixture::<H>(with_service(bearer()), SessionPolicy::default()).await;
    refusals(&fx.app, "/auth/introspect").await;
    let mut d = logged_in(&fx, chrome(), "alice").await;
    let access = d.access.clone().unwrap();
    let refresh = d.refresh.clone().unwrap();

    let r = introspect(&fx.app, &access).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.one("cache-control"), Some("no-store"));
    let v = r.json();
    assert_eq!(v["active"], true);
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(v["token_kind"], "access_token");
    assert_eq!(v["sub"], "alice");
    assert_eq!(v["sid"].as_str(), d.session_id.as_deref());
    let tokens = fx.api.manager().tokens();
    assert_eq!(v["iss"], tokens.issuer());
    assert_eq!(v["aud"], tokens.audience());
    assert!(v["exp"].as_i64().unwrap() > v["iat"].as_i64().unwrap());

    let v = introspect(&fx.app, &refresh).await.json();
    assert_eq!(
        (v["active"].clone(), v["token_kind"].clone()),
        (json!(true), json!("refresh_token"))
    );
    assert!(
        v.get("token_type").is_none(),
        "RFC 6749 §5.1 types name access tokens"
    );
    assert_eq!(v["sub"], "alice");

    for garbage in ["x", "swrt1.x.y.z.w", "eyJ.e30.AA", &"a".repeat(4000)] {
        assert_inactive(&introspect(&fx.app, garbage).await);
    }

    // A rotated refresh token is inactive, its successor active; asking
    // was no reuse: the session goes on.
    assert_eq!(d.refresh(&fx.app).await.status, 200);
    assert_inactive(&introspect(&fx.app, &refresh).await);
    let v = introspect(&fx.app, d.refresh.as_deref().unwrap())
        .await
        .json();
    assert_eq!(v["active"], true);
    assert_eq!(d.hello(&fx.app).await.status, 200);

    // Past the access token's own lifetime it is inactive, the session not.
    let old_access = d.access.clone().unwrap();
    fx.clock.advance(Duration::from_secs(5 * 60 + 1));
    assert_inactive(&introspect(&fx.app, &old_access).await);
    assert_eq!(
        introspect(&fx.app, d.refresh.as_deref().unwrap())
            .await
            .json()["active"],
        true
    );

    fx.store.set_down(true);
    assert_error(
        &introspect(&fx.app, d.refresh.as_deref().unwrap()).await,
        503,
        "unavailable",
    );
    fx.store.set_down(false);

    // After logout, both tokens are inactive.
    assert_eq!(d.refresh(&fx.app).await.status, 200);
    let (access, refresh) = (d.access.clone().unwrap(), d.refresh.clone().unwrap());
    assert_eq!(
        fx.app.send(d.request("POST", "/auth/logout")).await.status,
        204
    );
    assert_inactive(&introspect(&fx.app, &access).await);
    assert_inactive(&introspect(&fx.app, &refresh).await);

    // Not served unless configured.
    let fx = fixture::<H>(bearer(), SessionPolicy::default()).await;
    let d = logged_in(&fx, chrome(), "alice").await;
    let r = introspect(&fx.app, d.access.as_deref().unwrap()).await;
    assert_eq!(r.status, 404, "{}", r.body);
    let r = revoke(&fx.app, d.access.as_deref().unwrap()).await;
    assert_eq!(r.status, 404, "{}", r.body);
}

/// `POST <prefix>/revoke`: a refresh token or an access token (even
/// expired) ends its session, and only that one; an unknown token answers
/// `200` and ends nothing; a refused caller ends nothing; a down store is
/// `503`. With cookie transport the service needs no CSRF token.
pub async fn token_revocation_over_http<H: AdapterHarness>() {
    let fx = fixture::<H>(with_service(bearer()), SessionPolicy::default()).await;
    refusals(&fx.app, "/auth/revoke").await;
    let mut a = logged_in(&fx, chrome(), "alice").await;
    let mut b = logged_in(&fx, phone(), "alice").await;

    for garbage in ["x", "swrt1.x.y.z.w", "eyJ.e30.AA"] {
        let r = revoke(&fx.app, garbage).await;
        assert_eq!((r.status, r.body.as_str()), (200, ""));
    }
    let r = fx
        .app
        .send(service_post(
            "/auth/revoke",
            None,
            &format!("token={}", a.refresh.as_deref().unwrap()),
        ))
        .await;
    assert_error(&r, 401, "invalid_client");
    fx.store.set_down(true);
    assert_error(
        &revoke(&fx.app, a.refresh.as_deref().unwrap()).await,
        503,
        "unavailable",
    );
    fx.store.set_down(false);
    assert_eq!(
        a.hello(&fx.app).await.status,
        200,
        "nothing was revoked so far"
    );

    let r = revoke(&fx.app, a.refresh.as_deref().unwrap()).await;
    assert_eq!((r.status, r.body.as_str()), (200, ""));
    assert_eq!(a.hello(&fx.app).await.status, 401);
    assert_eq!(a.refresh(&fx.app).await.status, 401);
    assert_eq!(
        b.hello(&fx.app).await.status,
        200,
        "the other session lives"
    );

    // An expired access token still names its session.
    fx.clock.advance(Duration::from_secs(5 * 60 + 1));
    let r = revoke(&fx.app, b.access.as_deref().unwrap()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(b.refresh(&fx.app).await.status, 401);

    let fx = fixture::<H>(with_service(cookies()), SessionPolicy::default()).await;
    let mut c = logged_in(&fx, as_cookies(chrome()), "alice").await;
    let refresh = c.jar.get(REFRESH_COOKIE).unwrap().0.clone();
    let r = revoke(&fx.app, &refresh).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(c.hello(&fx.app).await.status, 401);
}
