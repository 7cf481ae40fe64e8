//! Opaque refresh tokens: `swrt1.<user>.<sid>.<generation>.<secret>`.
//!
//! The secret is 256 bits. The first one comes from the OS CSPRNG; each
//! successor is `HMAC-SHA256(refresh_key, context ‖ previous secret)`. That
//! chain lets the server, holding only the SHA-256 of the *current* secret,
//! (a) hand the immediate predecessor's holder the very same successor
//! inside the grace window, and (b) recognise any older token of the family
//! by walking the chain forward, so reuse of any rotated token is detected,
//! while a forged secret matches nothing and revokes nothing. Without the
//! server's refresh key, a successor cannot be computed from a stolen token.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::rejection::TokenRejection;
use crate::ids::{SessionId, UserId, is_base64url_byte};
use crate::secret::{RefreshToken, TokenHash, random_bytes};

/// Prefix of every refresh token (versioned; also helps secret scanners).
pub const REFRESH_PREFIX: &str = "swrt1";

/// Longest refresh token accepted, in bytes.
pub const MAX_REFRESH_LEN: usize = 512;

/// Most generations walked to recognise an old token (bounds CPU per request).
pub const MAX_CHAIN_WALK: u64 = 4096;

/// Highest refresh generation a token may carry: one below `u64::MAX`, so
/// the successor of every accepted generation (`generation + 1`) is
/// computed without overflow. A larger number in a token, including one
/// that does not fit a `u64`, is [`TokenRejection::NumberOutOfRange`].
pub const MAX_REFRESH_GENERATION: u64 = u64::MAX - 1;

/// A refresh secret (32 bytes). Never logged.
#[derive(Clone)]
pub(crate) struct RefreshSecret([u8; 32]);

impl RefreshSecret {
    pub(crate) fn random() -> Self {
        RefreshSecret(random_bytes())
    }

    pub(crate) fn hash(&self) -> TokenHash {
        TokenHash::of(&self.0)
    }

    /// The stored hash of a session bound to the key with thumbprint `jkt`:
    /// it covers the thumbprint, so the store's compare-and-swap itself
    /// refuses to rotate the token for a request without a proof by that
    /// key. Unbound sessions (`None`) keep the plain hash.
    pub(crate) fn hash_bound(&self, jkt: Option<&str>) -> TokenHash {
        match jkt {
            None => self.hash(),
            Some(jkt) => {
                let mut input = b"sessionward/refresh-bound/v1\0".to_vec();
                input.extend_from_slice(&self.0);
                input.extend_from_slice(jkt.as_bytes());
                TokenHash::of(&input)
            }
        }
    }
}

/// The parsed parts of a refresh token.
pub(crate) struct ParsedRefresh {
    pub(crate) user: UserId,
    pub(crate) id: SessionId,
    pub(crate) generation: u64,
    pub(crate) secret: RefreshSecret,
}

/// The server key that chains refresh secrets.
#[derive(Clone)]
pub(crate) struct RefreshKey([u8; 32]);

impl RefreshKey {
    pub(crate) fn new(key: [u8; 32]) -> Self {
        RefreshKey(key)
    }

