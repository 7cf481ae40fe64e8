//! Strict JWS compact parsing and verification.
//!
//! sessionward only accepts what it issues: exactly three base64url
//! segments, a header that is a JSON object with exactly `alg`, `typ` and
//! `kid`, the algorithm the named key is pinned to, a valid signature, then
//! claims that are a JSON object matching the expected structure with no
//! unknown or duplicate members (at any depth; see `strict_json`).
//! Everything else is a [`TokenRejection`].

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::keys::{KeySet, SigningKey};
use super::rejection::TokenRejection;
use super::strict_json;
use crate::ids::is_base64url_byte;

/// Longest access token accepted, in bytes; longer input is refused before parsing.
pub const MAX_JWT_LEN: usize = 4096;

/// The only header sessionward writes and accepts.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StrictHeader {
    alg: String,
    typ: String,
    kid: String,
}

/// Signs `claims` with the set's signing key and the given `typ`.
pub(crate) fn sign<T: Serialize>(
    key: &SigningKey,
    typ: &str,
    claims: &T,
) -> Result<String, jsonwebtoken::errors::Error> {
    let header = StrictHeader {
        alg: key.algorithm().name().to_owned(),
        typ: typ.to_owned(),
        kid: key.kid().to_owned(),
    };
    let header = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header)?);
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims)?);
    let message = format!("{header}.{payload}");
    let signature = jsonwebtoken::crypto::sign(
        message.as_bytes(),
        key.encoding_key(),
        key.algorithm().jsonwebtoken(),
    )?;
    Ok(format!("{message}.{signature}"))
}

/// Verifies a compact JWS and decodes its claims. Does not check time or
/// audience claims; the caller does that with its clock.
pub(crate) fn verify<T: DeserializeOwned>(
    keys: &KeySet,
    typ: &str,
    token: &str,
) -> Result<T, TokenRejection> {
    if token.len() > MAX_JWT_LEN {
        return Err(TokenRejection::Oversized);
    }
    // The signed message is everything before the last `.`; taking it as a
    // slice needs no offset arithmetic.
    let Some((message, signature_b64)) = token.rsplit_once('.') else {
        return Err(TokenRejection::Malformed);
    };
    let Some((header_b64, payload_b64)) = message.split_once('.') else {
        return Err(TokenRejection::Malformed);
    };
    // A fourth segment leaves a `.` in `payload_b64`, which the base64url
    // check below refuses.
    for part in [header_b64, payload_b64, signature_b64] {
        if part.is_empty() || !part.bytes().all(is_base64url_byte) {
            return Err(TokenRejection::Malformed);
        }
    }
    let header_json = URL_SAFE_NO_PAD
        .decode(header_b64)
        .map_err(|_| TokenRejection::Malformed)?;
    let header: StrictHeader =
        strict_json::from_slice(&header_json).map_err(|_| TokenRejection::UnsupportedHeader)?;
    if header.typ != typ {
        return Err(TokenRejection::WrongType);
    }
    let key = keys
        .verifying
        .get(&header.kid)
        .ok_or(TokenRejection::UnknownKey)?;
    // The algorithm is the key's, never the header's: the header must merely agree.
    if header.alg != key.algorithm().name() {
        return Err(TokenRejection::AlgorithmMismatch);
    }
    let valid = jsonwebtoken::crypto::verify(
        signature_b64,
        message.as_bytes(),
        key.decoding_key(),
        key.algorithm().jsonwebtoken(),
    )
    .unwrap_or(false);
    if !valid {
        return Err(TokenRejection::BadSignature);
    }
    let payload = URL_SAFE_NO_PAD
        .decode(payload_b64)
        .map_err(|_| TokenRejection::Malformed)?;
    strict_json::from_slice(&payload).map_err(|_| TokenRejection::BadClaims)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::tokens::{ACCESS_TOKEN_TYP, TokenConfig};

    fn config() -> TokenConfig {
        TokenConfig::builder("iss", "aud")
            .signing_key(SigningKey::hs256("k", &[1; 32]).unwrap())
            .refresh_key([2; 32])
            .build()
            .unwrap()
    }

    /// `MAX_JWT_LEN` bytes are parsed (and refused on their merits); one
    /// byte more is `Oversized` without parsing.
    #[test]
    fn length_bound_is_inclusive() {
        let cfg = config();
        let verify = |t: &str| verify::<Value>(&cfg.keys, ACCESS_TOKEN_TYP, t).err();
        assert_eq!(
            verify(&"a".repeat(MAX_JWT_LEN)),
            Some(TokenRejection::Malformed)
        );
        assert_eq!(
            verify(&"a".repeat(MAX_JWT_LEN + 1)),
            Some(TokenRejection::Oversized)
        );
    }

    /// Every segment must be non-empty base64url, checked before the
    /// signature: an empty or non-base64url segment is `Malformed`, not a
    /// bad signature.
    #[test]
    fn segments_are_checked_before_the_signature() {
        let cfg = config();
        let token = cfg
            .sign_jwt(ACCESS_TOKEN_TYP, &json!({"sub": "u"}))
            .unwrap();
        assert_eq!(
            verify::<Value>(&cfg.keys, ACCESS_TOKEN_TYP, &token),
            Ok(json!({"sub": "u"}))
        );
        let [header, payload, signature]: [&str; 3] =
            token.split('.').collect::<Vec<_>>().try_into().unwrap();
        for bad in [
            format!("{header}..{signature}"),
            format!(".{payload}.{signature}"),
            format!("{header}.{payload}."),
            format!("{header}.{payload}.{signature}!"),
            format!("{header}.{payload}+.{signature}"),
        ] {
            assert_eq!(
                verify::<Value>(&cfg.keys, ACCESS_TOKEN_TYP, &bad).err(),
                Some(TokenRejection::Malformed),
                "{bad}"
            );
        }
    }
}
