//! Framework-neutral HTTP pieces shared by the web adapters
//! (`sessionward-axum`, `sessionward-actix`).
//!
//! Nothing here depends on a web framework or on the `http` crate: headers
//! come in through the small [`HeaderSource`] trait and answers go out as a
//! [`WebResponse`] (status, header list, JSON body) that each adapter turns
//! into its own response type in a few lines. Keeping every decision here
//! (token transport, cookie strings, CSRF checks, the error table, the
//! session routes) means the two adapters cannot drift apart.
//!
//! # Token transport
//! [`TokenTransport::Cookies`] (the default, for browsers) keeps the access
//! token in `__Host-sw_access` (`Path=/; Secure; HttpOnly; SameSite`), the
//! refresh token in `__Secure-sw_refresh` scoped to `<prefix>` (so both
//! `<prefix>/refresh` and `<prefix>/logout` receive it, the app's other
//! routes never), and a JavaScript-readable CSRF token in `__Host-sw_csrf`.
//! All three cookies live as long as the session (`Max-Age` = time left
//! to its absolute end); the access JWT's own `exp` (minutes) bounds what
//! the access cookie grants. A browser therefore keeps presenting an
//! expired access token, which answers `invalid_token` (the client
//! refreshes) rather than `missing_token`, and still proves the session
//! at logout.
//! [`TokenTransport::Bearer`] reads `Authorization: Bearer <jwt>` and returns
//! tokens as JSON (SPAs that keep tokens themselves, mobile apps).
//!
//! # CSRF (cookie transport only)
//! Every state-changing request (any method but `GET`, `HEAD`, `OPTIONS`,
//! `TRACE`) authenticated by cookie must pass the configured
//! [`CsrfProtection`]:
//! - double submit (default): the `X-CSRF-Token` header must equal the
//!   `__Host-sw_csrf` cookie (constant-time comparison). The `__Host-` prefix
//!   stops sibling subdomains from planting the cookie;
//! - Origin check: the `Origin` header must be one of the configured origins;
//! - or both.
//!
//! # Errors
//! Every failure is a fixed JSON body `{"error":"<code>"}` (see [`ErrorCode`]
//! for the table) with `Cache-Control: no-store`; the reason stays in the
//! security events and `tracing`.
//!
//! | code | status | extra headers |
//! |---|---|---|
//! | `missing_token` | 401 | `WWW-Authenticate: Bearer` |
//! | `invalid_token` | 401 | `WWW-Authenticate: Bearer error="invalid_token"`; plus `Clear-Site-Data` and expired cookies when the session ended or a refresh token was reused, and then the body also says why: `{"error":"invalid_token","reason":"<reason>"}` (see [`ended_reason`]) |
//! | `reauthentication_required` | 401 | `WWW-Authenticate: Bearer error="insufficient_user_authentication", max_age="<secs>"` (RFC 9470) |
//! | `csrf_rejected` | 403 | |
//! | `not_found` | 404 | |
//! | `invalid_request` | 400 | |
//! | `session_limit_reached` | 409 | body also has `limit`, `active` (the user's sessions, so the app can offer to end one), and `ticket` with `ticket_expires_at`: post `{"ticket", "end": [ids]}` to `<prefix>/login/continue` to end those and sign in, in one atomic step |
//! | `invalid_dpop_proof` | 401 (400 on logins and the refresh route) | `WWW-Authenticate: DPoP error="invalid_dpop_proof", …` from protected routes; the body's `error_description` says why |
//! | `use_dpop_nonce` | 401 (400 on logins and the refresh route) | `DPoP-Nonce`, and `WWW-Authenticate: DPoP error="use_dpop_nonce", …` from protected routes |
//! | `device_bound_session` | 401 | the refresh route got a device-bound (DBSC) session's refresh cookie: the browser renews it itself, through `<prefix>/dbsc/refresh` |
//! | `forbidden` | 403 | the admin routes' [`AdminAuthorizer`] refused the caller |
//! | `invalid_client` | 401 | the introspection or revocation route's caller did not authenticate: `WWW-Authenticate` from its [`ServiceAuthenticator::challenge`] (`Basic realm="sessionward"`) |
//! | `unavailable` | 503 | store unreachable: fail closed |
//! | `method_not_allowed` | 405 | `Allow` |
//! | `internal_error` | 500 | |
//!
//! # Routes
//! [`SessionApi`] implements the ready-made routes under a prefix (default
//! `/auth`): `POST /refresh`, `POST /logout`, `GET /sessions`,
//! `DELETE /sessions/{id}`, `POST /sessions/revoke-others`,
//! `POST /sessions/revoke-all`, `GET`/`POST /sessions/not-me`, and with
//! cookies the Device Bound Session Credentials routes `POST /dbsc/register`
//! and `POST /dbsc/refresh`, which browsers call themselves
//! ([`crate::binding::DbscPolicy`]). Off by default: `GET /openapi.json`,
//! `GET /jwks`, and for sibling services `POST /introspect` (RFC 7662) and
//! `POST /revoke` (RFC 7009), behind the caller authentication given to
//! [`AdapterConfig::with_token_service`]; and for operators the
//! `/admin/…` routes behind the [`AdminAuthorizer`] given to
//! [`AdapterConfig::with_admin`]. The
//! adapters' layer serves them itself ([`SessionApi::route`],
//! [`SessionApi::serve`]); handlers act on the caller's session through
//! [`SessionHandle`].