    /// A separate key for `purpose`, derived so that it says nothing about
    /// this one (HMAC with a label).
    pub(crate) fn derive(&self, purpose: &str) -> [u8; 32] {
        #[allow(clippy::expect_used)]
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("HMAC accepts any key length");
        mac.update(b"sessionward/derive/v1\0");
        mac.update(purpose.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// The secret of generation `generation + 1`, given generation `generation`'s;
    /// `None` for `u64::MAX`, which has no successor (never an overflow).
    pub(crate) fn successor(
        &self,
        user: &UserId,
        id: &SessionId,
        generation: u64,
        secret: &RefreshSecret,
    ) -> Option<RefreshSecret> {
        let next = generation.checked_add(1)?;
        #[allow(clippy::expect_used)]
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("HMAC accepts any key length");
        mac.update(b"sessionward/refresh/v1\0");
        mac.update(&(user.as_str().len() as u64).to_be_bytes());
        mac.update(user.as_str().as_bytes());
        mac.update(id.as_str().as_bytes());
        mac.update(&next.to_be_bytes());
        mac.update(&secret.0);
        Some(RefreshSecret(mac.finalize().into_bytes().into()))
    }

    /// Walks from (`generation`, `secret`) forward to `target` generation and
    /// returns that secret, or `None` if `target` is before the presented
    /// generation, the walk would exceed [`MAX_CHAIN_WALK`], or a step has
    /// no successor.
    pub(crate) fn walk(&self, p: &ParsedRefresh, target: u64) -> Option<RefreshSecret> {
        let steps = target.checked_sub(p.generation)?;
        if steps > MAX_CHAIN_WALK {
            return None;
        }
        let mut secret = p.secret.clone();
        for g in p.generation..target {
            secret = self.successor(&p.user, &p.id, g, &secret)?;
        }
        Some(secret)
    }
}

/// Formats a refresh token.
pub(crate) fn format_refresh(
    user: &UserId,
    id: &SessionId,
    generation: u64,
    secret: &RefreshSecret,
) -> RefreshToken {
    RefreshToken::new(format!(
        "{REFRESH_PREFIX}.{}.{}.{}.{}",
        URL_SAFE_NO_PAD.encode(user.as_str()),
        id.as_str(),
        generation,
        URL_SAFE_NO_PAD.encode(secret.0)
    ))
}

/// Parses a refresh token strictly.
pub(crate) fn parse_refresh(token: &str) -> Result<ParsedRefresh, TokenRejection> {
    if token.len() > MAX_REFRESH_LEN {
        return Err(TokenRejection::Oversized);
    }
    let mut parts = token.split('.');
    let (Some(prefix), Some(user), Some(sid), Some(generation), Some(secret), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(TokenRejection::Malformed);
    };
    if prefix != REFRESH_PREFIX {
        return Err(TokenRejection::WrongType);
    }
    if !user.bytes().all(is_base64url_byte) || !secret.bytes().all(is_base64url_byte) {
        return Err(TokenRejection::Malformed);
    }
    let user = URL_SAFE_NO_PAD
        .decode(user)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| UserId::new(s).ok())
        .ok_or(TokenRejection::Malformed)?;
    let id = SessionId::parse(sid).map_err(|_| TokenRejection::Malformed)?;
    let generation = parse_generation(generation)?;
    let secret: [u8; 32] = URL_SAFE_NO_PAD
        .decode(secret)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or(TokenRejection::Malformed)?;
    Ok(ParsedRefresh {
        user,
        id,
        generation,
        secret: RefreshSecret(secret),
    })
}

/// Parses the generation field: canonical decimal digits (no sign, no
/// leading zero). A well-formed number above [`MAX_REFRESH_GENERATION`]
/// (including any that does not fit a `u64`) is
/// [`TokenRejection::NumberOutOfRange`]; anything else not canonical is
/// [`TokenRejection::Malformed`].
fn parse_generation(text: &str) -> Result<u64, TokenRejection> {
    if text.is_empty()
        || !text.bytes().all(|b| b.is_ascii_digit())
        || (text.len() > 1 && text.starts_with('0'))
    {
        return Err(TokenRejection::Malformed);
    }
    let mut value: u64 = 0;
    for digit in text.bytes() {
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(digit - b'0')))
            .ok_or(TokenRejection::NumberOutOfRange)?;
    }
    if value > MAX_REFRESH_GENERATION {
        return Err(TokenRejection::NumberOutOfRange);
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_strictness() {
        let user = UserId::new("alice@example.com").unwrap();
        let id = SessionId::generate();
        let secret = RefreshSecret::random();
        let token = format_refresh(&user, &id, 7, &secret);
        let parsed = parse_refresh(token.expose_secret()).unwrap();
        assert_eq!(parsed.user, user);
        assert_eq!(parsed.id, id);
        assert_eq!(parsed.generation, 7);
        assert_eq!(parsed.secret.hash(), secret.hash());
        let t = token.expose_secret();
        for bad in [
            String::new(),
            t.replacen("swrt1", "swrt2", 1),
            format!("{t}.x"),
            t.replace(".7.", ".07."),
            t.replace(".7.", ".-7."),
            format!("{t}="),
            "x".repeat(MAX_REFRESH_LEN + 1),
        ] {
            assert!(parse_refresh(&bad).is_err(), "accepted {bad:?}");
        }
    }

    #[test]
    fn chain_is_deterministic_and_keyed() {
        let user = UserId::new("u").unwrap();
        let id = SessionId::generate();
        let s0 = RefreshSecret::random();
        let k1 = RefreshKey::new([1; 32]);
        let k2 = RefreshKey::new([2; 32]);
        let a = k1.successor(&user, &id, 0, &s0).unwrap();
        assert_eq!(a.hash(), k1.successor(&user, &id, 0, &s0).unwrap().hash());
        assert_ne!(a.hash(), k2.successor(&user, &id, 0, &s0).unwrap().hash());
        assert_ne!(a.hash(), k1.successor(&user, &id, 1, &s0).unwrap().hash());
        let parsed = ParsedRefresh {
            user: user.clone(),
            id: id.clone(),
            generation: 0,
            secret: s0,
        };
        let b = k1.successor(&user, &id, 1, &a).unwrap();
        assert_eq!(k1.walk(&parsed, 2).unwrap().hash(), b.hash());
        assert!(k1.walk(&parsed, MAX_CHAIN_WALK + 1).is_none());
    }

    #[test]
    fn generation_parsing_is_checked() {
        for (text, want) in [
            ("0", Ok(0)),
            ("1", Ok(1)),
            ("18446744073709551614", Ok(MAX_REFRESH_GENERATION)),
            (
                "18446744073709551615",
                Err(TokenRejection::NumberOutOfRange),
            ),
            (
                "18446744073709551616",
                Err(TokenRejection::NumberOutOfRange),
            ),
            (
                "99999999999999999999",
                Err(TokenRejection::NumberOutOfRange),
            ),
            (
                "123456789012345678901234567890",
                Err(TokenRejection::NumberOutOfRange),
            ),
            ("", Err(TokenRejection::Malformed)),
            ("00", Err(TokenRejection::Malformed)),
            ("01", Err(TokenRejection::Malformed)),
            ("-1", Err(TokenRejection::Malformed)),
            ("+1", Err(TokenRejection::Malformed)),
            ("1e3", Err(TokenRejection::Malformed)),
            ("\u{663}", Err(TokenRejection::Malformed)),
        ] {
            assert_eq!(parse_generation(text), want, "generation {text:?}");
        }
    }

    #[test]
    fn extreme_generations_in_whole_tokens() {
        let user = UserId::new("u").unwrap();
        let id = SessionId::generate();
        let secret = RefreshSecret::random();
        for generation in [u64::MAX, MAX_REFRESH_GENERATION + 1] {
            let token = format_refresh(&user, &id, generation, &secret);
            assert_eq!(
                parse_refresh(token.expose_secret()).err(),
                Some(TokenRejection::NumberOutOfRange)
            );
        }
        let token = format_refresh(&user, &id, MAX_REFRESH_GENERATION, &secret);
        let parsed = parse_refresh(token.expose_secret()).unwrap();
        assert_eq!(parsed.generation, MAX_REFRESH_GENERATION);
        let text = token.expose_secret();
        let huge = text.replace(
            &format!(".{MAX_REFRESH_GENERATION}."),
            ".1844674407370955161500000.",
        );
        assert_ne!(huge, text);
        assert_eq!(
            parse_refresh(&huge).err(),
            Some(TokenRejection::NumberOutOfRange)
        );
    }

    #[test]
    fn successor_and_walk_stop_at_the_last_generation() {
        let user = UserId::new("u").unwrap();
        let id = SessionId::generate();
        let key = RefreshKey::new([3; 32]);
        let s = RefreshSecret::random();
        assert!(key.successor(&user, &id, u64::MAX, &s).is_none());
        let last = key
            .successor(&user, &id, MAX_REFRESH_GENERATION, &s)
            .unwrap();
        assert_ne!(last.hash(), s.hash());
        let parsed = |generation| ParsedRefresh {
            user: user.clone(),
            id: id.clone(),
            generation,
            secret: s.clone(),
        };
        assert_eq!(
            key.walk(&parsed(MAX_REFRESH_GENERATION), u64::MAX)
                .unwrap()
                .hash(),
            last.hash()
        );
        let two = key.walk(&parsed(u64::MAX - 2), u64::MAX).unwrap();
        let via_last = key
            .successor(&user, &id, u64::MAX - 2, &s)
            .and_then(|one| key.successor(&user, &id, u64::MAX - 1, &one))
            .unwrap();
        assert_eq!(two.hash(), via_last.hash());
        assert_eq!(
            key.walk(&parsed(u64::MAX), u64::MAX).unwrap().hash(),
            s.hash()
        );
        assert!(key.walk(&parsed(u64::MAX), 0).is_none());
        assert!(key.walk(&parsed(0), u64::MAX).is_none());
    }

    /// Both bounds are inclusive: `MAX_REFRESH_LEN` bytes are read (and
    /// refused on their merits), one more byte is `Oversized` unread; a walk
    /// of exactly `MAX_CHAIN_WALK` steps completes, one more is refused.
    #[test]
    fn length_and_walk_bounds_are_inclusive() {
        assert_eq!(
            parse_refresh(&"x".repeat(MAX_REFRESH_LEN)).err(),
            Some(TokenRejection::Malformed)
        );
        assert_eq!(
            parse_refresh(&"x".repeat(MAX_REFRESH_LEN + 1)).err(),
            Some(TokenRejection::Oversized)
        );
        let user = UserId::new("u").unwrap();
        let id = SessionId::generate();
        let key = RefreshKey::new([4; 32]);
        let s0 = RefreshSecret::random();
        let mut want = s0.clone();
        for g in 0..MAX_CHAIN_WALK {
            want = key.successor(&user, &id, g, &want).unwrap();
        }
        let parsed = ParsedRefresh {
            user: user.clone(),
            id: id.clone(),
            generation: 0,
            secret: s0,
        };
        let walked = key.walk(&parsed, MAX_CHAIN_WALK).unwrap();
        assert_eq!(walked.hash(), want.hash());
        assert!(key.walk(&parsed, MAX_CHAIN_WALK + 1).is_none());
    }
}

#[cfg(test)]
mod uniqueness {
    use std::collections::HashSet;

    use super::*;

    /// ASVS 7.2.3: 100 000 refresh secrets, all distinct.
    #[test]
    fn refresh_secrets_are_unique() {
        let mut seen = HashSet::with_capacity(100_000);
        for _ in 0..100_000 {
            assert!(seen.insert(RefreshSecret::random().0));
        }
    }
}
