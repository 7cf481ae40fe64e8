//! The identity provider's routes, served when
//! [`super::AdapterConfig::with_identity_provider`] names the provider:
//! `POST <prefix>/backchannel-logout` (OpenID Connect Back-Channel Logout
//! 1.0 §2.5) and `POST <prefix>/security-events` (Security Event Token
//! push delivery, RFC 8935). The signed token authenticates each request;
//! no browser is involved, so no CSRF token is needed.

use serde_json::json;

use crate::provider::{ProviderSignalError, ProviderTokenError};

use super::HeaderSource;
use super::api::SessionApi;
use super::error::{ErrorCode, WebError};
use super::response::WebResponse;
use super::routes::RouteRequest;
use super::token_service::{form_param, is_form};

/// Where logout tokens are taken, under the prefix.
pub(super) const BACKCHANNEL_LOGOUT_PATH: &str = "/backchannel-logout";
/// Where Security Event Tokens are pushed, under the prefix.
pub(super) const SECURITY_EVENTS_PATH: &str = "/security-events";
/// Longest pushed SET read.
const MAX_SET_LEN: usize = 8 * 1024;

/// A `400` answer (§2.8: "If the logout request was invalid or the logout
/// failed, the RP MUST respond with HTTP 400 Bad Request").
fn bad_request(error: &str, description: &str) -> WebResponse {
    WebResponse::json(
        400,
        json!({ "error": error, "error_description": description }).to_string(),
    )
}

impl SessionApi {
    /// Validates the form's `logout_token` and ends the sessions it names:
    /// `200` with no body (also when none was left to end), `400` with the
    /// reason otherwise, a store failure included.
    pub(super) async fn back_channel_logout_route<H: HeaderSource>(
        &self,
        req: &RouteRequest<'_, H>,
    ) -> WebResponse {
        let Some(provider) = self.config().identity_provider() else {
            return self.error_response(&WebError::new(ErrorCode::NotFound));
        };
        let token = match (is_form(req.headers), form_param(req.body, "logout_token")) {
            (true, Some(token)) => token,
            _ => return bad_request("invalid_request", "a form with one logout_token"),
        };
        match self.manager().back_channel_logout(provider, &token).await {
            Ok(_) => WebResponse::empty(200),
            Err(ProviderSignalError::Refused(why)) => bad_request("invalid_request", why.as_str()),
            Err(ProviderSignalError::Store(_)) => bad_request(
                "temporarily_unavailable",
                "the session store did not answer",
            ),
        }
    }

    /// Takes a pushed Security Event Token (RFC 8935 §2): the body is the
    /// SET itself, `Content-Type: application/secevent+jwt`. `202` with no
    /// body once acted on (a duplicate too: the transmitter may retry a
    /// push whose answer it lost); `400` with the RFC 8935 §2.3 `err` code
    /// for a refused one; `503` when the store did not answer, so the
    /// transmitter keeps it and retries.
    pub(super) async fn security_event_route<H: HeaderSource>(
        &self,
        req: &RouteRequest<'_, H>,
    ) -> WebResponse {
        let Some(provider) = self.config().identity_provider() else {
            return self.error_response(&WebError::new(ErrorCode::NotFound));
        };
        let is_set = req
            .headers
            .header("content-type")
            .and_then(|v| std::str::from_utf8(v).ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/secevent+jwt"));
        let token = std::str::from_utf8(req.body).ok().map(str::trim);
        let Some(token) = token.filter(|t| is_set && !t.is_empty() && t.len() <= MAX_SET_LEN)
        else {
            return push_error(
                "invalid_request",
                "the body must be one application/secevent+jwt",
            );
        };
        match self.manager().security_event(provider, token).await {
            Ok(_) => WebResponse::empty(202),
            Err(ProviderSignalError::Refused(why)) => push_error(push_code(why), why.as_str()),
            Err(ProviderSignalError::Store(_)) => {
                self.error_response(&WebError::new(ErrorCode::Unavailable))
            }
        }
    }
}

/// The RFC 8935 §2.3 error code for a refused SET.
fn push_code(why: ProviderTokenError) -> &'static str {
    match why {
        ProviderTokenError::UnknownKey | ProviderTokenError::BadSignature => "invalid_key",
        ProviderTokenError::WrongIssuer => "invalid_issuer",
        ProviderTokenError::WrongAudience => "invalid_audience",
        _ => "invalid_request",
    }
}

/// A `400` push answer (RFC 8935 §2.3).
fn push_error(err: &str, description: &str) -> WebResponse {
    WebResponse::json(
        400,
        json!({ "err": err, "description": description }).to_string(),
    )
}
