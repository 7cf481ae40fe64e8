//! Proof JWTs signed by a client's own key, carried in their `jwk` header:
//! strict compact parsing, the key pinning the algorithm, and the signature.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use super::ProofError;
use super::jwk::PublicJwk;
use crate::ids::is_base64url_byte;
use crate::tokens::strict_json;

/// Longest proof accepted, in bytes; longer input is refused before parsing.
pub const MAX_PROOF_LEN: usize = 4096;

/// A proof whose signature checked out.
#[derive(Debug, Clone)]
pub(crate) struct VerifiedProof {
    /// The key that signed it.
    pub(crate) key: PublicJwk,
    /// The claims, a JSON object.
    pub(crate) claims: Map<String, Value>,
}

/// Where the key that signs a proof comes from.
#[derive(Debug, Clone, Copy)]
pub(crate) enum KeySource<'a> {
    /// The header's `jwk` (DPoP, DBSC registration).
    Header,
    /// The header's `jwk`, or else the claims' `key`: the DBSC registration
    /// JWT as Chrome sent it with the older `Sec-Session-*` headers.
    HeaderOrClaimKey,
    /// A key stored at registration (a DBSC refresh). A header `jwk` other
    /// than this key refuses the proof.
    Known(&'a PublicJwk),
}

/// Splits, parses and verifies `proof`: exactly three non-empty base64url
/// segments, header and claims JSON objects without duplicate members, the
/// header `typ` equal to `typ` (ASCII case-insensitive, RFC 7515 §4.1.9),
/// no `crit`, and an `alg` equal to the one the key is pinned to (so `none`
/// and HMAC never verify).
pub(crate) fn verify(
    proof: &str,
    typ: &str,
    source: KeySource<'_>,
) -> Result<VerifiedProof, ProofError> {
    if proof.len() > MAX_PROOF_LEN {
        return Err(ProofError::Malformed);
    }
    let (message, signature) = proof.rsplit_once('.').ok_or(ProofError::Malformed)?;
    let (header_b64, claims_b64) = message.split_once('.').ok_or(ProofError::Malformed)?;
    for part in [header_b64, claims_b64, signature] {
        if part.is_empty() || !part.bytes().all(is_base64url_byte) {
            return Err(ProofError::Malformed);
        }
    }
    let object = |b64: &str| -> Result<Map<String, Value>, ProofError> {
        let json = URL_SAFE_NO_PAD
            .decode(b64)
            .map_err(|_| ProofError::Malformed)?;
        strict_json::from_slice(&json).map_err(|_| ProofError::Malformed)
    };
    let header = object(header_b64)?;
    let claims = object(claims_b64)?;
    let typ_ok = header
        .get("typ")
        .and_then(Value::as_str)
        .is_some_and(|t| t.eq_ignore_ascii_case(typ));
    if !typ_ok {
        return Err(ProofError::WrongType);
    }
    if header.contains_key("crit") {
        return Err(ProofError::Malformed);
    }
    let key = match (source, header.get("jwk")) {
        (KeySource::Known(known), None) => known.clone(),
        (KeySource::Known(known), Some(jwk)) => {
            if PublicJwk::from_value(jwk)? != *known {
                return Err(ProofError::KeyMismatch);
            }
            known.clone()
        }
        (_, Some(jwk)) => PublicJwk::from_value(jwk)?,
        (KeySource::HeaderOrClaimKey, None) => match claims.get("key") {
            Some(jwk) => PublicJwk::from_value(jwk)?,
            None => return Err(ProofError::BadKey("the proof carries no jwk")),
        },
        (KeySource::Header, None) => {
            return Err(ProofError::BadKey("the proof carries no jwk"));
        }
    };
    // Refused before any signature work: an 8192-bit RSA verification per
    // unauthenticated request would be cheap to ask for and dear to do.
    if matches!(key, PublicJwk::Rsa { .. }) {
        return Err(ProofError::BadKey("RSA keys are not accepted"));
    }
    let alg = header.get("alg").and_then(Value::as_str).unwrap_or("");
    let expected = key.algorithm();
    if alg != algorithm_name(expected) {
        return Err(ProofError::Algorithm);
    }
    let valid = jsonwebtoken::crypto::verify(
        signature,
        message.as_bytes(),
        &key.decoding_key()?,
        expected,
    )
    .unwrap_or(false);
    if !valid {
        return Err(ProofError::BadSignature);
    }
    Ok(VerifiedProof { key, claims })
}

/// The JOSE name of an algorithm a proof key may use.
pub(crate) fn algorithm_name(alg: jsonwebtoken::Algorithm) -> &'static str {
    match alg {
        jsonwebtoken::Algorithm::ES256 => "ES256",
        jsonwebtoken::Algorithm::EdDSA => "EdDSA",
        jsonwebtoken::Algorithm::RS256 => "RS256",
        _ => "",
    }
}

impl VerifiedProof {
    /// String claim `name`, at most `max_len` bytes.
    pub(crate) fn text(&self, name: &'static str, max_len: usize) -> Result<&str, ProofError> {
        match self.claims.get(name).and_then(Value::as_str) {
            Some(v) if !v.is_empty() && v.len() <= max_len => Ok(v),
            _ => Err(ProofError::Claim(name)),
        }
    }

    /// Optional string claim `name`; present but not a string is an error.
    pub(crate) fn optional_text(&self, name: &'static str) -> Result<Option<&str>, ProofError> {
        match self.claims.get(name) {
            None => Ok(None),
            Some(Value::String(v)) => Ok(Some(v)),
            Some(_) => Err(ProofError::Claim(name)),
        }
    }

    /// Integer claim `name` (seconds).
    pub(crate) fn seconds(&self, name: &'static str) -> Result<i64, ProofError> {
        self.claims
            .get(name)
            .and_then(Value::as_i64)
            .ok_or(ProofError::Claim(name))
    }
}
