//! Signing keys, each pinned to exactly one algorithm and named by `kid`.

use std::collections::HashMap;
use std::fmt;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};

/// Shortest HMAC secret accepted, in bytes (RFC 8725 §3.5; the OWASP JWT
/// cheat sheet asks for at least 64 characters of random text).
pub const MIN_HMAC_SECRET_LEN: usize = 32;

/// Longest `kid` accepted, in bytes.
pub const MAX_KID_LEN: usize = 64;

/// The JWS algorithms sessionward signs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum JwtAlgorithm {
    /// HMAC-SHA256 with a shared secret.
    HS256,
    /// ECDSA P-256 with SHA-256.
    ES256,
    /// Ed25519.
    EdDSA,
}

impl JwtAlgorithm {
    /// The `alg` header value.
    pub fn name(self) -> &'static str {
        match self {
            JwtAlgorithm::HS256 => "HS256",
            JwtAlgorithm::ES256 => "ES256",
            JwtAlgorithm::EdDSA => "EdDSA",
        }
    }

    pub(crate) fn jsonwebtoken(self) -> Algorithm {
        match self {
            JwtAlgorithm::HS256 => Algorithm::HS256,
            JwtAlgorithm::ES256 => Algorithm::ES256,
            JwtAlgorithm::EdDSA => Algorithm::EdDSA,
        }
    }
}

/// Why a key was refused at configuration time.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The HMAC secret is shorter than [`MIN_HMAC_SECRET_LEN`].
    #[error("HMAC secret must be at least {MIN_HMAC_SECRET_LEN} bytes of random data")]
    WeakSecret,
    /// The `kid` is empty, too long, or not `[A-Za-z0-9._-]`.
    #[error("key id must be 1..={MAX_KID_LEN} characters of [A-Za-z0-9._-]")]
    BadKid,
    /// The PEM text did not hold a key of the expected kind.
    #[error("invalid key material")]
    InvalidKey(#[source] jsonwebtoken::errors::Error),
}

/// A verification key: an algorithm, a `kid`, and the key itself.
#[derive(Clone)]
pub struct VerifyingKey {
    kid: String,
    alg: JwtAlgorithm,
    key: DecodingKey,
    /// The raw public key of an asymmetric key (32 bytes for Ed25519, the
    /// 65-byte uncompressed point for P-256), for its JWK; never a secret.
    public: Option<Vec<u8>>,
}

/// A key that signs new tokens (and verifies them).
#[derive(Clone)]
pub struct SigningKey {
    verifying: VerifyingKey,
    key: EncodingKey,
}

fn check_kid(kid: &str) -> Result<String, KeyError> {
    let ok = !kid.is_empty()
        && kid.len() <= MAX_KID_LEN
        && kid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-');
    if ok {
        Ok(kid.to_owned())
    } else {
        Err(KeyError::BadKid)
    }
}

impl SigningKey {
    /// An HS256 key from a random secret of at least [`MIN_HMAC_SECRET_LEN`] bytes.
    ///
    /// ```
    /// use sessionward_core::tokens::SigningKey;
    /// assert!(SigningKey::hs256("k1", b"too short").is_err());
    /// let key = SigningKey::hs256("k1", &[7u8; 32]).unwrap();
    /// assert_eq!(key.kid(), "k1");
    /// ```
    ///
    /// # Errors
    /// [`KeyError::WeakSecret`] or [`KeyError::BadKid`].
    pub fn hs256(kid: &str, secret: &[u8]) -> Result<Self, KeyError> {
        if secret.len() < MIN_HMAC_SECRET_LEN {
            return Err(KeyError::WeakSecret);
        }
        let kid = check_kid(kid)?;
        Ok(SigningKey {
            key: EncodingKey::from_secret(secret).map_err(KeyError::InvalidKey)?,
            verifying: VerifyingKey {
                kid,
                alg: JwtAlgorithm::HS256,
                key: DecodingKey::from_secret(secret).map_err(KeyError::InvalidKey)?,
                public: None,
            },
        })
    }

    /// An Ed25519 (EdDSA) key from a PKCS#8 private key PEM and its SPKI public key PEM.
    ///
    /// # Errors
    /// [`KeyError::InvalidKey`] or [`KeyError::BadKid`].
    pub fn ed25519_pem(kid: &str, private_pem: &[u8], public_pem: &[u8]) -> Result<Self, KeyError> {
        Ok(SigningKey {
            key: EncodingKey::from_ed_pem(private_pem).map_err(KeyError::InvalidKey)?,
            verifying: VerifyingKey::ed25519_pem(kid, public_pem)?,
        })
    }

    /// An ES256 key from a PKCS#8 private key PEM and its SPKI public key PEM.
    ///
    /// # Errors
    /// [`KeyError::InvalidKey`] or [`KeyError::BadKid`].
    pub fn es256_pem(kid: &str, private_pem: &[u8], public_pem: &[u8]) -> Result<Self, KeyError> {
        Ok(SigningKey {
            key: EncodingKey::from_ec_pem(private_pem).map_err(KeyError::InvalidKey)?,
            verifying: VerifyingKey::es256_pem(kid, public_pem)?,
        })
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.verifying.kid
    }

    /// The one algorithm this key is used with.
    pub fn algorithm(&self) -> JwtAlgorithm {
        self.verifying.alg
    }

    /// The verification half.
    pub fn verifying_key(&self) -> &VerifyingKey {
        &self.verifying
    }

    pub(crate) fn encoding_key(&self) -> &EncodingKey {
        &self.key
    }
}

impl VerifyingKey {
    /// An Ed25519 public key (SPKI PEM), for tokens signed elsewhere or by a retired key.
    ///
    /// # Errors
    /// [`KeyError::InvalidKey`] or [`KeyError::BadKid`].
    pub fn ed25519_pem(kid: &str, public_pem: &[u8]) -> Result<Self, KeyError> {
        Ok(VerifyingKey {
            kid: check_kid(kid)?,
            alg: JwtAlgorithm::EdDSA,
            key: DecodingKey::from_ed_pem(public_pem).map_err(KeyError::InvalidKey)?,
            public: super::jwks::spki_public_key(public_pem, JwtAlgorithm::EdDSA),
        })
    }

    /// An ES256 public key (SPKI PEM).
    ///
    /// # Errors
    /// [`KeyError::InvalidKey`] or [`KeyError::BadKid`].
    pub fn es256_pem(kid: &str, public_pem: &[u8]) -> Result<Self, KeyError> {
        Ok(VerifyingKey {
            kid: check_kid(kid)?,
            alg: JwtAlgorithm::ES256,
            key: DecodingKey::from_ec_pem(public_pem).map_err(KeyError::InvalidKey)?,
            public: super::jwks::spki_public_key(public_pem, JwtAlgorithm::ES256),
        })
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The one algorithm this key accepts.
    pub fn algorithm(&self) -> JwtAlgorithm {
        self.alg
    }

    pub(crate) fn decoding_key(&self) -> &DecodingKey {
        &self.key
    }

    /// The raw public key, for asymmetric keys given as SPKI PEM.
    pub(super) fn public_key(&self) -> Option<&[u8]> {
        self.public.as_deref()
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.verifying.kid)
            .field("alg", &self.verifying.alg)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

/// The signing key plus every key still accepted for verification, by `kid`.
#[derive(Clone, Debug)]
pub(crate) struct KeySet {
    pub(crate) signing: SigningKey,
    pub(crate) verifying: HashMap<String, VerifyingKey>,
}
