//! Device Bound Session Credentials (W3C DBSC draft, as Chrome ships it):
//! policy, the header names, stateless challenges, and the checks of the
//! browser's signed JWTs short of the replay record.
//!
//! The long-lived session stays ours: its refresh cookie. The bound
//! credential is the short-lived access cookie, which only a refresh proved
//! by the device key renews. Registration binds the key in the same
//! compare-and-swap that rotates the refresh token, whose stored hash then
//! covers the key's thumbprint, so the refresh cookie alone rotates nothing.

use std::fmt;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::ProofError;
use super::jwk::PublicJwk;
use super::proof::{self, KeySource};
use super::replay::ReplayKey;
use crate::ids::{SessionId, UserId};
use crate::secret::random_bytes;
use crate::time::Timestamp;

/// Header `typ` of the browser's registration and refresh JWTs.
pub const DBSC_TYP: &str = "dbsc+jwt";

/// The algorithms offered in the registration header. Chrome's keys are
/// P-256; RSA is never offered (its verification is dear and its keys big).
pub const DBSC_ALGORITHMS: &str = "ES256";

/// Response header offering registration (the current draft's name;
/// Chrome's first origin trial used `Sec-Session-Registration`, which no
/// shipping Chrome reads, so it is not sent).
pub const REGISTRATION_HEADER: &str = "secure-session-registration";

/// Response header carrying a challenge for the next refresh.
pub const CHALLENGE_HEADER: &str = "secure-session-challenge";

/// Request headers carrying the browser's signed JWT: the current name,
/// then the origin trial's (both accepted).
pub const RESPONSE_HEADERS: [&str; 2] = ["secure-session-response", "sec-session-response"];

/// Request headers naming the session being refreshed: the current name,
/// then the origin trial's (both accepted). Browsers alone can send
/// `Sec-` headers: scripts cannot set them.
pub const SESSION_ID_HEADERS: [&str; 2] = ["sec-secure-session-id", "sec-session-id"];

/// Longest challenge accepted, in bytes (ours are 54).
const MAX_CHALLENGE_LEN: usize = 128;

/// Whether browsers are offered device-bound sessions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DbscMode {
    /// Never offered; sessions bound earlier keep needing their key.
    Off,
    /// Offered at every cookie sign-in; browsers without DBSC ignore the
    /// offer and keep plain cookies.
    #[default]
    Offered,
}

/// DBSC settings of a [`crate::SessionPolicy`].
///
/// ```
/// use std::time::Duration;
/// use sessionward_core::binding::{DbscMode, DbscPolicy};
/// let p = DbscPolicy::default();
/// assert_eq!(p.mode, DbscMode::Offered);
/// assert_eq!(p.challenge_lifetime, Duration::from_secs(300));
/// assert!(p.revoke_on_failure);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DbscPolicy {
    /// Offered or off.
    pub mode: DbscMode,
    /// How long a registration or refresh challenge may be answered (and
    /// how long, with the token clock skew, its use is remembered). A
    /// registration challenge is handed out at sign-in only, so a cookie
    /// copied later cannot register the thief's key.
    pub challenge_lifetime: Duration,
    /// Whether a bound session whose refresh is signed by another key, or
    /// not validly signed, is ended at once, as a theft. A browser holding
    /// the key never causes either. On by default. A refresh without any
    /// proof is the protocol's first step and ends nothing.
    pub revoke_on_failure: bool,
}

impl Default for DbscPolicy {
    fn default() -> Self {
        DbscPolicy {
            mode: DbscMode::Offered,
            challenge_lifetime: Duration::from_secs(300),
            revoke_on_failure: true,
        }
    }
}

/// What a challenge is for: each is accepted for its own step only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChallengePurpose {
    /// Registering a key (handed out at sign-in).
    Registration,
    /// Proving the key at a refresh.
    Refresh,
}

impl ChallengePurpose {
    fn label(self) -> &'static [u8] {
        match self {
            ChallengePurpose::Registration => b"registration",
            ChallengePurpose::Refresh => b"refresh",
        }
    }
}

/// Issues and checks stateless challenges (an HMAC over the session, the
/// purpose and the issue time, with a key derived from the refresh key, so
/// every instance accepts every other's), and the session identifiers
/// browsers send back.
#[derive(Clone)]
pub(crate) struct ChallengeKey([u8; 32]);

impl fmt::Debug for ChallengeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ChallengeKey([redacted])")
    }
}

/// Issue time (8 bytes) + random (16) + MAC (16).
const CHALLENGE_BYTES: usize = 40;

impl ChallengeKey {
    pub(crate) fn new(key: [u8; 32]) -> Self {
        ChallengeKey(key)
    }

