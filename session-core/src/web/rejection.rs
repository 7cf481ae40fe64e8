//! [`Rejection`]: a refused request, inspectable and ready to send.

use std::fmt;

use super::error::{ErrorCode, WebError};
use super::response::WebResponse;

/// A refused request: what went wrong ([`Rejection::code`],
/// [`Rejection::status`], whether the session ended and why) and the
/// documented answer ([`Rejection::response`]: fixed JSON body, challenge
/// headers, and the client wipe when the session ended).
///
/// The adapters wrap it in a type that implements their framework's
/// response trait, so handlers can send it as is or look at it first, for
/// example to send an HTML app's visitor to its login page:
///
/// ```
/// use sessionward_core::web::{ErrorCode, Rejection};
///
/// fn redirect_target(rejection: &Rejection) -> Option<&'static str> {
///     match rejection.code() {
///         ErrorCode::MissingToken | ErrorCode::InvalidToken => Some("/login"),
///         ErrorCode::ReauthenticationRequired => Some("/login?again=1"),
///         _ => None, // send the rejection itself
///     }
/// }
/// # let _ = redirect_target;
/// ```
#[derive(Clone)]
pub struct Rejection {
    error: WebError,
    response: WebResponse,
}

impl Rejection {
    pub(super) fn new(error: WebError, response: WebResponse) -> Self {
        Rejection { error, response }
    }

    /// `500 internal_error`, for an adapter that cannot reach its
    /// [`super::SessionApi`] (its layer is not installed).
    pub fn internal_error() -> Self {
        Rejection::new(
            WebError::new(super::ErrorCode::InternalError),
            WebResponse::internal_error(),
        )
    }

    /// The error code, as in the body's `"error"`.
    pub fn code(&self) -> ErrorCode {
        self.error.code()
    }

    /// The HTTP status of [`Rejection::response`].
    pub fn status(&self) -> u16 {
        self.response.status
    }

    /// Why the caller's session ended (`idle_timeout`, `evicted`, `logout`,
    /// …; see [`super::ended_reason`]) when the request proved a session
    /// that is over; `None` otherwise.
    pub fn ended_reason(&self) -> Option<&'static str> {
        self.error.ended_reason()
    }

    /// Whether the response tells the client to drop its tokens.
    pub fn clears_client(&self) -> bool {
        self.error.clears_client()
    }

    /// The underlying error (limit details, step-up challenge).
    pub fn error(&self) -> &WebError {
        &self.error
    }

    /// The documented response.
    pub fn response(&self) -> &WebResponse {
        &self.response
    }

    /// The documented response, owned.
    pub fn into_response(self) -> WebResponse {
        self.response
    }
}

impl fmt::Debug for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rejection")
            .field("code", &self.code())
            .field("status", &self.status())
            .field("ended_reason", &self.ended_reason())
            .finish_non_exhaustive()
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "request refused: {} ({})",
            self.code().as_str(),
            self.status()
        )
    }
}

impl std::error::Error for Rejection {}
