//! Tokens: signed JWT access tokens and opaque rotating refresh tokens.
//!
//! Configure keys with [`TokenConfig::builder`]. Access tokens carry `sid`,
//! `jti`, `iat`, `nbf`, `exp`, `iss`, `aud`, `auth_time` and an explicit
//! header `typ` of `at+jwt`; each key is pinned to one algorithm and named by
//! `kid`, so several keys can be accepted during a key rotation.

mod jwt;
mod keys;
mod refresh;
mod rejection;

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use jwt::MAX_JWT_LEN;
pub use keys::{
    JwtAlgorithm, KeyError, MAX_KID_LEN, MIN_HMAC_SECRET_LEN, SigningKey, VerifyingKey,
};
pub use refresh::{MAX_CHAIN_WALK, MAX_REFRESH_LEN, REFRESH_PREFIX};
pub use rejection::TokenRejection;

pub(crate) use refresh::{ParsedRefresh, RefreshKey, RefreshSecret, format_refresh, parse_refresh};

use keys::KeySet;

/// Header `typ` of access tokens (RFC 9068).
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";

/// The claims of a sessionward access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessClaims {
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// The user id.
    pub sub: String,
    /// The session id.
    pub sid: String,
    /// Unique token id.
    pub jti: String,
    /// Issued at (Unix seconds).
    pub iat: i64,
    /// Not before (Unix seconds).
    pub nbf: i64,
    /// Expires at (Unix seconds).
    pub exp: i64,
    /// Time of the last full authentication (Unix seconds).
    pub auth_time: i64,
}

/// Errors building a [`TokenConfig`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokenConfigError {
    /// No signing key was given.
    #[error("a signing key is required")]
    MissingSigningKey,
    /// No refresh key was given.
    #[error(
        "a refresh key of 32 random bytes is required (keep it stable across restarts and instances)"
    )]
    MissingRefreshKey,
    /// Issuer or audience empty.
    #[error("issuer and audience must not be empty")]
    EmptyIssuerOrAudience,
    /// Two keys share a `kid`.
    #[error("two keys share the kid `{0}`")]
    DuplicateKid(String),
}

/// Keys and names for minting and checking tokens.
#[derive(Clone)]
pub struct TokenConfig {
    pub(crate) issuer: String,
    pub(crate) audience: String,
    pub(crate) keys: KeySet,
    pub(crate) refresh_key: RefreshKey,
    pub(crate) leeway: Duration,
}

impl fmt::Debug for TokenConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenConfig")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("signing_kid", &self.keys.signing.kid())
            .field(
                "verifying_kids",
                &self.keys.verifying.keys().collect::<Vec<_>>(),
            )
            .field("refresh_key", &"[redacted]")
            .field("leeway", &self.leeway)
            .finish()
    }
}

impl TokenConfig {
    /// Starts a configuration for tokens issued by `issuer` for `audience`.
    ///
    /// ```
    /// use sessionward_core::tokens::{SigningKey, TokenConfig};
    /// let config = TokenConfig::builder("https://auth.example.com", "example-api")
    ///     .signing_key(SigningKey::hs256("2026-11", &[42u8; 32]).unwrap())
    ///     .refresh_key([9u8; 32])
    ///     .build()
    ///     .unwrap();
    /// assert!(format!("{config:?}").contains("[redacted]"));
    /// ```
    pub fn builder(issuer: impl Into<String>, audience: impl Into<String>) -> TokenConfigBuilder {
        TokenConfigBuilder {
            issuer: issuer.into(),
            audience: audience.into(),
            signing: None,
            extra: Vec::new(),
            refresh_key: None,
            leeway: Duration::ZERO,
        }
    }

    /// The issuer written to and required in `iss`.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The audience written to and required in `aud`.
    pub fn audience(&self) -> &str {
        &self.audience
    }

    /// Signs claims as a JWT with header `typ` set to `typ`, with the current signing key.
    ///
    /// # Errors
    /// The signing backend's error (only for broken keys).
    pub fn sign_jwt<T: Serialize>(
        &self,
        typ: &str,
        claims: &T,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        jwt::sign(&self.keys.signing, typ, claims)
    }

