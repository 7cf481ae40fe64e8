//! A Shared Signals Framework 1.0 transmitter: tells other services —
//! sibling APIs that accept our access tokens, relying parties, a SIEM —
//! when a session here ends or a user's credential changes, as CAEP 1.0
//! events in signed Security Event Tokens (RFC 8417).
//!
//! - **Events.** Every session the manager ends becomes a
//!   `session-revoked` SET (the manager calls the transmitter through
//!   [`crate::signals::SessionSignals`]); [`Transmitter::credential_changed`]
//!   sends `credential-change` when the host app reports one. SETs are
//!   signed with the current key of the token configuration the
//!   transmitter is given (usually the manager's), which must be
//!   asymmetric (EdDSA or ES256) so that receivers can verify them from
//!   the key set served at `<prefix>/ssf/jwks`.
//! - **Streams.** Receivers manage their own streams through the SSF
//!   configuration, status and verification endpoints
//!   (`<prefix>/ssf/stream`, `/ssf/status`, `/ssf/verify`), found from
//!   `/.well-known/ssf-configuration`; each request is authenticated by a
//!   [`ReceiverAuthorizer`] the host app supplies.
//! - **Delivery.** Push (RFC 8935) through a [`SetPusher`], or poll
//!   (RFC 8936) at `<prefix>/ssf/poll/<stream_id>`. Every SET is written to
//!   an outbox ([`SsfStore`]) before anything is sent; a push is retried
//!   with backoff until the receiver accepts it, refuses it for good, or
//!   the SET is older than [`TransmitterConfig::retention`]; a poll hands
//!   SETs out until they are acknowledged. A receiver outage loses nothing.
//!
//! The outbox is a store of its own: [`MemorySsfStore`] for one process,
//! and the SQL and Redis stores of this workspace for durable, shared
//! outboxes. Run [`Transmitter::deliver_due`] on a timer (or
//! [`Transmitter::spawn_delivery`]) on any number of instances: a pushed
//! SET is leased to one instance at a time.
//!
//! ```
//! use std::sync::Arc;
//! use sessionward_core::ssf::{MemorySsfStore, StaticReceivers, Transmitter, TransmitterConfig};
//! use sessionward_core::tokens::{SigningKey, TokenConfig};
//!
//! # let private_pem = b"-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIAu4kvONBI0rvWwzTSUhq3OYVJCsNrGtPattak6QO92R\n-----END PRIVATE KEY-----\n";
//! # let public_pem = b"-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAnrLcslPdNI2dBAjdFxGNBszkLFjU51R8vxN1KooJFck=\n-----END PUBLIC KEY-----\n";
//! let tokens = TokenConfig::builder("https://auth.example.com", "example-api")
//!     .signing_key(SigningKey::ed25519_pem("2026-12", private_pem, public_pem).unwrap())
//!     .refresh_key([9u8; 32])
//!     .build()
//!     .unwrap();
//! let receivers = StaticReceivers::new()
//!     .with("billing", "https://billing.example.com", "a long random bearer secret")
//!     .unwrap();
//! let transmitter = Transmitter::builder(
//!     TransmitterConfig::new("https://auth.example.com").unwrap(),
//!     tokens,
//!     Arc::new(MemorySsfStore::new()),
//!     Arc::new(receivers),
//! )
//! .build()
//! .unwrap();
//! assert_eq!(transmitter.issuer(), "https://auth.example.com");
//! ```

use std::time::Duration;

mod config;
mod delivery;
mod memory;
mod poll;
mod receivers;
mod set;
mod store;
mod stream;
#[cfg(test)]
mod tests;
mod transmitter;

pub use crate::provider::{
    CAEP_CREDENTIAL_CHANGE, CAEP_SESSION_REVOKED, SET_TYP, SSF_VERIFICATION,
};
pub use config::{TransmitterConfig, TransmitterConfigError};
pub use delivery::{DeliveryReport, PushOutcome, SetPusher};
pub use memory::MemorySsfStore;
pub use receivers::{
    MIN_RECEIVER_SECRET_LEN, Receiver, ReceiverAuthorizer, ReceiverError, StaticReceivers,
};
pub use store::{OutboxItem, SsfStore, StreamWrite};
pub use stream::{Delivery, PushAuthorization, StreamRecord, StreamStatus};
pub use transmitter::{SsfError, Transmitter, TransmitterBuilder};

/// The delivery `method` of push (RFC 8935).
pub const PUSH_DELIVERY: &str = "urn:ietf:rfc:8935";
/// The delivery `method` of poll (RFC 8936).
pub const POLL_DELIVERY: &str = "urn:ietf:rfc:8936";
/// The `spec_version` of the transmitter metadata.
pub const SSF_SPEC_VERSION: &str = "1_0";
/// The events a stream may ask for (verification is always delivered).
pub const EVENTS_SUPPORTED: [&str; 2] = [CAEP_SESSION_REVOKED, CAEP_CREDENTIAL_CHANGE];

/// At most this many streams in one transmitter.
pub const MAX_STREAMS: usize = 256;
/// At most this many streams per receiver (a `409` beyond).
pub const MAX_STREAMS_PER_RECEIVER: usize = 8;
/// Most SETs one poll answer carries.
pub const MAX_POLL_EVENTS: usize = 256;
/// Most SETs one delivery pass leases per stream.
pub const PUSH_BATCH: usize = 32;

/// Default [`TransmitterConfig::retention`]: a SET nobody took within three
/// days is dropped (with an error log and a metric).
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(3 * 24 * 3600);
