//! The fixed error table of the adapters.

use crate::StepUpChallenge;
use crate::binding::ProofError;
use crate::error::{LimitReached, SessionError};
use crate::record::Inactive;

/// The short, documented error codes clients see. Bodies carry nothing
/// else (except the active sessions on [`ErrorCode::SessionLimitReached`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// 401: no credentials were presented.
    MissingToken,
    /// 401: the token is bad, expired, revoked, or its session ended.
    InvalidToken,
    /// 401: the operation needs a more recent full authentication.
    ReauthenticationRequired,
    /// 403: CSRF check failed.
    CsrfRejected,
    /// 404: no such session for this user.
    NotFound,
    /// 400: malformed request.
    InvalidRequest,
    /// 405: a session route called with a method it does not take (the
    /// `Allow` header lists the right ones).
    MethodNotAllowed,
    /// 409: a concurrent-session limit refused the login.
    SessionLimitReached,
    /// 403: the risk policy wants a second factor first; the body carries
    /// the single-use `step_up_token` for [`crate::web::SessionApi::complete_step_up`].
    StepUpRequired,
    /// 403: the risk policy denied the login.
    LoginDenied,
    /// 401 (400 on the refresh route and logins): a DPoP proof is missing
    /// or refused (RFC 9449 §7.1, §5); the body's `error_description`
    /// says why.
    InvalidDpopProof,
    /// 401 (400 on the refresh route and logins): retry with the server
    /// nonce in the `DPoP-Nonce` header (RFC 9449 §8, §9).
    UseDpopNonce,
    /// 401: the session is bound to a device key (DBSC): the browser
    /// renews its cookies itself, through `<prefix>/dbsc/refresh`, and the
    /// plain refresh route refuses its refresh cookie.
    DeviceBoundSession,
    /// 401: the caller of the introspection or revocation route did not
    /// authenticate as a service (RFC 6749 §5.2).
    InvalidClient,
    /// `403 forbidden`: the admin routes' [`super::AdminAuthorizer`]
    /// refused the caller.
    Forbidden,
    /// 503: the session store is unreachable (fail closed).
    Unavailable,
    /// 500: anything else.
    InternalError,
}

impl ErrorCode {
    /// The code as it appears in `{"error":"<code>"}`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::MissingToken => "missing_token",
            ErrorCode::InvalidToken => "invalid_token",
            ErrorCode::ReauthenticationRequired => "reauthentication_required",
            ErrorCode::CsrfRejected => "csrf_rejected",
            ErrorCode::NotFound => "not_found",
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::SessionLimitReached => "session_limit_reached",
            ErrorCode::StepUpRequired => "step_up_required",
            ErrorCode::LoginDenied => "login_denied",
            ErrorCode::InvalidDpopProof => "invalid_dpop_proof",
            ErrorCode::UseDpopNonce => "use_dpop_nonce",
            ErrorCode::DeviceBoundSession => "device_bound_session",
            ErrorCode::InvalidClient => "invalid_client",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::InternalError => "internal_error",
        }
    }

    /// The HTTP status.
    pub fn status(self) -> u16 {
        match self {
            ErrorCode::MissingToken
            | ErrorCode::InvalidToken
            | ErrorCode::ReauthenticationRequired
            | ErrorCode::InvalidDpopProof
            | ErrorCode::UseDpopNonce
            | ErrorCode::DeviceBoundSession
            | ErrorCode::InvalidClient => 401,
            ErrorCode::CsrfRejected
            | ErrorCode::StepUpRequired
            | ErrorCode::LoginDenied
            | ErrorCode::Forbidden => 403,
            ErrorCode::NotFound => 404,
            ErrorCode::InvalidRequest => 400,
            ErrorCode::MethodNotAllowed => 405,
            ErrorCode::SessionLimitReached => 409,
            ErrorCode::Unavailable => 503,
            ErrorCode::InternalError => 500,
        }
    }
}

/// An error on its way to becoming a response: a code, whether the client
/// must wipe its stored tokens, why its session ended, and the limit
/// details for 409.
#[derive(Debug, Clone)]
pub struct WebError {
    code: ErrorCode,
    clear_client: bool,
    ended: Option<&'static str>,
    limit: Option<Box<LimitReached>>,
    step_up: Option<Box<StepUpChallenge>>,
    proof: Option<Box<ProofError>>,
    token_endpoint: bool,
}

/// Why a session ended, as `invalid_token` bodies show it in `"reason"`:
/// `idle_timeout`, `absolute_timeout`, or the revocation reason
/// (`logout`, `user`, `admin`, `evicted`, `refresh_token_reuse`, …; see
/// [`crate::RevokeReason::as_str`]).
///
/// ```
/// use sessionward_core::{Inactive, RevokeReason};
/// use sessionward_core::web::ended_reason;
/// assert_eq!(ended_reason(Inactive::IdleTimeout), "idle_timeout");
/// assert_eq!(ended_reason(Inactive::Revoked(RevokeReason::Evicted)), "evicted");
/// ```
pub fn ended_reason(inactive: Inactive) -> &'static str {
    match inactive {
        Inactive::Revoked(r) => r.as_str(),
        Inactive::IdleTimeout => "idle_timeout",
        Inactive::AbsoluteTimeout => "absolute_timeout",
    }
}

