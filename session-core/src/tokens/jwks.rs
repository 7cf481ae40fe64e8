//! The public half of the token keys as a JSON Web Key Set (RFC 7517), so
//! that another service can verify our access tokens without a secret.
//! HS256 keys are symmetric and never appear in it.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};

use super::TokenConfig;
use super::keys::{JwtAlgorithm, VerifyingKey};

/// DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410), before the
/// 32-byte key.
const ED25519_SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// DER prefix of a P-256 SubjectPublicKeyInfo (RFC 5480), before the
/// 65-byte uncompressed point.
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// The raw public key inside an SPKI PEM for `alg`, or `None` when the PEM
/// has another shape (the key still verifies; it is only left out of the
/// key set).
pub(super) fn spki_public_key(pem: &[u8], alg: JwtAlgorithm) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(pem).ok()?;
    let body: String = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.starts_with("-----") && !line.is_empty())
        .collect();
    let der = STANDARD.decode(body).ok()?;
    let key = match alg {
        JwtAlgorithm::EdDSA => der.strip_prefix(&ED25519_SPKI_PREFIX[..])?,
        JwtAlgorithm::ES256 => der.strip_prefix(&P256_SPKI_PREFIX[..])?,
        _ => return None,
    };
    let expected = if alg == JwtAlgorithm::EdDSA { 32 } else { 65 };
    (key.len() == expected && (alg == JwtAlgorithm::EdDSA || key[0] == 0x04)).then(|| key.to_vec())
}

impl VerifyingKey {
    /// The key as a public JWK (RFC 7517; `OKP`/`Ed25519` per RFC 8037, `EC`/
    /// `P-256` per RFC 7518) with its `kid`, `alg` and `"use": "sig"`, or
    /// `None` for an HS256 key (a shared secret is never published) or a PEM
    /// whose shape was not recognised.
    pub fn public_jwk(&self) -> Option<Value> {
        let raw = self.public_key()?;
        let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
        let mut jwk = match self.algorithm() {
            JwtAlgorithm::EdDSA => json!({ "kty": "OKP", "crv": "Ed25519", "x": b64(raw) }),
            JwtAlgorithm::ES256 => json!({
                "kty": "EC", "crv": "P-256", "x": b64(&raw[1..33]), "y": b64(&raw[33..65])
            }),
            _ => return None,
        };
        jwk["kid"] = json!(self.kid());
        jwk["alg"] = json!(self.algorithm().name());
        jwk["use"] = json!("sig");
        Some(jwk)
    }
}

impl TokenConfig {
    /// The JSON Web Key Set of the keys that verify our access tokens: the
    /// signing key first, then the other verification keys (retired or
    /// announced) by `kid`. Empty (`{"keys": []}`) with HS256 keys only.
    ///
    /// ```
    /// use sessionward_core::tokens::{SigningKey, TokenConfig};
    /// let tokens = TokenConfig::builder("https://auth.example.com", "api")
    ///     .signing_key(SigningKey::hs256("2026-11", &[7u8; 32])?)
    ///     .refresh_key([9u8; 32])
    ///     .build()?;
    /// assert_eq!(tokens.jwks(), serde_json::json!({ "keys": [] }));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn jwks(&self) -> Value {
        let signing = self.keys.signing.verifying_key();
        let mut others: Vec<&VerifyingKey> = self
            .keys
            .verifying
            .values()
            .filter(|k| k.kid() != signing.kid())
            .collect();
        others.sort_by(|a, b| a.kid().cmp(b.kid()));
        let keys: Vec<Value> = std::iter::once(signing)
            .chain(others)
            .filter_map(VerifyingKey::public_jwk)
            .collect();
        json!({ "keys": keys })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use jsonwebtoken::jwk::Jwk;
    use jsonwebtoken::{Algorithm, DecodingKey, Validation};

    use super::super::{SigningKey, VerifyingKey};
    use super::*;
    use crate::{MemoryStore, RequestContext, SessionManager, SessionPolicy, UserId};

    const ED_PRIVATE: &[u8] = include_bytes!("../../tests/keys/ed25519-private.pem");
    const ED_PUBLIC: &[u8] = include_bytes!("../../tests/keys/ed25519-public.pem");
    const OTHER_ED_PUBLIC: &[u8] = include_bytes!("../../tests/keys/other-ed25519-public.pem");
    const EC_PRIVATE: &[u8] = include_bytes!("../../tests/keys/es256-private.pem");
    const EC_PUBLIC: &[u8] = include_bytes!("../../tests/keys/es256-public.pem");

