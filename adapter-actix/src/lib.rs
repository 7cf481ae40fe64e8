//! # sessionward-actix
//!
//! [sessionward](sessionward_core) for [actix-web](actix_web) 4. One
//! middleware and one handle:
//! - [`SessionMiddleware`], made from a [`SessionManager`] in one call,
//!   authenticates every request once and serves the session routes itself
//!   under its prefix (default `/auth`): nothing to mount, no prefix to
//!   repeat;
//! - [`Session`], the extractor a handler takes to do everything with the
//!   caller's session: read it, log a user in after the app's own password
//!   check, re-authenticate, log out, list and end sessions. It never
//!   rejects; [`AuthSession`] is the shortcut for routes that need a
//!   session.
//!
//! Refusals are a typed [`SessionRejection`]: its code, status and why the
//! session ended can be looked at, and as a response ([`ResponseError`])
//! it is the documented fixed body. All decisions (token transport,
//! cookies, CSRF, the error table) live in [`sessionward_core::web`],
//! shared with `sessionward-axum`.
//!
//! ## Quick start
//! The whole integration (`examples/minimal-actix`):
//! ```
//! # fn verify(_: &str, _: &str) -> bool { true }
//! # fn main() {}
//! use actix_web::{App, HttpResponse, HttpServer, dev::Server, web};
//! use sessionward_actix::{AuthSession, Session, SessionMiddleware};
//! use sessionward_core::{SessionManager, UserId};
//! use std::collections::HashMap;
//!
//! /// Serves the app on `listener`. The middleware also serves `/auth/refresh`,
//! /// `/auth/logout`, `/auth/sessions`, … (the session routes).
//! pub fn server(manager: SessionManager, listener: std::net::TcpListener) -> std::io::Result<Server> {
//!     let sessions = SessionMiddleware::new(manager);
//!     let login = |session: Session, form: web::Form<HashMap<String, String>>| async move {
//!         let field = |name: &str| form.get(name).map_or("", String::as_str);
//!         match UserId::new(field("user")) {
//!             Ok(id) if crate::verify(id.as_str(), field("password")) => session.login(&id).await,
//!             _ => Ok(HttpResponse::Unauthorized().finish()),
//!         }
//!     };
//!     let hello = |session: AuthSession| async move { format!("hello {}", session.user) };
//!     let app = move || {
//!         App::new()
//!             .wrap(sessions.clone())
//!             .route("/hello", web::get().to(hello))
//!             .route("/login", web::post().to(login))
//!     };
//!     Ok(HttpServer::new(app).listen(listener)?.run())
//! }
//! ```
//!
//! ## Routes (served by the middleware)
//! | route | answer |
//! |---|---|
//! | `POST /refresh` | rotated tokens (JSON body `{"refresh_token": …}` in, JSON out with bearer transport; cookies otherwise) |
//! | `POST /logout` | ends the session proven by the access token (live or expired), the refresh token (cookie, or JSON body `{"refresh_token": …}` with bearer transport) or both; `204`, `Clear-Site-Data: "cache", "cookies", "storage"`, expired cookies |
//! | `GET /sessions` | `{"sessions": [...]}` |
//! | `DELETE /sessions/{id}` | `204`, or `404 not_found` |
//! | `POST /sessions/revoke-others` | `{"revoked": n}` |
//! | `POST /sessions/revoke-all` | `{"revoked": n}` and the client wipe |
//! | `GET /sessions/not-me?token=…` | the "this wasn't me" confirmation page (changes nothing: link scanners fetch GET links) |
//! | `POST /sessions/not-me?token=…` | redeems the single-use token: every session of the account ends, this browser is wiped |
//! | `GET /jwks` | the public token keys as a JSON Web Key Set, with `AdapterConfig::with_jwks_route(true)` (off by default) |
//! | `POST /introspect`, `POST /revoke` | RFC 7662 introspection and RFC 7009 revocation of our tokens for sibling services that authenticate (`AdapterConfig::with_token_service`, off by default) |
//! | `POST /backchannel-logout`, `POST /security-events` | an OpenID Connect provider's back-channel logout tokens and pushed CAEP events (RFC 8935) end the sessions signed in through it (`AdapterConfig::with_identity_provider`, off by default) |
//!
//! Every answer carries `Cache-Control: no-store`; a session path with the
//! wrong method is `405` with `Allow`. Other paths under the prefix are the
//! app's.
//!
//! ## Client IP
//! The client address is the TCP peer (`HttpRequest::peer_addr`) passed
//! through the configured [`ClientIpResolver`]: by default [`PeerAddrOnly`]
//! (forwarding headers ignored), right when clients connect directly.
//! Behind a reverse proxy, trust `Forwarded`/`X-Forwarded-For` from the
//! proxy's addresses only:
//! ```
//! use std::sync::Arc;
//! use sessionward_actix::AdapterConfig;
//! use sessionward_core::enrich::TrustedProxies;
//! let config = AdapterConfig::new()
//!     .with_client_ip_resolver(Arc::new(TrustedProxies::parse("10.0.0.0/8")?));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//! A request without a peer address (a test request, a Unix socket) is
//! logged once: sessions then record no IP.
//!
//! ## Without the middleware
//! [`Session`] and [`AuthSession`] need [`SessionMiddleware`]; without it
//! they answer `500 internal_error` and log why, `Option<AuthSession>` is
//! `None` (and logs), and the session routes are not served: the same as
//! `sessionward-axum` without its layer.

