//! An outbox in this process's memory.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;

use super::store::{OutboxItem, SsfStore, StreamWrite};
use super::stream::StreamRecord;
use crate::store::StoreError;
use crate::time::Timestamp;

/// Streams and queued SETs in memory: for one instance, and for tests.
/// Everything is lost with the process; use a SQL or Redis store for an
/// outbox that outlives it.
#[derive(Debug, Default)]
pub struct MemorySsfStore {
    inner: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// By id, with a creation counter for the order.
    streams: BTreeMap<String, (u64, StreamRecord)>,
    created: u64,
    /// By stream, then (queued at, jti) for the oldest-first order.
    outbox: BTreeMap<String, BTreeMap<(Timestamp, String), OutboxItem>>,
}

impl MemorySsfStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[async_trait]
impl SsfStore for MemorySsfStore {
    async fn create_stream(&self, stream: &StreamRecord) -> Result<(), StoreError> {
        let mut state = self.state();
        if state.streams.contains_key(&stream.id) {
            return Err(StoreError::IdTaken);
        }
        state.created += 1;
        let order = state.created;
        let mut stream = stream.clone();
        stream.version = 1;
        state.streams.insert(stream.id.clone(), (order, stream));
        Ok(())
    }

    async fn stream(&self, id: &str) -> Result<Option<StreamRecord>, StoreError> {
        Ok(self.state().streams.get(id).map(|(_, s)| s.clone()))
    }

    async fn streams(&self) -> Result<Vec<StreamRecord>, StoreError> {
        let state = self.state();
        let mut all: Vec<_> = state.streams.values().cloned().collect();
        all.sort_by_key(|(order, _)| *order);
        Ok(all.into_iter().map(|(_, s)| s).collect())
    }

    async fn replace_stream(
        &self,
        stream: &StreamRecord,
        read_version: u64,
    ) -> Result<StreamWrite, StoreError> {
        let mut state = self.state();
        match state.streams.get_mut(&stream.id) {
            Some((_, current)) if current.version == read_version => {
                *current = stream.clone();
                current.version = read_version + 1;
                Ok(StreamWrite::Done)
            }
            _ => Ok(StreamWrite::Stale),
        }
    }

    async fn delete_stream(&self, id: &str) -> Result<bool, StoreError> {
        let mut state = self.state();
        state.outbox.remove(id);
        Ok(state.streams.remove(id).is_some())
    }

    async fn enqueue(&self, items: &[OutboxItem]) -> Result<(), StoreError> {
        let mut state = self.state();
        for item in items {
            if !state.streams.contains_key(&item.stream) {
                continue;
            }
            let queue = state.outbox.entry(item.stream.clone()).or_default();
            if queue.values().any(|q| q.jti == item.jti) {
                continue;
            }
            queue.insert((item.created_at, item.jti.clone()), item.clone());
        }
        Ok(())
    }

    async fn claim_due(
        &self,
        stream: &str,
        now: Timestamp,
        lease_until: Timestamp,
        limit: usize,
    ) -> Result<Vec<OutboxItem>, StoreError> {
        let mut state = self.state();
        let Some(queue) = state.outbox.get_mut(stream) else {
            return Ok(Vec::new());
        };
        Ok(queue
            .values_mut()
            .filter(|item| item.available_at <= now)
            .take(limit)
            .map(|item| {
                item.available_at = lease_until;
                item.clone()
            })
            .collect())
    }

    async fn pending(&self, stream: &str, limit: usize) -> Result<Vec<OutboxItem>, StoreError> {
        let state = self.state();
        Ok(state
            .outbox
            .get(stream)
            .map(|q| q.values().take(limit).cloned().collect())
            .unwrap_or_default())
    }

    async fn remove(&self, stream: &str, jtis: &[String]) -> Result<usize, StoreError> {
        let mut state = self.state();
        let Some(queue) = state.outbox.get_mut(stream) else {
            return Ok(0);
        };
        let before = queue.len();
        queue.retain(|(_, jti), _| !jtis.contains(jti));
        Ok(before - queue.len())
    }

    async fn retry_later(
        &self,
        item: &OutboxItem,
        retry_at: Timestamp,
    ) -> Result<StreamWrite, StoreError> {
        let mut state = self.state();
        let key = (item.created_at, item.jti.clone());
        match state
            .outbox
            .get_mut(&item.stream)
            .and_then(|q| q.get_mut(&key))
        {
            Some(current)
                if current.available_at == item.available_at
                    && current.attempts == item.attempts =>
            {
                current.attempts = item.attempts.saturating_add(1);
                current.available_at = retry_at;
                Ok(StreamWrite::Done)
            }
            _ => Ok(StreamWrite::Stale),
        }
    }

    async fn remove_older(&self, stream: &str, before: Timestamp) -> Result<usize, StoreError> {
        let mut state = self.state();
        let Some(queue) = state.outbox.get_mut(stream) else {
            return Ok(0);
        };
        let n = queue.len();
        queue.retain(|(at, _), _| *at >= before);
        Ok(n - queue.len())
    }
}
