//! # sessionward-actix
//!
//! [sessionward](sessionward_core) for [actix-web](actix_web) 4: the
//! [`SessionMiddleware`] that authenticates every request, the
//! [`AuthSession`] extractor (rejects with the documented error) and
//! `Option<AuthSession>` (never rejects), [`ClientContext`] for login, and a
//! [`scope`] with the ready-made session API.
//!
//! All decisions (token transport, cookie strings, CSRF, error table) live
//! in [`sessionward_core::web`] and are shared with `sessionward-axum`; see
//! there for the error codes and CSRF options.
//!
//! ## Quick start
//! ```
//! use std::sync::Arc;
//! use actix_web::{App, HttpResponse, web};
//! use sessionward_actix::{AdapterConfig, AuthSession, ClientContext, SessionApi, SessionMiddleware};
//! use sessionward_core::{MemoryStore, SessionManager, SessionPolicy, UserId};
//! use sessionward_core::tokens::{SigningKey, TokenConfig};
//!
//! async fn hello(session: AuthSession) -> String {
//!     format!("hello {}", session.user)
//! }
//!
//! // The host checks the password; sessionward does the rest.
//! async fn login(ClientContext(ctx): ClientContext, api: web::Data<SessionApi>) -> HttpResponse {
//!     let user = UserId::new("alice").expect("valid id"); // after checking credentials
//!     sessionward_actix::login_response(&api, &user, &ctx).await
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
//! let make_app = move || {
//!     App::new()
//!         .wrap(SessionMiddleware::new(api.clone()))
//!         .app_data(web::Data::new(api.clone()))
//!         .route("/hello", web::get().to(hello))
//!         .route("/login", web::post().to(login))
//!         .service(sessionward_actix::scope(api.clone()))
//! };
//! # let _ = make_app;
//! // actix_web::HttpServer::new(make_app).bind(("0.0.0.0", 8080))?.run().await
//! # Ok(())
//! # }
//! ```
//!
//! ## Routes ([`scope`])
//! Mounted at `api.config().route_prefix()`: `POST /refresh`,
//! `POST /logout`, `GET /sessions`, `DELETE /sessions/{id}`,
//! `POST /sessions/revoke-others`, `POST /sessions/revoke-all`; behaviour
//! and bodies as documented on [`SessionApi`]. Every answer carries
//! `Cache-Control: no-store`.
//!
//! ## Client IP
//! The client address is the TCP peer (`HttpRequest::peer_addr`) passed
//! through the configured [`ClientIpResolver`] (default [`PeerAddrOnly`]:
//! forwarding headers are ignored). Behind a proxy, configure a resolver
//! that trusts `Forwarded`/`X-Forwarded-For` only from the proxy.

use std::fmt;
use std::future::{Future, Ready, ready};
use std::ops::Deref;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderMap, HeaderValue};
use actix_web::{
    Error, FromRequest, HttpMessage, HttpRequest, HttpResponse, ResponseError, Scope, web,
};
use sessionward_core::web::{
    AuthOutcome, ErrorCode, HeaderSource, MAX_BODY_LEN, WebError, WebResponse,
};
use sessionward_core::{AuthenticatedSession, RequestContext, UserId};

pub use sessionward_core::web::{
    AdapterConfig, ClientIpResolver, ConfigError, CsrfProtection, PeerAddrOnly, SameSite,
    SessionApi, TokenTransport,
};