use std::fmt;
use std::future::{Future, Ready, ready};
use std::ops::Deref;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;

use actix_web::body::{BodyStream, EitherBody, MessageBody, to_bytes_limited};
use actix_web::dev::{Payload, Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_web::{Error, FromRequest, HttpMessage, HttpRequest, HttpResponse, ResponseError};
use sessionward_core::web::{
    AuthOutcome, ErrorCode, Framework, HeaderSource, MAX_BODY_LEN, Rejection, RouteMatch,
    RouteRequest, SessionHandle, WebError, WebResponse,
};
use sessionward_core::{AuthenticatedSession, SessionManager};

pub use sessionward_core::web::{
    AdapterConfig, ClientIpResolver, ConfigError, CsrfProtection, PeerAddrOnly, SameSite,
    SessionApi, TokenTransport,
};

/// Turns a [`WebResponse`] into an actix response. A header that cannot be
/// sent turns the whole answer into `500 internal_error` (logged), never a
/// response with the header missing.
pub fn to_http_response(r: WebResponse) -> HttpResponse {
    let r = r.checked();
    let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = match r.body {
        Some(body) => HttpResponse::with_body(status, body).map_into_boxed_body(),
        None => HttpResponse::new(status),
    };
    let headers = resp.headers_mut();
    for (name, value) in r.headers {
        match (HeaderName::try_from(name), HeaderValue::try_from(value)) {
            (Ok(n), Ok(v)) => headers.append(n, v),
            // `checked` already refused what `http` refuses.
            _ => return to_http_response(WebResponse::internal_error()),
        }
    }
    resp
}

/// actix-web's types for [`SessionHandle`].
#[derive(Debug)]
pub enum Actix {}

impl Framework for Actix {
    type Response = HttpResponse;
    type Rejection = SessionRejection;

    fn response(response: WebResponse) -> HttpResponse {
        to_http_response(response)
    }

    fn rejection(rejection: Rejection) -> SessionRejection {
        SessionRejection(rejection)
    }
}

struct Headers<'a>(&'a HeaderMap);

impl HeaderSource for Headers<'_> {
    fn header(&self, name: &str) -> Option<&[u8]> {
        self.0.get(name).map(HeaderValue::as_bytes)
    }

    fn header_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.0.get_all(name).map(HeaderValue::as_bytes)
    }
}

/// What the middleware leaves in the request extensions.
#[derive(Debug)]
struct AuthState {
    api: SessionApi,
    outcome: AuthOutcome,
}

/// The middleware: authenticates each request once (for [`Session`] and
/// [`AuthSession`]) and serves the session routes under the configured
/// prefix.
///
/// By default it lets every other request through (handlers decide).
/// [`SessionMiddleware::require`] instead answers unauthenticated requests
/// itself with the documented error response; the session routes stay
/// reachable (refresh and logout work with an expired access token).
/// Requests already authenticated by an outer `SessionMiddleware` are not
/// checked twice.
#[derive(Debug, Clone)]
pub struct SessionMiddleware {
    api: SessionApi,
    require: bool,
}

impl SessionMiddleware {
    /// The middleware for `manager` with the default [`AdapterConfig`]
    /// (cookies, double-submit CSRF, routes under `/auth`).
    pub fn new(manager: SessionManager) -> Self {
        Self::from_api(SessionApi::with_defaults(manager))
    }

