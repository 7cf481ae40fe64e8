//! Identifiers: the host app's user id and sessionward's session id.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use crate::secret::random_bytes;

/// Longest user id accepted, in bytes.
pub const MAX_USER_ID_LEN: usize = 256;

/// The host application's identifier for an account (database id, UUID, …).
///
/// Any non-empty UTF-8 string of at most [`MAX_USER_ID_LEN`] bytes without
/// control characters.
///
/// ```
/// use sessionward_core::UserId;
/// let alice = UserId::new("alice").unwrap();
/// assert_eq!(alice.as_str(), "alice");
/// assert!(UserId::new("").is_err());
/// assert!(UserId::new("bad\nid").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UserId(String);

/// Why a string was refused as an identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdError {
    /// The id was empty.
    #[error("identifier is empty")]
    Empty,
    /// The id was longer than allowed.
    #[error("identifier is longer than {max} bytes")]
    TooLong {
        /// The limit in bytes.
        max: usize,
    },
    /// The id contained a control character or was not in the expected alphabet.
    #[error("identifier contains a forbidden character")]
    BadCharacter,
}

impl UserId {
    /// Validates and wraps a user id.
    ///
    /// # Errors
    /// [`IdError`] when the id is empty, too long, or contains control characters.
    pub fn new(id: impl Into<String>) -> Result<Self, IdError> {
        let id = id.into();
        if id.is_empty() {
            return Err(IdError::Empty);
        }
        if id.len() > MAX_USER_ID_LEN {
            return Err(IdError::TooLong {
                max: MAX_USER_ID_LEN,
            });
        }
        if id.chars().any(char::is_control) {
            return Err(IdError::BadCharacter);
        }
        Ok(UserId(id))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for UserId {
    type Error = IdError;
    fn try_from(s: String) -> Result<Self, IdError> {
        UserId::new(s)
    }
}

impl From<UserId> for String {
    fn from(u: UserId) -> String {
        u.0
    }
}

impl fmt::Debug for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UserId({:?})", self.0)
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Longest app or tenant id accepted, in bytes.
pub const MAX_APP_ID_LEN: usize = 64;

/// Checks an app or tenant id: 1 to [`MAX_APP_ID_LEN`] ASCII letters,
/// digits, `.`, `_`, `-` or `:`. Such ids are stored beside sessions and
/// shown to their owners, so they are kept to a charset no store, log or
/// page has to escape.
fn checked_scope_id(id: String) -> Result<String, IdError> {
    if id.is_empty() {
        return Err(IdError::Empty);
    }
    if id.len() > MAX_APP_ID_LEN {
        return Err(IdError::TooLong {
            max: MAX_APP_ID_LEN,
        });
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':');
    if !id.chars().all(allowed) {
        return Err(IdError::BadCharacter);
    }
    Ok(id)
}

/// An id a session is scoped by ([`AppId`], [`TenantId`]).
macro_rules! scope_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Validates an id: 1 to [`MAX_APP_ID_LEN`] ASCII letters,
            /// digits, `.`, `_`, `-` or `:`.
            ///
            /// # Errors
            /// [`IdError`] when the text is empty, too long, or has a
            /// character outside the allowed set.
            pub fn new(id: impl Into<String>) -> Result<Self, IdError> {
                checked_scope_id(id.into()).map($name)
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(s: String) -> Result<Self, IdError> {
                $name::new(s)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({:?})"), self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

scope_id!(
    /// The host's name for one of its applications or OAuth clients
    /// ("web", "mobile", "admin-console"), so limits can differ per app
    /// ([`crate::SessionLimits::per_app`]).
    ///
    /// ```
    /// use sessionward_core::AppId;
    /// assert_eq!(AppId::new("mobile").unwrap().as_str(), "mobile");
    /// assert!(AppId::new("").is_err());
    /// assert!(AppId::new("two words").is_err());
    /// assert!(AppId::new("a".repeat(65)).is_err());
    /// ```
    AppId
);

scope_id!(
    /// The host's name for a customer organisation whose users share a
    /// seat count ([`crate::SessionLimits::per_tenant`]: "50 seats").
    ///
    /// ```
    /// use sessionward_core::TenantId;
    /// assert_eq!(TenantId::new("acme-corp").unwrap().to_string(), "acme-corp");
    /// assert!(TenantId::new("acme|corp").is_err());
    /// ```
    TenantId
);

/// Length of a session id in characters (16 random bytes, base64url).
pub const SESSION_ID_LEN: usize = 22;

/// A session identifier: 128 random bits from the OS CSPRNG, base64url text.
///
/// The id is not a credential on its own (it travels inside signed tokens and
/// is shown to its owner in the session list), but it is still never written
/// raw into security events: those carry a keyed hash
/// ([`crate::events::SessionHash`]).
///
/// ```
/// use sessionward_core::SessionId;
/// let a = SessionId::generate();
/// let b = SessionId::generate();
/// assert_ne!(a, b);
/// assert_eq!(SessionId::parse(a.as_str()).unwrap(), a);
/// assert!(SessionId::parse("../../etc/passwd").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SessionId(String);

impl SessionId {
    /// A fresh random id.
    pub fn generate() -> Self {
        SessionId(URL_SAFE_NO_PAD.encode(random_bytes::<16>()))
    }

    /// Parses an id produced by [`SessionId::generate`].
    ///
    /// # Errors
    /// [`IdError`] when the text is not 22 base64url characters.
    pub fn parse(text: &str) -> Result<Self, IdError> {
        if text.is_empty() {
            return Err(IdError::Empty);
        }
        if text.len() != SESSION_ID_LEN {
            return Err(IdError::TooLong {
                max: SESSION_ID_LEN,
            });
        }
        if !text.bytes().all(is_base64url_byte) {
            return Err(IdError::BadCharacter);
        }
        Ok(SessionId(text.to_owned()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whether `b` belongs to the unpadded base64url alphabet.
pub(crate) fn is_base64url_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

impl TryFrom<String> for SessionId {
    type Error = IdError;
    fn try_from(s: String) -> Result<Self, IdError> {
        SessionId::parse(&s)
    }
}

impl From<SessionId> for String {
    fn from(s: SessionId) -> String {
        s.0
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionId({})", self.0)
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    /// ASVS 7.2.3: reference tokens come from a CSPRNG with ≥ 128 bits and
    /// do not repeat (100 000 draws).
    #[test]
    fn session_ids_are_128_bit_and_unique() {
        let mut seen = HashSet::with_capacity(100_000);
        for _ in 0..100_000 {
            let id = SessionId::generate();
            assert_eq!(URL_SAFE_NO_PAD.decode(id.as_str()).unwrap().len(), 16);
            assert!(seen.insert(id));
        }
    }

    #[test]
    fn user_ids_are_validated() {
        assert_eq!(
            UserId::new("x".repeat(MAX_USER_ID_LEN + 1)),
            Err(IdError::TooLong {
                max: MAX_USER_ID_LEN
            })
        );
        assert_eq!(UserId::new("tab\tinside"), Err(IdError::BadCharacter));
        assert!(UserId::new("ünïcode@example.com").is_ok());
        assert!(SessionId::parse("AAAAAAAAAAAAAAAAAAAAA=").is_err());
        assert!(SessionId::parse("AAAAAAAAAAAAAAAAAAAAA+").is_err());
    }
}
