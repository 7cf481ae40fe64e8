//! Shared HTTP cases for the session page's data: client hints, where a
//! session was last used, and the "Signed out" list.

use std::net::IpAddr;
use std::time::Duration;

use super::{AdapterHarness, chrome, cookies, fixture, logged_in};
use crate::policy::SessionPolicy;

/// Every response through the layer asks for client hints, the app's own
/// routes and refusals included, unless the config turns it off.
pub async fn accept_ch_on_every_response<H: AdapterHarness>() {
    let fx = fixture::<H>(cookies(), SessionPolicy::default()).await;
    let expected = Some(crate::enrich::ACCEPT_CH);
    let r = fx.app.send(chrome().request("GET", "/maybe")).await;
    assert_eq!((r.status, r.one("accept-ch")), (200, expected), "app route");
    let r = fx.app.send(chrome().request("GET", "/hello")).await;
    assert_eq!((r.status, r.one("accept-ch")), (401, expected), "refusal");
    let r = fx.app.send(chrome().request("GET", "/auth/sessions")).await;
    assert_eq!(r.one("accept-ch"), expected, "session route");
    let fx = fixture::<H>(cookies().with_client_hints(false), SessionPolicy::default()).await;
    let r = fx.app.send(chrome().request("GET", "/maybe")).await;
    assert_eq!(r.one("accept-ch"), None);
}

/// A login that sends client hints is named by them: the Windows release
/// the frozen User-Agent hides, and the phone model.
pub async fn client_hints_name_the_device<H: AdapterHarness>() {
    let fx = fixture::<H>(cookies(), SessionPolicy::default()).await;
    let mut d = super::as_cookies(chrome());
    let login = d
        .request("POST", "/login")
        .header("x-test-user", "alice")
        .header("sec-ch-ua-platform", "\"Windows\"")
        .header("sec-ch-ua-platform-version", "\"15.0.0\"");
    let r = d.send(&fx.app, login).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = d.sessions(&fx.app).await;
    let s = &r.json()["sessions"][0];
    assert_eq!(s["device"]["os_version"], "11", "{s}");
    assert!(
        s["device_name"].as_str().unwrap().contains("Windows 11"),
        "{s}"
    );
}

/// Over HTTP, the throttled touch of a request and a refresh record where
/// the session was used: the list shows the login address and the
/// last-seen one apart, the recent places, and ended sessions with how
/// they ended.
pub async fn sessions_remember_where_they_were_used<H: AdapterHarness>() {
    let policy = SessionPolicy::builder()
        .access_token_ttl(Duration::from_secs(3600))
        .build()
        .unwrap();
    let fx = fixture::<H>(cookies(), policy.clone()).await;
    let login_ip: IpAddr = "81.2.69.142".parse().unwrap();
    let mut d = super::as_cookies(chrome());
    d.peer = login_ip;
    let mut d = logged_in(&fx, d, "alice").await;
    let mut other = logged_in(&fx, super::as_cookies(chrome()), "alice").await;

    fx.clock.advance(policy.touch_interval());
    d.peer = "89.160.20.112".parse().unwrap();
    assert_eq!(d.hello(&fx.app).await.status, 200);
    fx.clock.advance(Duration::from_secs(2));
    d.peer = "2.125.160.216".parse().unwrap();
    let r = d.refresh(&fx.app).await;
    assert_eq!(r.status, 200, "{}", r.body);

    let other_id = other.session_id.clone().unwrap();
    let r = other.logout(&fx.app).await;
    assert_eq!(r.status, 204);
    let r = d.sessions(&fx.app).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let body = r.json();
    let mine = &body["sessions"][0];
    assert_eq!(mine["current"], true, "the caller's own first: {body}");
    assert_eq!(mine["ip"], login_ip.to_string());
    assert_eq!(mine["last_seen"]["ip"], "2.125.160.216", "{mine}");
    let places: Vec<&str> = mine["places"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["ip"].as_str().unwrap())
        .collect();
    assert_eq!(places, ["2.125.160.216", "89.160.20.112", "81.2.69.142"]);
    let ended = body["ended"].as_array().unwrap();
    assert_eq!(ended.len(), 1, "{body}");
    assert_eq!(ended[0]["id"], other_id.as_str());
    assert_eq!(ended[0]["ended_reason"], "logout");
    assert_eq!(ended[0]["ended_text"], "Signed out on that device");
}