    fn mac(&self, parts: &[&[u8]]) -> [u8; 16] {
        #[allow(clippy::expect_used)]
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("HMAC accepts any key length");
        for part in parts {
            // Length-prefixed, so no two part lists share an input.
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        let full = mac.finalize().into_bytes();
        let mut out = [0u8; 16];
        out.copy_from_slice(&full[..16]);
        out
    }

    fn challenge_mac(
        &self,
        purpose: ChallengePurpose,
        user: &UserId,
        id: &SessionId,
        head: &[u8],
    ) -> [u8; 16] {
        self.mac(&[
            b"sessionward-dbsc-challenge",
            purpose.label(),
            user.as_str().as_bytes(),
            id.as_str().as_bytes(),
            head,
        ])
    }

    /// A fresh challenge for `purpose` on session `id` of `user`.
    pub(crate) fn issue(
        &self,
        purpose: ChallengePurpose,
        user: &UserId,
        id: &SessionId,
        now: Timestamp,
    ) -> String {
        let mut raw = now.unix_millis().to_be_bytes().to_vec();
        raw.extend_from_slice(&random_bytes::<16>());
        let mac = self.challenge_mac(purpose, user, id, &raw);
        raw.extend_from_slice(&mac);
        URL_SAFE_NO_PAD.encode(raw)
    }

    /// When `challenge` stops being accepted, if it is one of ours for
    /// `purpose` on this session and still fresh at `now`. One issued up to
    /// `skew` in the future (by an instance whose clock runs ahead) is
    /// accepted; its end is never stretched.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn accepts(
        &self,
        challenge: &str,
        purpose: ChallengePurpose,
        user: &UserId,
        id: &SessionId,
        lifetime: Duration,
        skew: Duration,
        now: Timestamp,
    ) -> Option<Timestamp> {
        if challenge.len() > MAX_CHALLENGE_LEN {
            return None;
        }
        let raw = URL_SAFE_NO_PAD.decode(challenge).ok()?;
        let raw = <[u8; CHALLENGE_BYTES]>::try_from(raw.as_slice()).ok()?;
        let (head, mac) = raw.split_at(24);
        let expected = self.challenge_mac(purpose, user, id, head);
        if !bool::from(mac.ct_eq(&expected)) {
            return None;
        }
        let mut issued = [0u8; 8];
        issued.copy_from_slice(&head[..8]);
        let issued = Timestamp::from_unix_millis(i64::from_be_bytes(issued));
        let until = issued.plus(lifetime);
        (issued <= now.plus(skew) && now < until).then_some(until)
    }

    /// The `session_identifier` a browser knows session `id` by: derived,
    /// so the session id itself appears in no header.
    pub(crate) fn session_identifier(&self, user: &UserId, id: &SessionId) -> String {
        URL_SAFE_NO_PAD.encode(self.mac(&[
            b"sessionward-dbsc-session",
            user.as_str().as_bytes(),
            id.as_str().as_bytes(),
        ]))
    }
}

/// A browser JWT whose signature and challenge checked out, short of the
/// replay record.
#[derive(Debug, Clone)]
pub(crate) struct CheckedDbsc {
    /// The key that signed it.
    pub(crate) key: PublicJwk,
    /// Its RFC 7638 thumbprint.
    pub(crate) jkt: String,
    /// The challenge's single-use record.
    pub(crate) replay_key: ReplayKey,
    /// How long to keep the record.
    pub(crate) replay_until: Timestamp,
}

/// Why a browser JWT was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DbscRefusal {
    /// The JWT itself: its shape, key or signature.
    Proof(ProofError),
    /// Well signed, but the challenge is not a live one of ours for this
    /// step and session: the browser retries with a fresh one.
    Challenge,
}

impl From<ProofError> for DbscRefusal {
    fn from(e: ProofError) -> Self {
        DbscRefusal::Proof(e)
    }
}

/// The session a browser JWT is checked for.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DbscSubject<'a> {
    pub(crate) user: &'a UserId,
    pub(crate) id: &'a SessionId,
    pub(crate) purpose: ChallengePurpose,
}

/// Verifies a browser's DBSC JWT: `typ` `dbsc+jwt`, a P-256 key (the
/// header's `jwk` at registration, or the claims' `key` as the origin trial
/// sent it; the stored key at a refresh), `ES256`, and a `jti` that is a
/// live challenge of ours for this step and session.
pub(crate) fn verify_dbsc(
    jwt: &str,
    stored: Option<&PublicJwk>,
    keys: &ChallengeKey,
    subject: DbscSubject<'_>,
    policy: &DbscPolicy,
    max_clock_skew: Duration,
    now: Timestamp,
) -> Result<CheckedDbsc, DbscRefusal> {
    let source = match stored {
        Some(key) => KeySource::Known(key),
        None => KeySource::HeaderOrClaimKey,
    };
    let verified = proof::verify(jwt, DBSC_TYP, source)?;
    if !matches!(verified.key, PublicJwk::P256 { .. }) {
        return Err(ProofError::BadKey("device-bound session keys are P-256").into());
    }
    let challenge = verified.text("jti", MAX_CHALLENGE_LEN)?;
    let until = keys
        .accepts(
            challenge,
            subject.purpose,
            subject.user,
            subject.id,
            policy.challenge_lifetime,
            max_clock_skew,
            now,
        )
        .ok_or(DbscRefusal::Challenge)?;
    let replay_key = ReplayKey::new("dbsc", "", challenge);
    Ok(CheckedDbsc {
        jkt: verified.key.thumbprint(),
        key: verified.key,
        replay_key,
        replay_until: until.plus(max_clock_skew),
    })
}

