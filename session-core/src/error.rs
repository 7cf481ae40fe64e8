//! The error type of [`crate::SessionManager`] operations.

use serde::Serialize;

use crate::policy::LimitKind;
use crate::record::Inactive;
use crate::secret::ContinuationTicket;
use crate::store::StoreError;
use crate::time::Timestamp;
use crate::tokens::TokenRejection;
use crate::view::SessionView;

/// A login refused by a concurrent-session limit. Carries the active
/// sessions so the app can offer "sign out one of these devices", and the
/// ticket that finishes the login once the user picked which.
/// This is not a failed login: the credentials were right.
#[derive(Debug, Clone, Serialize)]
pub struct LimitReached {
    /// Which limit.
    pub limit: LimitKind,
    /// The user's active sessions at the time of the decision.
    pub active: Vec<SessionView>,
    /// The ticket for [`crate::SessionManager::continue_login`] (`None`
    /// for a re-authentication, or when no session can be ended). A
    /// credential for this login: the adapters send it only to the client
    /// that logged in; it is never serialised with the rest.
    #[serde(skip)]
    pub continuation: Option<Continuation>,
}

/// "Sign out a device and continue": the single-use ticket of a login
/// refused at a limit, and when it expires.
#[derive(Debug, Clone)]
pub struct Continuation {
    /// The ticket (secret; redacted in `Debug`).
    pub ticket: ContinuationTicket,
    /// When it stops being accepted.
    pub expires_at: Timestamp,
}

/// Why a session operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// The token is not one we issued, or no longer valid on its own terms.
    #[error("invalid token ({0})")]
    InvalidToken(TokenRejection),
    /// The token is genuine but its session has ended (revoked, idle or
    /// past its absolute lifetime). Adapters also tell the client to wipe
    /// its stored tokens.
    #[error("session has ended")]
    SessionEnded(Inactive),
    /// An already-rotated refresh token was presented; the whole session
    /// was revoked.
    #[error("refresh token reuse detected; the session was revoked")]
    RefreshTokenReuse,
    /// A concurrent-session limit refused the login.
    #[error("session limit reached ({})", .0.limit.as_str())]
    LimitReached(Box<LimitReached>),
    /// The credential behind this login was verified before the user's
    /// "not before" mark (the password changed or the account was disabled
    /// since): verify it again. Nothing was created.
    #[error("credential verified before the account's not-before mark")]
    CredentialsRevoked,
    /// No active session with that id for that user.
    #[error("session not found")]
    NotFound,
    /// The operation needs a more recent full authentication.
    #[error("re-authentication required")]
    ReauthenticationRequired,
    /// The risk policy wants a second factor before this login; complete it
    /// with `SessionManager::complete_step_up` (feature `risk`).
    #[error("step-up authentication required")]
    StepUpRequired(Box<crate::risk::StepUpChallenge>),
    /// The risk policy denied this login.
    #[error("login denied by risk policy")]
    LoginDenied(crate::RiskSummary),
    /// A caller-supplied value was refused.
    #[error("invalid input: {0}")]
    InvalidInput(&'static str),
    /// This request looked like a stolen session's (a mid-session anomaly
    /// whose action is step-up): refused, and the client told to drop its
    /// tokens and sign in again. The session itself goes on for the
    /// requests that look like its own.
    #[error("this use of the session looks like a stolen one; sign in again")]
    SuspiciousUse,
    /// A key proof (DPoP) was missing or refused.
    #[error("key proof refused: {0}")]
    Proof(crate::binding::ProofError),
    /// Signing a token failed (a broken key).
    #[error("token signing failed")]
    Signing(#[source] jsonwebtoken::errors::Error),
    /// The store failed; [`StoreError::Unavailable`] means fail closed with 503.
    #[error(transparent)]
    Store(StoreError),
    /// The [`crate::LimitResolver`] failed, timed out or returned a zero
    /// limit: the login fails closed (503) rather than run under limits
    /// nobody decided.
    #[error("session limits could not be resolved")]
    LimitsUnavailable(#[source] crate::store::BoxError),
    /// The store has no [`crate::directory::SessionDirectory`]: cross-user
    /// queries and "revoke matching" cannot run on it.
    #[error("this session store offers no cross-user queries")]
    DirectoryUnavailable,
}

impl From<StoreError> for SessionError {
    /// Every store failure a caller sees passes here, so it is also where
    /// the `sessionward_store_errors_total` metric counts them.
    fn from(e: StoreError) -> Self {
        #[cfg(feature = "metrics")]
        crate::metrics::store_error(&e);
        SessionError::Store(e)
    }
}

impl SessionError {
    /// Whether the store was unreachable (answer 503, retry later).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, SessionError::Store(e) if e.is_unavailable())
            || matches!(self, SessionError::LimitsUnavailable(_))
    }

    /// Whether the client should drop its stored tokens (session ended or
    /// reuse detected).
    pub fn should_clear_client(&self) -> bool {
        matches!(
            self,
            SessionError::SessionEnded(_)
                | SessionError::RefreshTokenReuse
                | SessionError::SuspiciousUse
        )
    }
}
