//! Signals from the identity provider a user signed in with: OpenID Connect
//! Back-Channel Logout 1.0.
//!
//! A login through an OpenID Connect provider records where it came from
//! ([`crate::LoginOptions::via_provider`] with a [`ProviderSession`]: the
//! ID token's `iss`, `sub` and `sid`). When the user signs out at the
//! provider, it `POST`s a logout token to us; [`IdentityProvider`]
//! validates it (signature by a key of the provider's JWKS, `iss`, `aud`,
//! `iat`, `exp`, `jti`, the logout event, no `nonce`, a `sub` or `sid`:
//! §2.6) and [`crate::SessionManager::back_channel_logout`] ends the sessions it
//! names: those of the mapped user recorded from that provider, with that
//! `sid` when the token has one, that began before the token was issued.
//! The `jti` is recorded after acting, so that a provider's retry after a
//! store failure still works; a replay is refused then, and before that it
//! can end only sessions that began no later than the skew allowance
//! (60 s) after the token was issued.

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ids::UserId;
use crate::ids::is_base64url_byte;
use crate::risk::RiskStore;
use crate::store::StoreError;
use crate::time::Timestamp;
use crate::tokens::MAX_CLAIM_SECONDS;

/// The `events` member that makes a JWT a logout token (§2.4).
pub const BACKCHANNEL_LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// The explicit `typ` of logout tokens (§2.4; `JWT` and none are accepted
/// too, as most providers send them).
pub const LOGOUT_TOKEN_TYP: &str = "logout+jwt";

/// Longest logout token read.
const MAX_LOGOUT_TOKEN_LEN: usize = 8 * 1024;
/// Longest `jti`, `sub` or `sid` kept.
const MAX_CLAIM_TEXT: usize = 255;

pub use crate::record::ProviderSession;
pub use set::{
    CAEP_CREDENTIAL_CHANGE, CAEP_SESSION_REVOKED, ProviderEvent, ProviderSignal, SET_TYP,
    SSF_VERIFICATION,
};

mod key_source;
mod set;

pub use key_source::{
    DEFAULT_KEY_REFETCH_INTERVAL, JwksFile, MIN_KEY_REFETCH_INTERVAL, ProviderKeySource,
};

/// The provider's public signing keys.
#[derive(Clone)]
pub struct ProviderKeys {
    keys: Vec<ProviderKey>,
}

#[derive(Clone)]
struct ProviderKey {
    kid: Option<String>,
    alg: Algorithm,
    key: DecodingKey,
}

impl fmt::Debug for ProviderKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys: Vec<(Option<&str>, Algorithm)> = self
            .keys
            .iter()
            .map(|k| (k.kid.as_deref(), k.alg))
            .collect();
        f.debug_struct("ProviderKeys").field("keys", &keys).finish()
    }
}

/// Why a provider's key set could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProviderKeyError {
    /// The text is not a JSON Web Key Set.
    #[error("not a JSON Web Key Set: {0}")]
    NotAKeySet(String),
    /// No key in it is a public signing key we verify with (RSA, P-256,
    /// P-384 or Ed25519; shared secrets never).
    #[error("the key set holds no usable public signing key")]
    NoUsableKey,
    /// The file could not be read.
    #[error("cannot read the key set file: {0}")]
    Io(#[from] std::io::Error),
    /// The key set could not be fetched (no answer, not `200`, too large).
    #[error("cannot fetch the key set: {0}")]
    Fetch(String),
}

