//! Where streams and undelivered SETs are kept: the transmitter's outbox.

use async_trait::async_trait;

use super::stream::StreamRecord;
use crate::store::StoreError;
use crate::time::Timestamp;

/// One signed SET waiting for one stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxItem {
    /// The stream it is for.
    pub stream: String,
    /// Its `jti` (unique per stream).
    pub jti: String,
    /// The compact, signed SET.
    pub set: String,
    /// When it was queued (its age decides [`super::TransmitterConfig::retention`]).
    pub created_at: Timestamp,
    /// Not pushed before this: the next retry, or a delivery lease.
    pub available_at: Timestamp,
    /// Failed pushes so far.
    pub attempts: u32,
}

/// The outcome of a conditional stream write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamWrite {
    /// Written.
    Done,
    /// The stream is gone, or changed since it was read: nothing written.
    Stale,
}

/// Streams and their outbox. Each method is one atomic step; every write
/// after a read is conditional on what the read saw (a stream's
/// `version`, an item's `available_at` and `attempts`), so that any number
/// of transmitter instances may share one store.
///
/// Implemented by [`super::MemorySsfStore`] and the SQL and Redis stores;
/// the `testing` module's `ssf_store_conformance_tests!` checks an
/// implementation.
#[async_trait]
pub trait SsfStore: Send + Sync + 'static {
    /// Adds a new stream (its `version` is 1). [`StoreError::IdTaken`]
    /// when the id exists.
    async fn create_stream(&self, stream: &StreamRecord) -> Result<(), StoreError>;

    /// The stream `id`.
    async fn stream(&self, id: &str) -> Result<Option<StreamRecord>, StoreError>;

    /// Every stream, oldest first (at most [`super::MAX_STREAMS`]).
    async fn streams(&self) -> Result<Vec<StreamRecord>, StoreError>;

    /// Replaces the stream when its stored version is still `read_version`;
    /// `stream.version` must be `read_version + 1`.
    async fn replace_stream(
        &self,
        stream: &StreamRecord,
        read_version: u64,
    ) -> Result<StreamWrite, StoreError>;

    /// Deletes the stream and its queued SETs; whether it existed.
    async fn delete_stream(&self, id: &str) -> Result<bool, StoreError>;

    /// Queues SETs (an item whose stream and `jti` are already queued is
    /// left as it is). Items for a stream that no longer exists are
    /// dropped.
    async fn enqueue(&self, items: &[OutboxItem]) -> Result<(), StoreError>;

    /// Leases up to `limit` of the stream's items that are available at
    /// `now` (oldest first) until `lease_until`, and returns them as they
    /// are after the lease. An item another caller leased first is not
    /// returned.
    async fn claim_due(
        &self,
        stream: &str,
        now: Timestamp,
        lease_until: Timestamp,
        limit: usize,
    ) -> Result<Vec<OutboxItem>, StoreError>;

    /// Up to `limit` of the stream's items, oldest first, whatever their
    /// lease (what a poll hands out).
    async fn pending(&self, stream: &str, limit: usize) -> Result<Vec<OutboxItem>, StoreError>;

    /// Removes the stream's items named by `jtis` (delivered, acknowledged
    /// or refused for good); how many were there.
    async fn remove(&self, stream: &str, jtis: &[String]) -> Result<usize, StoreError>;

    /// Records a failed push of `item` (as claimed): `attempts + 1`, next
    /// try at `retry_at`; only when the item is still as claimed (not
    /// removed, not leased again).
    async fn retry_later(
        &self,
        item: &OutboxItem,
        retry_at: Timestamp,
    ) -> Result<StreamWrite, StoreError>;

    /// Removes the stream's items queued before `before`; how many.
    async fn remove_older(&self, stream: &str, before: Timestamp) -> Result<usize, StoreError>;
}
