//! Who may manage streams and poll: the receivers the host app knows.

use std::fmt;

use async_trait::async_trait;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// An authenticated receiver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receiver {
    /// A stable name; it owns the streams it creates and sees no others.
    pub id: String,
    /// The `aud` of the SETs its streams carry.
    pub audience: String,
}

/// Decides who calls the SSF endpoints (stream configuration, status,
/// verification, poll) from the request's `Authorization` header. Host
/// apps usually check an OAuth access token here; [`StaticReceivers`]
/// takes fixed bearer secrets.
#[async_trait]
pub trait ReceiverAuthorizer: Send + Sync + 'static {
    /// The receiver `authorization` (the header's value) proves, or
    /// `None` (answered `401`).
    async fn authorize(&self, authorization: Option<&str>) -> Option<Receiver>;
}

/// Receivers with fixed bearer secrets (`Authorization: Bearer <secret>`),
/// kept as SHA-256 hashes and compared in constant time.
#[derive(Clone, Default)]
pub struct StaticReceivers {
    receivers: Vec<(Receiver, [u8; 32])>,
}

impl fmt::Debug for StaticReceivers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids: Vec<&str> = self.receivers.iter().map(|(r, _)| r.id.as_str()).collect();
        f.debug_struct("StaticReceivers")
            .field("receivers", &ids)
            .finish_non_exhaustive()
    }
}

/// Shortest bearer secret taken.
pub const MIN_RECEIVER_SECRET_LEN: usize = 20;

/// Why a receiver was not added.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReceiverError {
    /// The id or audience is empty, over 255 bytes, or not visible ASCII.
    #[error("receiver id and audience must be 1 to 255 visible ASCII characters")]
    BadName,
    /// The secret is shorter than [`MIN_RECEIVER_SECRET_LEN`].
    #[error("the receiver secret must be at least 20 bytes")]
    WeakSecret,
    /// The id is taken.
    #[error("a receiver with this id exists")]
    Duplicate,
}

fn visible(text: &str) -> bool {
    !text.is_empty() && text.len() <= 255 && text.bytes().all(|b| b.is_ascii_graphic())
}

impl StaticReceivers {
    /// No receivers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds receiver `id`, whose SETs carry `aud` `audience`, known by
    /// the bearer `secret`.
    ///
    /// ```
    /// use sessionward_core::ssf::StaticReceivers;
    /// let receivers = StaticReceivers::new()
    ///     .with("billing", "https://billing.example.com", "a long random bearer secret")
    ///     .unwrap();
    /// assert!(!format!("{receivers:?}").contains("bearer secret"));
    /// assert!(StaticReceivers::new().with("x", "y", "short").is_err());
    /// ```
    ///
    /// # Errors
    /// [`ReceiverError`].
    pub fn with(mut self, id: &str, audience: &str, secret: &str) -> Result<Self, ReceiverError> {
        if !visible(id) || !visible(audience) {
            return Err(ReceiverError::BadName);
        }
        if secret.len() < MIN_RECEIVER_SECRET_LEN {
            return Err(ReceiverError::WeakSecret);
        }
        if self.receivers.iter().any(|(r, _)| r.id == id) {
            return Err(ReceiverError::Duplicate);
        }
        let receiver = Receiver {
            id: id.to_owned(),
            audience: audience.to_owned(),
        };
        self.receivers
            .push((receiver, Sha256::digest(secret.as_bytes()).into()));
        Ok(self)
    }
}

#[async_trait]
impl ReceiverAuthorizer for StaticReceivers {
    async fn authorize(&self, authorization: Option<&str>) -> Option<Receiver> {
        let (scheme, secret) = authorization?.trim().split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return None;
        }
        let presented: [u8; 32] = Sha256::digest(secret.trim().as_bytes()).into();
        // Every entry is compared, so the time does not tell which matched.
        let mut found = None;
        for (receiver, hash) in &self.receivers {
            if bool::from(hash.ct_eq(&presented)) {
                found = Some(receiver.clone());
            }
        }
        found
    }
}
