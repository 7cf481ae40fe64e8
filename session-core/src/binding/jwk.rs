//! Public JSON Web Keys as proofs carry them, and their RFC 7638 thumbprints.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::ProofError;

/// Members that only a private key has (RFC 7518 §6.2.2, §6.3.2, RFC 8037
/// §2, and `k` of a symmetric key): a proof whose `jwk` carries any of them
/// has leaked its key and is refused.
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// Shortest RSA modulus accepted, in bytes (2048 bits).
const MIN_RSA_MODULUS_LEN: usize = 256;

/// Longest RSA modulus accepted, in bytes (8192 bits).
const MAX_RSA_MODULUS_LEN: usize = 1024;

/// A public key from a proof's `jwk` header, checked for shape and size.
///
/// Each key is pinned to one signature algorithm: P-256 to `ES256`,
/// Ed25519 to `EdDSA`, RSA to `RS256`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PublicJwk {
    /// `kty` `EC`, `crv` `P-256`.
    P256 { x: String, y: String },
    /// `kty` `OKP`, `crv` `Ed25519`.
    Ed25519 { x: String },
    /// `kty` `RSA`.
    Rsa { n: String, e: String },
}

fn member<'a>(jwk: &'a Map<String, Value>, name: &str) -> Result<&'a str, ProofError> {
    jwk.get(name)
        .and_then(Value::as_str)
        .ok_or(ProofError::BadKey(
            "a key member is missing or not a string",
        ))
}

/// The bytes of base64url member `name`, which must be exactly `len` bytes
/// when `len` is given.
fn bytes(jwk: &Map<String, Value>, name: &str, len: Option<usize>) -> Result<Vec<u8>, ProofError> {
    let decoded = URL_SAFE_NO_PAD
        .decode(member(jwk, name)?)
        .map_err(|_| ProofError::BadKey("a key member is not base64url"))?;
    match len {
        Some(len) if decoded.len() != len => {
            Err(ProofError::BadKey("a key member has the wrong length"))
        }
        _ => Ok(decoded),
    }
}

impl PublicJwk {
    /// Parses a public JWK: a JSON object with no private member, of a key
    /// type and curve accepted here, with members of the right sizes.
    pub(crate) fn from_value(value: &Value) -> Result<Self, ProofError> {
        let jwk = value
            .as_object()
            .ok_or(ProofError::BadKey("jwk is not an object"))?;
        if PRIVATE_MEMBERS.iter().any(|m| jwk.contains_key(*m)) {
            return Err(ProofError::PrivateKey);
        }
        match (member(jwk, "kty")?, jwk.get("crv").and_then(Value::as_str)) {
            ("EC", Some("P-256")) => {
                bytes(jwk, "x", Some(32))?;
                bytes(jwk, "y", Some(32))?;
                Ok(PublicJwk::P256 {
                    x: member(jwk, "x")?.to_owned(),
                    y: member(jwk, "y")?.to_owned(),
                })
            }
            ("OKP", Some("Ed25519")) => {
                bytes(jwk, "x", Some(32))?;
                Ok(PublicJwk::Ed25519 {
                    x: member(jwk, "x")?.to_owned(),
                })
            }
            ("RSA", None) => {
                let n = bytes(jwk, "n", None)?;
                let e = bytes(jwk, "e", None)?;
                if !(MIN_RSA_MODULUS_LEN..=MAX_RSA_MODULUS_LEN).contains(&n.len())
                    || e.is_empty()
                    || e.len() > 8
                {
                    return Err(ProofError::BadKey("the RSA key size is not accepted"));
                }
                Ok(PublicJwk::Rsa {
                    n: member(jwk, "n")?.to_owned(),
                    e: member(jwk, "e")?.to_owned(),
                })
            }
            _ => Err(ProofError::BadKey("the key type or curve is not accepted")),
        }
    }

    /// The one algorithm this key verifies.
    pub(crate) fn algorithm(&self) -> Algorithm {
        match self {
            PublicJwk::P256 { .. } => Algorithm::ES256,
            PublicJwk::Ed25519 { .. } => Algorithm::EdDSA,
            PublicJwk::Rsa { .. } => Algorithm::RS256,
        }
    }

    /// The key for `jsonwebtoken`'s verifier.
    pub(crate) fn decoding_key(&self) -> Result<DecodingKey, ProofError> {
        let bad = |_| ProofError::BadKey("the key could not be loaded");
        match self {
            PublicJwk::P256 { x, y } => {
                // The uncompressed SEC1 point: 0x04 || x || y.
                let mut point = vec![0x04];
                point.extend(URL_SAFE_NO_PAD.decode(x).map_err(bad)?);
                point.extend(URL_SAFE_NO_PAD.decode(y).map_err(bad)?);
                Ok(DecodingKey::from_ec_der(&point))
            }
            PublicJwk::Ed25519 { x } => Ok(DecodingKey::from_ed_der(
                &URL_SAFE_NO_PAD.decode(x).map_err(bad)?,
            )),
            PublicJwk::Rsa { n, e } => DecodingKey::from_rsa_components(n, e)
                .map_err(|_| ProofError::BadKey("the key could not be loaded")),
        }
    }

    /// The canonical JSON of RFC 7638 §3: the required members only, in
    /// lexicographic order, without whitespace.
    pub(crate) fn canonical_json(&self) -> String {
        match self {
            PublicJwk::P256 { x, y } => {
                format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#)
            }
            PublicJwk::Ed25519 { x } => format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#),
            PublicJwk::Rsa { n, e } => format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#),
        }
    }

    /// The base64url SHA-256 thumbprint (RFC 7638), the `jkt` of RFC 9449.
    pub(crate) fn thumbprint(&self) -> String {
        URL_SAFE_NO_PAD.encode(Sha256::digest(self.canonical_json().as_bytes()))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;

    /// The worked example of RFC 7638 §3.1.
    #[test]
    fn rfc7638_example_thumbprint() {
        let jwk = json!({
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            "e": "AQAB",
            "alg": "RS256",
            "kid": "2011-04-29"
        });
        let key = PublicJwk::from_value(&jwk).unwrap();
        assert_eq!(
            key.thumbprint(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
        let canonical: Value = serde_json::from_str(&key.canonical_json()).unwrap();
        assert_eq!(PublicJwk::from_value(&canonical).unwrap(), key);
    }

    #[test]
    fn private_members_and_unknown_curves_are_refused() {
        let x = URL_SAFE_NO_PAD.encode([1u8; 32]);
        let ec = |extra: Value| {
            let mut jwk = json!({"kty": "EC", "crv": "P-256", "x": x, "y": x});
            if let (Some(o), Some(e)) = (jwk.as_object_mut(), extra.as_object()) {
                o.extend(e.clone());
            }
            PublicJwk::from_value(&jwk)
        };
        assert!(ec(json!({})).is_ok());
        assert_eq!(ec(json!({"d": x})), Err(ProofError::PrivateKey));
        assert!(matches!(
            ec(json!({"crv": "P-384"})),
            Err(ProofError::BadKey(_))
        ));
        assert!(matches!(
            ec(json!({"x": "AAAA"})),
            Err(ProofError::BadKey(_))
        ));
        assert_eq!(
            PublicJwk::from_value(&json!({"kty": "oct", "k": x})),
            Err(ProofError::PrivateKey)
        );
        assert!(matches!(
            PublicJwk::from_value(&json!("not an object")),
            Err(ProofError::BadKey(_))
        ));
    }
}
