//! [`SessionHandle`]: everything a handler does with the caller's session,
//! written once and given each framework's response types by its adapter.

use std::fmt;
use std::marker::PhantomData;
use std::net::IpAddr;

use crate::ids::{SessionId, UserId};
use crate::manager::{AuthenticatedSession, LoginOptions};
use crate::record::RequestContext;
use crate::secret::AccessToken;
use crate::view::SessionView;

use super::api::{AuthOutcome, SessionApi};
use super::error::{ErrorCode, WebError};
use super::rejection::Rejection;
use super::response::WebResponse;
use super::{HeaderSource, is_state_changing};

/// A web framework's answer types, implemented by each adapter so that
/// [`SessionHandle`]'s methods return what its handlers return.
pub trait Framework: 'static {
    /// The framework's response.
    type Response;
    /// The adapter's rejection (implements the framework's response trait).
    type Rejection;

    /// `response` in the framework's type.
    fn response(response: WebResponse) -> Self::Response;

    /// `rejection` in the adapter's type.
    fn rejection(rejection: Rejection) -> Self::Rejection;
}

/// The caller's session, and every action on it, for one request: read
/// it ([`SessionHandle::current`], [`SessionHandle::require`]), log a user
/// in after the app's own credential check, re-authenticate, log out, list
/// the user's sessions and end one, the others or all.
///
/// Each adapter's `Session` extractor dereferences to it with its
/// framework's types for `F`; it never rejects (a missing layer aside).
/// Actions answer with the documented responses: tokens as JSON with the
/// bearer transport, cookies otherwise; the client wipe when the session
/// ends.
pub struct SessionHandle<F: Framework> {
    api: SessionApi,
    outcome: AuthOutcome,
    /// A `DPoP` header that could not be read (two of them, not text).
    dpop_error: Option<crate::binding::ProofError>,
    context: RequestContext,
    access_token: Option<AccessToken>,
    /// Whether the request's method may change state; CSRF checks cover
    /// only those, so the actions refuse the others.
    state_changing: bool,
    framework: PhantomData<fn() -> F>,
}

impl<F: Framework> fmt::Debug for SessionHandle<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionHandle")
            .field("outcome", &self.outcome)
            .field("context", &self.context)
            .finish_non_exhaustive()
    }
}

impl SessionApi {
    /// The handle for one request: its authentication `outcome` (from
    /// [`SessionApi::authenticate`]), the TCP `peer` address and headers.
    /// The request's upper-case `method` decides whether the handle's
    /// actions may change anything (see [`SessionHandle::login`]).
    pub fn handle<F: Framework, H: HeaderSource>(
        &self,
        outcome: AuthOutcome,
        method: &str,
        peer: Option<IpAddr>,
        headers: &H,
    ) -> SessionHandle<F> {
        self.handle_at(outcome, method, None, peer, headers)
    }

    /// [`SessionApi::handle`] for a request to `path`: a login through the
    /// handle reads the request's `DPoP` proof and binds the new session to
    /// its key (a re-authentication keeps the current session's key).
    pub fn handle_at<F: Framework, H: HeaderSource>(
        &self,
        outcome: AuthOutcome,
        method: &str,
        path: Option<&str>,
        peer: Option<IpAddr>,
        headers: &H,
    ) -> SessionHandle<F> {
        let access_token = self
            .access_token(headers)
            .ok()
            .flatten()
            .map(AccessToken::new);
        let mut context = self.request_context(peer, headers);
        let mut dpop_error = None;
        let proven = outcome.session().and_then(|s| s.claims.cnf.as_ref());
        match proven {
            // This request's proof was spent authenticating the bound
            // session: what it proved carries over (and is not read again).
            Some(cnf) => context = context.with_proven_key(&cnf.jkt),
            None => match self.dpop_request(method, path, headers) {
                Ok(Some(proof)) => context = context.with_dpop(proof),
                Ok(None) => {}
                Err(e) => dpop_error = Some(e),
            },
        }
        SessionHandle {
            api: self.clone(),
            outcome,
            dpop_error,
            context,
            access_token,
            state_changing: is_state_changing(method),
            framework: PhantomData,
        }
    }
}

impl<F: Framework> SessionHandle<F> {
    fn reject(&self, err: WebError) -> F::Rejection {
        F::rejection(self.api.reject(err))
    }

    /// `405` for an action on a `GET`/`HEAD`/`OPTIONS`/`TRACE` request: CSRF
    /// checks cover only state-changing methods, so a cross-site link or
    /// image must not be able to log a user in or out or end sessions.
    fn writable(&self) -> Result<(), F::Rejection> {
        if self.state_changing {
            return Ok(());
        }
        let err = WebError::new(ErrorCode::MethodNotAllowed);
        let response = self.api.method_not_allowed("POST, PUT, PATCH, DELETE");
        Err(F::rejection(Rejection::new(err, response)))
    }

    fn answer(&self, result: Result<WebResponse, WebError>) -> Result<F::Response, F::Rejection> {
        result.map(F::response).map_err(|e| self.reject(e))
    }

    /// The caller's active session, or `None` (anonymous, or refused).
    pub fn current(&self) -> Option<&AuthenticatedSession> {
        self.outcome.session().map(AsRef::as_ref)
    }