/// Turns a [`WebResponse`] into an actix response.
pub fn to_http_response(r: WebResponse) -> HttpResponse {
    let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut b = HttpResponse::build(status);
    for (name, value) in r.headers {
        b.append_header((name, value));
    }
    match r.body {
        Some(body) => b.body(body),
        None => b.finish(),
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

/// Middleware that authenticates each request once and leaves the outcome
/// for [`AuthSession`], `Option<AuthSession>` and [`ClientContext`].
///
/// By default it lets every request through (handlers decide with the
/// extractors). [`SessionMiddleware::require`] instead answers
/// unauthenticated requests itself with the documented error response.
/// Requests already authenticated by an outer `SessionMiddleware` are not
/// checked twice.
#[derive(Debug, Clone)]
pub struct SessionMiddleware {
    api: SessionApi,
    require: bool,
}

impl SessionMiddleware {
    /// Middleware over `api` that lets unauthenticated requests through.
    pub fn new(api: SessionApi) -> Self {
        SessionMiddleware {
            api,
            require: false,
        }
    }

    /// Refuses every request without a valid session (`401`, `403` on CSRF
    /// failure, `503` when the store is down). Do not wrap [`scope`] with
    /// it: refresh and logout must work with an expired access token.
    pub fn require(mut self) -> Self {
        self.require = true;
        self
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

async fn state_of(req: &HttpRequest, api: Option<SessionApi>) -> Option<Arc<AuthState>> {
    if let Some(s) = req.extensions().get::<Arc<AuthState>>().cloned() {
        return Some(s);
    }
    let api = api.or_else(|| api_of(req))?;
    let outcome = api
        .authenticate(req.method().as_str(), &Headers(req.headers()))
        .await;
    let state = Arc::new(AuthState { api, outcome });
    req.extensions_mut().insert(state.clone());
    Some(state)
}

fn api_of(req: &HttpRequest) -> Option<SessionApi> {
    req.app_data::<SessionApi>().cloned().or_else(|| {
        req.app_data::<web::Data<SessionApi>>()
            .map(|d| d.get_ref().clone())
    })
}

impl<S, B> Service<ServiceRequest> for SessionMiddlewareService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Future = LocalBoxFuture<Result<Self::Response, Error>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let service = self.service.clone();
        let api = self.api.clone();
        let require = self.require;
        Box::pin(async move {
            let state = state_of(req.request(), Some(api)).await;
            if require
                && let Some(state) = state
                && let Err(e) = state.outcome.required()
            {
                let resp = to_http_response(state.api.error_response(&e));
                return Ok(req.into_response(resp).map_into_right_body());
            }
            service
                .call(req)
                .await
                .map(ServiceResponse::map_into_left_body)
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

/// Why an extractor refused: the documented error response.
#[derive(Debug)]
pub struct SessionRejection(WebResponse);

impl fmt::Display for SessionRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "session rejected with status {}", self.0.status)
    }
}

impl ResponseError for SessionRejection {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.0.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        to_http_response(self.0.clone())
    }
}

fn not_installed() -> SessionRejection {
    tracing::error!(
        target: "sessionward::actix",
        "neither SessionMiddleware nor SessionApi app data is installed"
    );
    let body = format!("{{\"error\":\"{}\"}}", ErrorCode::InternalError.as_str());
    SessionRejection(WebResponse::json(500, body))
}

fn extract(state: &AuthState) -> Result<AuthSession, SessionRejection> {
    match state.outcome.required() {
        Ok(s) => Ok(AuthSession(s.clone())),
        Err(e) => Err(SessionRejection(state.api.error_response(&e))),
    }
}

/// The future of [`AuthSession`] extraction: ready at once when
/// [`SessionMiddleware`] already authenticated the request.
pub struct AuthSessionFuture(AuthFutureInner);

enum AuthFutureInner {
    Ready(Option<Result<AuthSession, SessionRejection>>),
    Pending(LocalBoxFuture<Result<AuthSession, SessionRejection>>),
}

impl fmt::Debug for AuthSessionFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthSessionFuture").finish_non_exhaustive()
    }
}

impl Future for AuthSessionFuture {
    type Output = Result<AuthSession, SessionRejection>;

    fn poll(
        self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        match &mut self.get_mut().0 {
            AuthFutureInner::Ready(r) => {
                std::task::Poll::Ready(r.take().unwrap_or_else(|| Err(not_installed())))
            }
            AuthFutureInner::Pending(f) => f.as_mut().poll(cx),
        }
    }
}

impl FromRequest for AuthSession {
    type Error = SessionRejection;
    type Future = AuthSessionFuture;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        if let Some(state) = req.extensions().get::<Arc<AuthState>>() {
            return AuthSessionFuture(AuthFutureInner::Ready(Some(extract(state))));
        }
        let req = req.clone();
        AuthSessionFuture(AuthFutureInner::Pending(Box::pin(async move {
            let state = state_of(&req, None).await.ok_or_else(not_installed)?;
            extract(&state)
        })))
    }
}

/// The request facts for login: client IP (peer address through the
/// configured resolver), User-Agent and device-id cookie. Needs
/// [`SessionMiddleware`] or `SessionApi` app data.
#[derive(Debug, Clone)]
pub struct ClientContext(pub RequestContext);

impl FromRequest for ClientContext {
    type Error = SessionRejection;
    type Future = Ready<Result<Self, SessionRejection>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let api = req
            .extensions()
            .get::<Arc<AuthState>>()
            .map(|s| s.api.clone())
            .or_else(|| api_of(req));
        ready(match api {
            Some(api) => {
                let peer = req.peer_addr().map(|a| a.ip());
                Ok(ClientContext(
                    api.request_context(peer, &Headers(req.headers())),
                ))
            }
            None => Err(not_installed()),
        })
    }
}

