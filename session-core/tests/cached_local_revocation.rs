//! Cached revocation mode: a revocation made through this instance is
//! refused at once, without waiting for the store's push message. The
//! feed here connects and then never delivers anything, as a slow or
//! lossy feed would, so only the manager's own bookkeeping can refuse.
#![allow(missing_docs, clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sessionward_core::testing::{fresh_user, test_tokens};
use sessionward_core::{
    Clock, CreateOutcome, CreateRequest, FeedEvent, ManualClock, MemoryStore, RequestContext,
    RevocationFeed, RevocationMode, RevokeReason, RotateOutcome, RotateRequest, SessionError,
    SessionId, SessionManager, SessionPolicy, SessionRecord, SessionStore, StoreError, SystemClock,
    Timestamp, TouchRequest, UserId,
};
use tokio::sync::mpsc;

/// A memory store whose revocation feed says "connected" and then stays
/// silent (its sender is kept, so the channel never closes).
struct SilentFeedStore {
    inner: MemoryStore,
    senders: std::sync::Mutex<Vec<mpsc::Sender<FeedEvent>>>,
}

#[async_trait]
impl RevocationFeed for SilentFeedStore {
    async fn subscribe(&self) -> Result<mpsc::Receiver<FeedEvent>, StoreError> {
        let (tx, rx) = mpsc::channel(4);
        tx.try_send(FeedEvent::Connected).unwrap();
        self.senders.lock().unwrap().push(tx);
        Ok(rx)
    }
}

struct Store(Arc<SilentFeedStore>);

#[async_trait]
impl SessionStore for Store {
    async fn create(&self, r: CreateRequest) -> Result<CreateOutcome, StoreError> {
        self.0.inner.create(r).await
    }
    async fn get(&self, u: &UserId, id: &SessionId) -> Result<Option<SessionRecord>, StoreError> {
        self.0.inner.get(u, id).await
    }
    async fn touch(&self, r: TouchRequest) -> Result<bool, StoreError> {
        self.0.inner.touch(r).await
    }
    async fn rotate_refresh(&self, r: RotateRequest) -> Result<RotateOutcome, StoreError> {
        self.0.inner.rotate_refresh(r).await
    }
    async fn revoke(
        &self,
        u: &UserId,
        id: &SessionId,
        reason: RevokeReason,
        at: Timestamp,
    ) -> Result<Option<SessionRecord>, StoreError> {
        self.0.inner.revoke(u, id, reason, at).await
    }
    async fn revoke_all(
        &self,
        u: &UserId,
        except: Option<&SessionId>,
        reason: RevokeReason,
        at: Timestamp,
    ) -> Result<Vec<SessionRecord>, StoreError> {
        self.0.inner.revoke_all(u, except, reason, at).await
    }
    async fn not_before(&self, u: &UserId) -> Result<Option<Timestamp>, StoreError> {
        self.0.inner.not_before(u).await
    }
    async fn list(&self, u: &UserId) -> Result<Vec<SessionRecord>, StoreError> {
        self.0.inner.list(u).await
    }
    async fn erase_user(&self, user: &UserId) -> Result<u64, StoreError> {
        self.0.inner.erase_user(user).await
    }
    async fn purge_expired(&self, before: Timestamp) -> Result<u64, StoreError> {
        self.0.inner.purge_expired(before).await
    }
    fn revocation_feed(&self) -> Option<Arc<dyn RevocationFeed>> {
        Some(self.0.clone())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_revocation_is_refused_at_once_without_the_feed() {
    let feed = Arc::new(SilentFeedStore {
        inner: MemoryStore::new(),
        senders: std::sync::Mutex::new(Vec::new()),
    });
    let manager = SessionManager::builder(
        SessionPolicy::default(),
        test_tokens(),
        Arc::new(Store(feed)),
    )
    .clock(Arc::new(ManualClock::new(SystemClock.now())))
    .revocation_mode(RevocationMode::cached())
    .build()
    .unwrap();
    for _ in 0..200 {
        if manager.is_cache_live() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        manager.is_cache_live(),
        "the silent feed counts as connected"
    );
    let user = fresh_user();
    let ctx = RequestContext::new().with_user_agent("test/desktop/GB");
    for reason in [RevokeReason::User, RevokeReason::PasswordChange] {
        let login = manager.login(&user, &ctx).await.unwrap();
        let token = login.tokens.access_token.expose_secret().to_owned();
        // Twice: the second answer comes from the cached view.
        manager.authenticate(&token).await.unwrap();
        manager.authenticate(&token).await.unwrap();
        if reason == RevokeReason::User {
            manager
                .revoke(&user, &login.session.id, reason)
                .await
                .unwrap();
        } else {
            manager.revoke_all(&user, reason).await.unwrap();
        }
        assert!(
            matches!(
                manager.authenticate(&token).await,
                Err(SessionError::SessionEnded(_))
            ),
            "{reason:?}: the cached view still accepted a session this instance revoked"
        );
    }
}
