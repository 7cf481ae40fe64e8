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
