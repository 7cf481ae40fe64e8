//! # sessionward-axum
//!
//! [sessionward](sessionward_core) for [axum] 0.8. One layer and one
//! handle:
//! - [`SessionLayer`], made from a [`SessionManager`] in one call,
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
//! session ended can be looked at, and as a response it is the documented
//! fixed body. All decisions (token transport, cookies, CSRF, the error
//! table) live in [`sessionward_core::web`], shared with `sessionward-actix`.
//!
//! ## Quick start
//! The whole integration (`examples/minimal-axum`):
//! ```
//! # fn verify(_: &str, _: &str) -> bool { true }
//! # fn main() {}
//! use axum::{Form, Router, http::StatusCode, response::IntoResponse, routing::get, routing::post};
//! use sessionward_axum::{AuthSession, Session, SessionLayer};
//! use sessionward_core::{SessionManager, UserId};
//! use std::collections::HashMap;
//!
//! /// The app's router. The layer also serves `/auth/refresh`, `/auth/logout`,
//! /// `/auth/sessions`, … (the session routes).
//! pub fn app(manager: SessionManager) -> Router {
//!     let login = |session: Session, Form(form): Form<HashMap<String, String>>| async move {
//!         let field = |name: &str| form.get(name).map_or("", String::as_str);
//!         match UserId::new(field("user")) {
//!             Ok(id) if crate::verify(id.as_str(), field("password")) => session.login(&id).await,
//!             _ => Ok(StatusCode::UNAUTHORIZED.into_response()),
//!         }
//!     };
//!     let hello = |session: AuthSession| async move { format!("hello {}", session.user) };
//!     Router::new()
//!         .route("/hello", get(hello))
//!         .route("/login", post(login))
//!         .layer(SessionLayer::new(manager))
//! }
//! ```
//! Serve it with `into_make_service_with_connect_info::<SocketAddr>()`
//! (as above) so the client address reaches the sessions: without it the
//! layer logs a warning once and sessions record no IP.
//!
//! ## Routes (served by the layer)
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
//! The client address is the TCP peer (`ConnectInfo<SocketAddr>`) passed
//! through the configured [`ClientIpResolver`]: by default [`PeerAddrOnly`]
//! (forwarding headers ignored), right when clients connect directly.
//! Behind a reverse proxy, trust `Forwarded`/`X-Forwarded-For` from the
//! proxy's addresses only:
//! ```
//! use std::sync::Arc;
//! use sessionward_axum::AdapterConfig;
//! use sessionward_core::enrich::TrustedProxies;
//! let config = AdapterConfig::new()
//!     .with_client_ip_resolver(Arc::new(TrustedProxies::parse("10.0.0.0/8")?));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Without the layer
//! [`Session`] and [`AuthSession`] need [`SessionLayer`]; without it they
//! answer `500 internal_error` and log why, `Option<AuthSession>` is
//! `None` (and logs), and the session routes are not served: the same as
//! `sessionward-actix` without its middleware.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::ops::Deref;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::{ConnectInfo, FromRequestParts, OptionalFromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sessionward_core::web::{
    AuthOutcome, ErrorCode, Framework, HeaderSource, MAX_BODY_LEN, Rejection, RouteMatch,
    RouteRequest, SessionHandle, WebError, WebResponse,
};
use sessionward_core::{AuthenticatedSession, SessionManager};
use tower::{Layer, Service};

mod outbound;

pub use outbound::{HyperJwksSource, HyperSetPusher};

pub use sessionward_core::web::{
    AdapterConfig, ClientIpResolver, ConfigError, CsrfProtection, PeerAddrOnly, SameSite,
    SessionApi, TokenTransport,
};

/// A [`WebResponse`] as an axum response. A header that cannot be sent
/// turns the whole answer into `500 internal_error` (logged), never a
/// response with the header missing.
#[derive(Debug, Clone)]
pub struct ApiResponse(pub WebResponse);

