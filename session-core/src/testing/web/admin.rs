//! Shared HTTP case for the operators' routes (`<prefix>/admin/…`).

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use super::{
    AdapterHarness, Device, TestRequest, TestResponse, as_cookies, assert_error, bearer, cookies,
    fixture, logged_in,
};
use crate::ids::UserId;
use crate::policy::SessionPolicy;
use crate::web::{AdapterConfig, AdminUsers};

const OPERATOR: &str = "oncall";
const REAUTH_AFTER: Duration = Duration::from_secs(15 * 60);

fn with_admin(config: AdapterConfig) -> AdapterConfig {
    let operators = AdminUsers::new(REAUTH_AFTER).with_user(UserId::new(OPERATOR).unwrap());
    config.with_admin(Arc::new(operators))
}

fn device(peer: [u8; 4]) -> Device {
    Device::new(true, "Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0", peer)
}

fn ids(r: &TestResponse) -> Vec<String> {
    let v: Value = r.json();
    let mut ids: Vec<String> = v["sessions"]
        .as_array()
        .unwrap_or_else(|| panic!("no sessions in {}", r.body))
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

fn revoke_body(filter: Value, dry_run: bool) -> Value {
    json!({ "filter": filter, "dry_run": dry_run })
}

/// The four admin routes: absent unless configured; refused to anonymous
/// callers (401), to users who are not operators (403) and to operators
/// whose sign-in is too old (401 `reauthentication_required`); unknown or
/// repeated parameters and members, empty filters and bad values are 400
/// and end nothing; a dry run ends nothing; revoke matching ends exactly
/// the matching sessions across users; a user's sessions end; a user
/// exports; a down store is 503; cookie callers need the CSRF token.
pub async fn admin_routes_over_http<H: AdapterHarness>() {
    let fx = fixture::<H>(with_admin(bearer()), SessionPolicy::default()).await;
    let mut alice = logged_in(&fx, device([192, 0, 2, 10]), "alice").await;
    let mut bob = logged_in(&fx, device([192, 0, 2, 11]), "bob").await;
    let mut carol = logged_in(&fx, device([198, 51, 100, 7]), "carol").await;
    let mut operator = logged_in(&fx, device([198, 51, 100, 99]), OPERATOR).await;
    let hostile: Vec<String> = {
        let mut v = vec![
            alice.session_id.clone().unwrap(),
            bob.session_id.clone().unwrap(),
        ];
        v.sort();
        v
    };
    let list = "/auth/admin/sessions?network=192.0.2.0%2F24";

    assert_error(
        &fx.app.send(TestRequest::new("GET", list)).await,
        401,
        "missing_token",
    );
    assert_error(
        &fx.app.send(alice.request("GET", list)).await,
        403,
        "forbidden",
    );
    let r = fx.app.send(operator.request("GET", list)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.one("cache-control"), Some("no-store"));
    assert_eq!(ids(&r), hostile);
    assert!(r.json()["next"].is_null());
    let all = fx
        .app
        .send(operator.request("GET", "/auth/admin/sessions?limit=3"))
        .await;
    assert_eq!(ids(&all).len(), 3);
    let next = all.json()["next"].as_str().unwrap().to_owned();
    let rest = fx
        .app
        .send(operator.request("GET", &format!("/auth/admin/sessions?after={next}")))
        .await;
    assert_eq!(ids(&rest).len(), 1, "four sessions in all");
    for bad in [
        "/auth/admin/sessions?netwrok=192.0.2.0%2F24",
        "/auth/admin/sessions?network=192.0.2.0%2F33",
        "/auth/admin/sessions?limit=5000",
        "/auth/admin/sessions?asn=1&asn=2",
        "/auth/admin/sessions?after=garbage",
    ] {
        assert_error(
            &fx.app.send(operator.request("GET", bad)).await,
            400,
            "invalid_request",
        );
    }

    let post = |d: &Device, path: &str, body: Value| d.request("POST", path).json(&body);
    let revoke = "/auth/admin/sessions/revoke";
    let dry = fx
        .app
        .send(post(
            &operator,
            revoke,
            revoke_body(json!({ "network": "192.0.2.0/24" }), true),
        ))
        .await;
    assert_eq!(dry.status, 200, "{}", dry.body);
    assert_eq!(
        (dry.json()["dry_run"].clone(), dry.json()["users"].clone()),
        (json!(true), json!(2))
    );
    assert_eq!(ids(&dry), hostile);
    for refused in [
        revoke_body(json!({}), false),
        revoke_body(json!({ "network": "0.0.0.0/0" }), false),
        revoke_body(json!({ "min_risk": "low" }), false),
        revoke_body(json!({ "netwrok": "192.0.2.0/24" }), false),
        json!({ "filter": { "network": "192.0.2.0/24" } }),
        json!({ "filter": { "network": "192.0.2.0/24" }, "dry_run": false, "reason": "logout" }),
        json!({ "filter": { "network": "192.0.2.0/24" }, "dry_run": false, "also": 1 }),
    ] {
        let r = fx.app.send(post(&operator, revoke, refused.clone())).await;
        assert_error(&r, 400, "invalid_request");
    }
    assert_error(
        &fx.app
            .send(post(
                &alice,
                revoke,
                revoke_body(json!({ "network": "192.0.2.0/24" }), false),
            ))
            .await,
        403,
        "forbidden",
    );
    assert_eq!(
        alice.hello(&fx.app).await.status,
        200,
        "nothing ended so far"
    );
    assert_eq!(bob.hello(&fx.app).await.status, 200);

    fx.store.set_down(true);
    let down = fx
        .app
        .send(post(
            &operator,
            revoke,
            revoke_body(json!({ "network": "192.0.2.0/24" }), false),
        ))
        .await;
    fx.store.set_down(false);
    assert_eq!(down.status, 503, "{}", down.body);

    let done = fx
        .app
        .send(post(
            &operator,
            revoke,
            revoke_body(json!({ "network": "192.0.2.0/24" }), false),
        ))
        .await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert_eq!(done.json()["dry_run"], false);
    assert_eq!(ids(&done), hostile);
    assert_eq!(alice.hello(&fx.app).await.status, 401);
    assert_eq!(bob.refresh(&fx.app).await.status, 401);
    assert_eq!(
        carol.hello(&fx.app).await.status,
        200,
        "outside the network"
    );

    let mut carol_phone = logged_in(&fx, device([198, 51, 100, 8]), "carol").await;
    let phone_id = carol_phone.session_id.clone().unwrap();
    let one = json!({ "user": "carol", "session": phone_id });
    let r = fx
        .app
        .send(post(&operator, "/auth/admin/users/revoke", one.clone()))
        .await;
    assert_eq!(
        (r.status, r.json()),
        (200, json!({ "revoked": 1 })),
        "{}",
        r.body
    );
    assert_eq!(carol_phone.hello(&fx.app).await.status, 401);
    assert_eq!(carol.hello(&fx.app).await.status, 200, "only that session");
    let again = fx
        .app
        .send(post(&operator, "/auth/admin/users/revoke", one))
        .await;
    assert_error(&again, 404, "not_found");
    let r = fx
        .app
        .send(post(
            &operator,
            "/auth/admin/users/revoke",
            json!({ "user": "carol" }),
        ))
        .await;
    assert_eq!(
        (r.status, r.json()),
        (200, json!({ "revoked": 1 })),
        "{}",
        r.body
    );
    assert_eq!(carol.hello(&fx.app).await.status, 401);

    let r = fx
        .app
        .send(operator.request("GET", "/auth/admin/users/export?user=alice"))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let export = r.json();
    assert_eq!(export["user"], "alice");
    assert_eq!(export["sessions"][0]["revoked"]["reason"], "admin");
    assert!(
        !r.body.contains("hash"),
        "no refresh-token hash: {}",
        r.body
    );
    assert_error(
        &fx.app
            .send(operator.request("GET", "/auth/admin/users/export?user=alice&user=bob"))
            .await,
        400,
        "invalid_request",
    );

    // The operator's sign-in grows old: refreshing keeps the session, not
    // the right to operate.
    fx.clock.advance(REAUTH_AFTER + Duration::from_secs(1));
    assert_eq!(operator.refresh(&fx.app).await.status, 200);
    assert_error(
        &fx.app.send(operator.request("GET", list)).await,
        401,
        "reauthentication_required",
    );

    // Not served unless configured.
    let plain = fixture::<H>(bearer(), SessionPolicy::default()).await;
    let op = logged_in(&plain, device([198, 51, 100, 99]), OPERATOR).await;
    assert_eq!(plain.app.send(op.request("GET", list)).await.status, 404);

    // Cookie callers pass the CSRF check like every session route.
    let fx = fixture::<H>(with_admin(cookies()), SessionPolicy::default()).await;
    let mut victim = logged_in(&fx, as_cookies(device([192, 0, 2, 10])), "alice").await;
    let mut operator = logged_in(&fx, as_cookies(device([198, 51, 100, 99])), OPERATOR).await;
    operator.send_csrf = false;
    let forged = fx
        .app
        .send(post(
            &operator,
            revoke,
            revoke_body(json!({ "network": "192.0.2.0/24" }), false),
        ))
        .await;
    assert_error(&forged, 403, "csrf_rejected");
    operator.send_csrf = true;
    let r = fx
        .app
        .send(post(
            &operator,
            revoke,
            revoke_body(json!({ "network": "192.0.2.0/24" }), false),
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(ids(&r).len(), 1, "{}", r.body);
    assert_eq!(victim.hello(&fx.app).await.status, 401);
    assert_eq!(operator.hello(&fx.app).await.status, 200);
}