    /// Verifies a JWT of header `typ` against the configured keys and decodes
    /// its claims. Time, issuer and audience claims are the caller's to check.
    ///
    /// # Errors
    /// [`TokenRejection`] for anything but a well-formed, correctly signed token.
    pub fn verify_jwt<T: serde::de::DeserializeOwned>(
        &self,
        typ: &str,
        token: &str,
    ) -> Result<T, TokenRejection> {
        jwt::verify(&self.keys, typ, token)
    }

    /// Checks `iss`, `aud`, `nbf` and `exp` of verified access claims at `now_secs`.
    pub(crate) fn check_access_claims(
        &self,
        c: &AccessClaims,
        now_secs: i64,
    ) -> Result<(), TokenRejection> {
        self.check_access_claims_expired_up_to(c, now_secs, Duration::ZERO)
    }

    /// [`TokenConfig::check_access_claims`], except that a token past its
    /// `exp` by at most `max_expired` still passes. Issuer, audience and
    /// `nbf` are checked exactly as for a live token; the signature, `typ`
    /// and the algorithm pinned by `kid` are checked by
    /// [`TokenConfig::verify_jwt`] before. For proofs of possession that
    /// must outlive the token's usefulness (logout), never for access.
    pub(crate) fn check_access_claims_expired_up_to(
        &self,
        c: &AccessClaims,
        now_secs: i64,
        max_expired: Duration,
    ) -> Result<(), TokenRejection> {
        let leeway = i64::try_from(self.leeway.as_secs()).unwrap_or(i64::MAX);
        let max_expired = i64::try_from(max_expired.as_secs()).unwrap_or(i64::MAX);
        if c.iss != self.issuer {
            return Err(TokenRejection::WrongIssuer);
        }
        if c.aud != self.audience {
            return Err(TokenRejection::WrongAudience);
        }
        if now_secs >= c.exp.saturating_add(leeway).saturating_add(max_expired) {
            return Err(TokenRejection::Expired);
        }
        if now_secs < c.nbf.saturating_sub(leeway) {
            return Err(TokenRejection::NotYetValid);
        }
        Ok(())
    }
}

/// Builder for [`TokenConfig`].
pub struct TokenConfigBuilder {
    issuer: String,
    audience: String,
    signing: Option<SigningKey>,
    extra: Vec<VerifyingKey>,
    refresh_key: Option<[u8; 32]>,
    leeway: Duration,
}

impl fmt::Debug for TokenConfigBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenConfigBuilder")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

impl TokenConfigBuilder {
    /// The key that signs new access tokens (also accepted for verification).
    pub fn signing_key(mut self, key: SigningKey) -> Self {
        self.signing = Some(key);
        self
    }

    /// An extra key accepted for verification only, e.g. the previous key
    /// during a rotation. Tokens it signed stay valid until they expire.
    pub fn verification_key(mut self, key: VerifyingKey) -> Self {
        self.extra.push(key);
        self
    }

    /// The 32-byte secret that chains refresh tokens. Must be random, kept
    /// secret, and shared by every instance; changing it makes outstanding
    /// refresh tokens unrecognisable (they are refused, never accepted).
    pub fn refresh_key(mut self, key: [u8; 32]) -> Self {
        self.refresh_key = Some(key);
        self
    }

    /// Clock-skew allowance for `exp`/`nbf` (default zero).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// Validates and builds.
    ///
    /// # Errors
    /// [`TokenConfigError`] when a key is missing, names collide, or
    /// issuer/audience are empty.
    pub fn build(self) -> Result<TokenConfig, TokenConfigError> {
        if self.issuer.is_empty() || self.audience.is_empty() {
            return Err(TokenConfigError::EmptyIssuerOrAudience);
        }
        let signing = self.signing.ok_or(TokenConfigError::MissingSigningKey)?;
        let refresh_key = self
            .refresh_key
            .ok_or(TokenConfigError::MissingRefreshKey)?;
        let mut verifying = HashMap::new();
        for key in std::iter::once(signing.verifying_key().clone()).chain(self.extra) {
            let kid = key.kid().to_owned();
            if verifying.insert(kid.clone(), key).is_some() {
                return Err(TokenConfigError::DuplicateKid(kid));
            }
        }
        Ok(TokenConfig {
            issuer: self.issuer,
            audience: self.audience,
            keys: KeySet { signing, verifying },
            refresh_key: RefreshKey::new(refresh_key),
            leeway: self.leeway,
        })
    }
}