    /// The middleware for `manager` with `config`.
    ///
    /// # Errors
    /// [`ConfigError`] when the configuration is inconsistent.
    pub fn with_config(
        manager: SessionManager,
        config: AdapterConfig,
    ) -> Result<Self, ConfigError> {
        Ok(Self::from_api(SessionApi::new(manager, config)?))
    }

    /// The middleware over an existing [`SessionApi`] (shared with other
    /// code, or between the workers' apps).
    pub fn from_api(api: SessionApi) -> Self {
        SessionMiddleware {
            api,
            require: false,
        }
    }

    /// Refuses every request without a valid session (`401`, `403` on CSRF
    /// failure, `503` when the store is down), except the session routes.
    pub fn require(mut self) -> Self {
        self.require = true;
        self
    }

    /// The HTTP layer it serves with.
    pub fn api(&self) -> &SessionApi {
        &self.api
    }
}

impl<S, B> Transform<S, ServiceRequest> for SessionMiddleware
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Transform = SessionMiddlewareService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(SessionMiddlewareService {
            service: Rc::new(service),
            api: self.api.clone(),
            require: self.require,
        }))
    }
}

/// The service made by [`SessionMiddleware`].
pub struct SessionMiddlewareService<S> {
    service: Rc<S>,
    api: SessionApi,
    require: bool,
}

impl<S> fmt::Debug for SessionMiddlewareService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionMiddlewareService")
            .field("require", &self.require)
            .finish_non_exhaustive()
    }
}

type LocalBoxFuture<T> = Pin<Box<dyn Future<Output = T>>>;

impl<S, B> Service<ServiceRequest> for SessionMiddlewareService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Future = LocalBoxFuture<Result<Self::Response, Error>>;

    forward_ready!(service);

    fn call(&self, mut req: ServiceRequest) -> Self::Future {
        let service = self.service.clone();
        let api = self.api.clone();
        let require = self.require;
        Box::pin(async move {
            let existing = req.extensions().get::<Arc<AuthState>>().cloned();
            let state = match existing {
                Some(s) => s,
                None => {
                    let outcome = api
                        .authenticate_at(
                            req.method().as_str(),
                            Some(req.path()),
                            req.peer_addr().map(|a| a.ip()),
                            &Headers(req.headers()),
                        )
                        .await;
                    let state = Arc::new(AuthState { api, outcome });
                    req.extensions_mut().insert(state.clone());
                    state
                }
            };
            let accept_ch = state.api.config().accept_ch();
            let mut response =
                if let Some(found) = state.api.route(req.method().as_str(), req.path()) {
                    let payload = req.take_payload();
                    let resp = serve_route(&state, found, req.request(), payload).await;
                    req.into_response(resp).map_into_right_body()
                } else if require && let Err(e) = state.outcome.required() {
                    let resp = to_http_response(state.api.error_response(&e));
                    req.into_response(resp).map_into_right_body()
                } else {
                    service.call(req).await?.map_into_left_body()
                };
            if let Some(value) = accept_ch {
                let headers = response.headers_mut();
                let name = HeaderName::from_static("accept-ch");
                if !headers.contains_key(&name) {
                    headers.insert(name, HeaderValue::from_static(value));
                }
            }
            Ok(response)
        })
    }
}

async fn serve_route(
    state: &AuthState,
    found: RouteMatch,
    req: &HttpRequest,
    payload: Payload,
) -> HttpResponse {
    let api = &state.api;
    let route = match found {
        RouteMatch::Route(route) => route,
        RouteMatch::MethodNotAllowed(allow) => {
            return to_http_response(api.method_not_allowed(allow));
        }
    };
    let body = if route.reads_body() {
        match to_bytes_limited(BodyStream::new(payload), MAX_BODY_LEN).await {
            Ok(Ok(b)) => b,
            _ => {
                return to_http_response(
                    api.error_response(&WebError::new(ErrorCode::InvalidRequest)),
                );
            }
        }
    } else {
        actix_web::web::Bytes::new()
    };
    let query = Some(req.query_string()).filter(|q| !q.is_empty());
    let request = RouteRequest {
        method: req.method().as_str(),
        peer: req.peer_addr().map(|a| a.ip()),
        headers: &Headers(req.headers()),
        path: Some(req.path()),
        query,
        body: &body,
        outcome: &state.outcome,
    };
    to_http_response(api.serve(&route, request).await)
}

