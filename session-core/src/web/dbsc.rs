//! The server side of Device Bound Session Credentials for the cookie
//! transport, as Chrome ships it: the registration offer on a sign-in's
//! answer, `POST <prefix>/dbsc/register`, and `POST <prefix>/dbsc/refresh`
//! with its `403` challenge step.
//!
//! The bound credential is the access cookie: a device-bound session's is
//! set with the access token's own lifetime, so the browser finds it gone
//! after a few minutes and renews it through the refresh route with a
//! signature by its device key. Neither route needs the CSRF token: the
//! registration needs a signature over this sign-in's challenge, and a
//! refresh changes nothing without the key's signature over a challenge
//! only the browser was given.

use serde_json::json;

use super::HeaderSource;
use super::api::SessionApi;
use super::cookies::{ACCESS_COOKIE, REFRESH_COOKIE};
use super::error::{ErrorCode, WebError};
use super::response::WebResponse;
use super::routes::RouteRequest;
use crate::binding::{
    CHALLENGE_HEADER, DBSC_ALGORITHMS, RESPONSE_HEADERS, SESSION_ID_HEADERS,
    parse_session_identifier,
};
use crate::error::SessionError;
use crate::manager::{DeviceRefresh, Refreshed};
use crate::record::SessionRecord;
use crate::secret::RefreshToken;

/// Path of the registration route, under the route prefix.
pub(super) const REGISTER_PATH: &str = "/dbsc/register";

/// Path of the refresh route, under the route prefix.
pub(super) const REFRESH_PATH: &str = "/dbsc/refresh";

/// The first of `names` present as text.
fn first_header<'a, H: HeaderSource>(headers: &'a H, names: &[&str]) -> Option<&'a str> {
    names.iter().find_map(|name| {
        headers
            .header(name)
            .and_then(|v| std::str::from_utf8(v).ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    })
}

impl SessionApi {
    /// The `Secure-Session-Registration` value offering `session` a device
    /// key, when the policy offers DBSC and the session is not bound.
    pub(super) fn dbsc_offer(&self, session: &SessionRecord) -> Option<String> {
        let challenge = self.manager().dbsc_registration_challenge(session)?;
        Some(format!(
            "({DBSC_ALGORITHMS});path=\"{}{REGISTER_PATH}\";challenge=\"{challenge}\"",
            self.config().route_prefix()
        ))
    }

    /// `POST <prefix>/dbsc/register`: the browser's signed JWT over this
    /// sign-in's challenge binds the session to its device key. Answers the
    /// session instructions JSON with the new cookies, or `403` (the
    /// browser keeps plain cookies).
    pub(super) async fn dbsc_register<H: HeaderSource>(
        &self,
        req: &RouteRequest<'_, H>,
    ) -> WebResponse {
        let Some(token) = self.refresh_cookie(req.headers) else {
            return self.error_response(&WebError::new(ErrorCode::MissingToken));
        };
        let Some(jwt) = first_header(req.headers, &RESPONSE_HEADERS) else {
            return self.error_response(&WebError::new(ErrorCode::InvalidRequest));
        };
        let ctx = self.request_context(req.peer, req.headers);
        match self
            .manager()
            .register_device_key(&RefreshToken::new(token), jwt, &ctx)
            .await
        {
            Ok(r) => self.instructions(&r),
            Err(SessionError::Proof(e)) => {
                tracing::info!(target: "sessionward::dbsc", error = %e, "a device key registration was refused");
                WebResponse::empty(403)
            }
            Err(e) => self.error_response(&WebError::from(&e)),
        }
    }

    /// `POST <prefix>/dbsc/refresh`: `403` with a challenge until the
    /// browser signs one with the session's key, then new cookies; a
    /// session that is over (ended, unknown, not bound, or ended by a forged
    /// proof) answers `{"continue": false}`, so the browser drops its key.
    pub(super) async fn dbsc_refresh<H: HeaderSource>(
        &self,
        req: &RouteRequest<'_, H>,
    ) -> WebResponse {
        let Some(token) = self.refresh_cookie(req.headers) else {
            return self.end_device_session(false);
        };
        let label =
            first_header(req.headers, &SESSION_ID_HEADERS).and_then(parse_session_identifier);
        let jwt = first_header(req.headers, &RESPONSE_HEADERS);
        let ctx = self.request_context(req.peer, req.headers);
        match self
            .manager()
            .refresh_device_bound(&RefreshToken::new(token), label, jwt, &ctx)
            .await
        {
            Ok(DeviceRefresh::Refreshed(r)) => self.instructions(&r),
            Ok(DeviceRefresh::Challenge {
                challenge,
                session_identifier,
            }) => WebResponse::empty(403).with_header(
                CHALLENGE_HEADER,
                format!("\"{challenge}\";id=\"{session_identifier}\""),
            ),
            Err(e @ SessionError::Store(_)) => self.error_response(&WebError::from(&e)),
            Err(e) => self.end_device_session(WebError::from(&e).clears_client()),
        }
    }

    fn refresh_cookie<'a, H: HeaderSource>(&self, headers: &'a H) -> Option<&'a str> {
        if self.cookies_too_long(headers) {
            return None;
        }
        self.cookie(headers, REFRESH_COOKIE)
            .filter(|t| !t.is_empty())
    }

    /// `{"continue": false}`: the browser ends its device-bound session
    /// and sends held requests without the bound cookie (which the app then
    /// refuses as signed out). `wipe` when our session ended too.
    fn end_device_session(&self, wipe: bool) -> WebResponse {
        let mut r = WebResponse::json(200, json!({ "continue": false }).to_string());
        if wipe {
            self.add_wipe(&mut r);
        }
        r
    }

    /// The session instructions JSON of a registration or refresh, with the
    /// new cookies and a challenge for the next refresh.
    fn instructions(&self, r: &Refreshed) -> WebResponse {
        let manager = self.manager();
        let now = manager.now();
        let config = self.config();
        let mut scope = json!({ "include_site": false });
        if let Some(origin) = config.public_origin() {
            scope["origin"] = json!(origin);
        }
        let body = json!({
            "session_identifier": manager.dbsc_session_identifier(&r.session),
            "refresh_url": format!("{}{REFRESH_PATH}", config.route_prefix()),
            "scope": scope,
            "credentials": [{
                "type": "cookie",
                "name": ACCESS_COOKIE,
                "attributes": format!(
                    "Path=/; Secure; HttpOnly; SameSite={}",
                    config.same_site().as_str()
                ),
            }],
        });
        let mut response = self.token_response(&r.session, &r.tokens, now, None, None);
        if response.status != 200 {
            return response;
        }
        response.body = Some(body.to_string());
        response.with_header(
            CHALLENGE_HEADER,
            format!(
                "\"{}\";id=\"{}\"",
                manager.dbsc_refresh_challenge(&r.session),
                manager.dbsc_session_identifier(&r.session)
            ),
        )
    }
}
