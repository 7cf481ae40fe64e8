//! Tokens: signed JWT access tokens and opaque rotating refresh tokens.
//!
//! Configure keys with [`TokenConfig::builder`]. Access tokens carry `sid`,
//! `jti`, `iat`, `nbf`, `exp`, `iss`, `aud`, `auth_time` and an explicit
//! header `typ` of `at+jwt`; each key is pinned to one algorithm and named by
//! `kid`, so several keys can be accepted during a key rotation.

mod jwks;
mod jwt;
mod keys;
mod refresh;
mod rejection;
pub(crate) mod strict_json;

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use jwt::MAX_JWT_LEN;
pub use keys::{
    JwtAlgorithm, KeyError, MAX_KID_LEN, MIN_HMAC_SECRET_LEN, SigningKey, VerifyingKey,
};
pub use refresh::{MAX_CHAIN_WALK, MAX_REFRESH_GENERATION, MAX_REFRESH_LEN, REFRESH_PREFIX};
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
    /// Confirmation (RFC 7800 §3.1): the DPoP key the token is bound to
    /// (RFC 9449 §6.1); absent for bearer tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cnf: Option<Confirmation>,
}

/// The `cnf` claim of a sender-constrained access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Confirmation {
    /// The base64url JWK SHA-256 thumbprint of the key (RFC 9449 §6.1).
    pub jkt: String,
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
    pub(crate) max_clock_skew: Duration,
}

/// Default [`TokenConfigBuilder::max_clock_skew`]: 5 seconds.
pub const DEFAULT_MAX_CLOCK_SKEW: Duration = Duration::from_secs(5);

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
            .field("max_clock_skew", &self.max_clock_skew)
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
            max_clock_skew: DEFAULT_MAX_CLOCK_SKEW,
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
    /// Header and claims must be JSON objects without duplicate member names
    /// at any depth, whatever `T` is (a struct, a map or `serde_json::Value`):
    /// an array with the right values in field order, or `{"sub":"a","sub":"b"}`,
    /// is refused even when correctly signed.
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

    /// Checks `iss`, `aud`, `iat`, `nbf` and `exp` of verified access claims
    /// at `now_secs`, with checked arithmetic only.
    ///
    /// Every time claim must lie in `0..=`[`MAX_CLAIM_SECONDS`]
    /// ([`TokenRejection::NumberOutOfRange`] otherwise), so the leeway
    /// additions below and any later conversion to milliseconds cannot
    /// overflow. An `iat` later than `now + leeway` is not yet valid, like
    /// such an `nbf`.
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
        if c.iss != self.issuer {
            return Err(TokenRejection::WrongIssuer);
        }
        if c.aud != self.audience {
            return Err(TokenRejection::WrongAudience);
        }
        for claim in [c.iat, c.nbf, c.exp, c.auth_time] {
            claim_seconds(claim)?;
        }
        let leeway = self.leeway_seconds();
        let max_expired = max_expired.min(Duration::from_secs(MAX_CLAIM_SECONDS.unsigned_abs()));
        let max_expired = i64::try_from(max_expired.as_secs()).unwrap_or(MAX_CLAIM_SECONDS);
        let expires = c
            .exp
            .checked_add(leeway)
            .and_then(|e| e.checked_add(max_expired))
            .ok_or(TokenRejection::NumberOutOfRange)?;
        if now_secs >= expires {
            return Err(TokenRejection::Expired);
        }
        // Skew only ever moves the start earlier: a token minted by an
        // instance whose clock runs ahead is genuine, and accepting it early
        // never extends its life (`exp` gets no skew allowance).
        // `nbf - skew > now` and `iat - skew > now`, without subtracting.
        let skew = self
            .max_clock_skew
            .min(Duration::from_secs(MAX_CLAIM_SECONDS.unsigned_abs()));
        let skew = i64::try_from(skew.as_secs())
            .unwrap_or(MAX_CLAIM_SECONDS)
            .max(leeway);
        let latest_start = now_secs.saturating_add(skew);
        if c.nbf > latest_start || c.iat > latest_start {
            return Err(TokenRejection::NotYetValid);
        }
        Ok(())
    }

    /// The clock-skew leeway in whole seconds, capped at [`MAX_CLAIM_SECONDS`]
    /// (a larger leeway already accepts every in-range claim).
    fn leeway_seconds(&self) -> i64 {
        let secs = self.leeway.as_secs().min(MAX_CLAIM_SECONDS.unsigned_abs());
        i64::try_from(secs).unwrap_or(MAX_CLAIM_SECONDS)
    }
}