/// The algorithm a JWK verifies, when it is a public signing key we take.
fn key_algorithm(params: &AlgorithmParameters, named: Option<KeyAlgorithm>) -> Option<Algorithm> {
    use KeyAlgorithm as K;
    match (params, named) {
        (AlgorithmParameters::RSA(_), None | Some(K::RS256)) => Some(Algorithm::RS256),
        (AlgorithmParameters::RSA(_), Some(K::RS384)) => Some(Algorithm::RS384),
        (AlgorithmParameters::RSA(_), Some(K::RS512)) => Some(Algorithm::RS512),
        (AlgorithmParameters::RSA(_), Some(K::PS256)) => Some(Algorithm::PS256),
        (AlgorithmParameters::EllipticCurve(p), None | Some(K::ES256))
            if p.curve == EllipticCurve::P256 =>
        {
            Some(Algorithm::ES256)
        }
        (AlgorithmParameters::EllipticCurve(p), None | Some(K::ES384))
            if p.curve == EllipticCurve::P384 =>
        {
            Some(Algorithm::ES384)
        }
        (AlgorithmParameters::OctetKeyPair(p), None | Some(K::EdDSA))
            if p.curve == EllipticCurve::Ed25519 =>
        {
            Some(Algorithm::EdDSA)
        }
        _ => None,
    }
}

impl ProviderKeys {
    /// The signing keys of a JWKS document (the provider's `jwks_uri`).
    /// Encryption keys, shared secrets and unknown key types are skipped.
    ///
    /// # Errors
    /// [`ProviderKeyError`] when it is not a key set or holds no usable key.
    pub fn from_jwks(json: &str) -> Result<Self, ProviderKeyError> {
        let set: JwkSet =
            serde_json::from_str(json).map_err(|e| ProviderKeyError::NotAKeySet(e.to_string()))?;
        let keys: Vec<ProviderKey> = set
            .keys
            .iter()
            .filter(|jwk| jwk.common.public_key_use != Some(PublicKeyUse::Encryption))
            .filter_map(|jwk| {
                let alg = key_algorithm(&jwk.algorithm, jwk.common.key_algorithm)?;
                let key = DecodingKey::from_jwk(jwk).ok()?;
                Some(ProviderKey {
                    kid: jwk.common.key_id.clone(),
                    alg,
                    key,
                })
            })
            .collect();
        if keys.is_empty() {
            return Err(ProviderKeyError::NoUsableKey);
        }
        Ok(ProviderKeys { keys })
    }

    /// [`ProviderKeys::from_jwks`] of a file.
    ///
    /// # Errors
    /// As [`ProviderKeys::from_jwks`], or [`ProviderKeyError::Io`].
    pub fn from_jwks_file(path: impl AsRef<Path>) -> Result<Self, ProviderKeyError> {
        Self::from_jwks(&std::fs::read_to_string(path)?)
    }

    /// The key named `kid` for `alg`; without a `kid`, the only key for
    /// `alg`.
    fn find(&self, kid: Option<&str>, alg: Algorithm) -> Option<&ProviderKey> {
        let mut candidates = self
            .keys
            .iter()
            .filter(|k| k.alg == alg && (kid.is_none() || k.kid.as_deref() == kid));
        let first = candidates.next()?;
        (kid.is_some() || candidates.next().is_none()).then_some(first)
    }
}

