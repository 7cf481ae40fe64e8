//! # sessionward-axum
//!
//! [sessionward](sessionward_core) for [axum] 0.8: a tower [`SessionLayer`]
//! that authenticates every request, the [`AuthSession`] extractor (rejects
//! with the documented error) and `Option<AuthSession>` (never rejects),
//! [`ClientContext`] for login, and a [`routes`] router with the ready-made
//! session API to nest under a prefix.
//!
//! All decisions (token transport, cookie strings, CSRF, error table) live
//! in [`sessionward_core::web`] and are shared with `sessionward-actix`; see
//! there for the error codes and CSRF options.
//!
//! ## Quick start
//! ```
//! use std::sync::Arc;
//! use axum::{Router, routing::{get, post}, response::Response};
//! use sessionward_axum::{AdapterConfig, AuthSession, ClientContext, SessionApi, SessionLayer};
//! use sessionward_core::{MemoryStore, SessionManager, SessionPolicy, UserId};
//! use sessionward_core::tokens::{SigningKey, TokenConfig};
//!
//! async fn hello(session: AuthSession) -> String {
//!     format!("hello {}", session.user)
//! }
//!
//! // The host checks the password; sessionward does the rest.
//! async fn login(ClientContext(ctx): ClientContext, api: axum::extract::State<SessionApi>) -> Response {
//!     let user = UserId::new("alice").expect("valid id"); // after checking credentials
//!     sessionward_axum::login_response(&api, &user, &ctx).await
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let tokens = TokenConfig::builder("https://auth.example.com", "example-api")
//!     .signing_key(SigningKey::hs256("k1", &[7u8; 32])?)
//!     .refresh_key([9u8; 32])
//!     .build()?;
//! let manager = SessionManager::builder(SessionPolicy::default(), tokens, Arc::new(MemoryStore::new()))
//!     .build()?;
//! let api = SessionApi::new(manager, AdapterConfig::new())?; // cookies, prefix "/auth"
//!
//! let app: Router = Router::new()
//!     .route("/hello", get(hello))
//!     .route("/login", post(login))
//!     .with_state(api.clone())
//!     .nest(api.config().route_prefix(), sessionward_axum::routes(api.clone()))
//!     .layer(SessionLayer::new(api));
//! # let _ = app;
//! # Ok(())
//! # }
//! ```
//! Serve it with `into_make_service_with_connect_info::<SocketAddr>()` so
//! the client address reaches the session records.
//!
//! ## Routes ([`routes`])
//! `POST /refresh`, `POST /logout`, `GET /sessions`, `DELETE /sessions/{id}`,
//! `POST /sessions/revoke-others`, `POST /sessions/revoke-all`; behaviour
//! and bodies as documented on [`SessionApi`]. Every answer carries
//! `Cache-Control: no-store`.
//!
//! ## Client IP
//! The client address is the TCP peer (`ConnectInfo<SocketAddr>`) passed
//! through the configured [`ClientIpResolver`] (default [`PeerAddrOnly`]:
//! forwarding headers are ignored). Behind a proxy, configure a resolver
//! that trusts `Forwarded`/`X-Forwarded-For` only from the proxy.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::ops::Deref;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::Router;
use axum::body::Body;
use axum::extract::{
    ConnectInfo, FromRequestParts, OptionalFromRequestParts, Path, Request, State,
};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use sessionward_core::web::{
    AuthOutcome, ErrorCode, HeaderSource, MAX_BODY_LEN, WebError, WebResponse,
};
use sessionward_core::{AuthenticatedSession, RequestContext, UserId};
use tower::{Layer, Service};

pub use sessionward_core::web::{
    AdapterConfig, ClientIpResolver, ConfigError, CsrfProtection, PeerAddrOnly, SameSite,
    SessionApi, TokenTransport,
};

/// A [`sessionward_core::web::WebResponse`] as an axum response.
#[derive(Debug, Clone)]
pub struct ApiResponse(pub WebResponse);

