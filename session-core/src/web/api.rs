//! [`SessionApi`]: the session routes and request authentication, written
//! once for every adapter.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::Deserialize;
use serde_json::json;
use subtle::ConstantTimeEq;

use crate::binding::{DPOP_ALGORITHMS, DpopMode, DpopRequest, MAX_PROOF_LEN, ProofError};
use crate::enrich::ClientHints;
use crate::error::SessionError;
use crate::ids::{SessionId, UserId};
use crate::manager::{
    AuthenticatedSession, LoginOptions, LoginSuccess, LogoutOutcome, LogoutProof, SessionManager,
    TokenPair,
};
use crate::record::{RequestContext, RevokeReason, SessionRecord};
use crate::secret::RefreshToken;
use crate::time::Timestamp;
use crate::view::SessionView;

use super::config::{AdapterConfig, ConfigError, TokenTransport};
use super::cookies::{
    ACCESS_COOKIE, CSRF_COOKIE, DEVICE_COOKIE, DEVICE_COOKIE_MAX_AGE, REFRESH_COOKIE, cookie_value,
    expire_all, expire_legacy_refresh, set_cookie,
};
use super::error::{ErrorCode, WebError};
use super::rejection::Rejection;
use super::response::WebResponse;
use super::{
    CLEAR_SITE_DATA, CSRF_HEADER, HeaderSource, MAX_BODY_LEN, WWW_AUTHENTICATE_INVALID,
    WWW_AUTHENTICATE_MISSING, is_state_changing,
};

/// The result of authenticating one request.
#[derive(Debug, Clone)]
pub enum AuthOutcome {
    /// A valid token of an active session.
    Authenticated(Arc<AuthenticatedSession>),
    /// No credentials were presented.
    Anonymous,
    /// Credentials were presented and refused (or the store is down, or
    /// the CSRF check failed).
    Rejected(WebError),
}

impl AuthOutcome {
    /// The session, or the error to answer with (`missing_token` when anonymous).
    ///
    /// # Errors
    /// The [`WebError`] for anything but an authenticated request.
    pub fn required(&self) -> Result<&Arc<AuthenticatedSession>, WebError> {
        match self {
            AuthOutcome::Authenticated(s) => Ok(s),
            AuthOutcome::Anonymous => Err(WebError::new(ErrorCode::MissingToken)),
            AuthOutcome::Rejected(e) => Err(e.clone()),
        }
    }

    /// The session if the request is authenticated.
    pub fn session(&self) -> Option<&Arc<AuthenticatedSession>> {
        match self {
            AuthOutcome::Authenticated(s) => Some(s),
            _ => None,
        }
    }
}

/// The HTTP face of a [`SessionManager`] (the engine): the manager plus an
/// [`AdapterConfig`], answering in [`WebResponse`]s. Cheap to clone.
///
/// Adapters call [`SessionApi::authenticate`] from their middleware, the
/// route methods from their handlers, and turn each [`WebResponse`] into a
/// framework response.
#[derive(Clone, Debug)]
pub struct SessionApi {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    manager: SessionManager,
    config: AdapterConfig,
    /// Set once the missing client address has been logged.
    warned_no_client_ip: AtomicBool,
}

#[derive(Deserialize)]
struct RefreshBody {
    refresh_token: String,
}

/// The optional body of a bearer-transport logout.
#[derive(Deserialize)]
struct LogoutBody {
    #[serde(default)]
    refresh_token: Option<String>,
}

pub(super) fn text(bytes: &[u8]) -> Option<&str> {
    std::str::from_utf8(bytes).ok()
}