/// Why a logout token was refused. [`ProviderTokenError::as_str`] is what
/// the refusal event and the `400` answer's `error_description` say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ProviderTokenError {
    /// Not a compact JWS of at most 8 KiB.
    #[error("malformed")]
    Malformed,
    /// A header this receiver does not take (`crit`, `jku`, `jwk`, `x5u`,
    /// `x5c`, no `alg`, a `typ` other than `logout+jwt` or `JWT`).
    #[error("unsupported_header")]
    UnsupportedHeader,
    /// No key of the provider's set for the header's `kid` and `alg`.
    #[error("unknown_key")]
    UnknownKey,
    /// The signature does not verify.
    #[error("bad_signature")]
    BadSignature,
    /// The claims are not a JSON object, or a time claim is not a number
    /// in range.
    #[error("bad_claims")]
    BadClaims,
    /// `iss` is not the configured provider.
    #[error("wrong_issuer")]
    WrongIssuer,
    /// `aud` does not name us.
    #[error("wrong_audience")]
    WrongAudience,
    /// `exp` has passed.
    #[error("expired")]
    Expired,
    /// `iat` is in the future, or older than the receiver's maximum age.
    #[error("bad_issue_time")]
    BadIssueTime,
    /// No `jti`.
    #[error("missing_jti")]
    MissingJti,
    /// No `events` claim with the back-channel logout event.
    #[error("not_a_logout_token")]
    NotALogoutToken,
    /// A `nonce` claim: an ID token, not a logout token (§2.4).
    #[error("nonce_present")]
    NoncePresent,
    /// Neither `sub` nor `sid`.
    #[error("no_subject")]
    NoSubject,
    /// A `sid` without `sub`: sessions are found through the user, so the
    /// provider must send `sub` too.
    #[error("sid_without_sub")]
    SidWithoutSub,
    /// This `jti` was received before.
    #[error("replayed")]
    Replayed,
    /// A Security Event Token without exactly one event in `events`.
    #[error("not_a_security_event")]
    NotASecurityEvent,
    /// An event this receiver does not act on.
    #[error("unsupported_event")]
    UnsupportedEvent,
    /// A subject identifier this receiver cannot map to a user (it takes
    /// `iss_sub`, and `complex` with an `iss_sub` user and an `opaque`
    /// session).
    #[error("unsupported_subject")]
    UnsupportedSubject,
}

impl ProviderTokenError {
    /// Stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderTokenError::Malformed => "malformed",
            ProviderTokenError::UnsupportedHeader => "unsupported_header",
            ProviderTokenError::UnknownKey => "unknown_key",
            ProviderTokenError::BadSignature => "bad_signature",
            ProviderTokenError::BadClaims => "bad_claims",
            ProviderTokenError::WrongIssuer => "wrong_issuer",
            ProviderTokenError::WrongAudience => "wrong_audience",
            ProviderTokenError::Expired => "expired",
            ProviderTokenError::BadIssueTime => "bad_issue_time",
            ProviderTokenError::MissingJti => "missing_jti",
            ProviderTokenError::NotALogoutToken => "not_a_logout_token",
            ProviderTokenError::NoncePresent => "nonce_present",
            ProviderTokenError::NoSubject => "no_subject",
            ProviderTokenError::SidWithoutSub => "sid_without_sub",
            ProviderTokenError::Replayed => "replayed",
            ProviderTokenError::NotASecurityEvent => "not_a_security_event",
            ProviderTokenError::UnsupportedEvent => "unsupported_event",
            ProviderTokenError::UnsupportedSubject => "unsupported_subject",
        }
    }
}

/// What a valid logout token asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutOrder {
    /// The provider user (`sub`).
    pub subject: String,
    /// The provider session (`sid`), when only that one is to end.
    pub sid: Option<String>,
    /// The token's `jti`.
    pub jti: String,
    /// When the provider issued it (`iat`).
    pub issued_at: Timestamp,
    /// When it expires (`exp`).
    pub expires_at: Timestamp,
    /// Until when its `jti` must be remembered: as long as any check here
    /// would still accept it (`exp` or the maximum age, plus the skew).
    pub remember_until: Timestamp,
}

/// Why [`crate::SessionManager::back_channel_logout`] did not complete.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProviderSignalError {
    /// The logout token was refused; nothing was ended.
    #[error("logout token refused: {0}")]
    Refused(ProviderTokenError),
    /// A store did not answer: some sessions may not have ended; the
    /// provider may deliver the token again.
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub(crate) type UserMapping = Arc<dyn Fn(&str) -> Option<UserId> + Send + Sync>;

/// An OpenID Connect provider whose back-channel logout tokens we accept.
#[derive(Clone)]
pub struct IdentityProvider {
    pub(crate) issuer: String,
    pub(crate) audience: String,
    pub(crate) keys: key_source::KeyState,
    pub(crate) max_age: Duration,
    pub(crate) event_max_age: Duration,
    pub(crate) leeway: Duration,
    pub(crate) replay: Arc<dyn RiskStore>,
    pub(crate) users: UserMapping,
}