impl IntoResponse for ApiResponse {
    fn into_response(self) -> Response {
        let r = self.0;
        let mut resp = match r.body {
            Some(b) => Response::new(Body::from(b)),
            None => Response::new(Body::empty()),
        };
        *resp.status_mut() =
            StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let headers = resp.headers_mut();
        for (name, value) in r.headers {
            if let (Ok(n), Ok(v)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
                headers.append(n, v);
            }
        }
        resp
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

fn internal(why: &'static str) -> Response {
    tracing::error!(target: "sessionward::axum", why, "misconfigured sessionward adapter");
    let body = format!("{{\"error\":\"{}\"}}", ErrorCode::InternalError.as_str());
    ApiResponse(WebResponse::json(500, body)).into_response()
}

/// A tower layer that authenticates each request once and leaves the
/// outcome for [`AuthSession`], `Option<AuthSession>` and [`ClientContext`].
///
/// By default it lets every request through (handlers decide with the
/// extractors). [`SessionLayer::require`] instead answers unauthenticated
/// requests itself with the documented error response. Requests already
/// authenticated by an outer `SessionLayer` are not checked twice.
#[derive(Debug, Clone)]
pub struct SessionLayer {
    api: SessionApi,
    require: bool,
}

impl SessionLayer {
    /// A layer over `api` that lets unauthenticated requests through.
    pub fn new(api: SessionApi) -> Self {
        SessionLayer {
            api,
            require: false,
        }
    }

    /// Refuses every request without a valid session (`401`, `403` on CSRF
    /// failure, `503` when the store is down). Do not put this over
    /// [`routes`]: refresh and logout must work with an expired access token.
    pub fn require(mut self) -> Self {
        self.require = true;
        self
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
                        .authenticate(req.method().as_str(), &Headers(req.headers()))
                        .await;
                    let state = Arc::new(AuthState { api, outcome });
                    req.extensions_mut().insert(state.clone());
                    state
                }
            };
            if require && let Err(e) = state.outcome.required() {
                return Ok(ApiResponse(state.api.error_response(&e)).into_response());
            }
            inner.call(req).await
        })
    }
}

/// The authenticated session of a request. Extracting it rejects requests
/// without a valid session with the documented error response (`401`
/// `missing_token`/`invalid_token` with `WWW-Authenticate`, plus
/// `Clear-Site-Data` when the session ended; `403` CSRF; `503` store down).
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

/// Why [`AuthSession`] was refused: the documented error response.
#[derive(Debug)]
pub struct SessionRejection(Box<Response>);

impl IntoResponse for SessionRejection {
    fn into_response(self) -> Response {
        *self.0
    }
}

fn state(parts: &Parts) -> Result<&Arc<AuthState>, SessionRejection> {
    parts
        .extensions
        .get::<Arc<AuthState>>()
        .ok_or_else(|| SessionRejection(Box::new(internal("SessionLayer is not installed"))))
}

impl<S: Send + Sync> FromRequestParts<S> for AuthSession {
    type Rejection = SessionRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let state = state(parts)?;
        match state.outcome.required() {
            Ok(s) => Ok(AuthSession(s.clone())),
            Err(e) => Err(SessionRejection(Box::new(
                ApiResponse(state.api.error_response(&e)).into_response(),
            ))),
        }
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for AuthSession {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Option<Self>, Infallible> {
        Ok(parts
            .extensions
            .get::<Arc<AuthState>>()
            .and_then(|s| s.outcome.session().cloned())
            .map(AuthSession))
    }
}

/// The request facts for login: client IP (peer address through the
/// configured resolver), User-Agent and device-id cookie. Needs
/// [`SessionLayer`].
#[derive(Debug, Clone)]
pub struct ClientContext(pub RequestContext);

impl<S: Send + Sync> FromRequestParts<S> for ClientContext {
    type Rejection = SessionRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let state = state(parts)?;
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        Ok(ClientContext(
            state.api.request_context(peer, &Headers(&parts.headers)),
        ))
    }
}

/// Login helper: after the host verified `user`'s credentials, creates the
/// session and answers with tokens (JSON with bearer transport, cookies
/// otherwise); `409 session_limit_reached` with the active sessions when a
/// limit refuses the login, `503` when the store is down.
pub async fn login_response(api: &SessionApi, user: &UserId, ctx: &RequestContext) -> Response {
    ApiResponse(api.login(user, ctx).await).into_response()
}