/// Latest time claim accepted, in Unix seconds: 9999-12-31T23:59:59Z, the
/// end of the range RFC 3339 timestamps (and [`crate::Timestamp`] text)
/// cover. Earlier than the epoch (negative) is refused as well.
pub const MAX_CLAIM_SECONDS: i64 = 253_402_300_799;

/// A time claim (Unix seconds) if it is in `0..=`[`MAX_CLAIM_SECONDS`].
///
/// # Errors
/// [`TokenRejection::NumberOutOfRange`] for anything outside that range.
pub fn claim_seconds(value: i64) -> Result<i64, TokenRejection> {
    if (0..=MAX_CLAIM_SECONDS).contains(&value) {
        Ok(value)
    } else {
        Err(TokenRejection::NumberOutOfRange)
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
    max_clock_skew: Duration,
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

    /// Fresh random keys that live only in this process: an HS256 signing
    /// key (kid `ephemeral`) and a refresh key. For development, tests and
    /// single-instance demos: every token dies with the process, and a second
    /// instance would refuse the first one's tokens. Production shares
    /// stable keys between instances ([`TokenConfigBuilder::signing_key`],
    /// [`TokenConfigBuilder::refresh_key`]).
    ///
    /// ```
    /// use sessionward_core::tokens::TokenConfig;
    /// let config = TokenConfig::builder("https://auth.example.com", "example-api")
    ///     .ephemeral_keys()
    ///     .build()?;
    /// # let _ = config;
    /// # Ok::<(), sessionward_core::tokens::TokenConfigError>(())
    /// ```
    ///
    /// # Panics
    /// When the OS random source fails (minting guessable keys instead
    /// would fail open).
    pub fn ephemeral_keys(mut self) -> Self {
        let secret: [u8; 32] = crate::secret::random_bytes();
        // A 32-byte secret always makes an HS256 key.
        self.signing = SigningKey::hs256("ephemeral", &secret).ok();
        self.refresh_key = Some(crate::secret::random_bytes());
        self
    }

    /// Clock-skew allowance for `exp`/`nbf` (default zero).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// The largest clock difference expected between the instances that
    /// mint and check tokens (default [`DEFAULT_MAX_CLOCK_SKEW`]). It applies
    /// on the safe side only: a token whose `nbf` is up to this far in the
    /// future is accepted (another instance's clock runs ahead), while `exp`
    /// gets no allowance beyond [`TokenConfigBuilder::leeway`].
    ///
    /// ```
    /// use std::time::Duration;
    /// use sessionward_core::tokens::{SigningKey, TokenConfig};
    /// let config = TokenConfig::builder("https://auth.example.com", "example-api")
    ///     .signing_key(SigningKey::hs256("2026-11", &[42u8; 32]).unwrap())
    ///     .refresh_key([9u8; 32])
    ///     .max_clock_skew(Duration::from_secs(2))
    ///     .build()
    ///     .unwrap();
    /// assert!(format!("{config:?}").contains("max_clock_skew: 2s"));
    /// ```
    pub fn max_clock_skew(mut self, skew: Duration) -> Self {
        self.max_clock_skew = skew;
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
            max_clock_skew: self.max_clock_skew,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_767_225_600;

    fn config(leeway: Duration) -> TokenConfig {
        TokenConfig::builder("iss", "aud")
            .signing_key(SigningKey::hs256("k", &[1; 32]).unwrap())
            .refresh_key([2; 32])
            .leeway(leeway)
            .build()
            .unwrap()
    }

    fn claims(iat: i64, nbf: i64, exp: i64, auth_time: i64) -> AccessClaims {
        AccessClaims {
            iss: "iss".into(),
            aud: "aud".into(),
            sub: "u".into(),
            sid: "s".into(),
            jti: "j".into(),
            iat,
            nbf,
            exp,
            auth_time,
            cnf: None,
        }
    }

    #[test]
    fn claim_seconds_range() {
        for ok in [0, 1, NOW, MAX_CLAIM_SECONDS] {
            assert_eq!(claim_seconds(ok), Ok(ok));
        }
        for bad in [-1, i64::MIN, i64::MIN + 1, MAX_CLAIM_SECONDS + 1, i64::MAX] {
            assert_eq!(claim_seconds(bad), Err(TokenRejection::NumberOutOfRange));
        }
    }

    #[test]
    fn extreme_time_claims_are_out_of_range_with_any_leeway() {
        let extremes = [
            i64::MIN,
            i64::MIN + 1,
            -1,
            MAX_CLAIM_SECONDS + 1,
            i64::MAX - 1,
            i64::MAX,
        ];
        for leeway in [Duration::ZERO, Duration::from_secs(60), Duration::MAX] {
            let cfg = config(leeway);
            for x in extremes {
                for c in [
                    claims(x, NOW, NOW + 60, NOW),
                    claims(NOW, x, NOW + 60, NOW),
                    claims(NOW, NOW, x, NOW),
                    claims(NOW, NOW, NOW + 60, x),
                ] {
                    assert_eq!(
                        cfg.check_access_claims(&c, NOW),
                        Err(TokenRejection::NumberOutOfRange),
                        "{c:?} with leeway {leeway:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn time_window_with_leeway() {
        let strict = config(Duration::ZERO);
        assert_eq!(
            strict.check_access_claims(&claims(NOW, NOW, NOW + 1, NOW), NOW),
            Ok(())
        );
        assert_eq!(
            strict.check_access_claims(&claims(NOW, NOW, NOW, NOW), NOW),
            Err(TokenRejection::Expired)
        );
        // No leeway, but the default clock-skew allowance for the start:
        // another instance's clock may run ahead by up to 5 s.
        let skew = DEFAULT_MAX_CLOCK_SKEW.as_secs() as i64;
        assert_eq!(
            strict.check_access_claims(&claims(NOW + skew, NOW + skew, NOW + 60, NOW), NOW),
            Ok(())
        );
        assert_eq!(
            strict.check_access_claims(&claims(NOW, NOW + skew + 1, NOW + 60, NOW), NOW),
            Err(TokenRejection::NotYetValid)
        );
        assert_eq!(
            strict.check_access_claims(&claims(NOW + skew + 1, NOW, NOW + 60, NOW), NOW),
            Err(TokenRejection::NotYetValid)
        );
        let lenient = config(Duration::from_secs(30));
        assert_eq!(
            lenient.check_access_claims(&claims(NOW, NOW, NOW - 29, NOW), NOW),
            Ok(())
        );
        assert_eq!(
            lenient.check_access_claims(&claims(NOW, NOW, NOW - 30, NOW), NOW),
            Err(TokenRejection::Expired)
        );
        assert_eq!(
            lenient.check_access_claims(&claims(NOW + 30, NOW + 30, NOW + 60, NOW), NOW),
            Ok(())
        );
        assert_eq!(
            lenient.check_access_claims(&claims(NOW + 31, NOW, NOW + 60, NOW), NOW),
            Err(TokenRejection::NotYetValid)
        );
        // A leeway past the claim range is capped, not overflowed: the
        // largest in-range claims still compute, and the epoch is still valid.
        let huge = config(Duration::MAX);
        let max = MAX_CLAIM_SECONDS;
        assert_eq!(
            huge.check_access_claims(&claims(max, max, max, max), NOW),
            Ok(())
        );
        assert_eq!(huge.check_access_claims(&claims(0, 0, 0, 0), NOW), Ok(()));
        assert_eq!(
            huge.check_access_claims(&claims(0, 0, 0, 0), i64::MAX),
            Err(TokenRejection::Expired)
        );
    }

    #[test]
    fn accessors_and_debug_redact_the_refresh_key() {
        let cfg = config(Duration::ZERO);
        assert_eq!(cfg.issuer(), "iss");
        assert_eq!(cfg.audience(), "aud");
        let debug = format!("{cfg:?}");
        for part in ["\"iss\"", "\"aud\"", "\"k\"", "[redacted]"] {
            assert!(debug.contains(part), "{part} missing from {debug}");
        }
        // The refresh key ([2; 32]) and the HMAC secret ([1; 32]) never show.
        assert!(
            !debug.contains("2, 2, 2") && !debug.contains("1, 1, 1"),
            "{debug}"
        );
    }

    #[test]
    fn issuer_and_audience_must_each_be_non_empty() {
        for (iss, aud) in [("", "aud"), ("iss", ""), ("", "")] {
            let built = TokenConfig::builder(iss, aud)
                .signing_key(SigningKey::hs256("k", &[1; 32]).unwrap())
                .refresh_key([2; 32])
                .build();
            assert!(
                matches!(built, Err(TokenConfigError::EmptyIssuerOrAudience)),
                "{iss:?} {aud:?}"
            );
        }
    }
}