impl SessionApi {
    /// Combines a manager and a configuration.
    ///
    /// # Errors
    /// [`ConfigError`] when the configuration is inconsistent.
    pub fn new(manager: SessionManager, config: AdapterConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Self::build(manager, config))
    }

    /// Combines a manager with the default [`AdapterConfig`] (cookies,
    /// double-submit CSRF, prefix `/auth`).
    pub fn with_defaults(manager: SessionManager) -> Self {
        Self::build(manager, AdapterConfig::default())
    }

    fn build(manager: SessionManager, config: AdapterConfig) -> Self {
        SessionApi {
            inner: Arc::new(Inner {
                manager,
                config,
                warned_no_client_ip: AtomicBool::new(false),
            }),
        }
    }

    /// The manager.
    pub fn manager(&self) -> &SessionManager {
        &self.inner.manager
    }

    /// The configuration.
    pub fn config(&self) -> &AdapterConfig {
        &self.inner.config
    }

    pub(super) fn cookie<'a, H: HeaderSource>(
        &self,
        headers: &'a H,
        name: &str,
    ) -> Option<&'a str> {
        cookie_value(headers.header_all("cookie").filter_map(text), name)
    }

    pub(super) fn cookies_too_long<H: HeaderSource>(&self, headers: &H) -> bool {
        let mut total = 0usize;
        for v in headers.header_all("cookie") {
            total = total.saturating_add(v.len());
        }
        total > self.inner.config.max_credential_len
    }

    /// The access token presented with the request, per the transport.
    pub(super) fn access_token<'a, H: HeaderSource>(
        &self,
        headers: &'a H,
    ) -> Result<Option<&'a str>, WebError> {
        let invalid = || WebError::new(ErrorCode::InvalidToken);
        match self.inner.config.transport {
            TokenTransport::Bearer => {
                let Some(raw) = headers.header("authorization") else {
                    return Ok(None);
                };
                if raw.len() > self.inner.config.max_credential_len {
                    return Err(invalid());
                }
                let value = text(raw).ok_or_else(invalid)?;
                let Some((scheme, token)) = value.split_once(' ') else {
                    return Ok(None);
                };
                if !scheme.eq_ignore_ascii_case("bearer") && !scheme.eq_ignore_ascii_case("dpop") {
                    return Ok(None);
                }
                let token = token.trim();
                if token.is_empty() {
                    return Err(invalid());
                }
                Ok(Some(token))
            }
            TokenTransport::Cookies => {
                if self.cookies_too_long(headers) {
                    return Err(invalid());
                }
                Ok(self
                    .cookie(headers, ACCESS_COOKIE)
                    .filter(|t| !t.is_empty()))
            }
        }
    }

    /// Runs the CSRF check for a state-changing request with cookie transport.
    ///
    /// # Errors
    /// [`ErrorCode::CsrfRejected`].
    pub fn check_csrf<H: HeaderSource>(&self, method: &str, headers: &H) -> Result<(), WebError> {
        let config = &self.inner.config;
        if config.transport != TokenTransport::Cookies || !is_state_changing(method) {
            return Ok(());
        }
        let reject = |why: &'static str| {
            tracing::warn!(target: "sessionward::web", method, why, "CSRF check failed");
            WebError::new(ErrorCode::CsrfRejected)
        };
        if !self.origin_allowed(headers) {
            return Err(reject("origin not allowed"));
        }
        if config.csrf.double_submit() {
            if self.cookies_too_long(headers) {
                return Err(reject("cookies too long"));
            }
            let cookie = self.cookie(headers, CSRF_COOKIE).unwrap_or("");
            let header = headers.header(CSRF_HEADER).unwrap_or(b"");
            let equal: bool = cookie.as_bytes().ct_eq(header).into();
            if cookie.is_empty() || !equal {
                return Err(reject("double-submit token missing or different"));
            }
        }
        Ok(())
    }

    /// Whether the request's `Origin` is one of the configured CSRF origins
    /// (always, when none are configured).
    pub(super) fn origin_allowed<H: HeaderSource>(&self, headers: &H) -> bool {
        let Some(allowed) = self.inner.config.csrf.origins() else {
            return true;
        };
        let origin = headers.header("origin").and_then(text);
        origin.is_some_and(|o| allowed.iter().any(|a| a.eq_ignore_ascii_case(o)))
    }

    /// Authenticates a request: finds the access token per the transport,
    /// applies the CSRF check to state-changing cookie requests, and asks
    /// the manager, which records where the request came from (`peer`
    /// through the client-IP resolver, User-Agent, client hints) when its
    /// throttled activity write is due. Never fails; the outcome says what
    /// to do.
    ///
    /// Without the request's path no DPoP proof can be checked, so a token
    /// bound to a key is refused: adapters call
    /// [`SessionApi::authenticate_at`].
    pub async fn authenticate<H: HeaderSource + Sync>(
        &self,
        method: &str,
        peer: Option<IpAddr>,
        headers: &H,
    ) -> AuthOutcome {
        self.authenticate_at(method, None, peer, headers).await
    }

    /// [`SessionApi::authenticate`] for a request to `path`, so that the
    /// `DPoP` proof of a key-bound token (sent as `Authorization: DPoP
    /// <token>`) is checked against [`super::AdapterConfig::with_public_origin`]
    /// plus `path`. A bound token sent as `Bearer`, or a plain one sent as
    /// `DPoP`, is refused (RFC 9449 §7.1).
    pub async fn authenticate_at<H: HeaderSource + Sync>(
        &self,
        method: &str,
        path: Option<&str>,
        peer: Option<IpAddr>,
        headers: &H,
    ) -> AuthOutcome {
        let token = match self.access_token(headers) {
            Ok(Some(t)) => t,
            Ok(None) => return AuthOutcome::Anonymous,
            Err(e) => return AuthOutcome::Rejected(e),
        };
        if let Err(e) = self.check_csrf(method, headers) {
            return AuthOutcome::Rejected(e);
        }
        let proof = match self.dpop_request(method, path, headers) {
            Ok(p) => p,
            Err(e) => return AuthOutcome::Rejected(WebError::proof(e)),
        };
        let context = || self.request_context(peer, headers);
        match self
            .inner
            .manager
            .authenticate_seen(token, proof.as_ref(), &context)
            .await
        {
            Ok(s) if self.scheme_mismatch(headers, s.claims.cnf.is_some()) => {
                AuthOutcome::Rejected(WebError::proof(ProofError::SchemeMismatch))
            }
            Ok(s) => AuthOutcome::Authenticated(Arc::new(s)),
            Err(e) => AuthOutcome::Rejected(WebError::from(&e)),
        }
    }

    /// Whether the bearer-transport `Authorization` scheme disagrees with
    /// the token's binding: `DPoP` for bound tokens, `Bearer` otherwise.
    fn scheme_mismatch<H: HeaderSource>(&self, headers: &H, bound: bool) -> bool {
        if self.inner.config.transport != TokenTransport::Bearer {
            return false;
        }
        let dpop_scheme = headers
            .header("authorization")
            .and_then(text)
            .and_then(|v| v.split_once(' '))
            .is_some_and(|(scheme, _)| scheme.eq_ignore_ascii_case("dpop"));
        dpop_scheme != bound
    }

    /// The request's DPoP proof with its method and absolute URI (the
    /// configured public origin plus `path`), if it carries one and both
    /// are known.
    ///
    /// # Errors
    /// [`ProofError::Multiple`] for more than one `DPoP` header, and
    /// [`ProofError::Malformed`] for one that is not text or too long.
    pub fn dpop_request<H: HeaderSource>(
        &self,
        method: &str,
        path: Option<&str>,
        headers: &H,
    ) -> Result<Option<DpopRequest>, ProofError> {
        let mut values = headers.header_all("dpop");
        let Some(first) = values.next() else {
            return Ok(None);
        };
        if values.next().is_some() {
            return Err(ProofError::Multiple);
        }
        if first.len() > MAX_PROOF_LEN {
            return Err(ProofError::Malformed);
        }
        let proof = text(first).ok_or(ProofError::Malformed)?.trim();
        let (Some(origin), Some(path)) = (self.inner.config.public_origin(), path) else {
            return Ok(None);
        };
        Ok(Some(DpopRequest::new(
            proof,
            method,
            format!("{origin}{path}"),
        )))
    }

    /// The request context: client IP through the configured
    /// [`super::ClientIpResolver`], User-Agent, User-Agent Client Hints
    /// ([`crate::enrich::ClientHints`]), and the device-id cookie.
    pub fn request_context<H: HeaderSource>(
        &self,
        peer: Option<IpAddr>,
        headers: &H,
    ) -> RequestContext {
        let config = &self.inner.config;
        let mut ctx = RequestContext::new();
        let forwarded = headers.header("forwarded").and_then(text);
        let xff = headers.header("x-forwarded-for").and_then(text);
        match config.resolver.client_ip(peer, forwarded, xff) {
            Some(ip) => ctx = ctx.with_ip(ip),
            None if peer.is_none() => self.warn_no_client_ip(),
            None => {}
        }
        if let Some(ua) = headers.header("user-agent") {
            ctx = ctx.with_user_agent(String::from_utf8_lossy(ua));
        }
        let hints = ClientHints::from_headers(|name| headers.header(name).and_then(text));
        if !hints.is_empty() {
            ctx = ctx.with_client_hints(hints);
        }
        if config.device_cookie
            && !self.cookies_too_long(headers)
            && let Some(id) = self.cookie(headers, DEVICE_COOKIE)
        {
            ctx = ctx.with_device_id(id);
        }
        ctx
    }

    /// Logs once that requests arrive without a TCP peer address: sessions
    /// then record no IP, so location, per-IP limits and new-place alerts
    /// go blind.
    fn warn_no_client_ip(&self) {
        if !self.inner.warned_no_client_ip.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                target: "sessionward::web",
                "requests carry no client address, so sessions record no IP: with axum serve \
                 `into_make_service_with_connect_info::<SocketAddr>()`; behind a proxy configure \
                 `AdapterConfig::with_client_ip_resolver(TrustedProxies::…)` (logged once)"
            );
        }
    }

    /// Whether a request without a client address was seen (and logged).
    pub fn saw_missing_client_ip(&self) -> bool {
        self.inner.warned_no_client_ip.load(Ordering::Relaxed)
    }

    /// The response for `err`: fixed JSON body, status, `Cache-Control:
    /// no-store`, the `WWW-Authenticate` challenge for 401s, and
    /// `Clear-Site-Data` plus expired cookies when the client must wipe.
    pub fn error_response(&self, err: &WebError) -> WebResponse {
        let code = err.code();
        let body = match (code, err.limit()) {
            (ErrorCode::SessionLimitReached, Some(l)) => {
                let mut body = json!({
                    "error": code.as_str(),
                    "limit": l.limit.as_str(),
                    "active": l.active,
                });
                if let Some(c) = &l.continuation {
                    body["ticket"] = json!(c.ticket.expose_secret());
                    body["ticket_expires_at"] = json!(c.expires_at);
                }
                body.to_string()
            }
            _ => match (code, err.step_up()) {
                (ErrorCode::StepUpRequired, Some(c)) => json!({
                    "error": code.as_str(),
                    "step_up_token": c.token.expose_secret(),
                    "expires_at": c.expires_at,
                    "risk": c.risk,
                })
                .to_string(),
                _ => match (err.proof_error(), err.ended_reason()) {
                    (Some(p), _) => json!({
                        "error": code.as_str(),
                        "error_description": p.to_string(),
                    })
                    .to_string(),
                    (None, Some(reason)) => format!(
                        "{{\"error\":\"{}\",\"reason\":\"{reason}\"}}",
                        code.as_str()
                    ),
                    (None, None) => format!("{{\"error\":\"{}\"}}", code.as_str()),
                },
            },
        };
        let mut r = WebResponse::json(err.status(), body);
        match code {
            ErrorCode::MissingToken => r
                .headers
                .push(("www-authenticate", self.missing_token_challenge())),
            ErrorCode::InvalidDpopProof | ErrorCode::UseDpopNonce => {
                if let Some(nonce) = err.proof_error().and_then(ProofError::nonce) {
                    r.headers.push(("dpop-nonce", nonce.to_owned()));
                }
                if !err.is_token_endpoint() {
                    let description = err
                        .proof_error()
                        .map(ToString::to_string)
                        .unwrap_or_default();
                    r.headers.push((
                        "www-authenticate",
                        format!(
                            "DPoP error=\"{}\", error_description=\"{description}\", algs=\"{DPOP_ALGORITHMS}\"",
                            code.as_str()
                        ),
                    ));
                }
            }
            ErrorCode::InvalidToken => r
                .headers
                .push(("www-authenticate", WWW_AUTHENTICATE_INVALID.to_owned())),
            ErrorCode::ReauthenticationRequired => {
                let max_age = self
                    .inner
                    .config
                    .recent_auth
                    .map(|d| d.as_secs())
                    .unwrap_or(0);
                r.headers.push((
                    "www-authenticate",
                    format!(
                        "Bearer error=\"insufficient_user_authentication\", max_age=\"{max_age}\""
                    ),
                ));
            }
            _ => {}
        }
        if err.clears_client() {
            self.add_wipe(&mut r);
        }
        r
    }

    /// The `WWW-Authenticate` challenge of a request without credentials:
    /// `Bearer`, and `DPoP` with its algorithms unless DPoP is off
    /// (RFC 9449 §7.1); only `DPoP` when it is required. Plain `Bearer`
    /// without a public origin (no proof can be checked) and with cookies
    /// (no `Authorization` scheme to offer).
    fn missing_token_challenge(&self) -> String {
        let dpop = format!("DPoP algs=\"{DPOP_ALGORITHMS}\"");
        let config = &self.inner.config;
        // Proofs can be checked only with a public origin; cookies have no scheme.
        if config.public_origin.is_none() || config.transport != TokenTransport::Bearer {
            return WWW_AUTHENTICATE_MISSING.to_owned();
        }
        match self.inner.manager.policy().dpop().mode {
            DpopMode::Off => WWW_AUTHENTICATE_MISSING.to_owned(),
            DpopMode::Optional => format!("{WWW_AUTHENTICATE_MISSING}, {dpop}"),
            DpopMode::Required => dpop,
        }
    }

    pub(super) fn add_wipe(&self, r: &mut WebResponse) {
        r.headers
            .push(("clear-site-data", CLEAR_SITE_DATA.to_owned()));
        if self.inner.config.transport == TokenTransport::Cookies {
            for c in expire_all(&self.inner.config) {
                r.headers.push(("set-cookie", c));
            }
        }
    }

    fn json_or_500(&self, status: u16, value: &impl serde::Serialize) -> WebResponse {
        match serde_json::to_string(value) {
            Ok(body) => WebResponse::json(status, body),
            Err(e) => {
                tracing::error!(target: "sessionward::web", error = %e, "serializing a response failed");
                self.error_response(&WebError::new(ErrorCode::InternalError))
            }
        }
    }

    /// The success response carrying fresh tokens: JSON tokens with bearer
    /// transport; `Set-Cookie` plus expiry times with cookie transport.
    /// `csrf` is set at login only: it lives as long as the session.
    pub(super) fn token_response(
        &self,
        session: &SessionRecord,
        tokens: &TokenPair,
        now: Timestamp,
        login: Option<&[SessionId]>,
        new_device: Option<&str>,
    ) -> WebResponse {
        let config = &self.inner.config;
        // Whole seconds on the JWT's own (second-granular) scale.
        let secs_until =
            |t: Timestamp| u64::try_from(t.unix_seconds() - now.unix_seconds()).unwrap_or(0);
        let access_secs = secs_until(tokens.access_expires_at);
        let refresh_secs = secs_until(tokens.refresh_expires_at);
        match config.transport {
            TokenTransport::Bearer => self.json_or_500(
                200,
                &with_evicted(
                    json!({
                        // RFC 9449 §5: a bound token's type is `DPoP`.
                        "token_type": match session.meta.binding.as_ref().and_then(crate::binding::KeyBinding::access_thumbprint) {
                            Some(_) => "DPoP",
                            None => "Bearer",
                        },
                        "access_token": tokens.access_token.expose_secret(),
                        "expires_in": access_secs,
                        "access_expires_at": tokens.access_expires_at,
                        "refresh_token": tokens.refresh_token.expose_secret(),
                        "refresh_expires_at": tokens.refresh_expires_at,
                        "session_id": session.id,
                    }),
                    login,
                ),
            ),
            TokenTransport::Cookies => {
                let mut r = self.json_or_500(
                    200,
                    &with_evicted(
                        json!({
                            "expires_in": access_secs,
                            "access_expires_at": tokens.access_expires_at,
                            "refresh_expires_at": tokens.refresh_expires_at,
                            "session_id": session.id,
                        }),
                        login,
                    ),
                );
                if r.status != 200 {
                    return r;
                }
                // The access cookie lives as long as the session, not as
                // its JWT: an expired token keeps reaching the server, which
                // answers `invalid_token` (refresh now) instead of
                // `missing_token`, and still proves the session at logout.
                // The JWT's own `exp` bounds what it grants. A device-bound
                // session's is the bound credential: it goes when its JWT
                // does, so the browser renews it with its device key.
                let device_bound = matches!(
                    session.meta.binding,
                    Some(crate::binding::KeyBinding::Dbsc { .. })
                );
                r.headers.push((
                    "set-cookie",
                    set_cookie(
                        config,
                        ACCESS_COOKIE,
                        tokens.access_token.expose_secret(),
                        "/",
                        if device_bound { access_secs } else { refresh_secs },
                        true,
                    ),
                ));
                r.headers.push((
                    "set-cookie",
                    set_cookie(
                        config,
                        REFRESH_COOKIE,
                        tokens.refresh_token.expose_secret(),
                        &config.refresh_cookie_path(),
                        refresh_secs,
                        true,
                    ),
                ));
                r.headers
                    .push(("set-cookie", expire_legacy_refresh(config)));
                if login.is_some() {
                    if let Some(offer) = self.dbsc_offer(session) {
                        r.headers
                            .push((crate::binding::REGISTRATION_HEADER, offer));
                    }
                    let csrf = SessionId::generate();
                    r.headers.push((
                        "set-cookie",
                        set_cookie(config, CSRF_COOKIE, csrf.as_str(), "/", refresh_secs, false),
                    ));
                }
                if let Some(device) = new_device {
                    r.headers.push(("set-cookie", self.device_cookie(device)));
                }
                r
            }
        }
    }

    /// Login helper: the host has verified `user`'s credentials; this
    /// creates the session and answers with tokens (JSON or cookies).
    ///
    /// A concurrent-session limit answers `409 session_limit_reached`
    /// listing the user's active sessions; a store outage `503`.
    pub async fn login(&self, user: &UserId, ctx: &RequestContext) -> WebResponse {
        self.login_with_options(user, ctx, LoginOptions::default())
            .await
    }

    /// [`SessionApi::login`] with options, e.g. the sign-in method the
    /// session page shows ([`LoginOptions::signed_in_with`]).
    pub async fn login_with_options(
        &self,
        user: &UserId,
        ctx: &RequestContext,
        options: LoginOptions,
    ) -> WebResponse {
        let result = self.login_with(user, ctx, options).await;
        self.respond(result)
    }

    /// Re-authentication helper: the host has verified the credentials of
    /// the user of `current` again; this replaces `current` with a new
    /// session (new tokens, fresh `auth_time`), as [`SessionManager::reauthenticate`].
    pub async fn reauthenticate(
        &self,
        current: &AuthenticatedSession,
        ctx: &RequestContext,
    ) -> WebResponse {
        let result = self.reauthenticate_result(current, ctx).await;
        self.respond(result)
    }

    pub(super) async fn reauthenticate_result(
        &self,
        current: &AuthenticatedSession,
        ctx: &RequestContext,
    ) -> Result<WebResponse, WebError> {
        let options = LoginOptions::replacing(current);
        // As `SessionManager::reauthenticate`: a bound session's key carries over.
        let ctx = match &current.claims.cnf {
            Some(cnf) => ctx.clone().with_proven_key(&cnf.jkt),
            None => ctx.clone(),
        };
        self.login_with(&current.user, &ctx, options).await
    }

    /// Logs `user` in with `options`: the token answer, or the error to
    /// answer with.
    pub(super) async fn login_with(
        &self,
        user: &UserId,
        ctx: &RequestContext,
        options: LoginOptions,
    ) -> Result<WebResponse, WebError> {
        let (ctx, new_device) = self.with_device_cookie(ctx.clone());
        let result = self.inner.manager.login_with(user, &ctx, options).await;
        self.logged_in(result, new_device.as_ref())
    }

    /// A fresh device id when the device cookie is on (cookie transport)
    /// and the request carries none, and `ctx` with it.
    pub(super) fn with_device_cookie(
        &self,
        ctx: RequestContext,
    ) -> (RequestContext, Option<SessionId>) {
        let config = &self.inner.config;
        let new_device = (config.device_cookie
            && config.transport == TokenTransport::Cookies
            && ctx.device_id().is_none())
        .then(SessionId::generate);
        match new_device {
            Some(d) => (ctx.with_device_id(d.as_str()), Some(d)),
            None => (ctx, None),
        }
    }

    /// The answer to a login's `result`: its tokens (with the sessions it
    /// ended), or the error. A refusal at a limit also sets a new device
    /// cookie, which its continuation ticket is bound to.
    pub(super) fn logged_in(
        &self,
        result: Result<LoginSuccess, SessionError>,
        new_device: Option<&SessionId>,
    ) -> Result<WebResponse, WebError> {
        let ok = match result {
            Ok(ok) => ok,
            Err(e) => {
                let err = WebError::from(&e).at_token_endpoint();
                let Some(device) =
                    new_device.filter(|_| err.code() == ErrorCode::SessionLimitReached)
                else {
                    return Err(err);
                };
                let mut r = self.error_response(&err);
                r.headers
                    .push(("set-cookie", self.device_cookie(device.as_str())));
                return Ok(r);
            }
        };
        let now = self.inner.manager.now();
        Ok(self.token_response(
            &ok.session,
            &ok.tokens,
            now,
            Some(&ok.evicted),
            new_device.map(SessionId::as_str),
        ))
    }

    /// The `Set-Cookie` value of the device-id cookie.
    fn device_cookie(&self, device: &str) -> String {
        set_cookie(
            &self.inner.config,
            DEVICE_COOKIE,
            device,
            "/",
            DEVICE_COOKIE_MAX_AGE,
            true,
        )
    }

    /// `result` as a response: the answer itself, or the error's response.
    pub(super) fn respond(&self, result: Result<WebResponse, WebError>) -> WebResponse {
        result.unwrap_or_else(|e| self.error_response(&e))
    }

    /// `err` with its documented response, for handlers to inspect or send.
    pub fn reject(&self, err: WebError) -> Rejection {
        let response = self.error_response(&err);
        Rejection::new(err, response)
    }

    /// `POST <prefix>/refresh`: rotates the refresh token taken from the
    /// JSON body (bearer) or the refresh cookie (cookies, CSRF-checked).
    /// Without the path no DPoP proof is read, so a bound session cannot
    /// refresh here: the routes call [`SessionApi::refresh_at`].
    pub async fn refresh<H: HeaderSource>(
        &self,
        method: &str,
        peer: Option<IpAddr>,
        headers: &H,
        body: &[u8],
    ) -> WebResponse {
        self.refresh_at(method, None, peer, headers, body).await
    }

    /// The refresh route: [`SessionApi::refresh_at`], with what the
    /// request's proof already proved when the layer authenticated a bound
    /// session with it (so its `jti` is not spent twice).
    pub(super) async fn refresh_routed<H: HeaderSource>(
        &self,
        req: &super::routes::RouteRequest<'_, H>,
    ) -> WebResponse {
        let proven = req
            .outcome
            .session()
            .and_then(|s| s.claims.cnf.as_ref())
            .map(|cnf| cnf.jkt.clone());
        self.refresh_inner(
            req.method,
            req.path,
            req.peer,
            req.headers,
            req.body,
            proven.as_deref(),
        )
        .await
    }

    /// [`SessionApi::refresh`] of a request to `path`, reading its `DPoP`
    /// proof: a session bound to a key rotates only with a proof by that
    /// key; DPoP errors answer `400` as a token endpoint's (RFC 9449 §5).
    pub async fn refresh_at<H: HeaderSource>(
        &self,
        method: &str,
        path: Option<&str>,
        peer: Option<IpAddr>,
        headers: &H,
        body: &[u8],
    ) -> WebResponse {
        self.refresh_inner(method, path, peer, headers, body, None)
            .await
    }

    async fn refresh_inner<H: HeaderSource>(
        &self,
        method: &str,
        path: Option<&str>,
        peer: Option<IpAddr>,
        headers: &H,
        body: &[u8],
        proven: Option<&str>,
    ) -> WebResponse {
        let token = match self.inner.config.transport {
            TokenTransport::Bearer => {
                if body.len() > MAX_BODY_LEN {
                    return self.error_response(&WebError::new(ErrorCode::InvalidRequest));
                }
                match serde_json::from_slice::<RefreshBody>(body) {
                    Ok(b) => b.refresh_token,
                    Err(_) => {
                        return self.error_response(&WebError::new(ErrorCode::InvalidRequest));
                    }
                }
            }
            TokenTransport::Cookies => {
                if self.cookies_too_long(headers) {
                    return self.error_response(&WebError::new(ErrorCode::InvalidToken));
                }
                if let Err(e) = self.check_csrf(method, headers) {
                    return self.error_response(&e);
                }
                match self.cookie(headers, REFRESH_COOKIE) {
                    Some(t) if !t.is_empty() => t.to_owned(),
                    _ => return self.error_response(&WebError::new(ErrorCode::MissingToken)),
                }
            }
        };
        let mut ctx = self.request_context(peer, headers);
        match (proven, self.dpop_request(method, path, headers)) {
            (Some(jkt), _) => ctx = ctx.with_proven_key(jkt),
            (None, Ok(Some(proof))) => ctx = ctx.with_dpop(proof),
            (None, Ok(None)) => {}
            (None, Err(e)) => {
                return self.error_response(&WebError::proof(e).at_token_endpoint());
            }
        }
        match self
            .inner
            .manager
            .refresh_with(&RefreshToken::new(token), &ctx)
            .await
        {
            Ok(r) => {
                let now = self.inner.manager.now();
                self.token_response(&r.session, &r.tokens, now, None, None)
            }
            Err(e) => self.error_response(&WebError::from(&e).at_token_endpoint()),
        }
    }

    /// `POST <prefix>/logout`: ends the caller's session on the server and
    /// answers `204` with `Clear-Site-Data: "cache", "cookies", "storage"`,
    /// expired cookies (cookie transport) and `Cache-Control: no-store`.
    ///
    /// The session ends whenever the request proves it holds it (see
    /// [`SessionManager::logout_with_proof`]): an access token, live or
    /// expired but authentic, or the refresh token. Bearer transport reads
    /// `Authorization: Bearer <jwt>` and/or an optional JSON body
    /// `{"refresh_token": "…"}`; cookie transport reads the access and
    /// refresh cookies (the refresh cookie's path is the route prefix, so it
    /// reaches this route) and needs the CSRF check when any of them is
    /// present.
    ///
    /// Logout is idempotent: without credentials, or with refused or
    /// already-ended ones, the client is still told to wipe. A store outage
    /// answers `503` without wiping, so the client retries and the
    /// server-side session really ends.
    pub async fn logout<H: HeaderSource>(
        &self,
        method: &str,
        headers: &H,
        body: &[u8],
    ) -> WebResponse {
        let config = &self.inner.config;
        // Oversized or unreadable: proves nothing; the client is still wiped.
        let access = self.access_token(headers).unwrap_or_default();
        let refresh = match config.transport {
            TokenTransport::Bearer => {
                if body.len() > MAX_BODY_LEN {
                    return self.error_response(&WebError::new(ErrorCode::InvalidRequest));
                }
                if body.iter().all(u8::is_ascii_whitespace) {
                    None
                } else {
                    match serde_json::from_slice::<LogoutBody>(body) {
                        Ok(b) => b.refresh_token.filter(|t| !t.is_empty()),
                        Err(_) => {
                            return self.error_response(&WebError::new(ErrorCode::InvalidRequest));
                        }
                    }
                }
            }
            TokenTransport::Cookies => (!self.cookies_too_long(headers))
                .then(|| self.cookie(headers, REFRESH_COOKIE))
                .flatten()
                .filter(|t| !t.is_empty())
                .map(str::to_owned),
        };
        if (access.is_some() || refresh.is_some())
            && let Err(e) = self.check_csrf(method, headers)
        {
            return self.error_response(&e);
        }
        let refresh = refresh.map(RefreshToken::new);
        let result = self.logout_proven(access, refresh.as_ref()).await;
        self.respond(result)
    }

    /// Ends the session these credentials prove (if any) and answers `204`
    /// with the client wipe; a store outage is the error.
    pub(super) async fn logout_proven(
        &self,
        access_token: Option<&str>,
        refresh_token: Option<&RefreshToken>,
    ) -> Result<WebResponse, WebError> {
        let proof = LogoutProof {
            access_token,
            refresh_token,
        };
        match self.inner.manager.logout_with_proof(proof).await? {
            LogoutOutcome::Ended | LogoutOutcome::AlreadyEnded | LogoutOutcome::NoProof => {
                let mut r = WebResponse::empty(204);
                self.add_wipe(&mut r);
                Ok(r)
            }
        }
    }

    /// `GET <prefix>/sessions`: `{"sessions":[…],"ended":[…]}`, the
    /// caller's active sessions (its own first, marked `"current": true`,
    /// then the most recently used) and the sessions that ended within the
    /// policy's history retention ([`SessionManager::overview`]).
    pub async fn list(&self, session: &AuthenticatedSession) -> WebResponse {
        let overview = self
            .inner
            .manager
            .overview(&session.user, Some(&session.session_id))
            .await;
        match overview {
            Ok(overview) => self.json_or_500(200, &overview),
            Err(e) => self.error_response(&WebError::from(&e)),
        }
    }

    pub(super) async fn list_views(
        &self,
        session: &AuthenticatedSession,
    ) -> Result<Vec<SessionView>, WebError> {
        Ok(self
            .inner
            .manager
            .list(&session.user, Some(&session.session_id))
            .await?)
    }

    fn recent_auth(&self, session: &AuthenticatedSession) -> Result<(), WebError> {
        match self.inner.config.recent_auth {
            Some(max_age) => session
                .require_recent_auth(self.inner.manager.now(), max_age)
                .map_err(WebError::from),
            None => Ok(()),
        }
    }

    /// `DELETE <prefix>/sessions/{id}`: ends one of the caller's sessions
    /// (`204`; `404 not_found` for an unknown or another user's id). Ending
    /// the caller's own session also wipes the client.
    pub async fn revoke_session(&self, session: &AuthenticatedSession, id: &str) -> WebResponse {
        let result = match SessionId::parse(id) {
            Ok(id) => self.end_session(session, &id).await,
            // Checked first all the same: an unknown id never skips the
            // recent-authentication rule.
            Err(_) => self
                .recent_auth(session)
                .and(Err(WebError::new(ErrorCode::NotFound))),
        };
        self.respond(result)
    }

    pub(super) async fn end_session(
        &self,
        session: &AuthenticatedSession,
        id: &SessionId,
    ) -> Result<WebResponse, WebError> {
        self.recent_auth(session)?;
        self.inner
            .manager
            .revoke(&session.user, id, RevokeReason::User)
            .await?;
        let mut r = WebResponse::empty(204);
        if *id == session.session_id {
            self.add_wipe(&mut r);
        }
        Ok(r)
    }

    /// `POST <prefix>/sessions/revoke-others`: ends every other session of
    /// the caller; `{"revoked": n}`.
    pub async fn revoke_others(&self, session: &AuthenticatedSession) -> WebResponse {
        match self.end_others(session).await {
            Ok(n) => self.json_or_500(200, &json!({ "revoked": n })),
            Err(e) => self.error_response(&e),
        }
    }

    pub(super) async fn end_others(
        &self,
        session: &AuthenticatedSession,
    ) -> Result<usize, WebError> {
        self.recent_auth(session)?;
        Ok(self
            .inner
            .manager
            .revoke_others(&session.user, &session.session_id, RevokeReason::User)
            .await?)
    }

    /// `POST <prefix>/sessions/revoke-all`: ends every session of the
    /// caller, this one included; `{"revoked": n}` and the client wipe.
    pub async fn revoke_all(&self, session: &AuthenticatedSession) -> WebResponse {
        let result = self.end_all(session).await;
        self.respond(result)
    }

    pub(super) async fn end_all(
        &self,
        session: &AuthenticatedSession,
    ) -> Result<WebResponse, WebError> {
        self.recent_auth(session)?;
        let n = self
            .inner
            .manager
            .revoke_all(&session.user, RevokeReason::User)
            .await?;
        let mut r = self.json_or_500(200, &json!({ "revoked": n }));
        self.add_wipe(&mut r);
        Ok(r)
    }
}

/// A login answer's body with the sessions the login ended (`"evicted"`:
/// their ids), so the client can say "signed out your oldest device".
fn with_evicted(mut body: serde_json::Value, login: Option<&[SessionId]>) -> serde_json::Value {
    if let Some(evicted) = login {
        body["evicted"] = json!(evicted);
    }
    body
}
