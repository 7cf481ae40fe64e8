//! The "this wasn't me" landing page and redemption, and step-up completion.
//!
//! The link in a new-login notice opens `GET <prefix>/sessions/not-me?token=…`,
//! which only shows a confirmation page: mail scanners and link previews
//! fetch GET links, and must not log the user out. The page's button posts
//! to the same URL, which redeems the single-use token and ends every
//! session of the account.

use crate::record::RequestContext;
use crate::secret::ActionToken;

use super::CLEAR_SITE_DATA;
use super::api::SessionApi;
use super::error::{ErrorCode, WebError};
use super::response::WebResponse;

/// Longest token accepted in the query string.
const MAX_ACTION_TOKEN_LEN: usize = 4096;

/// The `token` parameter of a raw query string, if it is made only of the
/// characters a signed token uses (no decoding needed, nothing to inject).
pub fn token_from_query(query: Option<&str>) -> Option<&str> {
    query?
        .split('&')
        .find_map(|pair| pair.strip_prefix("token="))
        .filter(|t| {
            !t.is_empty()
                && t.len() <= MAX_ACTION_TOKEN_LEN
                && t.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
        })
}

fn page(status: u16, title: &str, body: &str) -> WebResponse {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
         <meta name=\"referrer\" content=\"no-referrer\"><title>{title}</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:34rem;margin:4rem auto;padding:0 1rem;line-height:1.5}}\
         button{{font-size:1rem;padding:.6rem 1.2rem;background:#b42318;color:#fff;border:0;border-radius:6px;cursor:pointer}}</style>\
         </head><body><h1>{title}</h1>{body}</body></html>"
    );
    let mut r = WebResponse::empty(status);
    r.headers
        .push(("content-type", "text/html; charset=utf-8".to_owned()));
    r.headers
        .push(("referrer-policy", "no-referrer".to_owned()));
    r.headers.push((
        "content-security-policy",
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'".to_owned(),
    ));
    r.body = Some(html);
    r
}

impl SessionApi {
    /// `GET <prefix>/sessions/not-me?token=…`: a confirmation page whose
    /// button posts the token back. Changes nothing.
    pub fn not_me_page(&self, query: Option<&str>) -> WebResponse {
        match token_from_query(query) {
            Some(token) => page(
                200,
                "Was this not you?",
                &format!(
                    "<p>If you did not sign in recently, end every session of your account now. \
                     All devices, including this one, will be signed out; then sign in again and change your password.</p>\
                     <form method=\"post\" action=\"?token={token}\"><button type=\"submit\">Sign out everywhere</button></form>"
                ),
            ),
            None => page(
                400,
                "Invalid link",
                "<p>This link is incomplete. Open it again from the notification.</p>",
            ),
        }
    }

    /// `POST <prefix>/sessions/not-me?token=…`: redeems the single-use
    /// token, ends every session of its account and wipes this browser.
    /// A used, expired or forged token changes nothing.
    pub async fn not_me(&self, query: Option<&str>) -> WebResponse {
        let Some(token) = token_from_query(query) else {
            return page(
                400,
                "Invalid link",
                "<p>This link is incomplete. Open it again from the notification.</p>",
            );
        };
        match self.manager().redeem_not_me(&ActionToken::new(token)).await {
            Ok(n) => page(
                200,
                "Signed out everywhere",
                &format!("<p>{n} session(s) ended. Sign in again and change your password.</p>"),
            )
            .with_header("clear-site-data", CLEAR_SITE_DATA),
            Err(e) => match WebError::from(&e).code() {
                ErrorCode::Unavailable => page(
                    503,
                    "Try again shortly",
                    "<p>The service is unavailable. Nothing was changed.</p>",
                ),
                _ => page(
                    400,
                    "Link not valid",
                    "<p>This link is invalid, expired or was already used. If you still see sessions you do not recognise, end them from your session page.</p>",
                ),
            },
        }
    }

    /// The login answer (tokens or cookies) for a session created elsewhere.
    fn login_response_for(&self, ok: &crate::LoginSuccess) -> WebResponse {
        let now = self.manager().now();
        self.token_response(&ok.session, &ok.tokens, now, Some(&ok.evicted), None)
    }

    /// Finishes a login that answered `403 step_up_required`, after the host
    /// verified the second factor of the challenge's user (see
    /// [`crate::SessionManager::step_up_user`]). Answers like a login.
    pub async fn complete_step_up(&self, token: &str, ctx: &RequestContext) -> WebResponse {
        match self
            .manager()
            .complete_step_up(&ActionToken::new(token), ctx)
            .await
        {
            Ok(ok) => self.login_response_for(&ok),
            Err(e) => self.error_response(&WebError::from(&e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::token_from_query;

    #[test]
    fn query_token_is_strict() {
        assert_eq!(
            token_from_query(Some("token=abc.def-_1")),
            Some("abc.def-_1")
        );
        assert_eq!(token_from_query(Some("x=1&token=abc")), Some("abc"));
        assert_eq!(token_from_query(Some("token=a%22b")), None);
        assert_eq!(token_from_query(Some("token=<script>")), None);
        assert_eq!(token_from_query(Some("token=")), None);
        assert_eq!(token_from_query(None), None);
    }
}
