//! The demo-only "simulate a login from another device" route.
//!
//! `POST /demo/simulate-login` with `{"device": key, "ip": key}` (keys from
//! [`catalogue`]) logs the **caller's own user** in with that User-Agent
//! and IP, exactly as a real login would be: limits, evictions, risk
//! scoring, notices and events all apply. The new session's tokens are
//! thrown away (the "other device" never uses them). A `403
//! step_up_required` answer can be finished with `{"device", "ip",
//! "step_up_token"}` (the demo's "second factor" always passes).

use std::net::IpAddr;

use serde::Deserialize;
use serde_json::json;
use sessionward_core::web::{WebError, WebResponse};
use sessionward_core::{
    ActionToken, AuthenticatedSession, LoginSuccess, RequestContext, SessionError, SessionView,
    privacy::IpPrivacy,
};

use crate::pages::{error, json};
use crate::setup::DemoApp;

/// `(key, label, User-Agent)` of the simulated devices.
pub const DEVICES: &[(&str, &str, &str)] = &[
    (
        "chrome-windows",
        "Chrome on Windows",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    ),
    (
        "safari-iphone",
        "Safari on iPhone",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
    ),
    (
        "firefox-linux",
        "Firefox on Linux",
        "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    ),
    (
        "chrome-android",
        "Chrome on Android",
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
    ),
    (
        "googlebot",
        "Googlebot",
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    ),
];

/// `(key, label, IP)`: addresses present in MaxMind's test databases.
pub const PLACES: &[(&str, &str, &str)] = &[
    ("london", "London, United Kingdom", "81.2.69.142"),
    ("linkoping", "Linköping, Sweden", "89.160.20.128"),
    ("milton", "Milton, United States", "216.160.83.56"),
    ("changchun", "Changchun, China", "175.16.199.0"),
];

/// The device and place lists for the front-end.
pub fn catalogue() -> serde_json::Value {
    json!({
        "devices": DEVICES.iter().map(|(k, l, _)| json!({"key": k, "label": l})).collect::<Vec<_>>(),
        "places": PLACES.iter().map(|(k, l, ip)| json!({"key": k, "label": l, "ip": ip})).collect::<Vec<_>>(),
    })
}

#[derive(Deserialize)]
struct SimulateBody {
    device: String,
    ip: String,
    #[serde(default)]
    step_up_token: Option<String>,
}

fn context(device: &str, place: &str) -> Option<RequestContext> {
    let ua = DEVICES.iter().find(|d| d.0 == device)?.2;
    let ip: IpAddr = PLACES.iter().find(|p| p.0 == place)?.2.parse().ok()?;
    Some(RequestContext::new().with_user_agent(ua).with_ip(ip))
}

fn created(ok: &LoginSuccess, privacy: &IpPrivacy) -> WebResponse {
    json(
        200,
        &json!({
            "outcome": "created",
            "session": SessionView::from_record(&ok.session, None, privacy),
            "evicted": ok.evicted.len(),
        }),
    )
}

/// `POST /demo/simulate-login`: always `200` with `{"outcome": …}` for the
/// simulated login (`created`, or `refused` with the status and error body
/// a real login would have got), so the caller's own session handling is
/// not confused by the simulated device's answer.
pub async fn simulate_login(
    app: &DemoApp,
    session: &AuthenticatedSession,
    body: &[u8],
) -> WebResponse {
    let body: SimulateBody = match crate::pages::demo_body(app, body) {
        Ok(body) => body,
        Err(answer) => return answer,
    };
    let Some(ctx) = context(&body.device, &body.ip) else {
        return error(400, "invalid_request");
    };
    let manager = app.api.manager();
    let result = match &body.step_up_token {
        Some(token) => {
            let token = ActionToken::new(token.clone());
            match manager.step_up_user(&token) {
                Ok(user) if user == session.user => manager.complete_step_up(&token, &ctx).await,
                Ok(_) => return error(403, "not_your_challenge"),
                Err(e) => Err(e),
            }
        }
        None => manager.login(&session.user, &ctx).await,
    };
    match result {
        Ok(ok) => created(&ok, manager.ip_privacy()),
        Err(e) => refused(app, &e),
    }
}

fn refused(app: &DemoApp, e: &SessionError) -> WebResponse {
    let answer = app.api.error_response(&WebError::from(e));
    let body: serde_json::Value = answer
        .body
        .as_deref()
        .and_then(|b| serde_json::from_str(b).ok())
        .unwrap_or(serde_json::Value::Null);
    let risk = match e {
        SessionError::LoginDenied(r) => serde_json::to_value(r).ok(),
        _ => None,
    };
    json(
        200,
        &json!({
            "outcome": "refused",
            "status": answer.status,
            "body": body,
            "risk": risk,
        }),
    )
}
