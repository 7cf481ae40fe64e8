//! Secret material: newtypes with redacted `Debug`, constant-time comparison,
//! and the SHA-256 digests that stores keep instead of the secrets.

use std::fmt;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// `N` bytes from the operating system's CSPRNG.
///
/// # Panics
/// Panics if the OS random source fails: continuing without randomness
/// would mint guessable tokens, so this fails closed.
pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    #[allow(clippy::expect_used)]
    getrandom::fill(&mut buf).expect("OS random number generator failed");
    buf
}

macro_rules! secret_string {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone)]
        pub struct $name(String);

        impl $name {
            /// Wraps a raw secret received from a client or minted by sessionward.
            pub fn new(secret: impl Into<String>) -> Self {
                $name(secret.into())
            }

            /// The raw secret, for putting on the wire. Never log it.
            pub fn expose_secret(&self) -> &str {
                &self.0
            }

            /// Consumes the wrapper and returns the raw secret.
            pub fn into_secret(self) -> String {
                self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "([redacted])"))
            }
        }

        impl PartialEq for $name {
            fn eq(&self, other: &Self) -> bool {
                self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
            }
        }

        impl Eq for $name {}
    };
}

secret_string!(
    /// A signed JWT access token. `Debug` prints `AccessToken([redacted])`.
    ///
    /// ```
    /// use sessionward_core::AccessToken;
    /// let t = AccessToken::new("eyJ...");
    /// assert_eq!(format!("{t:?}"), "AccessToken([redacted])");
    /// ```
    AccessToken
);

secret_string!(
    /// An opaque refresh token (≥ 256 random bits). `Debug` prints
    /// `RefreshToken([redacted])`; stores keep only its [`TokenHash`].
    ///
    /// ```
    /// use sessionward_core::RefreshToken;
    /// let t = RefreshToken::new("swrt1.secret");
    /// assert!(!format!("{t:?}").contains("secret"));
    /// ```
    RefreshToken
);

secret_string!(
    /// A signed single-use action token (for example the "this wasn't me" link).
    ActionToken
);

secret_string!(
    /// A signed, single-use, short-lived ticket to finish a login refused
    /// at a session limit by ending some of the user's sessions
    /// ([`crate::SessionManager::continue_login`]). A credential for this
    /// one pending login: never log it.
    ContinuationTicket
);

/// The SHA-256 digest of a secret. Equality is constant-time; `Debug` shows
/// only that it is a hash.
///
/// ```
/// use sessionward_core::TokenHash;
/// let a = TokenHash::of(b"secret");
/// assert_eq!(a, TokenHash::of(b"secret"));
/// assert_ne!(a, TokenHash::of(b"other"));
/// assert_eq!(TokenHash::from_hex(&a.to_hex()).unwrap(), a);
/// ```
#[derive(Clone, Copy)]
pub struct TokenHash([u8; 32]);

impl TokenHash {
    /// SHA-256 of `secret`.
    pub fn of(secret: &[u8]) -> Self {
        TokenHash(Sha256::digest(secret).into())
    }

    /// Wraps digest bytes read back from a store.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        TokenHash(bytes)
    }

    /// The digest bytes, for a store to persist.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Lower-case hex, for stores that keep text.
    pub fn to_hex(&self) -> String {
        hex_encode(&self.0)
    }

    /// Parses 64 hex characters.
    ///
    /// # Errors
    /// Returns `None` when the text is not 64 hex digits.
    pub fn from_hex(text: &str) -> Option<Self> {
        let bytes = text.as_bytes();
        if bytes.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, pair) in bytes.chunks_exact(2).enumerate() {
            let hi = hex_value(pair[0])?;
            let lo = hex_value(pair[1])?;
            out[i] = (hi << 4) | lo;
        }
        Some(TokenHash(out))
    }
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Lower-case hex of `bytes`.
pub(crate) fn hex_encode(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 0x0f)] as char);
    }
    s
}

impl PartialEq for TokenHash {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl Eq for TokenHash {}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenHash([sha256])")
    }
}
