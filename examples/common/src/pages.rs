//! The app's own JSON routes, written once for both frameworks. Each
//! returns a [`WebResponse`] that the app converts.
//!
//! | route | function |
//! |---|---|
//! | `POST /login` | [`login`] (re-authenticates when the caller already has a session of that user) |
//! | `GET /api/config` | [`client_config`] |
//! | `GET /api/me` | [`me`] |
//! | `GET /api/notifications` | [`notifications`] |
//! | `GET /api/events` | [`events`] (demo only) |
//! | `GET /api/policy` | [`policy`] |

use serde::Deserialize;
use serde_json::json;
use sessionward_core::web::WebResponse;
use sessionward_core::{AuthenticatedSession, LoginOptions, RequestContext};

use crate::setup::DemoApp;
use crate::users::check_password;

/// A JSON answer (or a 500 if serialisation failed).
pub fn json(status: u16, value: &serde_json::Value) -> WebResponse {
    match serde_json::to_string(value) {
        Ok(body) => WebResponse::json(status, body),
        Err(_) => WebResponse::json(500, "{\"error\":\"internal_error\"}".to_owned()),
    }
}

/// `{"error": code}` with `status`.
pub fn error(status: u16, code: &str) -> WebResponse {
    json(status, &json!({ "error": code }))
}

/// The JSON body of a demo-only route: `404` outside demo mode, `400` for
/// a body that does not parse.
///
/// # Errors
/// The answer to send instead.
pub fn demo_body<T: serde::de::DeserializeOwned>(
    app: &DemoApp,
    body: &[u8],
) -> Result<T, WebResponse> {
    if !app.demo {
        return Err(error(404, "not_found"));
    }
    serde_json::from_slice(body).map_err(|_| error(400, "invalid_request"))
}

#[derive(Deserialize)]
struct LoginBody {
    username: String,
    password: String,
}

/// `POST /login` with `{"username", "password"}`. With a valid session of
/// the same user (the re-authentication prompt before ending sessions)
/// this replaces that session with a fresh one; otherwise a new login.
/// Wrong credentials: `401 {"error":"invalid_credentials"}`.
pub async fn login(
    app: &DemoApp,
    body: &[u8],
    current: Option<&AuthenticatedSession>,
    ctx: &RequestContext,
) -> WebResponse {
    let Ok(body) = serde_json::from_slice::<LoginBody>(body) else {
        return error(400, "invalid_request");
    };
    let Some(user) = check_password(app.demo, &body.username, &body.password) else {
        if app.demo {
            tracing::info!(target: "example", "failed login");
        } else {
            tracing::warn!(target: "example", "login refused: no user store ({})", crate::users::PLUG_IN_USERS);
        }
        return error(401, "invalid_credentials");
    };
    match current {
        Some(s) if s.user == user => app.api.reauthenticate(s, ctx).await,
        _ => {
            let method = LoginOptions::signed_in_with("password");
            app.api.login_with_options(&user, ctx, method).await
        }
    }
}

/// `GET /api/config`: what the front-end needs before login.
pub fn client_config(app: &DemoApp) -> WebResponse {
    json(
        200,
        &json!({
            "transport": app.transport(),
            "demo": app.demo,
            "plug_in_users": (!app.demo).then_some(crate::users::PLUG_IN_USERS),
            "prefix": app.api.config().route_prefix(),
            // DPoP proofs name this origin (`htu`), whichever name the
            // browser reached the app by.
            "public_origin": app.api.config().public_origin(),
            "reauth_seconds": app.api.config().recent_auth().map(|d| d.as_secs()),
            "demo_devices": if app.demo { crate::demo::catalogue() } else { json!(null) },
        }),
    )
}

/// `GET /api/me`: the signed-in user and session, and when the presented
/// access token expires (`access_expires_at`, RFC 3339), so that a page
/// loaded with cookies it cannot read still knows when to refresh.
pub fn me(session: &AuthenticatedSession) -> WebResponse {
    let exp =
        sessionward_core::Timestamp::from_unix_millis(session.claims.exp.saturating_mul(1000));
    json(
        200,
        &json!({
            "user": session.user.as_str(),
            "session_id": session.session_id.as_str(),
            "access_expires_at": exp,
        }),
    )
}

/// `GET /api/notifications`: the user's new-login notices, newest first.
/// Each carries its headline, the session-page link and the single-use
/// "this wasn't me" link.
pub fn notifications(app: &DemoApp, session: &AuthenticatedSession) -> WebResponse {
    let items: Vec<_> = app
        .outbox
        .for_user(&session.user)
        .into_iter()
        .map(|n| {
            json!({
                "headline": n.headline(),
                "device": n.device,
                "location": n.location,
                "ip": n.ip,
                "at": n.at,
                "reasons": n.reasons,
                "sessions_url": n.sessions_url,
                "not_me_url": n.not_me_url,
            })
        })
        .collect();
    json(200, &json!({ "notifications": items }))
}

/// `GET /api/events` (demo only): the last security events, newest first,
/// as the JSON lines a SIEM would receive.
pub fn events(app: &DemoApp) -> WebResponse {
    if !app.demo {
        return error(404, "not_found");
    }
    let lines: Vec<String> = app
        .events
        .events()
        .iter()
        .rev()
        .take(200)
        .map(|e| e.to_json())
        .collect();
    json(200, &json!({ "events": lines }))
}

/// `GET /api/policy`: the policy document from `SessionPolicy::describe`.
pub fn policy(app: &DemoApp) -> WebResponse {
    json(
        200,
        &json!({ "text": app.api.manager().policy().describe() }),
    )
}
