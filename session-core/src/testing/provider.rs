//! A stand-in OpenID Connect provider for back-channel logout cases: it
//! publishes a JWKS and signs logout tokens (ES256, the test key), valid
//! or with any claim or header changed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{Value, json};

use crate::provider::{BACKCHANNEL_LOGOUT_EVENT, IdentityProvider, ProviderKeys};
use crate::risk::RiskStore;
use crate::time::Timestamp;
use crate::tokens::VerifyingKey;

const EC_PRIVATE: &[u8] = include_bytes!("../../tests/keys/es256-private.pem");
const EC_PUBLIC: &[u8] = include_bytes!("../../tests/keys/es256-public.pem");
const OTHER_ED_PRIVATE: &[u8] = include_bytes!("../../tests/keys/other-ed25519-private.pem");
const OTHER_ED_PUBLIC: &[u8] = include_bytes!("../../tests/keys/other-ed25519-public.pem");

/// The provider's issuer.
pub const IDP_ISSUER: &str = "https://idp.example.com";
/// Our client id at the provider.
pub const IDP_CLIENT: &str = "sessionward-app";
/// The `kid` of its signing key.
pub const IDP_KID: &str = "idp-1";

/// A provider that signs logout tokens.
pub struct TestProvider {
    key: EncodingKey,
    other: EncodingKey,
}

impl Default for TestProvider {
    fn default() -> Self {
        Self::new()
    }
}

impl TestProvider {
    /// The provider with the test keys.
    pub fn new() -> Self {
        TestProvider {
            key: EncodingKey::from_ec_pem(EC_PRIVATE).expect("test EC key"),
            other: EncodingKey::from_ed_pem(OTHER_ED_PRIVATE).expect("test Ed25519 key"),
        }
    }

    /// Its JWKS document (the ES256 key).
    pub fn jwks(&self) -> String {
        let key = VerifyingKey::es256_pem(IDP_KID, EC_PUBLIC).expect("test EC public key");
        json!({ "keys": [key.public_jwk().expect("a public key")] }).to_string()
    }

    /// Its JWKS after a rotation: the ES256 key and the Ed25519 key
    /// [`TestProvider::sign_with_other_key`] signs with, as `kid` `kid`.
    pub fn rotated_jwks(&self, kid: &str) -> String {
        let key = VerifyingKey::es256_pem(IDP_KID, EC_PUBLIC).expect("test EC public key");
        let next =
            VerifyingKey::ed25519_pem(kid, OTHER_ED_PUBLIC).expect("test Ed25519 public key");
        json!({ "keys": [key.public_jwk().expect("a public key"), next.public_jwk().expect("a public key")] })
            .to_string()
    }

    /// A receiver for its tokens, remembering `jti`s in `replay`.
    pub fn receiver(&self, replay: Arc<dyn RiskStore>) -> IdentityProvider {
        let keys = ProviderKeys::from_jwks(&self.jwks()).expect("the JWKS reads");
        IdentityProvider::new(IDP_ISSUER, IDP_CLIENT, keys, replay)
    }

    /// Valid logout claims issued at `now` for `sub` and/or `sid`.
    pub fn claims(&self, now: Timestamp, sub: Option<&str>, sid: Option<&str>) -> Value {
        let mut claims = json!({
            "iss": IDP_ISSUER,
            "aud": IDP_CLIENT,
            "iat": now.unix_seconds(),
            "exp": now.plus(Duration::from_secs(120)).unix_seconds(),
            "jti": crate::SessionId::generate().as_str(),
            "events": { BACKCHANNEL_LOGOUT_EVENT: {} },
        });
        if let Some(sub) = sub {
            claims["sub"] = json!(sub);
        }
        if let Some(sid) = sid {
            claims["sid"] = json!(sid);
        }
        claims
    }

    /// `claims` signed with its key under the usual header, changed by
    /// the members of `header` (a `null` member removes one).
    pub fn sign(&self, header: &Value, claims: &Value) -> String {
        self.sign_with(&self.key, Algorithm::ES256, header, claims)
    }

    /// `claims` signed by a key the provider never published (Ed25519),
    /// under the usual header changed by `header`.
    pub fn sign_with_other_key(&self, header: &Value, claims: &Value) -> String {
        let mut header = header.clone();
        header["alg"] = json!("EdDSA");
        self.sign_with(&self.other, Algorithm::EdDSA, &header, claims)
    }

    /// Valid Security Event Token claims issued at `now`: one `event` of
    /// type `kind` about provider user `sub`.
    pub fn set_claims(&self, now: Timestamp, kind: &str, sub: &str, event: Value) -> Value {
        json!({
            "iss": IDP_ISSUER,
            "aud": IDP_CLIENT,
            "iat": now.unix_seconds(),
            "jti": crate::SessionId::generate().as_str(),
            "sub_id": { "format": "iss_sub", "iss": IDP_ISSUER, "sub": sub },
            "events": { kind: event },
        })
    }

    /// `claims` signed as a Security Event Token (`typ` `secevent+jwt`).
    pub fn sign_set(&self, claims: &Value) -> String {
        self.sign(&json!({ "typ": crate::provider::SET_TYP }), claims)
    }

    /// A valid logout token issued at `now`.
    pub fn logout_token(&self, now: Timestamp, sub: Option<&str>, sid: Option<&str>) -> String {
        self.sign(&json!({}), &self.claims(now, sub, sid))
    }

    fn sign_with(
        &self,
        key: &EncodingKey,
        alg: Algorithm,
        header: &Value,
        claims: &Value,
    ) -> String {
        let mut full = json!({ "alg": "ES256", "kid": IDP_KID, "typ": "logout+jwt" });
        for (name, value) in header.as_object().into_iter().flatten() {
            if value.is_null() {
                full.as_object_mut().map(|h| h.remove(name));
            } else {
                full[name] = value.clone();
            }
        }
        let message = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(full.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = jsonwebtoken::crypto::sign(message.as_bytes(), key, alg).expect("signs");
        format!("{message}.{signature}")
    }
}

/// The claims of a compact JWS, read without verifying it: for tests that
/// check what a token says after another step verified it.
///
/// # Panics
/// When `token` is not three dot-separated parts with a base64url JSON
/// payload.
pub fn unverified_claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a compact JWS");
    let bytes = URL_SAFE_NO_PAD
        .decode(payload)
        .expect("a base64url payload");
    serde_json::from_slice(&bytes).expect("a JSON payload")
}