#[cfg(feature = "risk")]
mod actions;
mod admin;
mod api;
mod backchannel;
mod config;
mod continuation;
mod cookies;
mod dbsc;
mod error;
mod handle;
mod openapi;
mod rejection;
mod response;
mod routes;
mod ssf;
mod token_service;

#[cfg(feature = "risk")]
pub use actions::token_from_query;
pub use admin::{AdminAction, AdminAuthorizer, AdminCall, AdminDecision, AdminUsers};
pub use api::{AuthOutcome, SessionApi};
pub use config::{
    AdapterConfig, ClientIpResolver, ConfigError, CsrfProtection, PeerAddrOnly, SameSite,
    TokenTransport,
};
pub use cookies::{
    ACCESS_COOKIE, CSRF_COOKIE, DEVICE_COOKIE, DEVICE_COOKIE_MAX_AGE, REFRESH_COOKIE, cookie_value,
};
pub use error::{ErrorCode, WebError, ended_reason};
pub use handle::{Framework, SessionHandle};
pub use openapi::OPENAPI_PATH;
pub use rejection::Rejection;
pub use response::WebResponse;
pub use routes::{Route, RouteMatch, RouteRequest};
pub use ssf::SsfRoute;
pub use token_service::{
    ClientSecret, MIN_CLIENT_SECRET_LEN, ServiceAuthenticator, ServiceCall, ServiceClients,
    WeakClientSecret,
};

/// The exact `Clear-Site-Data` value sent when a session ends.
pub const CLEAR_SITE_DATA: &str = "\"cache\", \"cookies\", \"storage\"";

/// The `Cache-Control` value on every session-route and error response.
pub const CACHE_CONTROL_NO_STORE: &str = "no-store";

/// `WWW-Authenticate` for a request without credentials.
pub const WWW_AUTHENTICATE_MISSING: &str = "Bearer";

/// `WWW-Authenticate` for a bad, expired or revoked token.
pub const WWW_AUTHENTICATE_INVALID: &str = "Bearer error=\"invalid_token\"";

/// The request header carrying the double-submit CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Default longest `Authorization` header, or sum of `Cookie` headers,
/// looked at; longer ones are refused as `invalid_token` without parsing.
pub const DEFAULT_MAX_CREDENTIAL_LEN: usize = 8 * 1024;

/// Longest request body the session routes read (the refresh body).
pub const MAX_BODY_LEN: usize = 8 * 1024;

/// Read access to request headers, implemented by each adapter over its
/// framework's header map.
///
/// Names are passed in lower case. Values are raw bytes so that size limits
/// apply before any decoding.
pub trait HeaderSource {
    /// The first value of header `name`, if present.
    fn header(&self, name: &str) -> Option<&[u8]>;

    /// Every value of header `name`, in order.
    fn header_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a;
}

/// Whether `method` (upper case) changes state and so needs CSRF protection
/// when cookies authenticate it.
pub fn is_state_changing(method: &str) -> bool {
    !matches!(method, "GET" | "HEAD" | "OPTIONS" | "TRACE")
}
