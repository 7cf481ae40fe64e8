//! Sender-constrained sessions: proof of a key the client holds.
//!
//! - **DPoP** (RFC 9449) for the bearer transport: the client signs a proof
//!   JWT per request with its own key. A session logged in with a proof is
//!   bound to the key's thumbprint (RFC 7638): its access tokens carry
//!   `cnf.jkt`, and its refresh tokens only rotate with a proof by the same
//!   key, because the stored refresh hash covers the thumbprint. A copied
//!   token without the key is refused.
//!
//! - **DBSC** (W3C Device Bound Session Credentials) for the cookie
//!   transport: a browser that supports it registers a device key at
//!   sign-in; the session's short-lived access cookie is then renewed only
//!   by a refresh that signs a server challenge with that key, and the
//!   refresh cookie alone rotates nothing (its stored hash covers the
//!   key's thumbprint too). See [`DbscPolicy`].
//!
//! Proofs are verified strictly: `typ` `dpop+jwt`, a public `jwk` (P-256
//! with `ES256` or Ed25519 with `EdDSA`; a private member refuses it), the
//! key pinning the algorithm (no `none`, no HMAC), `htm`/`htu` equal to the
//! request (the URI normalised as RFC 3986 §6.2.2–6.2.3 says, query and
//! fragment ignored), `iat` inside the policy's window, `ath` equal to the
//! access token's hash, an optional server nonce, and a `jti` seen once,
//! recorded through a shared [`ReplayStore`] so two instances cannot both
//! accept one proof.

mod dbsc;
mod dpop;
mod jwk;
mod proof;
mod replay;

pub use dbsc::{
    CHALLENGE_HEADER, DBSC_ALGORITHMS, DBSC_TYP, DbscMode, DbscPolicy, REGISTRATION_HEADER,
    RESPONSE_HEADERS, SESSION_ID_HEADERS, parse_session_identifier,
};
pub use dpop::{DPOP_ALGORITHMS, DPOP_TYP, DpopMode, DpopPolicy, DpopRequest, MAX_DPOP_JTI_LEN};
pub use proof::MAX_PROOF_LEN;
pub use replay::{DEFAULT_REPLAY_CAPACITY, MemoryReplayStore, ReplayKey, ReplayStore, replay_via};

pub(crate) use dbsc::{
    ChallengeKey, ChallengePurpose, CheckedDbsc, DbscRefusal, DbscSubject, stored_key, verify_dbsc,
};
pub(crate) use dpop::{NonceKey, verify_dpop};
pub(crate) use jwk::PublicJwk;

use serde::{Deserialize, Serialize};

/// What a session is bound to, kept with its descriptive facts
/// ([`crate::SessionMeta::binding`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum KeyBinding {
    /// A DPoP key (RFC 9449), by its JWK SHA-256 thumbprint.
    Dpop {
        /// The base64url JWK SHA-256 thumbprint (`cnf.jkt`).
        jkt: String,
    },
    /// A DBSC device key (W3C Device Bound Session Credentials) the
    /// browser registered, kept to verify its refreshes (which do not
    /// carry it).
    Dbsc {
        /// The base64url JWK SHA-256 thumbprint (RFC 7638).
        jkt: String,
        /// The public key, as its RFC 7638 canonical JWK JSON.
        jwk: String,
    },
}

impl KeyBinding {
    /// The thumbprint of the bound key.
    pub fn thumbprint(&self) -> &str {
        match self {
            KeyBinding::Dpop { jkt } | KeyBinding::Dbsc { jkt, .. } => jkt,
        }
    }

    /// The thumbprint access tokens carry as `cnf.jkt`, and every request
    /// proves: a DPoP key's. A DBSC session's access cookie is itself the
    /// short-lived bound credential, so it carries none.
    pub fn access_thumbprint(&self) -> Option<&str> {
        match self {
            KeyBinding::Dpop { jkt } => Some(jkt),
            KeyBinding::Dbsc { .. } => None,
        }
    }

    /// Stable lower-case name: `dpop` or `dbsc`.
    pub fn kind(&self) -> &'static str {
        match self {
            KeyBinding::Dpop { .. } => "dpop",
            KeyBinding::Dbsc { .. } => "dbsc",
        }
    }

    /// What the session list says about it.
    pub fn describe(&self) -> &'static str {
        match self {
            KeyBinding::Dpop { .. } => "Bound to a key on this device",
            KeyBinding::Dbsc { .. } => "Bound to this browser's device key",
        }
    }
}

/// Why a key proof was refused. Its `Display` text is the
/// `error_description` clients see; it names no key, token or claim value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError {
    /// The request carries no proof, but the session or policy needs one.
    #[error("a DPoP proof is required")]
    Missing,
    /// More than one `DPoP` header (RFC 9449 §4.3 allows exactly one).
    #[error("more than one DPoP proof")]
    Multiple,
    /// Not a compact JWS of JSON objects, too long, or with `crit`.
    #[error("the proof is not a well-formed JWT")]
    Malformed,
    /// The header `typ` is not the expected one.
    #[error("the proof has the wrong typ")]
    WrongType,
    /// The key is missing, malformed, of a refused type, or not loadable.
    #[error("the proof key is not accepted: {0}")]
    BadKey(&'static str),
    /// The `jwk` carries private key material.
    #[error("the proof key contains private key material")]
    PrivateKey,
    /// `alg` is not the algorithm the key is pinned to.
    #[error("the proof algorithm is not accepted for its key")]
    Algorithm,
    /// The signature does not verify.
    #[error("the proof signature is invalid")]
    BadSignature,
    /// A required claim is missing or of the wrong type or size.
    #[error("the proof claim `{0}` is missing or invalid")]
    Claim(&'static str),
    /// `htm` is not the request's method.
    #[error("the proof is for another HTTP method")]
    MethodMismatch,
    /// `htu` is not the request's URI.
    #[error("the proof is for another URI")]
    UriMismatch,
    /// `iat` is outside the accepted window.
    #[error("the proof is too old or from the future")]
    Stale,
    /// `ath` is missing or is not the presented access token's hash.
    #[error("the proof is not for this access token")]
    AccessTokenHash,
    /// The proof was already used.
    #[error("the proof was already used")]
    Replayed,
    /// Signed by another key than the session is bound to.
    #[error("the proof key is not the key the session is bound to")]
    KeyMismatch,
    /// The token is bound but was sent with the `Bearer` scheme, or is not
    /// bound but was sent with the `DPoP` scheme.
    #[error("the authorization scheme does not match the token's binding")]
    SchemeMismatch,
    /// A DBSC-bound session's refresh cookie came without the device's
    /// proof: the browser renews such a session itself, through the
    /// device-bound refresh route.
    #[error("the session is bound to a device key; the browser refreshes it")]
    DeviceBound,
    /// A DBSC registration that cannot bind this session: not offered,
    /// already bound, or not for the current refresh token.
    #[error("the device key registration is refused: {0}")]
    Registration(&'static str),
    /// The server wants a nonce in the proof: retry with this one.
    #[error("the proof must carry the server's nonce")]
    UseNonce(String),
}

impl ProofError {
    /// The RFC 9449 error code: `use_dpop_nonce` or `invalid_dpop_proof`.
    pub fn code(&self) -> &'static str {
        match self {
            ProofError::UseNonce(_) => "use_dpop_nonce",
            _ => "invalid_dpop_proof",
        }
    }

    /// The nonce to retry with, for [`ProofError::UseNonce`].
    pub fn nonce(&self) -> Option<&str> {
        match self {
            ProofError::UseNonce(n) => Some(n),
            _ => None,
        }
    }
}
