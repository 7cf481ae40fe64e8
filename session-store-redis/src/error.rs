//! Mapping redis-rs errors onto [`StoreError`] categories.

use redis::{ErrorKind, RedisError, ServerErrorKind};
use sessionward_core::StoreError;

/// Errors of this crate that are not Redis errors.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RedisStoreError {
    /// The key prefix contains a character that would break the key layout.
    #[error(
        "invalid key prefix: at most 64 bytes, no whitespace, control characters, braces or glob characters"
    )]
    InvalidPrefix,
    /// No cluster node address was given.
    #[error("no cluster node given")]
    NoClusterNodes,
    /// An operation did not finish within the configured time.
    #[error("redis operation timed out while {0}")]
    Timeout(&'static str),
    /// A script answered with a reply this crate does not understand.
    #[error("unexpected script reply")]
    UnexpectedReply,
    /// [`RedisStoreConfig::with_replica_acks`](crate::RedisStoreConfig::with_replica_acks)
    /// was given settings that cannot work (see its documentation).
    #[error("invalid replica acknowledgement settings: {0}")]
    InvalidReplicaAcks(&'static str),
    /// A revoking write was applied on the primary, but fewer replicas than
    /// configured acknowledged it within the `WAIT` timeout: a failover now
    /// could lose it. The call fails closed; retrying it is safe.
    #[error(
        "revoking write acknowledged by {got} of the {wanted} replicas required within the WAIT timeout"
    )]
    ReplicaAcksMissing {
        /// Replicas required ([`RedisStoreConfig::with_replica_acks`](crate::RedisStoreConfig::with_replica_acks)).
        wanted: u32,
        /// Replicas that acknowledged (the reply of `WAIT`).
        got: u64,
    },
    /// The connection was replaced (reconnect, or a cluster slot moved)
    /// between a revoking write and its `WAIT`, so `WAIT` could not count
    /// that write: its replication is unknown. The call fails closed;
    /// retrying it is safe.
    #[error(
        "connection changed between a revoking write and its WAIT: replica acknowledgement unknown"
    )]
    ReplicaAcksUnknown,
}

/// Categorises a Redis error: connection-level failures and cluster states
/// that heal by themselves are [`StoreError::Unavailable`].
pub(crate) fn map_err(e: RedisError) -> StoreError {
    let unavailable = e.is_io_error()
        || e.is_timeout()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || matches!(
            e.kind(),
            ErrorKind::ClusterConnectionNotFound
                | ErrorKind::Server(
                    ServerErrorKind::BusyLoading
                        | ServerErrorKind::TryAgain
                        | ServerErrorKind::ClusterDown
                        | ServerErrorKind::MasterDown
                        | ServerErrorKind::ReadOnly
                )
        );
    if unavailable {
        StoreError::Unavailable(Box::new(e))
    } else {
        StoreError::Backend(Box::new(e))
    }
}

/// The [`StoreError::Unavailable`] for an operation that ran out of time.
pub(crate) fn timed_out(what: &'static str) -> StoreError {
    StoreError::Unavailable(Box::new(RedisStoreError::Timeout(what)))
}