/// The key a [`super::KeyBinding::Dbsc`] stores, parsed back.
pub(crate) fn stored_key(jwk: &str) -> Result<PublicJwk, ProofError> {
    let value: serde_json::Value =
        serde_json::from_str(jwk).map_err(|_| ProofError::BadKey("the stored key is not JSON"))?;
    PublicJwk::from_value(&value)
}

/// The value of a `Sec-Secure-Session-Id` header: an sf-string
/// (`"abc"`) or, as some builds sent it, a bare token.
pub fn parse_session_identifier(value: &str) -> Option<&str> {
    let value = value.trim();
    let inner = match value.strip_prefix('"') {
        Some(rest) => rest.strip_suffix('"')?,
        None => value,
    };
    (!inner.is_empty()
        && inner.len() <= MAX_CHALLENGE_LEN
        && inner.bytes().all(crate::ids::is_base64url_byte))
    .then_some(inner)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn subject() -> (UserId, SessionId) {
        (UserId::new("alice").unwrap(), SessionId::generate())
    }

    #[test]
    fn challenges_are_for_one_session_purpose_and_time() {
        let keys = ChallengeKey::new([7; 32]);
        let (user, id) = subject();
        let now = Timestamp::from_unix_millis(1_000_000);
        let life = Duration::from_secs(300);
        let c = keys.issue(ChallengePurpose::Refresh, &user, &id, now);
        assert_eq!(c.len(), 54);
        let until = keys.accepts(
            &c,
            ChallengePurpose::Refresh,
            &user,
            &id,
            life,
            NO_SKEW,
            now,
        );
        assert_eq!(until, Some(now.plus(life)));
        let other = SessionId::generate();
        let bob = UserId::new("bob").unwrap();
        for (purpose, u, s, at) in [
            (ChallengePurpose::Registration, &user, &id, now),
            (ChallengePurpose::Refresh, &bob, &id, now),
            (ChallengePurpose::Refresh, &user, &other, now),
            (ChallengePurpose::Refresh, &user, &id, now.plus(life)),
            (
                ChallengePurpose::Refresh,
                &user,
                &id,
                now.minus(Duration::from_millis(1)),
            ),
        ] {
            assert_eq!(keys.accepts(&c, purpose, u, s, life, NO_SKEW, at), None);
        }
        // Issued by an instance whose clock runs 3 s ahead: accepted within
        // a 5 s skew, never past its own end; 6 s ahead is too far.
        let skew = Duration::from_secs(5);
        let slow = now.minus(Duration::from_secs(3));
        let within = keys.accepts(&c, ChallengePurpose::Refresh, &user, &id, life, skew, slow);
        assert_eq!(within, Some(now.plus(life)));
        let too_far = now.minus(Duration::from_secs(6));
        assert_eq!(
            keys.accepts(
                &c,
                ChallengePurpose::Refresh,
                &user,
                &id,
                life,
                skew,
                too_far
            ),
            None
        );
        assert_eq!(
            keys.accepts(
                &c,
                ChallengePurpose::Refresh,
                &user,
                &id,
                life,
                skew,
                now.plus(life)
            ),
            None
        );
        let forged = ChallengeKey::new([8; 32]).issue(ChallengePurpose::Refresh, &user, &id, now);
        assert_eq!(
            keys.accepts(
                &forged,
                ChallengePurpose::Refresh,
                &user,
                &id,
                life,
                NO_SKEW,
                now
            ),
            None
        );
        assert_eq!(
            keys.accepts(
                "not base64!",
                ChallengePurpose::Refresh,
                &user,
                &id,
                life,
                NO_SKEW,
                now
            ),
            None
        );
    }

    const NO_SKEW: Duration = Duration::ZERO;

    #[test]
    fn session_identifiers_are_derived_and_parsed() {
        let keys = ChallengeKey::new([7; 32]);
        let (user, id) = subject();
        let label = keys.session_identifier(&user, &id);
        assert_eq!(label.len(), 22);
        assert_ne!(label, id.as_str());
        assert_eq!(
            parse_session_identifier(&format!("\"{label}\"")),
            Some(label.as_str())
        );
        assert_eq!(parse_session_identifier(&label), Some(label.as_str()));
        assert_eq!(parse_session_identifier("\"a b\""), None);
        assert_eq!(parse_session_identifier("\"\""), None);
        assert_eq!(parse_session_identifier("\"open"), None);
    }
}
