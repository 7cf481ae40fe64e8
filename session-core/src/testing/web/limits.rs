//! Shared HTTP cases for "sign out a device and continue" and for telling
//! an ended session's device why it ended.

use serde_json::json;

use super::{
    AdapterHarness, Device, as_cookies, assert_ended, bearer, chrome, cookies, fixture, logged_in,
    phone,
};
use crate::policy::{OnLimit, SessionPolicy};
use crate::testing::cases::policy;
use crate::web::{DEVICE_COOKIE, TokenTransport};

fn tablet() -> Device {
    Device::new(
        true,
        "Mozilla/5.0 (iPad) Mobile Safari/605.1",
        [81, 2, 69, 170],
    )
}

/// `POST /auth/login/continue` from `d` with `body`.
async fn post_continue<H: AdapterHarness>(
    d: &mut Device,
    app: &H,
    body: &serde_json::Value,
) -> super::TestResponse {
    let req = d.request("POST", "/auth/login/continue").json(body);
    d.send(app, req).await
}

/// At the limit the login answers `409` with the sessions and a ticket;
/// posting the ticket with the chosen session ends it and signs in, in
/// one step. The ended device is told it was signed out from another
/// device; the ticket works once, from this client only.
pub async fn limit_reached_then_continue<H: AdapterHarness>() {
    for transport in [TokenTransport::Bearer, TokenTransport::Cookies] {
        let config = match transport {
            TokenTransport::Bearer => bearer(),
            TokenTransport::Cookies => cookies(),
        };
        let fx = fixture::<H>(config, policy(2, OnLimit::RejectNew)).await;
        let as_transport = |d: Device| match transport {
            TokenTransport::Bearer => d,
            TokenTransport::Cookies => as_cookies(d),
        };
        let mut a = logged_in(&fx, as_transport(chrome()), "alice").await;
        let b = logged_in(&fx, as_transport(phone()), "alice").await;
        let mut c = as_transport(tablet());
        let r = c.login(&fx.app, "alice").await;
        assert_eq!(r.status, 409, "{}", r.body);
        let v = r.json();
        assert_eq!(v["error"], "session_limit_reached");
        assert_eq!(v["active"].as_array().unwrap().len(), 2);
        let ticket = v["ticket"].as_str().expect("a ticket").to_owned();
        assert!(v["ticket_expires_at"].is_string() || v["ticket_expires_at"].is_number());
        // No session cookie before the login completes; with cookies only
        // the device cookie the ticket is bound to.
        for cookie in r.all("set-cookie") {
            assert!(cookie.starts_with(&format!("{DEVICE_COOKIE}=")), "{cookie}");
        }

        // Bad requests change nothing.
        for bad in [
            json!({"ticket": ticket, "end": ["not-an-id"]}),
            json!({"ticket": ticket, "end": [a.session_id], "extra": 1}),
            json!({"end": [a.session_id]}),
        ] {
            let r = post_continue(&mut c, &fx.app, &bad).await;
            assert_eq!(r.status, 400, "{bad}: {}", r.body);
        }
        // From another site, or not as JSON: refused before the ticket is read.
        let body = json!({"ticket": ticket, "end": [a.session_id]});
        let cross = c
            .request("POST", "/auth/login/continue")
            .json(&body)
            .header("sec-fetch-site", "cross-site");
        assert_eq!(fx.app.send(cross).await.status, 403);
        let mut form = c.request("POST", "/auth/login/continue");
        form.body = body.to_string().into_bytes();
        let form = form.header("content-type", "text/plain");
        assert_eq!(fx.app.send(form).await.status, 400);
        // The ticket from another client is refused.
        let mut thief = as_transport(Device::new(true, "curl/8.0", [203, 0, 113, 9]));
        let body = json!({"ticket": ticket, "end": [a.session_id]});
        let r = post_continue(&mut thief, &fx.app, &body).await;
        assert_eq!(
            (r.status, r.json()["error"].clone()),
            (401, json!("invalid_token"))
        );

        let r = post_continue(&mut c, &fx.app, &body).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.json()["evicted"], json!([a.session_id]));
        assert_eq!(c.hello(&fx.app).await.status, 200, "signed in");
        let r = a.hello(&fx.app).await;
        assert_ended(&r, "user");
        let mut b = b;
        assert_eq!(b.hello(&fx.app).await.status, 200, "the other device stays");

        // Single use.
        let again = json!({"ticket": ticket, "end": [b.session_id]});
        let r = post_continue(&mut c, &fx.app, &again).await;
        assert_eq!(r.status, 401, "{}", r.body);
        assert_eq!(b.hello(&fx.app).await.status, 200);
        let events = serde_json::to_string(&fx.events.events()).unwrap();
        assert!(!events.contains(&ticket), "an event holds the ticket");
    }
}

/// With eviction, the login answer names the sessions it ended, the
/// evicted device is told why, and the session list shows it signed out.
pub async fn eviction_is_named_and_explained<H: AdapterHarness>() {
    let fx = fixture::<H>(cookies(), policy(1, OnLimit::EvictOldest)).await;
    let mut a = logged_in(&fx, as_cookies(chrome()), "alice").await;
    let first = a.session_id.clone().unwrap();
    let mut b = as_cookies(phone());
    let r = b.login(&fx.app, "alice").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["evicted"], json!([first]));
    let r = a.hello(&fx.app).await;
    assert_ended(&r, "evicted");
    let r = b.sessions(&fx.app).await;
    let v = r.json();
    let ended = v["ended"].as_array().unwrap();
    assert_eq!(ended.len(), 1, "{v}");
    assert_eq!(ended[0]["id"], json!(first));
    assert_eq!(ended[0]["ended_reason"], "evicted");
    // A login with room ends nothing, and says so.
    let fx = fixture::<H>(bearer(), SessionPolicy::default()).await;
    let mut d = chrome();
    let r = d.login(&fx.app, "alice").await;
    assert_eq!(r.json()["evicted"], json!([]));
}