impl IntoResponse for ApiResponse {
    fn into_response(self) -> Response {
        let r = self.0.checked();
        let mut headers = HeaderMap::with_capacity(r.headers.len());
        for (name, value) in r.headers {
            match (HeaderName::try_from(name), HeaderValue::try_from(value)) {
                (Ok(n), Ok(v)) => {
                    headers.append(n, v);
                }
                // `checked` already refused what `http` refuses.
                _ => return ApiResponse(WebResponse::internal_error()).into_response(),
            }
        }
        let mut resp = Response::new(r.body.map_or_else(Body::empty, Body::from));
        *resp.status_mut() =
            StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        *resp.headers_mut() = headers;
        resp
    }
}

/// axum's types for [`SessionHandle`].
#[derive(Debug)]
pub enum Axum {}

impl Framework for Axum {
    type Response = Response;
    type Rejection = SessionRejection;

    fn response(response: WebResponse) -> Response {
        ApiResponse(response).into_response()
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
        self.0.get_all(name).iter().map(HeaderValue::as_bytes)
    }
}

/// What the layer leaves in the request extensions.
#[derive(Debug)]
struct AuthState {
    api: SessionApi,
    outcome: AuthOutcome,
}

/// The tower layer: authenticates each request once (for [`Session`] and
/// [`AuthSession`]) and serves the session routes under the configured
/// prefix.
///
/// By default it lets every other request through (handlers decide).
/// [`SessionLayer::require`] instead answers unauthenticated requests
/// itself with the documented error response; the session routes stay
/// reachable (refresh and logout work with an expired access token).
/// Requests already authenticated by an outer `SessionLayer` are not
/// checked twice.
#[derive(Debug, Clone)]
pub struct SessionLayer {
    api: SessionApi,
    require: bool,
}

impl SessionLayer {
    /// The layer for `manager` with the default [`AdapterConfig`] (cookies,
    /// double-submit CSRF, routes under `/auth`).
    pub fn new(manager: SessionManager) -> Self {
        Self::from_api(SessionApi::with_defaults(manager))
    }

    /// The layer for `manager` with `config`.
    ///
    /// # Errors
    /// [`ConfigError`] when the configuration is inconsistent.
    pub fn with_config(
        manager: SessionManager,
        config: AdapterConfig,
    ) -> Result<Self, ConfigError> {
        Ok(Self::from_api(SessionApi::new(manager, config)?))
    }

