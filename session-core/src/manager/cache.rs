//! The cached revocation view: an in-process map of session states kept
//! current by the store's push feed.
//!
//! Safety rules:
//! - Only a `Live` entry fetched from the store lets a request through
//!   without a store read, and only while the feed is connected and the
//!   entry is younger than `max_staleness`.
//! - Every revocation message, (re)connection and disconnection bumps an
//!   epoch; a store read started before a bump is not cached, so a read that
//!   raced a revocation can never plant a stale "active" entry.
//! - When the feed is down, nothing is served from the view.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

use crate::ids::SessionId;
use crate::record::SessionRecord;
use crate::store::{FeedEvent, RevocationFeed};
use crate::time::{Clock, Timestamp};

enum Entry {
    Live {
        record: Arc<SessionRecord>,
        fetched_at: Timestamp,
    },
    Revoked {
        until: Timestamp,
    },
}

/// The answer of a cache lookup.
pub(super) enum Lookup {
    /// Fresh state from the store, usable without a read.
    Live(Arc<SessionRecord>),
    /// Known revoked.
    Revoked,
    /// Ask the store.
    Miss,
}

pub(super) struct RevocationCache {
    entries: RwLock<HashMap<SessionId, Entry>>,
    connected: AtomicBool,
    epoch: AtomicU64,
    max_staleness: Duration,
    capacity: usize,
    tombstone_ttl: Duration,
}

impl RevocationCache {
    pub(super) fn new(max_staleness: Duration, capacity: usize, access_ttl: Duration) -> Self {
        RevocationCache {
            entries: RwLock::new(HashMap::new()),
            connected: AtomicBool::new(false),
            epoch: AtomicU64::new(0),
            max_staleness,
            capacity,
            tombstone_ttl: access_ttl,
        }
    }

    pub(super) fn is_connected(&self) -> bool {
        self.connected.load(Ordering::SeqCst)
    }

    pub(super) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::SeqCst)
    }

    pub(super) fn lookup(&self, id: &SessionId, now: Timestamp) -> Lookup {
        if !self.is_connected() {
            return Lookup::Miss;
        }
        let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
        match entries.get(id) {
            Some(Entry::Revoked { .. }) => Lookup::Revoked,
            Some(Entry::Live { record, fetched_at })
                if now.since(*fetched_at) < self.max_staleness =>
            {
                Lookup::Live(record.clone())
            }
            _ => Lookup::Miss,
        }
    }

    /// Caches a store read that started at `epoch`, unless anything changed since.
    pub(super) fn insert_live(
        &self,
        record: Arc<SessionRecord>,
        fetched_at: Timestamp,
        epoch: u64,
    ) {
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        if !self.is_connected() || self.epoch() != epoch {
            return;
        }
        if matches!(entries.get(&record.id), Some(Entry::Revoked { .. })) {
            return;
        }
        if entries.len() >= self.capacity {
            // Dropping entries only costs store reads: nothing is accepted
            // without a Live entry, and the epoch guards in-flight reads.
            entries.clear();
            self.epoch.fetch_add(1, Ordering::SeqCst);
            return;
        }
        entries.insert(record.id.clone(), Entry::Live { record, fetched_at });
    }

    pub(super) fn remove_live(&self, id: &SessionId) {
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        if matches!(entries.get(id), Some(Entry::Live { .. })) {
            entries.remove(id);
        }
    }

    pub(super) fn mark_revoked(&self, id: &SessionId, now: Timestamp) {
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        self.epoch.fetch_add(1, Ordering::SeqCst);
        entries.retain(|_, e| !matches!(e, Entry::Revoked { until } if *until <= now));
        if entries.len() >= self.capacity {
            entries.clear();
        }
        entries.insert(
            id.clone(),
            Entry::Revoked {
                until: now.plus(self.tombstone_ttl),
            },
        );
    }

    fn reset(&self, connected: bool) {
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        self.epoch.fetch_add(1, Ordering::SeqCst);
        entries.clear();
        self.connected.store(connected, Ordering::SeqCst);
    }
}

/// Listens to the feed for as long as the cache lives, resubscribing with
/// backoff; the cache counts as disconnected between subscriptions.
pub(super) async fn listen(
    cache: Weak<RevocationCache>,
    feed: Arc<dyn RevocationFeed>,
    clock: Arc<dyn Clock>,
) {
    let mut backoff = Duration::from_millis(50);
    loop {
        match feed.subscribe().await {
            Ok(mut rx) => {
                while let Some(event) = rx.recv().await {
                    let Some(cache) = cache.upgrade() else { return };
                    #[cfg(feature = "metrics")]
                    crate::metrics::feed(&event, clock.now());
                    match event {
                        FeedEvent::Connected => {
                            cache.reset(true);
                            backoff = Duration::from_millis(50);
                        }
                        FeedEvent::Disconnected => cache.reset(false),
                        FeedEvent::Revoked { id, .. } => cache.mark_revoked(&id, clock.now()),
                    }
                }
            }
            Err(e) => {
                tracing::warn!(target: "sessionward::cache", error = %e, "revocation feed subscription failed")
            }
        }
        let Some(c) = cache.upgrade() else { return };
        c.reset(false);
        drop(c);
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}
