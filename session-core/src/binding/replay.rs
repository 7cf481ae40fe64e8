//! The record of single-use values (DPoP `jti`s), shared by instances.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use crate::risk::RiskStore;
use crate::secret::TokenHash;
use crate::store::StoreError;
use crate::time::Timestamp;

/// Default capacity of [`MemoryReplayStore`].
pub const DEFAULT_REPLAY_CAPACITY: usize = 100_000;

/// A single-use value as stores keep it: the hex SHA-256 of its purpose,
/// the key thumbprint and the value, so no proof content is stored.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ReplayKey(String);

impl ReplayKey {
    /// The key for `value` of `purpose` (`"dpop"`) signed by key `jkt`.
    pub fn new(purpose: &str, jkt: &str, value: &str) -> Self {
        let text = format!("sessionward-replay:{purpose}:{jkt}:{value}");
        ReplayKey(TokenHash::of(text.as_bytes()).to_hex())
    }

    /// 64 lower-case hex digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ReplayKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ReplayKey({}…)", &self.0[..8])
    }
}

/// Records single-use values so each is accepted once, across every
/// instance that shares the store.
///
/// Every backend provides one through [`crate::SessionStore::replay_store`]
/// ([`replay_via`] its single-use record: an insert into a table keyed by
/// the value on SQLite, Postgres and MySQL, `SET NX PX` on Redis), which
/// the manager uses unless given another with
/// [`crate::SessionManagerBuilder::replay_store`].
#[async_trait]
pub trait ReplayStore: Send + Sync + fmt::Debug {
    /// Records `key` until `expires_at` if it is not recorded yet.
    /// `Ok(true)`: first use, accept. `Ok(false)`: seen before, refuse.
    ///
    /// # Errors
    /// A store failure; the caller refuses the proof (fail closed).
    async fn first_use(
        &self,
        key: &ReplayKey,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<bool, StoreError>;
}

/// The [`ReplayStore`] of a backend's [`RiskStore`]: its single-use record
/// ([`RiskStore::consume_once`], the one that makes step-up and "this
/// wasn't me" links single-use) keeps DPoP proof ids too, under their
/// hashed [`ReplayKey`]. Every store's [`crate::SessionStore::replay_store`]
/// returns this.
pub fn replay_via(store: Arc<dyn RiskStore>) -> Arc<dyn ReplayStore> {
    Arc::new(SingleUseRecord(store))
}

struct SingleUseRecord(Arc<dyn RiskStore>);

impl fmt::Debug for SingleUseRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SingleUseRecord")
    }
}

#[async_trait]
impl ReplayStore for SingleUseRecord {
    async fn first_use(
        &self,
        key: &ReplayKey,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        self.0.consume_once(key.as_str(), expires_at, now).await
    }
}

/// An in-process [`ReplayStore`] holding at most `capacity` live entries.
///
/// When full of live entries it refuses new ones (fail closed) rather than
/// forget one that might be replayed; expired entries are dropped first.
/// Only right for a single instance.
#[derive(Debug)]
pub struct MemoryReplayStore {
    entries: Mutex<HashMap<ReplayKey, Timestamp>>,
    capacity: usize,
}

impl Default for MemoryReplayStore {
    fn default() -> Self {
        Self::with_capacity(DEFAULT_REPLAY_CAPACITY)
    }
}

impl MemoryReplayStore {
    /// A store keeping at most `capacity` live entries.
    pub fn with_capacity(capacity: usize) -> Self {
        MemoryReplayStore {
            entries: Mutex::new(HashMap::new()),
            capacity: capacity.max(1),
        }
    }

    /// Records `key`; see [`ReplayStore::first_use`].
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the store is full of live entries.
    pub fn record(
        &self,
        key: &ReplayKey,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if entries.get(key).is_some_and(|until| *until > now) {
            return Ok(false);
        }
        if entries.len() >= self.capacity {
            entries.retain(|_, until| *until > now);
            if entries.len() >= self.capacity {
                return Err(StoreError::Unavailable(
                    "replay cache full of live entries".into(),
                ));
            }
        }
        entries.insert(key.clone(), expires_at);
        Ok(true)
    }
}

#[async_trait]
impl ReplayStore for MemoryReplayStore {
    async fn first_use(
        &self,
        key: &ReplayKey,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        self.record(key, expires_at, now)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn bounded_and_expiring() {
        let store = MemoryReplayStore::with_capacity(2);
        let t = Timestamp::from_unix_millis(1_000_000);
        let later = t.plus(Duration::from_secs(60));
        let k = |v: &str| ReplayKey::new("dpop", "jkt", v);
        assert!(store.record(&k("a"), later, t).unwrap());
        assert!(!store.record(&k("a"), later, t).unwrap());
        assert!(store.record(&k("b"), later, t).unwrap());
        assert!(
            store.record(&k("c"), later, t).is_err(),
            "full of live entries"
        );
        let after = later.plus(Duration::from_secs(1));
        assert!(
            store
                .record(&k("c"), after.plus(Duration::from_secs(60)), after)
                .unwrap()
        );
        assert!(!format!("{:?}", k("a")).contains(k("a").as_str()));
    }
}