impl fmt::Debug for IdentityProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdentityProvider")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("keys", &*self.keys.keys())
            .field("max_age", &self.max_age)
            .finish_non_exhaustive()
    }
}

/// The number of whole seconds in `d`, as a claim-range `i64`.
pub(crate) fn seconds(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).map_or(MAX_CLAIM_SECONDS, |s| s.min(MAX_CLAIM_SECONDS))
}

pub(crate) fn time_claim(claims: &Value, name: &str) -> Result<i64, ProviderTokenError> {
    claims[name]
        .as_i64()
        .filter(|t| (0..=MAX_CLAIM_SECONDS).contains(t))
        .ok_or(ProviderTokenError::BadClaims)
}

/// A short text claim, when present; an over-long or non-text one refuses.
pub(crate) fn text_claim<'a>(
    claims: &'a Value,
    name: &str,
) -> Result<Option<&'a str>, ProviderTokenError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::String(s)) if !s.is_empty() && s.len() <= MAX_CLAIM_TEXT => Ok(Some(s)),
        Some(_) => Err(ProviderTokenError::BadClaims),
    }
}

impl IdentityProvider {
    /// Logout tokens from `issuer`, addressed to `audience` (our client id
    /// at the provider), signed by one of `keys`. `replay` remembers each
    /// token's `jti` until it expires (any backend's risk store, shared by
    /// every instance). Tokens may be at most 5 minutes old, with 60 s of
    /// clock skew allowed.
    pub fn new(
        issuer: impl Into<String>,
        audience: impl Into<String>,
        keys: ProviderKeys,
        replay: Arc<dyn RiskStore>,
    ) -> Self {
        IdentityProvider {
            issuer: issuer.into(),
            audience: audience.into(),
            keys: key_source::KeyState::fixed(keys),
            max_age: Duration::from_secs(300),
            event_max_age: Duration::from_secs(3600),
            leeway: Duration::from_secs(60),
            replay,
            users: Arc::new(|sub| UserId::new(sub).ok()),
        }
    }

    /// The oldest `iat` accepted (default 5 minutes): providers send the
    /// token as the user signs out.
    pub fn with_max_age(mut self, max_age: Duration) -> Self {
        self.max_age = max_age;
        self
    }

    /// The oldest `iat` a Security Event Token may have (default 1 hour: a
    /// transmitter retries pushes from its outbox after an outage).
    pub fn with_event_max_age(mut self, max_age: Duration) -> Self {
        self.event_max_age = max_age;
        self
    }

    /// How a provider `sub` names our user (default: the same text, when it
    /// is a valid [`UserId`]); `None` means no such user here.
    pub fn with_user_mapping(
        mut self,
        users: impl Fn(&str) -> Option<UserId> + Send + Sync + 'static,
    ) -> Self {
        self.users = Arc::new(users);
        self
    }