    async fn access_token(signing: SigningKey, also: Vec<VerifyingKey>) -> (String, Value) {
        let mut builder = TokenConfig::builder("https://auth.example.com", "api")
            .signing_key(signing)
            .refresh_key([9u8; 32]);
        for key in also {
            builder = builder.verification_key(key);
        }
        let tokens = builder.build().unwrap();
        let jwks = tokens.jwks();
        let manager = SessionManager::builder(
            SessionPolicy::default(),
            tokens,
            Arc::new(MemoryStore::new()),
        )
        .build()
        .unwrap();
        let login = manager
            .login(&UserId::new("alice").unwrap(), &RequestContext::new())
            .await
            .unwrap();
        (login.tokens.access_token.expose_secret().to_owned(), jwks)
    }

    fn verifies(token: &str, jwk: &Value, alg: Algorithm) -> bool {
        let jwk: Jwk = serde_json::from_value(jwk.clone()).unwrap();
        let key = DecodingKey::from_jwk(&jwk).unwrap();
        let mut v = Validation::new(alg);
        v.set_audience(&["api"]);
        v.set_issuer(&["https://auth.example.com"]);
        jsonwebtoken::decode::<Value>(token, &key, &v).is_ok()
    }

    /// Another service verifies our EdDSA and ES256 access tokens with the
    /// published keys alone, and a key we do not hold verifies nothing.
    #[tokio::test]
    async fn published_keys_verify_our_access_tokens() {
        let ed = SigningKey::ed25519_pem("ed-1", ED_PRIVATE, ED_PUBLIC).unwrap();
        let retired = VerifyingKey::es256_pem("ec-0", EC_PUBLIC).unwrap();
        let (token, jwks) = access_token(ed, vec![retired]).await;
        let keys = jwks["keys"].as_array().unwrap();
        assert_eq!(keys.len(), 2, "{jwks}");
        assert_eq!(keys[0]["kid"], "ed-1", "the signing key comes first");
        assert_eq!(keys[0]["kty"], "OKP");
        assert_eq!(keys[0]["crv"], "Ed25519");
        assert_eq!(keys[0]["alg"], "EdDSA");
        assert_eq!(keys[0]["use"], "sig");
        assert_eq!(keys[1]["kid"], "ec-0");
        assert_eq!(keys[1]["kty"], "EC");
        for key in keys {
            assert!(key.get("d").is_none(), "no private member: {key}");
        }
        assert!(verifies(&token, &keys[0], Algorithm::EdDSA));
        let other = VerifyingKey::ed25519_pem("other", OTHER_ED_PUBLIC).unwrap();
        assert!(!verifies(
            &token,
            &other.public_jwk().unwrap(),
            Algorithm::EdDSA
        ));

        let ec = SigningKey::es256_pem("ec-1", EC_PRIVATE, EC_PUBLIC).unwrap();
        let (token, jwks) = access_token(ec, vec![]).await;
        let key = &jwks["keys"][0];
        assert_eq!(
            (key["kid"].as_str(), key["crv"].as_str()),
            (Some("ec-1"), Some("P-256"))
        );
        assert!(verifies(&token, key, Algorithm::ES256));
    }

    #[test]
    fn only_spki_shapes_are_read() {
        assert_eq!(
            spki_public_key(ED_PUBLIC, JwtAlgorithm::EdDSA).map(|k| k.len()),
            Some(32)
        );
        assert_eq!(
            spki_public_key(EC_PUBLIC, JwtAlgorithm::ES256).map(|k| k.len()),
            Some(65)
        );
        assert_eq!(spki_public_key(EC_PUBLIC, JwtAlgorithm::EdDSA), None);
        assert_eq!(spki_public_key(ED_PUBLIC, JwtAlgorithm::ES256), None);
        assert_eq!(spki_public_key(b"not a pem", JwtAlgorithm::EdDSA), None);
        assert_eq!(
            spki_public_key(ED_PRIVATE, JwtAlgorithm::EdDSA),
            None,
            "a private key is not published"
        );
        let hs = SigningKey::hs256("hs", &[1u8; 32]).unwrap();
        assert_eq!(
            hs.verifying_key().public_jwk(),
            None,
            "a shared secret is never published"
        );
    }
}