/// A refused request: the documented response, and what it says.
///
/// Dereferences to [`Rejection`] ([`Rejection::code`],
/// [`Rejection::status`], [`Rejection::ended_reason`]), so an HTML app can
/// send a signed-out visitor to its login page in one `match`:
/// ```
/// use actix_web::{HttpResponse, ResponseError};
/// use sessionward_actix::Session;
///
/// async fn account(session: Session) -> HttpResponse {
///     match session.require() {
///         Ok(s) => HttpResponse::Ok().body(format!("signed in as {}", s.user)),
///         Err(r) if r.status() == 401 => HttpResponse::SeeOther()
///             .insert_header(("location", "/login"))
///             .finish(),
///         Err(r) => r.error_response(),
///     }
/// }
/// # let _ = account;
/// ```
#[derive(Debug)]
pub struct SessionRejection(pub Rejection);

impl Deref for SessionRejection {
    type Target = Rejection;
    fn deref(&self) -> &Rejection {
        &self.0
    }
}

impl fmt::Display for SessionRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl ResponseError for SessionRejection {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.0.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        to_http_response(self.0.response().clone())
    }
}

fn state(req: &HttpRequest) -> Result<Arc<AuthState>, SessionRejection> {
    req.extensions()
        .get::<Arc<AuthState>>()
        .cloned()
        .ok_or_else(|| {
            tracing::error!(
                target: "sessionward::actix",
                "a sessionward extractor ran without SessionMiddleware; add `.wrap(SessionMiddleware::new(manager))`"
            );
            SessionRejection(Rejection::internal_error())
        })
}

/// The caller's session and every action on it: a [`SessionHandle`] with
/// actix-web's types. Never rejects (unless [`SessionMiddleware`] is
/// missing).
///
/// ```
/// use actix_web::HttpResponse;
/// use sessionward_actix::{Session, SessionRejection};
/// use sessionward_core::UserId;
///
/// async fn login(session: Session) -> Result<HttpResponse, SessionRejection> {
///     // … the app checks the password first …
///     let user = UserId::new("alice").expect("a valid id");
///     session.login(&user).await
/// }
///
/// async fn logout(session: Session) -> Result<HttpResponse, SessionRejection> {
///     session.logout().await
/// }
/// # let _ = (login, logout);
/// ```
#[derive(Debug)]
pub struct Session(SessionHandle<Actix>);

impl Deref for Session {
    type Target = SessionHandle<Actix>;
    fn deref(&self) -> &SessionHandle<Actix> {
        &self.0
    }
}

impl FromRequest for Session {
    type Error = SessionRejection;
    type Future = Ready<Result<Self, SessionRejection>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(state(req).map(|state| {
            let peer = req.peer_addr().map(|a| a.ip());
            Session(state.api.handle_at(
                state.outcome.clone(),
                req.method().as_str(),
                Some(req.path()),
                peer,
                &Headers(req.headers()),
            ))
        }))
    }
}

/// The authenticated session of a request, for routes that need one.
/// Extracting it rejects requests without a valid session with the
/// documented error response (`401` `missing_token`/`invalid_token` with
/// `WWW-Authenticate`, plus `Clear-Site-Data` when the session ended;
/// `403` CSRF; `503` store down).
///
/// `Option<AuthSession>` never rejects: it is `None` for anonymous requests
/// and for any failure, so handlers can serve an anonymous view.
///
/// Dereferences to [`AuthenticatedSession`] (user, session id, claims,
/// session record with device, location and risk).
#[derive(Debug, Clone)]
pub struct AuthSession(Arc<AuthenticatedSession>);

impl AuthSession {
    /// The verified session, shared.
    pub fn into_inner(self) -> Arc<AuthenticatedSession> {
        self.0
    }
}

impl Deref for AuthSession {
    type Target = AuthenticatedSession;
    fn deref(&self) -> &AuthenticatedSession {
        &self.0
    }
}

impl FromRequest for AuthSession {
    type Error = SessionRejection;
    type Future = Ready<Result<Self, SessionRejection>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(state(req).and_then(|state| match state.outcome.required() {
            Ok(s) => Ok(AuthSession(s.clone())),
            Err(e) => Err(SessionRejection(state.api.reject(e))),
        }))
    }
}