    /// The provider's issuer.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Validates `token` at `now` as §2.6 says, without the replay check
    /// (which [`crate::SessionManager::back_channel_logout`] makes after acting).
    ///
    /// # Errors
    /// The first [`ProviderTokenError`] found.
    pub fn validate(&self, token: &str, now: Timestamp) -> Result<LogoutOrder, ProviderTokenError> {
        let claims = self.verified_claims(token)?;
        self.check_issuer_and_audience(&claims)?;
        let (iat, exp) = (time_claim(&claims, "iat")?, time_claim(&claims, "exp")?);
        let now_s = now.unix_seconds();
        // Both bounds are in claim range, so none of these sums overflows.
        if now_s >= exp + seconds(self.leeway) {
            return Err(ProviderTokenError::Expired);
        }
        if iat > now_s + seconds(self.leeway) || now_s - iat > seconds(self.max_age) {
            return Err(ProviderTokenError::BadIssueTime);
        }
        // A token that expires before it is issued could never be remembered.
        if exp <= iat {
            return Err(ProviderTokenError::BadClaims);
        }
        let jti = text_claim(&claims, "jti")?.ok_or(ProviderTokenError::MissingJti)?;
        if !claims["events"][BACKCHANNEL_LOGOUT_EVENT].is_object() {
            return Err(ProviderTokenError::NotALogoutToken);
        }
        if claims.get("nonce").is_some() {
            return Err(ProviderTokenError::NoncePresent);
        }
        let (sub, sid) = (text_claim(&claims, "sub")?, text_claim(&claims, "sid")?);
        let subject = match (sub, sid) {
            (Some(sub), _) => sub.to_owned(),
            (None, Some(_)) => return Err(ProviderTokenError::SidWithoutSub),
            (None, None) => return Err(ProviderTokenError::NoSubject),
        };
        Ok(LogoutOrder {
            subject,
            sid: sid.map(str::to_owned),
            jti: jti.to_owned(),
            issued_at: Timestamp::from_unix_millis(iat * 1000),
            expires_at: Timestamp::from_unix_millis(exp * 1000),
            remember_until: Timestamp::from_unix_millis(
                exp.max(iat.saturating_add(seconds(self.max_age)))
                    .saturating_add(seconds(self.leeway))
                    .min(MAX_CLAIM_SECONDS)
                    * 1000,
            ),
        })
    }

    /// `iss` is the provider and `aud` (a string or an array) names us.
    pub(crate) fn check_issuer_and_audience(
        &self,
        claims: &Value,
    ) -> Result<(), ProviderTokenError> {
        if claims["iss"].as_str() != Some(self.issuer.as_str()) {
            return Err(ProviderTokenError::WrongIssuer);
        }
        let audience_ok = match &claims["aud"] {
            Value::String(a) => *a == self.audience,
            Value::Array(all) => all.iter().any(|a| a.as_str() == Some(&self.audience)),
            _ => false,
        };
        if audience_ok {
            Ok(())
        } else {
            Err(ProviderTokenError::WrongAudience)
        }
    }

    /// The claims of `token` once its header is acceptable and its
    /// signature verifies with the provider's key.
    fn verified_claims(&self, token: &str) -> Result<Value, ProviderTokenError> {
        self.verified_claims_typed(
            token,
            &[LOGOUT_TOKEN_TYP, "application/logout+jwt", "JWT"],
            false,
        )
    }

