//! Why a presented token was refused.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a token was refused. Written to security events; adapters answer
/// clients with a generic code only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum TokenRejection {
    /// Longer than the accepted maximum.
    Oversized,
    /// Not the expected shape or encoding.
    Malformed,
    /// The JWS header has members other than `alg`, `typ`, `kid`, or lacks one.
    UnsupportedHeader,
    /// The `typ` is not the one expected here (for example a refresh or
    /// action token used as an access token).
    WrongType,
    /// No configured key has this `kid`.
    UnknownKey,
    /// The header's `alg` is not the one the key is pinned to (covers `none`).
    AlgorithmMismatch,
    /// The signature does not verify.
    BadSignature,
    /// The claims are missing, mistyped or have unknown members.
    BadClaims,
    /// The issuer is not ours.
    WrongIssuer,
    /// The audience is not ours.
    WrongAudience,
    /// Past `exp`.
    Expired,
    /// Before `nbf`.
    NotYetValid,
    /// The refresh secret does not match the session's current or any earlier token.
    UnknownRefreshToken,
    /// An action token that was already used.
    AlreadyUsed,
    /// The token names a session the store does not have for that user.
    UnknownSession,
    /// A number in the token is outside the range sessionward issues: a
    /// refresh generation with no successor (`u64::MAX`) or too large for a
    /// `u64`, or a time claim (`iat`, `nbf`, `exp`, `auth_time`) before the
    /// Unix epoch or after 9999-12-31T23:59:59Z. Refused instead of
    /// overflowing, wrapping or saturating.
    NumberOutOfRange,
}

impl TokenRejection {
    /// Stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenRejection::Oversized => "oversized",
            TokenRejection::Malformed => "malformed",
            TokenRejection::UnsupportedHeader => "unsupported_header",
            TokenRejection::WrongType => "wrong_type",
            TokenRejection::UnknownKey => "unknown_key",
            TokenRejection::AlgorithmMismatch => "algorithm_mismatch",
            TokenRejection::BadSignature => "bad_signature",
            TokenRejection::BadClaims => "bad_claims",
            TokenRejection::WrongIssuer => "wrong_issuer",
            TokenRejection::WrongAudience => "wrong_audience",
            TokenRejection::Expired => "expired",
            TokenRejection::NotYetValid => "not_yet_valid",
            TokenRejection::UnknownRefreshToken => "unknown_refresh_token",
            TokenRejection::AlreadyUsed => "already_used",
            TokenRejection::UnknownSession => "unknown_session",
            TokenRejection::NumberOutOfRange => "number_out_of_range",
        }
    }
}

impl fmt::Display for TokenRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_matches_the_serialized_form() {
        for why in [
            TokenRejection::NumberOutOfRange,
            TokenRejection::UnknownSession,
            TokenRejection::BadClaims,
        ] {
            assert_eq!(
                serde_json::to_string(&why).unwrap(),
                format!("\"{}\"", why.as_str())
            );
        }
        assert_eq!(
            TokenRejection::NumberOutOfRange.to_string(),
            "number_out_of_range"
        );
    }
}
