//! `POST <prefix>/login/continue`: "sign out a device and continue".
//!
//! A login refused at a limit answers `409 session_limit_reached` with the
//! user's active sessions and a single-use `ticket`. The client shows the
//! list, and posts `{"ticket": "…", "end": ["<session id>", …]}` here: the
//! chosen sessions end and the new one starts in one atomic step, and the
//! answer is the login's (tokens, or cookies). No CSRF token is needed
//! (the browser has none before its first sign-in): the ticket itself is
//! the credential, and it works only from the client it was issued to (its
//! address, User-Agent and device cookie, which a cross-site page can
//! neither read nor set). The body must be JSON (`Content-Type:
//! application/json`, which a cross-site form cannot send), a browser's
//! `Sec-Fetch-Site: cross-site` is refused, and so is an `Origin` outside
//! the configured CSRF origins.

use serde::Deserialize;

use super::HeaderSource;
use super::api::SessionApi;
use super::error::{ErrorCode, WebError};
use super::response::WebResponse;
use super::routes::RouteRequest;
use crate::ids::SessionId;
use crate::secret::ContinuationTicket;

/// Path of the route, under the route prefix.
pub(super) const CONTINUE_PATH: &str = "/login/continue";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ContinueBody {
    ticket: String,
    #[serde(default)]
    end: Vec<String>,
}

impl SessionApi {
    /// Serves `POST <prefix>/login/continue` (see the module docs).
    pub(super) async fn continue_login_routed<H: HeaderSource>(
        &self,
        req: &RouteRequest<'_, H>,
    ) -> WebResponse {
        let invalid = || self.error_response(&WebError::new(ErrorCode::InvalidRequest));
        let cross_site = req.headers.header("sec-fetch-site") == Some(b"cross-site".as_slice());
        if cross_site || !self.origin_allowed(req.headers) {
            tracing::warn!(target: "sessionward::web", "login continuation from another site refused");
            return self.error_response(&WebError::new(ErrorCode::CsrfRejected));
        }
        let json = req.headers.header("content-type").is_some_and(|v| {
            let v = String::from_utf8_lossy(v);
            v.split(';')
                .next()
                .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
        });
        if !json {
            return invalid();
        }
        let Ok(body) = serde_json::from_slice::<ContinueBody>(req.body) else {
            return invalid();
        };
        let Ok(end) = body
            .end
            .iter()
            .map(|id| SessionId::parse(id))
            .collect::<Result<Vec<_>, _>>()
        else {
            return invalid();
        };
        let mut ctx = self.request_context(req.peer, req.headers);
        match self.dpop_request(req.method, req.path, req.headers) {
            Ok(Some(proof)) => ctx = ctx.with_dpop(proof),
            Ok(None) => {}
            Err(e) => return self.error_response(&WebError::proof(e).at_token_endpoint()),
        }
        let (ctx, new_device) = self.with_device_cookie(ctx);
        let ticket = ContinuationTicket::new(body.ticket);
        let result = self.manager().continue_login(&ticket, &end, &ctx).await;
        self.respond(self.logged_in(result, new_device.as_ref()))
    }
}