/// Login helper: after the host verified `user`'s credentials, creates the
/// session and answers with tokens (JSON with bearer transport, cookies
/// otherwise); `409 session_limit_reached` with the active sessions when a
/// limit refuses the login, `503` when the store is down.
pub async fn login_response(api: &SessionApi, user: &UserId, ctx: &RequestContext) -> HttpResponse {
    to_http_response(api.login(user, ctx).await)
}

/// Re-authentication helper: after the host verified the credentials of
/// `current`'s user again, replaces `current` with a fresh session (new
/// tokens, new `auth_time`, so ending sessions is allowed again).
pub async fn reauthenticate_response(
    api: &SessionApi,
    current: &AuthSession,
    ctx: &RequestContext,
) -> HttpResponse {
    to_http_response(api.reauthenticate(current, ctx).await)
}

/// The ready-made session routes as a scope at
/// `api.config().route_prefix()`:
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
/// The scope works with or without an outer [`SessionMiddleware`].
pub fn scope(api: SessionApi) -> Scope {
    web::scope(api.config().route_prefix())
        .app_data(api)
        .route("/refresh", web::post().to(refresh))
        .route("/logout", web::post().to(logout))
        .route("/sessions", web::get().to(list))
        .route("/sessions/revoke-others", web::post().to(revoke_others))
        .route("/sessions/revoke-all", web::post().to(revoke_all))
        .route("/sessions/not-me", web::get().to(not_me_page))
        .route("/sessions/not-me", web::post().to(not_me))
        .route("/sessions/{id}", web::delete().to(revoke_one))
}

async fn not_me_page(req: HttpRequest) -> Result<HttpResponse, SessionRejection> {
    let query = Some(req.query_string()).filter(|q| !q.is_empty());
    Ok(to_http_response(api_or_500(&req)?.not_me_page(query)))
}

async fn not_me(req: HttpRequest) -> Result<HttpResponse, SessionRejection> {
    let query = Some(req.query_string()).filter(|q| !q.is_empty());
    Ok(to_http_response(api_or_500(&req)?.not_me(query).await))
}

/// [`scope`] as a `configure` function: `App::new().configure(sessionward_actix::configure(api))`.
pub fn configure(api: SessionApi) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        cfg.service(scope(api));
    }
}

fn api_or_500(req: &HttpRequest) -> Result<SessionApi, SessionRejection> {
    api_of(req).ok_or_else(not_installed)
}

/// The body (at most [`MAX_BODY_LEN`] bytes), or the `400 invalid_request` answer.
async fn body_or_400(api: &SessionApi, body: web::Payload) -> Result<web::Bytes, HttpResponse> {
    match body.to_bytes_limited(MAX_BODY_LEN).await {
        Ok(Ok(b)) => Ok(b),
        _ => Err(to_http_response(
            api.error_response(&WebError::new(ErrorCode::InvalidRequest)),
        )),
    }
}

async fn refresh(req: HttpRequest, body: web::Payload) -> Result<HttpResponse, SessionRejection> {
    let api = api_or_500(&req)?;
    Ok(match body_or_400(&api, body).await {
        Ok(body) => to_http_response(
            api.refresh(req.method().as_str(), &Headers(req.headers()), &body)
                .await,
        ),
        Err(r) => r,
    })
}

async fn logout(req: HttpRequest, body: web::Payload) -> Result<HttpResponse, SessionRejection> {
    let api = api_or_500(&req)?;
    Ok(match body_or_400(&api, body).await {
        Ok(body) => to_http_response(
            api.logout(req.method().as_str(), &Headers(req.headers()), &body)
                .await,
        ),
        Err(r) => r,
    })
}

async fn list(req: HttpRequest, session: AuthSession) -> Result<HttpResponse, SessionRejection> {
    Ok(to_http_response(api_or_500(&req)?.list(&session).await))
}

async fn revoke_one(
    req: HttpRequest,
    session: AuthSession,
    id: web::Path<String>,
) -> Result<HttpResponse, SessionRejection> {
    Ok(to_http_response(
        api_or_500(&req)?.revoke_session(&session, &id).await,
    ))
}

async fn revoke_others(
    req: HttpRequest,
    session: AuthSession,
) -> Result<HttpResponse, SessionRejection> {
    Ok(to_http_response(
        api_or_500(&req)?.revoke_others(&session).await,
    ))
}

async fn revoke_all(
    req: HttpRequest,
    session: AuthSession,
) -> Result<HttpResponse, SessionRejection> {
    Ok(to_http_response(
        api_or_500(&req)?.revoke_all(&session).await,
    ))
}
