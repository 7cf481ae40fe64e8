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

    /// The secret of generation `generation + 1`, given generation `generation`'s.
    pub(crate) fn successor(
        &self,
        user: &UserId,
        id: &SessionId,
        generation: u64,
        secret: &RefreshSecret,
    ) -> RefreshSecret {
        #[allow(clippy::expect_used)]
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("HMAC accepts any key length");
        mac.update(b"sessionward/refresh/v1\0");
        mac.update(&(user.as_str().len() as u64).to_be_bytes());
        mac.update(user.as_str().as_bytes());
        mac.update(id.as_str().as_bytes());
        mac.update(&(generation + 1).to_be_bytes());
        mac.update(&secret.0);
        RefreshSecret(mac.finalize().into_bytes().into())
    }

    /// Walks from (`generation`, `secret`) forward to `target` generation and
    /// returns that secret, or `None` if the walk would exceed [`MAX_CHAIN_WALK`].
    pub(crate) fn walk(&self, p: &ParsedRefresh, target: u64) -> Option<RefreshSecret> {
        let steps = target.checked_sub(p.generation)?;
        if steps > MAX_CHAIN_WALK {
            return None;
        }
        let mut secret = p.secret.clone();
        for g in p.generation..target {
            secret = self.successor(&p.user, &p.id, g, &secret);
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
    if generation.is_empty()
        || generation.len() > 20
        || !generation.bytes().all(|b| b.is_ascii_digit())
        || (generation.len() > 1 && generation.starts_with('0'))
    {
        return Err(TokenRejection::Malformed);
    }
    let generation: u64 = generation.parse().map_err(|_| TokenRejection::Malformed)?;
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
        let a = k1.successor(&user, &id, 0, &s0);
        assert_eq!(a.hash(), k1.successor(&user, &id, 0, &s0).hash());
        assert_ne!(a.hash(), k2.successor(&user, &id, 0, &s0).hash());
        assert_ne!(a.hash(), k1.successor(&user, &id, 1, &s0).hash());
        let parsed = ParsedRefresh {
            user: user.clone(),
            id: id.clone(),
            generation: 0,
            secret: s0,
        };
        let b = k1.successor(&user, &id, 1, &a);
        assert_eq!(k1.walk(&parsed, 2).unwrap().hash(), b.hash());
        assert!(k1.walk(&parsed, MAX_CHAIN_WALK + 1).is_none());
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