/// Re-authentication helper: after the host verified the credentials of
/// `current`'s user again, replaces `current` with a fresh session (new
/// tokens, new `auth_time`, so ending sessions is allowed again).
pub async fn reauthenticate_response(
    api: &SessionApi,
    current: &AuthSession,
    ctx: &RequestContext,
) -> Response {
    ApiResponse(api.reauthenticate(current, ctx).await).into_response()
}

/// The ready-made session routes, to nest under
/// `api.config().route_prefix()` (the refresh cookie's path depends on it):
///
/// | route | answer |
/// |---|---|
/// | `POST /refresh` | rotated tokens (JSON body `{"refresh_token": …}` in, JSON out with bearer transport; cookies otherwise) |
/// | `POST /logout` | ends the session proven by the access token (live or expired), the refresh token (cookie, or JSON body `{"refresh_token": …}` with bearer transport) or both; `204`, `Clear-Site-Data: "cache", "cookies", "storage"`, expired cookies |
/// | `GET /sessions` | `{"sessions": [...]}` |
/// | `DELETE /sessions/{id}` | `204`, or `404 not_found` |
/// | `POST /sessions/revoke-others` | `{"revoked": n}` |
/// | `POST /sessions/revoke-all` | `{"revoked": n}` and the client wipe |
/// | `GET /sessions/not-me?token=…` | the "this wasn't me" confirmation page (changes nothing: link scanners fetch GET links) |
/// | `POST /sessions/not-me?token=…` | redeems the single-use token: every session of the account ends, this browser is wiped |
///
/// The router carries its own [`SessionLayer`].
pub fn routes<S>(api: SessionApi) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    Router::new()
        .route("/refresh", post(refresh))
        .route("/logout", post(logout))
        .route("/sessions", get(list))
        .route("/sessions/{id}", delete(revoke_one))
        .route("/sessions/revoke-others", post(revoke_others))
        .route("/sessions/revoke-all", post(revoke_all))
        .route("/sessions/not-me", get(not_me_page).post(not_me))
        .layer(SessionLayer::new(api.clone()))
        .with_state(api)
}

/// The request's parts and body (at most [`MAX_BODY_LEN`] bytes), or the
/// `400 invalid_request` answer.
async fn parts_and_body(
    api: &SessionApi,
    req: Request,
) -> Result<(Parts, axum::body::Bytes), ApiResponse> {
    let (parts, body) = req.into_parts();
    match axum::body::to_bytes(body, MAX_BODY_LEN).await {
        Ok(b) => Ok((parts, b)),
        Err(_) => Err(ApiResponse(
            api.error_response(&WebError::new(ErrorCode::InvalidRequest)),
        )),
    }
}

async fn refresh(State(api): State<SessionApi>, req: Request) -> ApiResponse {
    match parts_and_body(&api, req).await {
        Ok((parts, body)) => ApiResponse(
            api.refresh(parts.method.as_str(), &Headers(&parts.headers), &body)
                .await,
        ),
        Err(r) => r,
    }
}

async fn logout(State(api): State<SessionApi>, req: Request) -> ApiResponse {
    match parts_and_body(&api, req).await {
        Ok((parts, body)) => ApiResponse(
            api.logout(parts.method.as_str(), &Headers(&parts.headers), &body)
                .await,
        ),
        Err(r) => r,
    }
}

async fn list(State(api): State<SessionApi>, session: AuthSession) -> ApiResponse {
    ApiResponse(api.list(&session).await)
}

async fn revoke_one(
    State(api): State<SessionApi>,
    session: AuthSession,
    Path(id): Path<String>,
) -> ApiResponse {
    ApiResponse(api.revoke_session(&session, &id).await)
}

async fn revoke_others(State(api): State<SessionApi>, session: AuthSession) -> ApiResponse {
    ApiResponse(api.revoke_others(&session).await)
}

async fn revoke_all(State(api): State<SessionApi>, session: AuthSession) -> ApiResponse {
    ApiResponse(api.revoke_all(&session).await)
}

async fn not_me_page(State(api): State<SessionApi>, uri: axum::http::Uri) -> ApiResponse {
    ApiResponse(api.not_me_page(uri.query()))
}

async fn not_me(State(api): State<SessionApi>, uri: axum::http::Uri) -> ApiResponse {
    ApiResponse(api.not_me(uri.query()).await)
}
