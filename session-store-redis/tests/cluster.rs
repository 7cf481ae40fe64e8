//! The conformance suite against a real Redis Cluster: a private single-node
//! cluster (`--cluster-enabled yes`, all 16384 slots on one node) per case,
//! reached through [`RedisStore::connect_cluster`]. Proves the scripts only
//! touch declared keys and that cluster routing, pub/sub and the per-primary
//! purge scan work; the `RiskStore` cases run here too. Multi-node slot placement is covered by `cluster_keys.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use async_trait::async_trait;
use sessionward_core::risk::{LoginFacts, PriorHistory, RiskStore};
use sessionward_core::{
    CreateOutcome, CreateRequest, RevocationFeed, RevokeReason, RotateOutcome, RotateRequest,
    SessionId, SessionRecord, SessionStore, StoreError, Timestamp, TouchRequest, UserId,
};
use sessionward_redis::RedisStore;

/// A cluster store that owns its private server.
struct ClusterStore {
    store: RedisStore,
    _server: common::PrivateRedis,
}

async fn cluster() -> Option<ClusterStore> {
    let server = common::start_cluster()?;
    let store = RedisStore::connect_cluster([server.url()], common::test_config())
        .await
        .unwrap();
    Some(ClusterStore {
        store,
        _server: server,
    })
}

#[async_trait]
impl SessionStore for ClusterStore {
    async fn create(&self, request: CreateRequest) -> Result<CreateOutcome, StoreError> {
        self.store.create(request).await
    }
    async fn get(
        &self,
        user: &UserId,
        id: &SessionId,
    ) -> Result<Option<SessionRecord>, StoreError> {
        self.store.get(user, id).await
    }
    async fn touch(&self, request: TouchRequest) -> Result<bool, StoreError> {
        self.store.touch(request).await
    }
    async fn not_before(&self, user: &UserId) -> Result<Option<Timestamp>, StoreError> {
        self.store.not_before(user).await
    }
    async fn rotate_refresh(&self, request: RotateRequest) -> Result<RotateOutcome, StoreError> {
        self.store.rotate_refresh(request).await
    }
    async fn rotate_refresh_binding(
        &self,
        request: RotateRequest,
        meta: sessionward_core::SessionMeta,
    ) -> Result<RotateOutcome, StoreError> {
        self.store.rotate_refresh_binding(request, meta).await
    }
    async fn revoke(
        &self,
        user: &UserId,
        id: &SessionId,
        reason: RevokeReason,
        at: Timestamp,
    ) -> Result<Option<SessionRecord>, StoreError> {
        self.store.revoke(user, id, reason, at).await
    }
    async fn revoke_all(
        &self,
        user: &UserId,
        except: Option<&SessionId>,
        reason: RevokeReason,
        at: Timestamp,
    ) -> Result<Vec<SessionRecord>, StoreError> {
        self.store.revoke_all(user, except, reason, at).await
    }
    async fn list(&self, user: &UserId) -> Result<Vec<SessionRecord>, StoreError> {
        self.store.list(user).await
    }
    async fn erase_user(&self, user: &UserId) -> Result<u64, StoreError> {
        self.store.erase_user(user).await
    }
    async fn purge_expired(&self, before: Timestamp) -> Result<u64, StoreError> {
        self.store.purge_expired(before).await
    }
    fn revocation_feed(&self) -> Option<Arc<dyn RevocationFeed>> {
        self.store.revocation_feed()
    }
    fn replay_store(&self) -> Option<Arc<dyn sessionward_core::binding::ReplayStore>> {
        self.store.replay_store()
    }
    fn directory(&self) -> Option<Arc<dyn sessionward_core::directory::SessionDirectory>> {
        self.store.directory()
    }
}

#[async_trait]
impl RiskStore for ClusterStore {
    async fn login_history(
        &self,
        user: &UserId,
        facts: &LoginFacts,
        burst_since: Timestamp,
    ) -> Result<PriorHistory, StoreError> {
        self.store.login_history(user, facts, burst_since).await
    }
    async fn record_login(
        &self,
        user: &UserId,
        facts: &LoginFacts,
        keep_since: Timestamp,
    ) -> Result<(), StoreError> {
        self.store.record_login(user, facts, keep_since).await
    }
    async fn forget_user(&self, user: &UserId) -> Result<(), StoreError> {
        self.store.forget_user(user).await
    }
    async fn consume_once(
        &self,
        token_id: &str,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        self.store.consume_once(token_id, expires_at, now).await
    }
}

async fn cluster_store() -> Option<Arc<dyn SessionStore>> {
    Some(Arc::new(cluster().await?))
}

async fn cluster_risk_store() -> Option<Arc<dyn RiskStore>> {
    Some(Arc::new(cluster().await?))
}

sessionward_core::store_conformance_tests!(cluster_store);
sessionward_core::risk_store_conformance_tests!(cluster_risk_store);