    /// The caller's active session.
    ///
    /// # Errors
    /// The documented rejection: `401 missing_token` when anonymous, `401
    /// invalid_token` (with why the session ended, and the client wipe)
    /// when refused, `403 csrf_rejected`, `503 unavailable`.
    pub fn require(&self) -> Result<&AuthenticatedSession, F::Rejection> {
        match self.outcome.required() {
            Ok(s) => Ok(s),
            Err(e) => Err(self.reject(e)),
        }
    }

    /// What authenticating the request found.
    pub fn outcome(&self) -> &AuthOutcome {
        &self.outcome
    }

    /// The request's facts as logins record them: client IP (through the
    /// configured resolver), User-Agent, device cookie.
    pub fn context(&self) -> &RequestContext {
        &self.context
    }

    /// The session routes' handle.
    pub fn api(&self) -> &SessionApi {
        &self.api
    }

    /// Logs `user` in: call it after the app verified the credentials.
    /// Answers with the tokens (JSON or cookies).
    ///
    /// Like every action of the handle, it needs a state-changing request
    /// (`POST`, …): on `GET`/`HEAD` it answers `405 method_not_allowed`.
    ///
    /// # Errors
    /// `409 session_limit_reached` (with the user's active sessions) when a
    /// limit refuses the login, `401 reauthentication_required` when the
    /// credential was revoked meanwhile, `403` from the risk policy, `503`
    /// when the store is down.
    pub async fn login(&self, user: &UserId) -> Result<F::Response, F::Rejection> {
        self.login_with(user, LoginOptions::default()).await
    }

    /// [`SessionHandle::login`] with options (when the credential was
    /// verified, which session it replaces).
    ///
    /// # Errors
    /// As [`SessionHandle::login`].
    pub async fn login_with(
        &self,
        user: &UserId,
        options: LoginOptions,
    ) -> Result<F::Response, F::Rejection> {
        self.writable()?;
        if let Some(e) = &self.dpop_error {
            return Err(self.reject(WebError::proof(e.clone()).at_token_endpoint()));
        }
        let result = self.api.login_with(user, &self.context, options).await;
        self.answer(result)
    }

    /// Replaces the caller's session with a fresh one (new tokens, new
    /// `auth_time`, so ending sessions is allowed again): call it after the
    /// app verified the user's credentials again.
    ///
    /// # Errors
    /// The [`SessionHandle::require`] rejection without a session; then as
    /// [`SessionHandle::login`].
    pub async fn reauthenticate(&self) -> Result<F::Response, F::Rejection> {
        self.writable()?;
        let current = self.require()?;
        let result = self.api.reauthenticate_result(current, &self.context).await;
        self.answer(result)
    }

    /// Ends the caller's session on the server (proven by its access token,
    /// live or expired but authentic) and answers `204` with the client
    /// wipe. Without a session it still wipes the client.
    ///
    /// # Errors
    /// `403 csrf_rejected` for a cookie request that failed the CSRF check,
    /// `503` when the store is down (nothing is wiped: the client retries).
    pub async fn logout(&self) -> Result<F::Response, F::Rejection> {
        self.writable()?;
        if let AuthOutcome::Rejected(e) = &self.outcome
            && e.code() == ErrorCode::CsrfRejected
        {
            return Err(self.reject(e.clone()));
        }
        let token = self.access_token.as_ref().map(AccessToken::expose_secret);
        let result = self.api.logout_proven(token, None).await;
        self.answer(result)
    }

    /// The user's active sessions, most recent first, the caller's own
    /// marked current.
    ///
    /// # Errors
    /// The [`SessionHandle::require`] rejection; `503` when the store is down.
    pub async fn list(&self) -> Result<Vec<SessionView>, F::Rejection> {
        let current = self.require()?;
        self.api
            .list_views(current)
            .await
            .map_err(|e| self.reject(e))
    }

    /// Ends session `id` of the caller's user (`204`, with the client wipe
    /// when it is the caller's own).
    ///
    /// # Errors
    /// `404 not_found` for an unknown or another user's id, `401
    /// reauthentication_required` when the last full login is older than
    /// the configured window; the [`SessionHandle::require`] rejection.
    pub async fn end(&self, id: &SessionId) -> Result<F::Response, F::Rejection> {
        self.writable()?;
        let current = self.require()?;
        let result = self.api.end_session(current, id).await;
        self.answer(result)
    }

    /// Ends every other session of the caller's user; how many ended.
    ///
    /// # Errors
    /// As [`SessionHandle::end`].
    pub async fn end_others(&self) -> Result<usize, F::Rejection> {
        self.writable()?;
        let current = self.require()?;
        self.api
            .end_others(current)
            .await
            .map_err(|e| self.reject(e))
    }

    /// Ends every session of the caller's user, this one included
    /// (`{"revoked": n}` and the client wipe).
    ///
    /// # Errors
    /// As [`SessionHandle::end`].
    pub async fn end_all(&self) -> Result<F::Response, F::Rejection> {
        self.writable()?;
        let current = self.require()?;
        let result = self.api.end_all(current).await;
        self.answer(result)
    }
}