    /// The claims of `token` once its header is acceptable (a `typ` of
    /// `typs`, or none when not `typ_required`) and its signature verifies
    /// with one of the provider's keys.
    pub(crate) fn verified_claims_typed(
        &self,
        token: &str,
        typs: &[&str],
        typ_required: bool,
    ) -> Result<Value, ProviderTokenError> {
        if token.len() > MAX_LOGOUT_TOKEN_LEN {
            return Err(ProviderTokenError::Malformed);
        }
        let (message, signature) = token
            .rsplit_once('.')
            .ok_or(ProviderTokenError::Malformed)?;
        let (header, payload) = message
            .split_once('.')
            .ok_or(ProviderTokenError::Malformed)?;
        if [header, payload, signature]
            .iter()
            .any(|p| p.is_empty() || !p.bytes().all(is_base64url_byte))
        {
            return Err(ProviderTokenError::Malformed);
        }
        let decode = |part: &str| {
            URL_SAFE_NO_PAD
                .decode(part)
                .ok()
                .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
                .filter(Value::is_object)
        };
        let header = decode(header).ok_or(ProviderTokenError::Malformed)?;
        let refused = ["crit", "jku", "jwk", "x5u", "x5c"];
        let typ_ok = match header.get("typ") {
            None => !typ_required,
            Some(Value::String(t)) => typs.iter().any(|ok| t.eq_ignore_ascii_case(ok)),
            Some(_) => false,
        };
        if !typ_ok || refused.iter().any(|h| header.get(h).is_some()) {
            return Err(ProviderTokenError::UnsupportedHeader);
        }
        let alg: Algorithm = header["alg"]
            .as_str()
            .and_then(|a| a.parse().ok())
            .ok_or(ProviderTokenError::UnsupportedHeader)?;
        let kid = match header.get("kid") {
            None => None,
            Some(Value::String(k)) => Some(k.as_str()),
            Some(_) => return Err(ProviderTokenError::UnsupportedHeader),
        };
        // Only public-key algorithms are in the set: `none` and HS* find
        // no key.
        let key = self
            .keys
            .keys()
            .find(kid, alg)
            .cloned()
            .ok_or(ProviderTokenError::UnknownKey)?;
        let valid = jsonwebtoken::crypto::verify(signature, message.as_bytes(), &key.key, key.alg)
            .unwrap_or(false);
        if !valid {
            return Err(ProviderTokenError::BadSignature);
        }
        decode(payload).ok_or(ProviderTokenError::BadClaims)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::MemoryStore;
    use crate::testing::provider::{IDP_CLIENT, IDP_ISSUER, TestProvider};

    fn now() -> Timestamp {
        Timestamp::from_unix_millis(1_800_000_000_000)
    }

    fn receiver(idp: &TestProvider) -> IdentityProvider {
        idp.receiver(Arc::new(MemoryStore::new()))
    }

    #[test]
    fn a_valid_logout_token_names_its_subject_and_session() {
        let idp = TestProvider::new();
        let order = receiver(&idp)
            .validate(
                &idp.logout_token(now(), Some("248289761001"), Some("08a5019c")),
                now(),
            )
            .unwrap();
        assert_eq!(order.subject, "248289761001");
        assert_eq!(order.sid.as_deref(), Some("08a5019c"));
        assert_eq!(order.issued_at.unix_seconds(), now().unix_seconds());
        // `aud` as an array, `typ` absent or `JWT`, no `kid` with one key.
        let mut claims = idp.claims(now(), Some("u"), None);
        claims["aud"] = json!(["other", IDP_CLIENT]);
        for header in [
            json!({ "typ": null }),
            json!({ "typ": "JWT" }),
            json!({ "kid": null }),
        ] {
            let token = idp.sign(&header, &claims);
            assert!(receiver(&idp).validate(&token, now()).is_ok(), "{header}");
        }
    }

    #[test]
    fn every_invalid_variant_is_refused_for_its_reason() {
        let idp = TestProvider::new();
        let r = receiver(&idp);
        let claims = idp.claims(now(), Some("u"), Some("s"));
        let with = |name: &str, value: Value| {
            let mut c = claims.clone();
            if value.is_null() {
                c.as_object_mut().unwrap().remove(name);
            } else {
                c[name] = value;
            }
            idp.sign(&json!({}), &c)
        };
        let old = now().minus(Duration::from_secs(301)).unix_seconds();
        let cases = [
            (
                with("events", Value::Null),
                ProviderTokenError::NotALogoutToken,
            ),
            (
                with(
                    "events",
                    json!({ "http://schemas.openid.net/event/other": {} }),
                ),
                ProviderTokenError::NotALogoutToken,
            ),
            (
                with("events", json!({ BACKCHANNEL_LOGOUT_EVENT: "yes" })),
                ProviderTokenError::NotALogoutToken,
            ),
            (
                with("nonce", json!("n-0S6_WzA2Mj")),
                ProviderTokenError::NoncePresent,
            ),
            (
                with("aud", json!("someone-else")),
                ProviderTokenError::WrongAudience,
            ),
            (with("aud", Value::Null), ProviderTokenError::WrongAudience),
            (
                with("iss", json!("https://evil.example")),
                ProviderTokenError::WrongIssuer,
            ),
            (
                with(
                    "exp",
                    json!(now().minus(Duration::from_secs(61)).unix_seconds()),
                ),
                ProviderTokenError::Expired,
            ),
            (with("exp", Value::Null), ProviderTokenError::BadClaims),
            (with("exp", json!(i64::MAX)), ProviderTokenError::BadClaims),
            (
                with("exp", json!(now().unix_seconds())),
                ProviderTokenError::BadClaims,
            ),
            (with("iat", json!(old)), ProviderTokenError::BadIssueTime),
            (
                with(
                    "iat",
                    json!(now().plus(Duration::from_secs(120)).unix_seconds()),
                ),
                ProviderTokenError::BadIssueTime,
            ),
            (with("iat", json!("now")), ProviderTokenError::BadClaims),
            (with("jti", Value::Null), ProviderTokenError::MissingJti),
            (with("jti", json!("")), ProviderTokenError::BadClaims),
            (with("sub", json!(42)), ProviderTokenError::BadClaims),
            (with("sub", Value::Null), ProviderTokenError::SidWithoutSub),
            (
                {
                    let mut c = claims.clone();
                    c.as_object_mut().unwrap().remove("sub");
                    c.as_object_mut().unwrap().remove("sid");
                    idp.sign(&json!({}), &c)
                },
                ProviderTokenError::NoSubject,
            ),
            (
                idp.sign_with_other_key(&json!({}), &claims),
                ProviderTokenError::UnknownKey,
            ),
            (
                idp.sign(&json!({ "kid": "idp-2" }), &claims),
                ProviderTokenError::UnknownKey,
            ),
            (
                idp.sign(&json!({ "alg": "HS256" }), &claims),
                ProviderTokenError::UnknownKey,
            ),
            (
                idp.sign(&json!({ "alg": "none" }), &claims),
                ProviderTokenError::UnsupportedHeader,
            ),
            (
                idp.sign(&json!({ "typ": "at+jwt" }), &claims),
                ProviderTokenError::UnsupportedHeader,
            ),
            (
                idp.sign(&json!({ "jku": "https://evil.example/jwks" }), &claims),
                ProviderTokenError::UnsupportedHeader,
            ),
            (
                idp.sign(&json!({ "crit": ["exp"] }), &claims),
                ProviderTokenError::UnsupportedHeader,
            ),
            ("not.a.jwt!".to_owned(), ProviderTokenError::Malformed),
            ("a.b".to_owned(), ProviderTokenError::Malformed),
            ("a".repeat(9000), ProviderTokenError::Malformed),
        ];
        for (token, why) in cases {
            assert_eq!(r.validate(&token, now()), Err(why), "{token:.60}");
        }
        // A signature over other claims does not verify.
        let good = idp.logout_token(now(), Some("u"), None);
        let (message, _) = good.rsplit_once('.').unwrap();
        let forged = with("sub", json!("admin"));
        let (_, signature) = forged.rsplit_once('.').unwrap();
        assert_eq!(
            r.validate(&format!("{message}.{signature}"), now()),
            Err(ProviderTokenError::BadSignature)
        );
        assert_eq!(r.issuer(), IDP_ISSUER);
    }

    #[test]
    fn key_sets_keep_only_public_signing_keys() {
        let idp = TestProvider::new();
        let mut set: Value = serde_json::from_str(&idp.jwks()).unwrap();
        let ec = set["keys"][0].clone();
        let mut enc = ec.clone();
        enc["use"] = json!("enc");
        enc["kid"] = json!("enc-1");
        set["keys"] = json!([{ "kty": "oct", "k": "c2VjcmV0", "kid": "hmac" }, enc, ec]);
        let keys = ProviderKeys::from_jwks(&set.to_string()).unwrap();
        assert_eq!(keys.keys.len(), 1);
        assert_eq!(keys.keys[0].kid.as_deref(), Some("idp-1"));
        assert!(matches!(
            ProviderKeys::from_jwks(r#"{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}"#),
            Err(ProviderKeyError::NoUsableKey)
        ));
        assert!(matches!(
            ProviderKeys::from_jwks("[]"),
            Err(ProviderKeyError::NotAKeySet(_))
        ));
        assert!(matches!(
            ProviderKeys::from_jwks_file("/nonexistent/jwks.json"),
            Err(ProviderKeyError::Io(_))
        ));
    }
}
