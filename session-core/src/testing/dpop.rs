//! A DPoP client for tests: a fresh key pair, proofs for requests, and the
//! malformed proofs an attacker would try.
#![allow(clippy::expect_used)]

use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::ids::SessionId;
use crate::time::Timestamp;

/// A client's DPoP key (P-256 or Ed25519), kept in memory.
pub struct DpopKey {
    pkcs8: Vec<u8>,
    jwk: Value,
    alg: Algorithm,
}

impl std::fmt::Debug for DpopKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DpopKey").field("jwk", &self.jwk).finish()
    }
}

impl DpopKey {
    /// A new P-256 key (`ES256`).
    pub fn p256() -> Self {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).expect("key");
        let public = pair.public_key().as_ref().to_vec();
        // Uncompressed SEC1: 0x04 || x || y.
        let (x, y) = public[1..].split_at(32);
        DpopKey {
            pkcs8: pair.to_pkcs8v1().expect("pkcs8").as_ref().to_vec(),
            jwk: json!({"kty": "EC", "crv": "P-256", "x": URL_SAFE_NO_PAD.encode(x), "y": URL_SAFE_NO_PAD.encode(y)}),
            alg: Algorithm::ES256,
        }
    }

    /// A new Ed25519 key (`EdDSA`).
    pub fn ed25519() -> Self {
        let pair = Ed25519KeyPair::generate().expect("key");
        DpopKey {
            jwk: json!({"kty": "OKP", "crv": "Ed25519", "x": URL_SAFE_NO_PAD.encode(pair.public_key().as_ref())}),
            pkcs8: pair.to_pkcs8().expect("pkcs8").as_ref().to_vec(),
            alg: Algorithm::EdDSA,
        }
    }

    /// The public JWK.
    pub fn jwk(&self) -> &Value {
        &self.jwk
    }

    /// The RFC 7638 thumbprint (`cnf.jkt`).
    pub fn thumbprint(&self) -> String {
        let j = &self.jwk;
        let canonical = match j["kty"].as_str() {
            Some("EC") => format!(
                r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
                j["x"].as_str().unwrap_or(""),
                j["y"].as_str().unwrap_or("")
            ),
            _ => format!(
                r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#,
                j["x"].as_str().unwrap_or("")
            ),
        };
        URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
    }

    fn alg_name(&self) -> &'static str {
        match self.alg {
            Algorithm::EdDSA => "EdDSA",
            _ => "ES256",
        }
    }

    /// The claims of an honest proof for `method` `uri` made at `iat`, with
    /// `ath` for `access_token` and the server `nonce` when given.
    pub fn claims(
        method: &str,
        uri: &str,
        access_token: Option<&str>,
        nonce: Option<&str>,
        iat: Timestamp,
    ) -> Value {
        let mut claims = json!({
            "jti": SessionId::generate().as_str(),
            "htm": method,
            "htu": uri,
            "iat": iat.unix_seconds(),
        });
        if let Some(token) = access_token {
            claims["ath"] = json!(URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes())));
        }
        if let Some(nonce) = nonce {
            claims["nonce"] = json!(nonce);
        }
        claims
    }

    /// An honest proof (see [`DpopKey::claims`]).
    pub fn proof(
        &self,
        method: &str,
        uri: &str,
        access_token: Option<&str>,
        nonce: Option<&str>,
        iat: Timestamp,
    ) -> String {
        self.sign(
            &self.header(),
            &Self::claims(method, uri, access_token, nonce, iat),
        )
    }

    /// The honest header: `typ` `dpop+jwt`, the key's `alg`, the public `jwk`.
    pub fn header(&self) -> Value {
        json!({"typ": "dpop+jwt", "alg": self.alg_name(), "jwk": self.jwk})
    }

    /// `header` and `claims` signed with this key (whatever `header` says).
    pub fn sign(&self, header: &Value, claims: &Value) -> String {
        let message = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let key = match self.alg {
            Algorithm::EdDSA => EncodingKey::from_ed_der(&self.pkcs8),
            _ => EncodingKey::from_ec_der(&self.pkcs8),
        };
        let signature =
            jsonwebtoken::crypto::sign(message.as_bytes(), &key, self.alg).expect("sign");
        format!("{message}.{signature}")
    }

    /// `header` and `claims` "signed" with `alg: none` (an empty signature
    /// segment is malformed, so a placeholder is used).
    pub fn unsigned(header: &Value, claims: &Value) -> String {
        format!(
            "{}.{}.AAAA",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        )
    }

    /// `claims` signed with HMAC-SHA256 under `secret`, with a header
    /// claiming `HS256` and this key's `jwk`.
    pub fn hmac_signed(&self, secret: &[u8], claims: &Value) -> String {
        let header = json!({"typ": "dpop+jwt", "alg": "HS256", "jwk": self.jwk});
        let message = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = jsonwebtoken::crypto::sign(
            message.as_bytes(),
            &EncodingKey::from_secret(secret).expect("hmac key"),
            Algorithm::HS256,
        )
        .expect("sign");
        format!("{message}.{signature}")
    }
}