    /// The layer over an existing [`SessionApi`] (shared with other code).
    pub fn from_api(api: SessionApi) -> Self {
        SessionLayer {
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

impl<S> Layer<S> for SessionLayer {
    type Service = SessionService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SessionService {
            inner,
            api: self.api.clone(),
            require: self.require,
        }
    }
}

/// The service made by [`SessionLayer`].
#[derive(Debug, Clone)]
pub struct SessionService<S> {
    inner: S,
    api: SessionApi,
    require: bool,
}

impl<S> Service<Request> for SessionService<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = std::pin::Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request) -> Self::Future {
        // The clone is the one made ready by `poll_ready`; keep it.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let api = self.api.clone();
        let require = self.require;
        Box::pin(async move {
            let state = match req.extensions().get::<Arc<AuthState>>() {
                Some(s) => s.clone(),
                None => {
                    let outcome = api
                        .authenticate_at(
                            req.method().as_str(),
                            Some(path_in(req.extensions(), req.uri())),
                            peer_of(&req),
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
                if let Some(found) = state.api.route(req.method().as_str(), req.uri().path()) {
                    serve_route(&state, found, req).await.into_response()
                } else if require && let Err(e) = state.outcome.required() {
                    ApiResponse(state.api.error_response(&e)).into_response()
                } else {
                    inner.call(req).await?
                };
            if let Some(value) = accept_ch {
                response
                    .headers_mut()
                    .entry(axum::http::HeaderName::from_static("accept-ch"))
                    .or_insert(axum::http::HeaderValue::from_static(value));
            }
            Ok(response)
        })
    }
}

/// The TCP peer of a request served with `ConnectInfo<SocketAddr>`.
fn peer_of<B>(req: &axum::http::Request<B>) -> Option<std::net::IpAddr> {
    peer_in(req.extensions())
}

/// The path the client asked for (DPoP proofs name it): the original one
/// when the request is inside a nested router, which strips its prefix.
fn path_in<'a>(extensions: &'a axum::http::Extensions, uri: &'a axum::http::Uri) -> &'a str {
    extensions
        .get::<axum::extract::OriginalUri>()
        .map_or(uri.path(), |original| original.0.path())
}

fn peer_in(extensions: &axum::http::Extensions) -> Option<std::net::IpAddr> {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
}

async fn serve_route(state: &AuthState, found: RouteMatch, req: Request) -> ApiResponse {
    let api = &state.api;
    let route = match found {
        RouteMatch::Route(route) => route,
        RouteMatch::MethodNotAllowed(allow) => return ApiResponse(api.method_not_allowed(allow)),
    };
    let (parts, body) = req.into_parts();
    let body = if route.reads_body() {
        match axum::body::to_bytes(body, MAX_BODY_LEN).await {
            Ok(b) => b,
            Err(_) => {
                return ApiResponse(api.error_response(&WebError::new(ErrorCode::InvalidRequest)));
            }
        }
    } else {
        axum::body::Bytes::new()
    };
    let request = RouteRequest {
        method: parts.method.as_str(),
        peer: peer_in(&parts.extensions),
        headers: &Headers(&parts.headers),
        path: Some(path_in(&parts.extensions, &parts.uri)),
        query: parts.uri.query(),
        body: &body,
        outcome: &state.outcome,
    };
    ApiResponse(api.serve(&route, request).await)
}

/// A refused request: the documented response, and what it says.
///
/// Dereferences to [`Rejection`] ([`Rejection::code`],
/// [`Rejection::status`], [`Rejection::ended_reason`]), so an HTML app can
/// send a signed-out visitor to its login page in one `match`:
/// ```
/// use axum::response::{IntoResponse, Redirect, Response};
/// use sessionward_axum::Session;
///
/// async fn account(session: Session) -> Response {
///     match session.require() {
///         Ok(s) => format!("signed in as {}", s.user).into_response(),
///         Err(r) if r.status() == 401 => Redirect::to("/login").into_response(),
///         Err(r) => r.into_response(),
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

impl IntoResponse for SessionRejection {
    fn into_response(self) -> Response {
        ApiResponse(self.0.into_response()).into_response()
    }
}

impl std::fmt::Display for SessionRejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for SessionRejection {}

fn state(parts: &Parts) -> Result<&Arc<AuthState>, SessionRejection> {
    parts.extensions.get::<Arc<AuthState>>().ok_or_else(|| {
        tracing::error!(
            target: "sessionward::axum",
            "a sessionward extractor ran without SessionLayer; add `.layer(SessionLayer::new(manager))`"
        );
        SessionRejection(Rejection::internal_error())
    })
}

/// The caller's session and every action on it: a [`SessionHandle`] with
/// axum's types. Never rejects (unless [`SessionLayer`] is missing).
///
/// ```
/// use axum::response::Response;
/// use sessionward_axum::{Session, SessionRejection};
/// use sessionward_core::UserId;
///
/// async fn login(session: Session) -> Result<Response, SessionRejection> {
///     // … the app checks the password first …
///     let user = UserId::new("alice").expect("a valid id");
///     session.login(&user).await
/// }
///
/// async fn logout(session: Session) -> Result<Response, SessionRejection> {
///     session.logout().await
/// }
/// # let _ = (login, logout);
/// ```
#[derive(Debug)]
pub struct Session(SessionHandle<Axum>);

impl Deref for Session {
    type Target = SessionHandle<Axum>;
    fn deref(&self) -> &SessionHandle<Axum> {
        &self.0
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Session {
    type Rejection = SessionRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let state = state(parts)?;
        Ok(Session(state.api.handle_at(
            state.outcome.clone(),
            parts.method.as_str(),
            Some(path_in(&parts.extensions, &parts.uri)),
            peer_in(&parts.extensions),
            &Headers(&parts.headers),
        )))
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

impl<S: Send + Sync> FromRequestParts<S> for AuthSession {
    type Rejection = SessionRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let state = state(parts)?;
        match state.outcome.required() {
            Ok(s) => Ok(AuthSession(s.clone())),
            Err(e) => Err(SessionRejection(state.api.reject(e))),
        }
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for AuthSession {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Option<Self>, Infallible> {
        // Without the layer: `None`, and the error is logged (as actix's
        // `Option` extractor does with a failed inner extractor).
        Ok(state(parts)
            .ok()
            .and_then(|s| s.outcome.session().cloned())
            .map(AuthSession))
    }
}