impl WebError {
    /// An error with `code` that does not wipe the client.
    pub fn new(code: ErrorCode) -> Self {
        WebError {
            code,
            clear_client: false,
            ended: None,
            limit: None,
            step_up: None,
            proof: None,
            token_endpoint: false,
        }
    }

    /// A refused DPoP proof.
    pub fn proof(error: ProofError) -> Self {
        let code = match error {
            ProofError::UseNonce(_) => ErrorCode::UseDpopNonce,
            ProofError::DeviceBound => ErrorCode::DeviceBoundSession,
            _ => ErrorCode::InvalidDpopProof,
        };
        WebError {
            proof: Some(Box::new(error)),
            ..WebError::new(code)
        }
    }

    /// Marks an error of the refresh route or a login, which answer DPoP
    /// errors as a token endpoint does (400, RFC 9449 §5) rather than as a
    /// protected resource (401 with `WWW-Authenticate: DPoP`).
    pub fn at_token_endpoint(mut self) -> Self {
        self.token_endpoint = true;
        self
    }

    /// The HTTP status of the response.
    pub fn status(&self) -> u16 {
        match self.code {
            ErrorCode::InvalidDpopProof | ErrorCode::UseDpopNonce if self.token_endpoint => 400,
            code => code.status(),
        }
    }

    /// The refused proof, for the DPoP codes.
    pub fn proof_error(&self) -> Option<&ProofError> {
        self.proof.as_deref()
    }

    /// Whether the error answers a token endpoint ([`WebError::at_token_endpoint`]).
    pub fn is_token_endpoint(&self) -> bool {
        self.token_endpoint
    }

    /// Also tell the client to wipe its tokens.
    pub fn clearing_client(mut self) -> Self {
        self.clear_client = true;
        self
    }

    /// The code.
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// Whether the response tells the client to drop its tokens.
    pub fn clears_client(&self) -> bool {
        self.clear_client
    }

    /// Why the session of an authentic credential ended (see
    /// [`ended_reason`]); `None` for every other error, forged or unknown
    /// tokens included, so the body reveals nothing to a guesser.
    pub fn ended_reason(&self) -> Option<&'static str> {
        self.ended
    }

    /// The limit details, for [`ErrorCode::SessionLimitReached`].
    pub fn limit(&self) -> Option<&LimitReached> {
        self.limit.as_deref()
    }

    /// The challenge, for [`ErrorCode::StepUpRequired`].
    pub fn step_up(&self) -> Option<&StepUpChallenge> {
        self.step_up.as_deref()
    }
}

impl From<&SessionError> for WebError {
    fn from(e: &SessionError) -> Self {
        let code = match e {
            SessionError::InvalidToken(_)
            | SessionError::SessionEnded(_)
            | SessionError::RefreshTokenReuse
            | SessionError::SuspiciousUse => ErrorCode::InvalidToken,
            SessionError::LimitReached(l) => {
                return WebError {
                    code: ErrorCode::SessionLimitReached,
                    clear_client: false,
                    ended: None,
                    limit: Some(l.clone()),
                    step_up: None,
                    proof: None,
                    token_endpoint: false,
                };
            }
            SessionError::StepUpRequired(c) => {
                return WebError {
                    code: ErrorCode::StepUpRequired,
                    clear_client: false,
                    ended: None,
                    limit: None,
                    step_up: Some(c.clone()),
                    proof: None,
                    token_endpoint: false,
                };
            }
            SessionError::Proof(p) => return WebError::proof(p.clone()),
            SessionError::LoginDenied(_) => ErrorCode::LoginDenied,
            SessionError::NotFound => ErrorCode::NotFound,
            // The host must verify the (new) credential again: the same
            // answer as a login that needs a fresh authentication.
            SessionError::ReauthenticationRequired | SessionError::CredentialsRevoked => {
                ErrorCode::ReauthenticationRequired
            }
            SessionError::InvalidInput(_) => ErrorCode::InvalidRequest,
            SessionError::LimitsUnavailable(_) => {
                tracing::warn!(target: "sessionward::web", error = %e, "session limits unavailable; failing closed");
                ErrorCode::Unavailable
            }
            SessionError::Store(s) if s.is_unavailable() => {
                tracing::warn!(target: "sessionward::web", error = %e, "session store unavailable; failing closed");
                ErrorCode::Unavailable
            }
            SessionError::Signing(_)
            | SessionError::Store(_)
            | SessionError::DirectoryUnavailable => {
                tracing::error!(target: "sessionward::web", error = %e, "session operation failed");
                ErrorCode::InternalError
            }
        };
        let ended = match e {
            SessionError::SessionEnded(inactive) => Some(ended_reason(*inactive)),
            SessionError::RefreshTokenReuse => Some("refresh_token_reuse"),
            SessionError::SuspiciousUse => Some("suspicious_use"),
            _ => None,
        };
        WebError {
            code,
            clear_client: e.should_clear_client(),
            ended,
            limit: None,
            step_up: None,
            proof: None,
            token_endpoint: false,
        }
    }
}

impl From<SessionError> for WebError {
    fn from(e: SessionError) -> Self {
        WebError::from(&e)
    }
}
