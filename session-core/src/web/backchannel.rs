//! `POST <prefix>/backchannel-logout`: an identity provider's back-channel
//! logout request (OpenID Connect Back-Channel Logout 1.0 §2.5), served
//! when [`super::AdapterConfig::with_back_channel_logout`] names the
//! provider. The logout token authenticates the request; no browser is
//! involved, so no CSRF token is needed.

use serde_json::json;

use crate::provider::BackChannelError;

use super::HeaderSource;
use super::api::SessionApi;
use super::error::{ErrorCode, WebError};
use super::response::WebResponse;
use super::routes::RouteRequest;
use super::token_service::{form_param, is_form};

/// Where the route is served, under the prefix.
pub(super) const BACKCHANNEL_LOGOUT_PATH: &str = "/backchannel-logout";

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
        let Some(provider) = self.config().back_channel_logout() else {
            return self.error_response(&WebError::new(ErrorCode::NotFound));
        };
        let token = match (is_form(req.headers), form_param(req.body, "logout_token")) {
            (true, Some(token)) => token,
            _ => return bad_request("invalid_request", "a form with one logout_token"),
        };
        match self.manager().back_channel_logout(provider, &token).await {
            Ok(_) => WebResponse::empty(200),
            Err(BackChannelError::Refused(why)) => bad_request("invalid_request", why.as_str()),
            Err(BackChannelError::Store(_)) => bad_request(
                "temporarily_unavailable",
                "the session store did not answer",
            ),
        }
    }
}
